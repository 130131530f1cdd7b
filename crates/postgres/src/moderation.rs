//! [`ModerationRepository`]: hiding messages (soft delete, kept for audit).

use chat_domain::conversations::Message;
use chat_domain::moderation::{HideReason, ModerationRepository};
use chat_domain::{MessageId, RepoError, UserId};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Text};

use crate::error::OrRepoError;
use crate::messages::{MESSAGE_COLUMNS, MESSAGE_JOINS, MessageRow};
use crate::tx::PgTx;

impl ModerationRepository for PgTx<'_> {
    fn hide_message(
        &mut self,
        id: MessageId,
        admin: UserId,
        reason: &HideReason,
    ) -> Result<Option<Message>, RepoError> {
        // COALESCE keeps the first moderator's record when a message is hidden twice.
        let sql = format!(
            "WITH m AS (
                UPDATE dm_messages SET hidden_at = COALESCE(hidden_at, now()),
                    hidden_by_admin_id = COALESCE(hidden_by_admin_id, $2),
                    hidden_reason = COALESCE(hidden_reason, $3)
                WHERE id = $1 RETURNING *
             )
             SELECT {MESSAGE_COLUMNS} FROM m {MESSAGE_JOINS}"
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<Int4, _>(admin.get())
            .bind::<Text, _>(reason.as_str())
            .get_result::<MessageRow>(self.conn())
            .optional()
            .or_repo()?
            .map(Message::try_from)
            .transpose()
    }
}
