//! [`WebhookRepository`] on `chat_webhook_outbox`, `chat_webhook_collector` and
//! `chat_webhook_deliveries` (migration `2026-11-30-000400_webhook_outbox`).
//!
//! The outbox is written by statement triggers on `dm_messages` and `chat_messages`
//! (notices) in the transaction that stores the messages, on connections with
//! `chat.webhook_outbox = on`: this module only reads and empties it. Every claim skips
//! rows another transaction holds (`SKIP LOCKED`), so instances share the work without
//! waiting on each other or taking the same row twice.

use chat_domain::access::Participants;
use chat_domain::conversations::Side;
use chat_domain::webhooks::{
    Candidate, Delivery, DeliveryId, Digest, Origin, Outcome, ParkedDelivery, WebhookRepository,
};
use chat_domain::{ConversationId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::OrRepoError;
use crate::schema::{chat_webhook_collector, chat_webhook_deliveries};
use crate::tx::PgTx;

/// Takes outbox rows ($1 settled before, $2 limit, $3 with content) and reads what the
/// collector needs of each message, oldest first. Rows whose message is gone are
/// removed and yield nothing.
const TAKE_OUTBOX: &str = "
WITH taken AS (
    DELETE FROM chat_webhook_outbox
    WHERE id IN (SELECT id FROM chat_webhook_outbox WHERE created_at < $1
                 ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING dm_message_id, chat_message_id
)
SELECT m.id AS message_id, m.created_at AS sent_at, FALSE AS is_notice,
       d.id AS conversation_id, d.conversation_type, d.user1_id AS user_id, d.user2_id, d.user2_type,
       d.fake_user_id, (m.sender_type = 'real_user' AND m.sender_id = d.user1_id) AS by_side_one,
       d.user1_last_read_id AS side_one_read, d.user2_last_read_id AS side_two_read,
       (m.is_active AND m.hidden_at IS NULL AND d.is_active) AS visible,
       CASE WHEN $3 THEN m.content END AS content
FROM taken t
JOIN dm_messages m ON m.id = t.dm_message_id
JOIN direct_messages d ON d.id = m.conversation_id
UNION ALL
SELECT c.id::bigint, c.created_at, TRUE,
       NULL, NULL, g.owner_user_id, NULL, NULL,
       NULL, FALSE,
       COALESCE(r.last_read_message_id, 0), 0,
       (c.is_active AND g.is_active AND n.retracted_at IS NULL AND (n.expires_at IS NULL OR n.expires_at > now())),
       CASE WHEN $3 THEN c.content END
FROM taken t
JOIN chat_messages c ON c.id = t.chat_message_id
JOIN chat_groups g ON g.id = c.group_id AND g.kind = 'personal'
LEFT JOIN chat_notifications n ON n.id = c.notification_id
LEFT JOIN chat_group_reads r ON r.group_id = c.group_id AND r.user_id = g.owner_user_id
ORDER BY 2, 1";

#[derive(QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = BigInt)]
    message_id: i64,
    #[diesel(sql_type = Timestamptz)]
    sent_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    is_notice: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    conversation_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    conversation_type: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    user_id: Option<i32>,
    #[diesel(sql_type = Nullable<Int4>)]
    user2_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    user2_type: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    fake_user_id: Option<i32>,
    #[diesel(sql_type = Bool)]
    by_side_one: bool,
    #[diesel(sql_type = BigInt)]
    side_one_read: i64,
    #[diesel(sql_type = BigInt)]
    side_two_read: i64,
    #[diesel(sql_type = Bool)]
    visible: bool,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
}

impl CandidateRow {
    /// `None` for a notice whose personal group has no owner (never the case for a
    /// notice the service stored).
    fn into_candidate(self) -> Result<Option<Candidate>, RepoError> {
        let broken = || RepoError::internal(format!("outbox message {} has an impossible shape", self.message_id));
        let Some(user) = self.user_id.map(UserId) else { return Ok(None) };
        let origin = if self.is_notice {
            Origin::Notice { owner: user, read: MessageId(self.side_one_read), visible: self.visible }
        } else {
            let participants = match (self.conversation_type.as_deref(), self.user2_type.as_deref()) {
                (Some("support"), _) => Participants::Support { user },
                (Some("user_dm"), Some("real_user")) => {
                    Participants::UserDm { a: user, b: UserId(self.user2_id.ok_or_else(broken)?) }
                }
                (Some("user_dm"), Some("fake_user")) => {
                    Participants::PersonaDm { user, persona: PersonaId(self.fake_user_id.ok_or_else(broken)?) }
                }
                _ => return Err(broken()),
            };
            Origin::Conversation {
                id: ConversationId(self.conversation_id.ok_or_else(broken)?),
                participants,
                author: if self.by_side_one { Side::One } else { Side::Two },
                side_one_read: MessageId(self.side_one_read),
                side_two_read: MessageId(self.side_two_read),
                visible: self.visible,
            }
        };
        Ok(Some(Candidate {
            message: MessageId(self.message_id),
            sent_at: self.sent_at,
            origin,
            content: self.content,
        }))
    }
}

/// Claims due digests ($1 now, $2 lease end, $3 limit) for one attempt each.
const CLAIM_DELIVERIES: &str = "
UPDATE chat_webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2
WHERE id IN (SELECT id FROM chat_webhook_deliveries
             WHERE delivered_at IS NULL AND parked_at IS NULL AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING id, event_id, payload, attempts";

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Int4)]
    attempts: i32,
}

