//! [`ConversationRepository`] on `direct_messages` and `dm_messages`.

use chat_domain::access::{Author, Participants};
use chat_domain::conversations::{
    ConversationRepository, ConversationState, HistoryQuery, Message, MessageBody, Side, SideState,
};
use chat_domain::support::{SupportState, SupportStatus};
use chat_domain::{ConversationId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::OrRepoError;
use crate::messages::{MESSAGE_COLUMNS, MESSAGE_JOINS, MessageRow, author_columns, into_messages};
use crate::schema::{direct_messages, dm_messages};
use crate::tx::PgTx;

#[derive(Queryable, Selectable)]
#[diesel(table_name = direct_messages, check_for_backend(Pg))]
struct StateRow {
    id: i64,
    conversation_type: String,
    user1_id: i32,
    user2_id: Option<i32>,
    user2_type: String,
    fake_user_id: Option<i32>,
    support_status: Option<String>,
    assignee_admin_id: Option<i32>,
    waiting_since: Option<DateTime<Utc>>,
    user1_last_read_id: i64,
    user1_unread: i32,
    user2_last_read_id: i64,
    user2_unread: i32,
    last_message_id: Option<i64>,
    last_seq: i64,
    user1_archived_at: Option<DateTime<Utc>>,
    user2_archived_at: Option<DateTime<Utc>>,
    last_message_at: DateTime<Utc>,
}

impl TryFrom<StateRow> for ConversationState {
    type Error = RepoError;

    fn try_from(row: StateRow) -> Result<Self, RepoError> {
        let broken = || RepoError::internal(format!("direct_messages row {} has an impossible shape", row.id));
        let user = UserId(row.user1_id);
        let participants = match (row.conversation_type.as_str(), row.user2_type.as_str()) {
            ("support", "support") => Participants::Support { user },
            ("user_dm", "real_user") => Participants::UserDm { a: user, b: UserId(row.user2_id.ok_or_else(broken)?) },
            ("user_dm", "fake_user") => {
                Participants::PersonaDm { user, persona: PersonaId(row.fake_user_id.ok_or_else(broken)?) }
            }
            _ => return Err(broken()),
        };
        let support = match row.support_status.as_deref() {
            None => None,
            Some(raw) => Some(SupportState {
                status: SupportStatus::from_db(raw).ok_or_else(broken)?,
                assignee: row.assignee_admin_id.map(UserId),
                waiting_since: row.waiting_since,
            }),
        };
        Ok(Self {
            id: ConversationId(row.id),
            participants,
            persona: row.fake_user_id.map(PersonaId),
            support,
            side_one: SideState { last_read: MessageId(row.user1_last_read_id), unread: row.user1_unread },
            side_two: SideState { last_read: MessageId(row.user2_last_read_id), unread: row.user2_unread },
            last_message_id: row.last_message_id.map(MessageId),
            last_seq: row.last_seq,
            archived_one: row.user1_archived_at,
            archived_two: row.user2_archived_at,
            last_message_at: row.last_message_at,
        })
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = direct_messages, treat_none_as_null = true)]
struct StateChanges<'a> {
    support_status: Option<&'a str>,
    assignee_admin_id: Option<i32>,
    waiting_since: Option<DateTime<Utc>>,
    user1_last_read_id: i64,
    user1_unread: i32,
    user2_last_read_id: i64,
    user2_unread: i32,
    last_message_id: Option<i64>,
    last_seq: i64,
    user1_archived_at: Option<DateTime<Utc>>,
    user2_archived_at: Option<DateTime<Utc>>,
    last_message_at: DateTime<Utc>,
}

