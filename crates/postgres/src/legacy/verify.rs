//! `verify-support`: old side against new side, per user, by count and checksum, and
//! the row-by-row record (old row -> moved message) that the cleanup re-checks.
//!
//! The old side's instants are computed independently of the move: the move converts
//! local times with `timezone(zone, created_at)`, verification lets PostgreSQL cast them
//! in a session whose `TimeZone` is that zone. A row moved an hour off differs.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};

use super::preflight::require_clean;
use super::scope::{IN_SCOPE, Scope, row_hash};
use super::{LegacyError, connect, exclusively, require_legacy_column};

/// One user's two sides: movable old rows (old time order, then old id) and moved rows
/// in their conversation (position order).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct UserDifference {
    /// The user.
    #[diesel(sql_type = Int4)]
    pub user_id: i32,
    /// Movable old rows.
    #[diesel(sql_type = BigInt)]
    pub old_count: i64,
    /// Moved rows in their support conversation.
    #[diesel(sql_type = BigInt)]
    pub new_count: i64,
    /// md5 over (sender, time, content) of the old rows, in order.
    #[diesel(sql_type = Nullable<Text>)]
    pub old_checksum: Option<String>,
    /// The same over the moved rows.
    #[diesel(sql_type = Nullable<Text>)]
    pub new_checksum: Option<String>,
}

impl UserDifference {
    /// Whether both sides agree.
    pub fn matches(&self) -> bool {
        self.old_count == self.new_count && self.old_checksum == self.new_checksum
    }
}

/// A user whose old support history is only partly moved: attributed rows that cannot
/// move (`sender_not_owner`, `content_length`, ...) stayed in the old tables.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct LeftInPlace {
    /// The user (who exists).
    #[diesel(sql_type = Int4)]
    pub user_id: i32,
    /// Their rows left in place.
    #[diesel(sql_type = BigInt)]
    pub rows: i64,
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Users compared (with old rows or moved rows).
    pub users_checked: usize,
    /// Users whose sides differ.
    pub differences: Vec<UserDifference>,
    /// Moved rows whose conversation is not their old owner's (must be 0).
    pub misplaced: i64,
    /// Touched conversations whose positions are not exactly 1..n (must be 0).
    pub broken_sequences: i64,
    /// Users with attributed rows that cannot move (reported, never guessed or dropped:
    /// the comparison covers movable rows only, so these do not fail verification).
    pub left_in_place: Vec<LeftInPlace>,
    /// Batches this verification marked verified.
    pub verified_batches: Vec<i64>,
    /// Users with old rows still on the old support (not in a migrated cohort yet).
    pub users_pending: i64,
    /// Interrupted batches (resume them with `--execute`): nothing verifies meanwhile.
    pub unfinished_batches: Vec<i64>,
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
            && self.misplaced == 0
            && self.broken_sequences == 0
            && self.unfinished_batches.is_empty()
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Compares both sides in one snapshot; when all match, marks the finished batches
/// verified (what the cleanup requires), and when anything differs, withdraws any
/// earlier verification.
pub fn verify(database_url: &str) -> Result<VerifyReport, LegacyError> {
    let mut conn = connect(database_url)?;
    require_legacy_column(&mut conn)?;
    exclusively(&mut conn, |conn| {
        conn.build_transaction().repeatable_read().run(|conn| {
            let policies = Scope::recorded_policies(conn)?.unwrap_or_default();
            let scope = require_clean(conn, &policies)?.with_cleaned_rows(conn)?;
            // The old side's local times are cast in this zone (see the module docs).
            diesel::sql_query(format!("SET LOCAL TimeZone = '{}'", scope.zone.replace('\'', "''"))).execute(conn)?;
            let users = diesel::sql_query(per_user_sql(&scope)).load::<UserDifference>(conn)?;
            let misplaced =
                diesel::sql_query(MISPLACED_SQL.replace("chat_messages", scope.messages)).get_result::<Count>(conn)?.n;
            let broken_sequences = diesel::sql_query(BROKEN_SEQUENCES_SQL).get_result::<Count>(conn)?.n;
            let left_in_place = diesel::sql_query(left_in_place_sql(&scope)).load::<LeftInPlace>(conn)?;
            let users_pending = diesel::sql_query(PENDING_USERS_SQL).get_result::<Count>(conn)?.n;
            let unfinished_batches = diesel::sql_query(
                "SELECT id FROM chat_support_migration_batches WHERE finished_at IS NULL AND rolled_back_at IS NULL",
            )
            .load::<Id>(conn)?
            .into_iter()
            .map(|b| b.id)
            .collect();
            let users_checked = users.len();
            let differences: Vec<_> = users.into_iter().filter(|u| !u.matches()).collect();
            let mut report = VerifyReport {
                users_checked,
                differences,
                misplaced,
                broken_sequences,
                left_in_place,
                verified_batches: Vec::new(),
                users_pending,
                unfinished_batches,
            };
            diesel::sql_query("DELETE FROM chat_support_migration_rows").execute(conn)?;
            if !report.passed() {
                // A failed check withdraws earlier verifications: the cleanup must not run.
                diesel::sql_query(
                    "UPDATE chat_support_migration_batches SET verified_at = NULL, verified_max_message_id = NULL
                     WHERE rolled_back_at IS NULL AND verified_at IS NOT NULL",
                )
                .execute(conn)?;
            } else {
                // The row md5 is of the row's JSON, which renders timestamptz in the
                // session's zone: the cleanup's guard computes it in UTC too.
                diesel::sql_query("SET LOCAL TimeZone = 'UTC'").execute(conn)?;
                diesel::sql_query(record_rows_sql(&scope)).execute(conn)?;
                report.verified_batches = diesel::sql_query(format!(
                    "UPDATE chat_support_migration_batches SET verified_at = now(),
                         verified_max_message_id = (SELECT COALESCE(max(cm.id), 0) {IN_SCOPE})
                     WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL RETURNING id"
                ))
                .load::<Id>(conn)?
                .into_iter()
                .map(|b| b.id)
                .collect();
            }
            Ok(report)
        })
    })
}

