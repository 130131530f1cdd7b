//! `rollback-support --batch N`: removes what a batch created, and only that, in one
//! transaction. The old rows were never changed, so nothing needs restoring there but
//! the groups the batch deactivated.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Timestamptz};

use super::{LegacyError, connect, exclusively, require_legacy_column};

/// What a rollback removed and restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollbackSummary {
    /// The batch.
    pub batch: i64,
    /// Moved rows deleted.
    pub messages_removed: usize,
    /// Conversations the batch created, deleted.
    pub conversations_removed: usize,
    /// Conversations that existed before, restored exactly as they were.
    pub conversations_restored: usize,
    /// Conversations kept because they got new messages after the move (their moved
    /// rows are gone; positions, last message and read state were recomputed).
    pub conversations_kept: usize,
    /// Old support groups reactivated.
    pub groups_reactivated: usize,
}

#[derive(QueryableByName)]
struct CleanedRows {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct BatchState {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    rolled_back_at: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(sql_type = Bool)]
    later_live: bool,
}

/// Conversations of the batch (as `c`) that still exist.
const TOUCHED: &str = "SELECT c.conversation_id FROM chat_support_migration_conversations c WHERE c.batch_id = $1";

/// Parks every remaining row of the touched conversations on a negative position, then
/// renumbers them 1..n in their order (the moved rows in front are gone).
const PARK_SQL: &str = "UPDATE dm_messages SET seq = -seq WHERE conversation_id IN (
    SELECT c.conversation_id FROM chat_support_migration_conversations c WHERE c.batch_id = $1)";
const RENUMBER_SQL: &str = "UPDATE dm_messages m SET seq = r.rn FROM (
        SELECT id, row_number() OVER (PARTITION BY conversation_id ORDER BY seq DESC) AS rn
        FROM dm_messages WHERE conversation_id IN (
            SELECT c.conversation_id FROM chat_support_migration_conversations c WHERE c.batch_id = $1)) r
    WHERE m.id = r.id";

/// Existing conversations with no message since the move get their row back as it was.
const RESTORE_SQL: &str = "UPDATE direct_messages d SET
        (fake_user_id, support_status, assignee_admin_id, waiting_since, user1_last_read_id, user1_unread,
         user2_last_read_id, user2_unread, user1_archived_at, user2_archived_at, last_message_id, last_seq,
         last_message_at, created_at, updated_at, is_active) =
        (p.fake_user_id, p.support_status, p.assignee_admin_id, p.waiting_since, p.user1_last_read_id,
         p.user1_unread, p.user2_last_read_id, p.user2_unread, p.user1_archived_at, p.user2_archived_at,
         p.last_message_id, p.last_seq, p.last_message_at, p.created_at, p.updated_at, p.is_active)
    FROM chat_support_migration_conversations c,
         LATERAL jsonb_populate_record(NULL::direct_messages, c.previous) p
    WHERE c.batch_id = $1 AND NOT c.created AND d.id = c.conversation_id
      AND (SELECT count(*) FROM dm_messages m WHERE m.conversation_id = d.id) = p.last_seq";

/// Conversations that got messages after the move (created or not): derived fields are
/// recomputed from what remains; a read mark on a removed row goes back to 0.
const RECOMPUTE_SQL: &str = "WITH s AS (
        SELECT m.conversation_id, max(m.seq) AS last_seq, (array_agg(m.id ORDER BY m.seq DESC))[1] AS last_id,
               (array_agg(m.created_at ORDER BY m.seq DESC))[1] AS last_at
        FROM dm_messages m JOIN chat_support_migration_conversations c
             ON c.conversation_id = m.conversation_id AND c.batch_id = $1
        WHERE c.created OR (SELECT count(*) FROM dm_messages x WHERE x.conversation_id = c.conversation_id)
                           <> (c.previous->>'last_seq')::bigint
        GROUP BY m.conversation_id),
     marks AS (
        SELECT d.id,
               CASE WHEN EXISTS (SELECT 1 FROM dm_messages r WHERE r.id = d.user1_last_read_id)
                    THEN d.user1_last_read_id ELSE 0 END AS read1,
               CASE WHEN EXISTS (SELECT 1 FROM dm_messages r WHERE r.id = d.user2_last_read_id)
                    THEN d.user2_last_read_id ELSE 0 END AS read2
        FROM direct_messages d JOIN s ON s.conversation_id = d.id)
    UPDATE direct_messages d SET last_seq = s.last_seq, last_message_id = s.last_id, last_message_at = s.last_at,
        user1_last_read_id = k.read1, user2_last_read_id = k.read2,
        user1_unread = (SELECT count(*) FROM dm_messages m WHERE m.conversation_id = d.id
            AND NOT (m.sender_type = 'real_user' AND m.sender_id = d.user1_id)
            AND m.seq > COALESCE((SELECT r.seq FROM dm_messages r WHERE r.id = k.read1), 0)),
        user2_unread = (SELECT count(*) FROM dm_messages m WHERE m.conversation_id = d.id
            AND m.sender_type = 'real_user' AND m.sender_id = d.user1_id
            AND m.seq > COALESCE((SELECT r.seq FROM dm_messages r WHERE r.id = k.read2), 0)),
        updated_at = now()
    FROM s JOIN marks k ON k.id = s.conversation_id
    WHERE d.id = s.conversation_id";

