//! [`NoteRepository`]: internal notes, in `chat_internal_notes` (never in
//! `dm_messages`, so no message query can return one).

use chat_domain::notes::{Note, NoteId, NoteRepository};
use chat_domain::{ConversationId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::OrRepoError;
use crate::tx::PgTx;

/// A note with its author's name, from `chat_internal_notes n`.
const NOTE_COLUMNS: &str = "n.id, n.conversation_id, n.author_admin_id, a.display_name AS author_name, n.content, \
     n.client_note_id, n.after_seq, n.created_at";

#[derive(QueryableByName)]
struct NoteRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    conversation_id: i64,
    #[diesel(sql_type = Int4)]
    author_admin_id: i32,
    #[diesel(sql_type = Nullable<Text>)]
    author_name: Option<String>,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    client_note_id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    after_seq: i64,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl From<NoteRow> for Note {
    fn from(row: NoteRow) -> Self {
        Self {
            id: NoteId(row.id),
            conversation_id: ConversationId(row.conversation_id),
            author: UserId(row.author_admin_id),
            author_name: row.author_name,
            content: row.content,
            client_note_id: row.client_note_id,
            after_seq: row.after_seq,
            created_at: row.created_at,
        }
    }
}

impl NoteRepository for PgTx<'_> {
    fn find_note_by_client_id(&mut self, author: UserId, client_id: Uuid) -> Result<Option<Note>, RepoError> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM chat_internal_notes n LEFT JOIN users a ON a.id = n.author_admin_id
             WHERE n.author_admin_id = $1 AND n.client_note_id = $2"
        );
        diesel::sql_query(sql)
            .bind::<Int4, _>(author.get())
            .bind::<SqlUuid, _>(client_id)
            .get_result::<NoteRow>(self.conn())
            .optional()
            .or_repo()
            .map(|row| row.map(Note::from))
    }

    fn insert_note(
        &mut self,
        conversation: ConversationId,
        author: UserId,
        content: &str,
        client_id: Option<Uuid>,
        after_seq: i64,
    ) -> Result<Option<Note>, RepoError> {
        // ON CONFLICT names the partial unique index's columns and predicate: a retry racing
        // with its first attempt stores nothing and returns no row.
        let sql = format!(
            "WITH n AS (
                INSERT INTO chat_internal_notes (conversation_id, author_admin_id, content, client_note_id, after_seq)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (author_admin_id, client_note_id) WHERE client_note_id IS NOT NULL DO NOTHING
                RETURNING *
             )
             SELECT {NOTE_COLUMNS} FROM n LEFT JOIN users a ON a.id = n.author_admin_id"
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(conversation.get())
            .bind::<Int4, _>(author.get())
            .bind::<Text, _>(content)
            .bind::<Nullable<SqlUuid>, _>(client_id)
            .bind::<BigInt, _>(after_seq)
            .get_result::<NoteRow>(self.conn())
            .optional()
            .or_repo()
            .map(|row| row.map(Note::from))
    }

    fn notes_between(&mut self, conversation: ConversationId, from: i64, to: i64) -> Result<Vec<Note>, RepoError> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM chat_internal_notes n LEFT JOIN users a ON a.id = n.author_admin_id
             WHERE n.conversation_id = $1 AND n.after_seq BETWEEN $2 AND $3
             ORDER BY n.after_seq, n.id"
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(conversation.get())
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .load::<NoteRow>(self.conn())
            .or_repo()
            .map(|rows| rows.into_iter().map(Note::from).collect())
    }
}