/// Users with old rows who are not on the new support yet.
const PENDING_USERS_SQL: &str = "SELECT count(DISTINCT cm.support_conversation_user_id) AS n FROM chat_messages cm
    JOIN users u ON u.id = cm.support_conversation_user_id
    WHERE NOT EXISTS (SELECT 1 FROM chat_support_users s WHERE s.user_id = u.id)";

/// The row-by-row record of what was verified: every old support row with its moved
/// copy, or the reason it stays; and an md5 of the old row as it is now. Rows of users
/// still on the old support that could move are not recorded (the cleanup refuses
/// while any exist).
fn record_rows_sql(scope: &Scope) -> String {
    format!(
        "INSERT INTO chat_support_migration_rows (message_id, user_id, dm_message_id, reason, row_md5)
         SELECT c.id, c.owner, m.id, CASE WHEN m.id IS NULL THEN c.reason END, md5(to_jsonb(cm)::text)
         FROM ({}) c
         JOIN {} cm ON cm.id = c.id
         LEFT JOIN dm_messages m ON m.legacy_message_id = c.id
         WHERE m.id IS NOT NULL OR c.reason IS NOT NULL",
        scope.classified(""),
        scope.messages
    )
}

/// Per user on the new support: the movable old rows against the moved ones. The old
/// side's time is the old column cast by the session (zone set by the caller).
fn per_user_sql(scope: &Scope) -> String {
    let rows = scope.classified("AND cm.support_conversation_user_id IN (SELECT user_id FROM chat_support_users)");
    let new_hash = row_hash("m");
    let messages = scope.messages;
    format!(
        "WITH old AS (
            SELECT c.owner AS user_id, count(*) AS n,
                   md5(string_agg(md5(c.sender_type || ':' || c.sender_id || ':'
                       || (extract(epoch FROM cm.created_at::timestamptz) * 1000000)::bigint || ':' || c.content),
                       '' ORDER BY cm.created_at, c.id)) AS sum
            FROM ({rows}) c JOIN {messages} cm ON cm.id = c.id
            WHERE c.reason IS NULL GROUP BY c.owner),
         new AS (
            SELECT d.user1_id AS user_id, count(*) AS n, md5(string_agg({new_hash}, '' ORDER BY m.seq)) AS sum
            FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id
            WHERE m.legacy_message_id IS NOT NULL GROUP BY d.user1_id)
         SELECT COALESCE(old.user_id, new.user_id) AS user_id, COALESCE(old.n, 0) AS old_count,
                COALESCE(new.n, 0) AS new_count, old.sum AS old_checksum, new.sum AS new_checksum
         FROM old FULL JOIN new ON new.user_id = old.user_id
         ORDER BY 1"
    )
}

/// Existing users' attributed rows that cannot move, counted per user.
fn left_in_place_sql(scope: &Scope) -> String {
    let rows = scope.classified("AND cm.support_conversation_user_id IS NOT NULL");
    format!(
        "SELECT c.owner AS user_id, count(*) AS rows FROM ({rows}) c
         WHERE c.reason IS NOT NULL AND c.reason <> 'unknown_owner'
         GROUP BY c.owner ORDER BY c.owner"
    )
}

/// Independently of the per-user sums: every moved row sits in its old owner's support
/// conversation and still has its old row.
const MISPLACED_SQL: &str = "SELECT count(*) AS n FROM dm_messages m
    JOIN direct_messages d ON d.id = m.conversation_id
    LEFT JOIN chat_messages cm ON cm.id = m.legacy_message_id
    WHERE m.legacy_message_id IS NOT NULL
      AND (cm.id IS NULL OR d.conversation_type <> 'support'
           OR cm.support_conversation_user_id IS DISTINCT FROM d.user1_id)";

/// Conversations a live batch touched whose positions are not 1..n or whose `last_seq`
/// is not n.
const BROKEN_SEQUENCES_SQL: &str = "SELECT count(*) AS n FROM direct_messages d
    JOIN (SELECT conversation_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM dm_messages
          WHERE conversation_id IN (SELECT c.conversation_id FROM chat_support_migration_conversations c
                                    JOIN chat_support_migration_batches b ON b.id = c.batch_id
                                    WHERE b.rolled_back_at IS NULL)
          GROUP BY conversation_id) s ON s.conversation_id = d.id
    WHERE s.lo <> 1 OR s.hi <> s.n OR d.last_seq <> s.n";