/// Conversations the batch created that hold nothing any more.
const DELETE_CREATED_SQL: &str = "DELETE FROM direct_messages d USING chat_support_migration_conversations c
    WHERE c.batch_id = $1 AND c.created AND d.id = c.conversation_id
      AND NOT EXISTS (SELECT 1 FROM dm_messages m WHERE m.conversation_id = d.id)";

/// The batch's users go back to the old support groups, so every group a live batch
/// deactivated is active again (the next execute deactivates them once nobody is left).
const REACTIVATE_SQL: &str = "UPDATE chat_groups SET is_active = TRUE
    WHERE id IN (SELECT unnest(deactivated_group_ids) FROM chat_support_migration_batches
                 WHERE id = $1 OR rolled_back_at IS NULL) AND NOT is_active";

/// Undoes batch `batch` (a cohort): its users go back to the old support. Refuses an
/// unknown or rolled-back batch, and a batch whose conversations a later live batch
/// also moved into (roll that one back first); batches of other cohorts stay.
pub fn rollback(database_url: &str, batch: i64) -> Result<RollbackSummary, LegacyError> {
    let mut conn = connect(database_url)?;
    require_legacy_column(&mut conn)?;
    exclusively(&mut conn, |conn| {
        conn.transaction(|conn| {
            let state = diesel::sql_query(
                "SELECT b.rolled_back_at, EXISTS (
                     SELECT 1 FROM chat_support_migration_conversations lc
                     JOIN chat_support_migration_batches l ON l.id = lc.batch_id
                     WHERE l.id > b.id AND l.rolled_back_at IS NULL
                       AND lc.conversation_id IN (SELECT c.conversation_id FROM chat_support_migration_conversations c
                                                  WHERE c.batch_id = b.id)) AS later_live
                 FROM chat_support_migration_batches b WHERE b.id = $1 FOR UPDATE",
            )
            .bind::<BigInt, _>(batch)
            .get_result::<BatchState>(conn)
            .optional()?
            .ok_or_else(|| LegacyError::Refused(format!("there is no migration batch {batch}")))?;
            if state.rolled_back_at.is_some() {
                return Err(LegacyError::Refused(format!("batch {batch} was already rolled back")));
            }
            let cleaned = diesel::sql_query(
                "SELECT count(*) AS n FROM chat_legacy_support_cohort_archive a
                 JOIN chat_support_users s ON s.user_id = a.user_id WHERE s.batch_id = $1",
            )
            .bind::<BigInt, _>(batch)
            .get_result::<CleanedRows>(conn)?
            .n;
            if cleaned > 0 {
                return Err(LegacyError::Refused(format!(
                    "the old rows of batch {batch}'s users were cleaned up (cleanup-support --cohort); put them back \
                     with `chat-server legacy cleanup-support --revert` first"
                )));
            }
            if state.later_live {
                return Err(LegacyError::Refused(format!(
                    "a later batch than {batch} moved into the same conversations and is still in place: roll back the later batch first"
                )));
            }
            let run =
                |conn: &mut PgConnection, sql: &str| diesel::sql_query(sql).bind::<BigInt, _>(batch).execute(conn);
            run(conn, &format!("SELECT id FROM direct_messages WHERE id IN ({TOUCHED}) ORDER BY id FOR UPDATE"))?;
            let messages_removed = run(conn, "DELETE FROM dm_messages WHERE legacy_batch_id = $1")?;
            run(conn, PARK_SQL)?;
            run(conn, RENUMBER_SQL)?;
            let conversations_restored = run(conn, RESTORE_SQL)?;
            let conversations_kept = run(conn, RECOMPUTE_SQL)?;
            let conversations_removed = run(conn, DELETE_CREATED_SQL)?;
            let groups_reactivated = run(conn, REACTIVATE_SQL)?;
            run(conn, "DELETE FROM chat_support_users WHERE batch_id = $1")?;
            run(conn, "UPDATE chat_support_migration_batches SET rolled_back_at = now() WHERE id = $1")?;
            Ok(RollbackSummary {
                batch,
                messages_removed,
                conversations_removed,
                conversations_restored,
                conversations_kept,
                groups_reactivated,
            })
        })
    })
}
