//! [`SearchRepository`]: PostgreSQL full-text search (GIN on `dm_messages.content_tsv`).

use chat_domain::conversations::Message;
use chat_domain::search::{HitKind, SearchHit, SearchQuery, SearchRepository, SearchScope};
use chat_domain::{MessageId, RepoError};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text};

use crate::error::OrRepoError;
use crate::messages::{MESSAGE_COLUMNS, MESSAGE_JOINS, MessageRow};
use crate::tx::PgTx;

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(embed)]
    message: MessageRow,
    #[diesel(sql_type = Text)]
    conversation_type: String,
    #[diesel(sql_type = Text)]
    user2_type: String,
    #[diesel(sql_type = Text)]
    snippet: String,
}

impl SearchRepository for PgTx<'_> {
    fn search_messages(&mut self, scope: SearchScope, query: &SearchQuery) -> Result<Vec<SearchHit>, RepoError> {
        let (participant, everything) = match scope {
            SearchScope::Participant(user) => (Some(user.get()), false),
            SearchScope::Everything => (None, true),
        };
        // Snippets are plain text (no markup): content is stored as sent and must never
        // reach a page as HTML.
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS}, d.conversation_type, d.user2_type,
                    ts_headline('simple', m.content, q, 'MaxFragments=1, MaxWords=20, MinWords=8, StartSel=\"\", StopSel=\"\"') AS snippet
             FROM dm_messages m
             JOIN direct_messages d ON d.id = m.conversation_id
             CROSS JOIN websearch_to_tsquery('simple', $2) q
             {MESSAGE_JOINS}
             WHERE m.content_tsv @@ q
               AND ($1::int IS NULL OR d.user1_id = $1 OR d.user2_id = $1)
               AND ($3 OR m.hidden_at IS NULL)
               AND ($4::bigint IS NULL OR m.id < $4)
             ORDER BY m.id DESC LIMIT $5"
        );
        let rows = diesel::sql_query(sql)
            .bind::<Nullable<Int4>, _>(participant)
            .bind::<Text, _>(query.text.as_str())
            .bind::<Bool, _>(everything)
            .bind::<Nullable<BigInt>, _>(query.before.map(MessageId::get))
            .bind::<BigInt, _>(i64::from(query.limit) + 1)
            .load::<HitRow>(self.conn())
            .or_repo()?;
        rows.into_iter()
            .map(|row| {
                let kind = match (row.conversation_type.as_str(), row.user2_type.as_str()) {
                    ("support", _) => HitKind::Support,
                    (_, "fake_user") => HitKind::PersonaDm,
                    _ => HitKind::UserDm,
                };
                Ok(SearchHit { message: Message::try_from(row.message)?, kind, snippet: row.snippet })
            })
            .collect()
    }
}
