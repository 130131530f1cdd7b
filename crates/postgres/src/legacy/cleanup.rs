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

use super::preflight::require_clean;
use super::scope::Scope;
use super::{LegacyError, connect, exclusively};

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

/// Puts the old column, groups and rows back from the archive.
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
        Ok(if reverted { CleanupOutcome::Done } else { CleanupOutcome::AlreadyDone })
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
