//! `cleanup-support`: the opt-in schema migration of seed 5.2, embedded from
//! `migrations-legacy-cleanup/` (never run by `chat-server migrate`), with its revert.
//!
//! The guard lives in the migration's SQL itself, so it holds however the migration is
//! run, and re-checks in the cleanup's own transaction: it refuses unless every old
//! support row is in the last verification's row-by-row record, unchanged, with its
//! moved copy in place (or its reason to stay), or there is no old support data at all.
//! Rows of other tables pointing at removed rows are archived too (or the cleanup
//! refuses, naming the key).

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::preflight::{FOREIGN_KEYS, ForeignKey, require_clean};
use super::scope::Scope;
use super::{LegacyError, connect, exclusively, require_legacy_column};

const CLEANUP: EmbeddedMigrations = embed_migrations!("../../migrations-legacy-cleanup");

/// What `cleanup` or `revert_cleanup` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupOutcome {
    /// The migration ran (or was reverted).
    Done,
    /// Nothing to do: it had already run (or was not applied).
    AlreadyDone,
}

/// Drops `chat_messages.support_conversation_user_id` and removes the old support
/// groups, archiving every removed row; refuses as described in the module docs.
pub fn cleanup(database_url: &str) -> Result<CleanupOutcome, LegacyError> {
    let mut conn = connect(database_url)?;
    exclusively(&mut conn, |conn| {
        if !conn.has_pending_migration(CLEANUP).map_err(LegacyError::Migration)? {
            return Ok(CleanupOutcome::AlreadyDone);
        }
        let policies = Scope::recorded_policies(conn)?.unwrap_or_default();
        require_clean(conn, &policies)?;
        conn.run_pending_migrations(CLEANUP).map(drop).map_err(refusal)?;
        Ok(CleanupOutcome::Done)
    })
}

/// What `cleanup_cohort` removed (all of it archived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CohortCleanup {
    /// Old support messages of users on the new support.
    pub messages: i64,
    /// Rows of other tables that pointed at them.
    pub other_rows: i64,
}

#[derive(QueryableByName)]
struct Unaccounted {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Text>)]
    ids: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The old support messages (in support groups) of users on the new support.
const COHORT_ROWS: &str = "CREATE TEMP TABLE legacy_cohort_rows ON COMMIT DROP AS
    SELECT cm.id, cm.support_conversation_user_id AS user_id FROM chat_messages cm
    JOIN chat_groups g ON g.id = cm.group_id AND g.kind = 'support'
    WHERE cm.support_conversation_user_id IN (SELECT user_id FROM chat_support_users)";

/// Of those, the rows the last verification did not prove (not recorded, changed since,
/// or their moved copy gone), as the final cleanup's guard asks.
const UNACCOUNTED: &str = "SELECT count(*) AS n, string_agg(id::text, ', ' ORDER BY id) FILTER (WHERE rn <= 50) AS ids
    FROM (SELECT cm.id, row_number() OVER (ORDER BY cm.id) AS rn
          FROM legacy_cohort_rows c JOIN chat_messages cm ON cm.id = c.id
          LEFT JOIN chat_support_migration_rows r ON r.message_id = cm.id
          LEFT JOIN dm_messages m ON m.id = r.dm_message_id AND m.legacy_message_id = cm.id
          WHERE r.message_id IS NULL OR r.row_md5 <> md5(to_jsonb(cm)::text)
             OR (r.dm_message_id IS NOT NULL AND m.id IS NULL)) s";

