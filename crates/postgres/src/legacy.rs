//! Moving the group-based support history into per-user support conversations: the
//! operator commands behind `chat-server legacy ...` (runbook: docs/migration.md).
//!
//! The old support kept every user's thread in shared support groups: a `chat_messages`
//! row said whose thread it belonged to in `support_conversation_user_id`. This module
//! reports ([`report`]), moves in resumable batches ([`execute`]), checks
//! ([`verify`]), undoes ([`rollback`]) and finally cleans up ([`cleanup`]) that history.
//! It is an operator tool working on whole tables, so it talks SQL on a connection of
//! its own rather than through the request-sized repository ports. The old rows are
//! never changed: only `chat_groups.is_active` of the old support groups is.

mod chunk;
mod cleanup;
mod cohort;
mod execute;
mod fixture;
mod old_app;
mod preflight;
mod report;
mod rollback;
mod scope;
mod verify;

use diesel::prelude::*;
use diesel::sql_types::Bool;

pub use self::cleanup::{CleanupOutcome, CohortCleanup, cleanup, cleanup_cohort, revert_cleanup};
pub use self::cohort::Cohort;
pub use self::execute::{BatchSummary, ExecuteOptions, ExecuteOutcome, ExecuteProgress, execute};
pub use self::fixture::{FixtureSpec, FixtureSummary, fixture};
pub use self::old_app::old_app_fixture;
pub use self::preflight::{Finding, Preflight, TimeZoneUse, preflight};
pub use self::report::{Report, UserPlan, report, report_with};
pub use self::rollback::{RollbackSummary, rollback};
pub use self::scope::{Policies, RowPolicy, Unmovable};
pub use self::verify::{LeftInPlace, UserDifference, VerifyReport, verify};

/// Why a legacy command failed or refused.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// No connection could be made.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    /// A statement failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The command refused to run; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
    /// A failure injected by a test ([`ExecuteOptions::fail_after_chunks`]).
    #[error("injected failure after {0} committed chunks")]
    Injected(usize),
    /// A worker thread of `execute` panicked.
    #[error("a worker of the move stopped unexpectedly")]
    Worker,
    /// A cleanup migration failed (including its guard).
    #[error("cleanup migration failed: {0}")]
    Migration(Box<dyn std::error::Error + Send + Sync>),
}

/// The advisory lock held by every legacy command that writes: one at a time.
const LEGACY_LOCK: i64 = 0x6c65_6761_6379_5f73;

fn connect(database_url: &str) -> Result<PgConnection, LegacyError> {
    Ok(crate::establish(database_url)?)
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Runs `f` holding the legacy advisory lock, or refuses if another command holds it.
fn exclusively<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T, LegacyError>,
) -> Result<T, LegacyError> {
    let got =
        diesel::sql_query(format!("SELECT pg_try_advisory_lock({LEGACY_LOCK}) AS flag")).get_result::<Flag>(conn)?.flag;
    if !got {
        return Err(LegacyError::Refused("another legacy command is running on this database".to_owned()));
    }
    let result = f(conn);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({LEGACY_LOCK})")).execute(conn)?;
    result
}

/// Whether the old column still exists (the cleanup drops it).
fn legacy_column_exists(conn: &mut PgConnection) -> Result<bool, LegacyError> {
    Ok(diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
           AND table_name = 'chat_messages' AND column_name = 'support_conversation_user_id') AS flag",
    )
    .get_result::<Flag>(conn)?
    .flag)
}

/// Refuses when the cleanup already dropped the old column.
fn require_legacy_column(conn: &mut PgConnection) -> Result<(), LegacyError> {
    if legacy_column_exists(conn)? {
        Ok(())
    } else {
        Err(LegacyError::Refused(
            "the old support data was cleaned up (chat_messages.support_conversation_user_id is gone); \
             revert it first with `chat-server legacy cleanup-support --revert`"
                .to_owned(),
        ))
    }
}