impl ConversationRepository for PgTx<'_> {
    fn lock_conversation(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError> {
        self.enter_writer(id)?;
        direct_messages::table
            .find(id.get())
            .select(StateRow::as_select())
            .for_update()
            .first(self.conn)
            .optional()
            .or_repo()?
            .map(ConversationState::try_from)
            .transpose()
    }

    fn conversation_state(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError> {
        direct_messages::table
            .find(id.get())
            .select(StateRow::as_select())
            .first(self.conn)
            .optional()
            .or_repo()?
            .map(ConversationState::try_from)
            .transpose()
    }

    fn save_conversation(&mut self, state: &ConversationState) -> Result<(), RepoError> {
        let support = state.support.as_ref();
        let changes = StateChanges {
            support_status: support.map(|s| s.status.as_str()),
            assignee_admin_id: support.and_then(|s| s.assignee).map(UserId::get),
            waiting_since: support.and_then(|s| s.waiting_since),
            user1_last_read_id: state.side_one.last_read.get(),
            user1_unread: state.side_one.unread,
            user2_last_read_id: state.side_two.last_read.get(),
            user2_unread: state.side_two.unread,
            last_message_id: state.last_message_id.map(MessageId::get),
            last_seq: state.last_seq,
            user1_archived_at: state.archived_one,
            user2_archived_at: state.archived_two,
            last_message_at: state.last_message_at,
        };
        diesel::update(direct_messages::table.find(state.id.get()))
            .set((&changes, direct_messages::updated_at.eq(now)))
            .execute(self.conn)
            .or_repo()
            .map(drop)
    }

    fn find_by_client_id(&mut self, id: ConversationId, client_id: Uuid) -> Result<Option<Message>, RepoError> {
        let rows = diesel::sql_query(client_id_sql())
            .bind::<BigInt, _>(id.get())
            .bind::<SqlUuid, _>(client_id)
            .load::<MessageRow>(self.conn)
            .or_repo()?;
        Ok(into_messages(rows)?.pop())
    }

    fn insert_message(
        &mut self,
        id: ConversationId,
        seq: i64,
        author: &Author,
        body: &MessageBody,
        client_id: Option<Uuid>,
    ) -> Result<Message, RepoError> {
        let (sender_type, sender_id, acting_admin) = author_columns(author);
        let sql = format!(
            "WITH m AS (
                INSERT INTO dm_messages
                    (conversation_id, sender_type, sender_id, acting_admin_id, content, message_type, client_message_id, seq)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *
             )
             SELECT {MESSAGE_COLUMNS} FROM m {MESSAGE_JOINS}"
        );
        let row = diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<Text, _>(sender_type)
            .bind::<Int4, _>(sender_id)
            .bind::<Nullable<Int4>, _>(acting_admin)
            .bind::<Text, _>(body.content())
            .bind::<Text, _>(body.kind().as_str())
            .bind::<Nullable<SqlUuid>, _>(client_id)
            .bind::<BigInt, _>(seq)
            .get_result::<MessageRow>(self.conn)
            .or_repo()?;
        Message::try_from(row)
    }

    fn message_position(&mut self, id: ConversationId, message: MessageId) -> Result<Option<i64>, RepoError> {
        dm_messages::table
            .filter(dm_messages::id.eq(message.get()).and(dm_messages::conversation_id.eq(id.get())))
            .select(dm_messages::seq)
            .first(self.conn)
            .optional()
            .or_repo()
    }

    fn list_messages(&mut self, id: ConversationId, query: &HistoryQuery) -> Result<Vec<Message>, RepoError> {
        let rows = history_query("", id, query).load::<MessageRow>(self.conn).or_repo()?;
        into_messages(rows)
    }

    fn count_unread(&mut self, id: ConversationId, reader: Side, after: MessageId) -> Result<i64, RepoError> {
        // Side one is the conversation's user1; everything else is side two.
        let from_user_one = "m.sender_type = 'real_user' AND m.sender_id = d.user1_id";
        let condition = match reader {
            Side::One => format!("NOT ({from_user_one})"),
            Side::Two => from_user_one.to_owned(),
        };
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let sql = format!(
            "SELECT count(*) AS n FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id
             WHERE m.conversation_id = $1 AND {condition}
               AND m.seq > COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = $2 AND c.conversation_id = $1), 0)"
        );
        Ok(diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<BigInt, _>(after.get())
            .get_result::<Count>(self.conn)
            .or_repo()?
            .n)
    }
}

/// A history page: the SQL and its binds ($1 conversation, $2 cursor message id, $3 rows
/// to fetch: a page plus one), built together so that a numbered parameter can never
/// receive another's value. `prefix` goes before the statement (`EXPLAIN ` for the
/// plans test). Served by `dm_messages_conversation_seq (conversation_id, seq)` in
/// either direction.
///
/// Pages order by `seq`, the position within the conversation, not by `id`: ordering by
/// `id` lets the planner walk the primary key backwards and filter by conversation,
/// which on a busy conversation's deep page scans most of the table (found by the plans
/// test). No index but the composite one yields `seq` order.
pub(crate) fn history_query(
    prefix: &str,
    id: ConversationId,
    query: &HistoryQuery,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (bound, order, missing, cursor) = match *query {
        HistoryQuery::Older { before, .. } => ("<", "DESC", i64::MAX, before.map_or(0, MessageId::get)),
        HistoryQuery::Newer { after, .. } => (">", "ASC", 0, after.get()),
    };
    diesel::sql_query(format!(
        "{prefix}SELECT {MESSAGE_COLUMNS} FROM dm_messages m {MESSAGE_JOINS}
         WHERE m.conversation_id = $1
           AND m.seq {bound} COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = $2 AND c.conversation_id = $1), {missing})
         ORDER BY m.seq {order} LIMIT $3"
    ))
    .into_boxed()
    .bind::<BigInt, _>(id.get())
    .bind::<BigInt, _>(cursor)
    .bind::<BigInt, _>(i64::from(query.limit()) + 1)
}

/// The idempotency lookup ($1 conversation, $2 client id), served by
/// `dm_messages_client_id_idx`.
pub(crate) fn client_id_sql() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM dm_messages m {MESSAGE_JOINS}
         WHERE m.conversation_id = $1 AND m.client_message_id = $2"
    )
}

/// The states of every conversation `user` is in (support and DMs), in one query.
pub(crate) fn states_of_user(conn: &mut PgConnection, user: UserId) -> Result<Vec<ConversationState>, RepoError> {
    direct_messages::table
        .filter(direct_messages::user1_id.eq(user.get()).or(direct_messages::user2_id.eq(user.get())))
        .select(StateRow::as_select())
        .load(conn)
        .or_repo()?
        .into_iter()
        .map(ConversationState::try_from)
        .collect()
}
