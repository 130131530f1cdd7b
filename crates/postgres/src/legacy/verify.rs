//! `verify-support`: old side against new side, per user, by count and checksum.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};

use super::scope::{IN_SCOPE, classified, row_hash};
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
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn passed(&self) -> bool {
        self.differences.is_empty() && self.misplaced == 0 && self.broken_sequences == 0
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
            let users = diesel::sql_query(per_user_sql()).load::<UserDifference>(conn)?;
            let misplaced = diesel::sql_query(MISPLACED_SQL).get_result::<Count>(conn)?.n;
            let broken_sequences = diesel::sql_query(BROKEN_SEQUENCES_SQL).get_result::<Count>(conn)?.n;
            let left_in_place = diesel::sql_query(left_in_place_sql()).load::<LeftInPlace>(conn)?;
            let users_checked = users.len();
            let differences: Vec<_> = users.into_iter().filter(|u| !u.matches()).collect();
            let mut report = VerifyReport {
                users_checked,
                differences,
                misplaced,
                broken_sequences,
                left_in_place,
                verified_batches: Vec::new(),
            };
            if !report.passed() {
                // A failed check withdraws earlier verifications: the cleanup must not run.
                diesel::sql_query(
                    "UPDATE chat_support_migration_batches SET verified_at = NULL, verified_max_message_id = NULL
                     WHERE rolled_back_at IS NULL AND verified_at IS NOT NULL",
                )
                .execute(conn)?;
            } else {
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

fn per_user_sql() -> String {
    let rows = classified("AND cm.support_conversation_user_id IS NOT NULL");
    let (old_hash, new_hash) = (row_hash("c"), row_hash("m"));
    format!(
        "WITH old AS (
            SELECT c.owner AS user_id, count(*) AS n,
                   md5(string_agg({old_hash}, '' ORDER BY c.created_at, c.id)) AS sum
            FROM ({rows}) c WHERE c.reason IS NULL GROUP BY c.owner),
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
fn left_in_place_sql() -> String {
    let rows = classified("AND cm.support_conversation_user_id IS NOT NULL");
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
