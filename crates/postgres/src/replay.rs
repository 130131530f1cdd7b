//! [`ReplayRepository`]: positions and missed messages, for resume.

use chat_domain::access::Participants;
use chat_domain::conversations::{ConversationState, Message, ReplayRepository};
use chat_domain::{ConversationId, RepoError, UserId};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::conversations::states_of_user;
use crate::error::OrRepoError;
use crate::messages::{MESSAGE_COLUMNS, MESSAGE_JOINS, MessageRow, into_messages};
use crate::tx::PgTx;

impl ReplayRepository for PgTx<'_> {
    fn conversation_positions(&mut self, user: UserId) -> Result<Vec<(ConversationId, Participants, i64)>, RepoError> {
        Ok(states_of_user(self.conn(), user)?.into_iter().map(|s| (s.id, s.participants, s.last_seq)).collect())
    }

    fn conversation_position(&mut self, id: ConversationId) -> Result<Option<(Participants, i64)>, RepoError> {
        use chat_domain::conversations::ConversationRepository;
        Ok(self.conversation_state(id)?.map(|s: ConversationState| (s.participants, s.last_seq)))
    }

    fn messages_after(&mut self, id: ConversationId, after: i64, limit: i64) -> Result<Vec<Message>, RepoError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM dm_messages m {MESSAGE_JOINS}
             WHERE m.conversation_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3"
        );
        let rows = diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(limit)
            .load::<MessageRow>(self.conn())
            .or_repo()?;
        into_messages(rows)
    }
}