#[derive(Insertable)]
#[diesel(table_name = chat_webhook_deliveries)]
struct NewDelivery {
    event_id: Uuid,
    user_id: i32,
    window_start: DateTime<Utc>,
    payload: String,
    next_attempt_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = chat_webhook_deliveries, check_for_backend(diesel::pg::Pg))]
struct ParkedRow {
    id: i64,
    event_id: Uuid,
    user_id: i32,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    parked_at: Option<DateTime<Utc>>,
}

fn attempts(raw: i32) -> u32 {
    u32::try_from(raw).unwrap_or(0)
}

impl WebhookRepository for PgTx<'_> {
    fn begin_collection(&mut self, window_start: DateTime<Utc>) -> Result<bool, RepoError> {
        use crate::schema::chat_webhook_collector::dsl::{chat_webhook_collector as collector, last_window};
        let Some(last) = collector
            .select(last_window)
            .for_update()
            .skip_locked()
            .first::<Option<DateTime<Utc>>>(self.conn())
            .optional()
            .or_repo()?
        else {
            return Ok(false);
        };
        if last.is_some_and(|last| last >= window_start) {
            return Ok(false);
        }
        diesel::update(chat_webhook_collector::table)
            .set(last_window.eq(window_start))
            .execute(self.conn())
            .or_repo()?;
        Ok(true)
    }

    fn take_outbox(
        &mut self,
        settled_before: DateTime<Utc>,
        limit: i64,
        with_content: bool,
    ) -> Result<Vec<Candidate>, RepoError> {
        let rows: Vec<CandidateRow> = diesel::sql_query(TAKE_OUTBOX)
            .bind::<Timestamptz, _>(settled_before)
            .bind::<BigInt, _>(limit)
            .bind::<Bool, _>(with_content)
            .load(self.conn())
            .or_repo()?;
        rows.into_iter().filter_map(|row| row.into_candidate().transpose()).collect()
    }

    fn insert_digests(&mut self, digests: &[Digest]) -> Result<(), RepoError> {
        let rows = digests
            .iter()
            .map(|digest| {
                let payload = serde_json::to_string(digest)
                    .map_err(|e| RepoError::internal(format!("a digest does not serialise: {e}")))?;
                Ok(NewDelivery {
                    event_id: digest.event_id,
                    user_id: digest.data.user_id.get(),
                    window_start: digest.data.window_start,
                    payload,
                    next_attempt_at: digest.timestamp,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        // The collector row serialises collections, so a (user, window) pair is new here.
        diesel::insert_into(chat_webhook_deliveries::table).values(&rows).execute(self.conn()).or_repo()?;
        Ok(())
    }

    fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>, RepoError> {
        let rows: Vec<DeliveryRow> = diesel::sql_query(CLAIM_DELIVERIES)
            .bind::<Timestamptz, _>(now)
            .bind::<Timestamptz, _>(lease_until)
            .bind::<BigInt, _>(limit)
            .load(self.conn())
            .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|row| Delivery {
                id: DeliveryId(row.id),
                event_id: row.event_id,
                payload: row.payload,
                attempts: attempts(row.attempts),
            })
            .collect())
    }

    fn finish_delivery(
        &mut self,
        id: DeliveryId,
        outcome: &Outcome,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        use crate::schema::chat_webhook_deliveries::dsl as d;
        let row = d::chat_webhook_deliveries.find(id.0);
        match *outcome {
            Outcome::Delivered => diesel::update(row)
                .set((d::delivered_at.eq(now), d::last_error.eq(None::<String>)))
                .execute(self.conn()),
            Outcome::RetryAt(at) => {
                diesel::update(row).set((d::next_attempt_at.eq(at), d::last_error.eq(error))).execute(self.conn())
            }
            Outcome::Parked => {
                diesel::update(row).set((d::parked_at.eq(now), d::last_error.eq(error))).execute(self.conn())
            }
        }
        .or_repo()?;
        Ok(())
    }

    fn parked_deliveries(&mut self, after: Option<DeliveryId>, limit: i64) -> Result<Vec<ParkedDelivery>, RepoError> {
        use crate::schema::chat_webhook_deliveries::dsl as d;
        let rows: Vec<ParkedRow> = d::chat_webhook_deliveries
            .filter(d::parked_at.is_not_null())
            .filter(d::id.gt(after.map_or(0, |after| after.0)))
            .order(d::id)
            .limit(limit)
            .select(ParkedRow::as_select())
            .load(self.conn())
            .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|row| ParkedDelivery {
                id: DeliveryId(row.id),
                event_id: row.event_id,
                user_id: UserId(row.user_id),
                attempts: attempts(row.attempts),
                last_error: row.last_error,
                created_at: row.created_at,
                parked_at: row.parked_at.unwrap_or(row.created_at),
            })
            .collect())
    }

    fn unpark(&mut self, id: DeliveryId, now: DateTime<Utc>) -> Result<bool, RepoError> {
        use crate::schema::chat_webhook_deliveries::dsl as d;
        let changed = diesel::update(d::chat_webhook_deliveries.find(id.0).filter(d::parked_at.is_not_null()))
            .set((d::parked_at.eq(None::<DateTime<Utc>>), d::attempts.eq(0), d::next_attempt_at.eq(now)))
            .execute(self.conn())
            .or_repo()?;
        Ok(changed == 1)
    }
}