/// Removes, archived, the old support messages of the users already on the new support
/// (a cohort, verified), and the rows of other tables pointing at them; the groups, the
/// other users' rows and the old column stay. Refuses like the cleanup: a batch
/// unfinished or unverified, or any of those rows not proven by the last verification.
pub fn cleanup_cohort(database_url: &str) -> Result<CohortCleanup, LegacyError> {
    let mut conn = connect(database_url)?;
    require_legacy_column(&mut conn)?;
    exclusively(&mut conn, |conn| {
        let policies = Scope::recorded_policies(conn)?.unwrap_or_default();
        require_clean(conn, &policies)?;
        conn.transaction(|conn| {
            let open = diesel::sql_query(
                "SELECT count(*) AS n FROM chat_support_migration_batches
                 WHERE rolled_back_at IS NULL AND (finished_at IS NULL OR verified_at IS NULL)",
            )
            .get_result::<Count>(conn)?
            .n;
            if open > 0 {
                return Err(LegacyError::Refused(
                    "a support migration batch is unfinished or not verified (run migrate-support --execute, then \
                     verify-support)"
                        .to_owned(),
                ));
            }
            // The row md5 was recorded in UTC (see verify).
            conn.batch_execute("SET LOCAL TimeZone = 'UTC'")?;
            conn.batch_execute(COHORT_ROWS)?;
            let missing = diesel::sql_query(UNACCOUNTED).get_result::<Unaccounted>(conn)?;
            if missing.n > 0 {
                return Err(LegacyError::Refused(format!(
                    "{} old support rows of users on the new support are not accounted for by the verification \
                     (committed or changed after the verification, or their moved copy is gone): {} (run \
                     migrate-support --execute and verify-support again)",
                    missing.n,
                    missing.ids.unwrap_or_default()
                )));
            }
            let mut other_rows = 0;
            let keys = diesel::sql_query(FOREIGN_KEYS).load::<ForeignKey>(conn)?;
            for key in keys.iter().filter(|k| k.archivable && k.target == "chat_messages") {
                let refs = format!("t.{} IN (SELECT id FROM legacy_cohort_rows)", key.col);
                diesel::sql_query(format!(
                    "INSERT INTO chat_legacy_support_cohort_archive (source, row_data)
                     SELECT $1, to_jsonb(t) FROM {} t WHERE {refs}",
                    key.tbl
                ))
                .bind::<Text, _>(&key.tbl)
                .execute(conn)?;
                other_rows +=
                    diesel::sql_query(format!("DELETE FROM {} t WHERE {refs}", key.tbl)).execute(conn)? as i64;
            }
            diesel::sql_query(
                "INSERT INTO chat_legacy_support_cohort_archive (source, row_data, user_id)
                 SELECT 'chat_messages', to_jsonb(cm), c.user_id FROM legacy_cohort_rows c
                 JOIN chat_messages cm ON cm.id = c.id ORDER BY cm.id",
            )
            .execute(conn)?;
            let messages =
                diesel::sql_query("DELETE FROM chat_messages WHERE id IN (SELECT id FROM legacy_cohort_rows)")
                    .execute(conn)? as i64;
            Ok(CohortCleanup { messages, other_rows })
        })
    })
}

/// Puts back what cohort cleanups archived: the messages first, then the rows that
/// pointed at them. Returns the rows restored.
fn revert_cohorts(conn: &mut PgConnection) -> Result<usize, LegacyError> {
    #[derive(QueryableByName)]
    struct Source {
        #[diesel(sql_type = Text)]
        source: String,
    }
    let sources = diesel::sql_query(
        "SELECT source FROM chat_legacy_support_cohort_archive GROUP BY source
         ORDER BY source <> 'chat_messages', source",
    )
    .load::<Source>(conn)?;
    conn.transaction(|conn| {
        let mut restored = 0;
        for Source { source } in sources {
            restored += diesel::sql_query(format!(
                "INSERT INTO {source} SELECT (jsonb_populate_record(NULL::{source}, row_data)).*
                 FROM chat_legacy_support_cohort_archive WHERE source = $1 ORDER BY id"
            ))
            .bind::<Text, _>(&source)
            .execute(conn)?;
        }
        diesel::sql_query("DELETE FROM chat_legacy_support_cohort_archive").execute(conn)?;
        Ok(restored)
    })
}

/// Puts the old column, groups and rows back from the archives (the final cleanup's and
/// the cohort cleanups').
pub fn revert_cleanup(database_url: &str) -> Result<CleanupOutcome, LegacyError> {
    let mut conn = connect(database_url)?;
    exclusively(&mut conn, |conn| {
        let migrations = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&CLEANUP)
            .map_err(LegacyError::Migration)?;
        let applied = conn.applied_migrations().map_err(LegacyError::Migration)?;
        let mut reverted = false;
        for migration in migrations.iter().rev() {
            if applied.contains(&migration.name().version()) {
                conn.revert_migration(migration.as_ref()).map_err(LegacyError::Migration)?;
                reverted = true;
            }
        }
        let restored = revert_cohorts(conn)?;
        Ok(if reverted || restored > 0 { CleanupOutcome::Done } else { CleanupOutcome::AlreadyDone })
    })
}

/// The guard raises `refused: ...`: that is a refusal, not a failure.
fn refusal(e: Box<dyn std::error::Error + Send + Sync>) -> LegacyError {
    let text = e.to_string();
    match text.find("refused: ") {
        Some(at) => LegacyError::Refused(text[at + "refused: ".len()..].lines().next().unwrap_or("").to_owned()),
        None => LegacyError::Migration(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guards_message_becomes_a_refusal() {
        let e: Box<dyn std::error::Error + Send + Sync> =
            "Failed with: ERROR: refused: no verified batch\nCONTEXT: PL/pgSQL".into();
        assert!(matches!(refusal(e), LegacyError::Refused(m) if m == "no verified batch"));
        let other: Box<dyn std::error::Error + Send + Sync> = "syntax error".into();
        assert!(matches!(refusal(other), LegacyError::Migration(_)));
    }
}
