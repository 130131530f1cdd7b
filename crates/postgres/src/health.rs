//! Whether the database is reachable, and the store's metrics.
//!
//! An outage makes every checkout fail, and r2d2 would log each failed connection
//! attempt (36 error lines in 2 s were measured with its default handler). Instead,
//! r2d2's errors and the store's outcomes feed one [`DbHealth`], which logs only when
//! the state changes: one line when the database becomes unreachable, one when it
//! answers again. Every refused request is still counted, in the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Pool connections, by `state` (`in_use`, `idle`).
pub const POOL_CONNECTIONS: &str = "chat_db_pool_connections";
/// The pool's size.
pub const POOL_MAX: &str = "chat_db_pool_max_connections";
/// Wait for a connection (permit + pool checkout).
pub const CHECKOUT_WAIT: &str = "chat_db_checkout_wait_seconds";
/// Requests that got no connection in time (each answered 503).
pub const CHECKOUT_TIMEOUTS: &str = "chat_db_checkout_timeouts_total";
/// Transaction time, by `use_case` and `outcome` (`commit`, `rollback`, `error`).
pub const USE_CASE_DURATION: &str = "chat_use_case_duration_seconds";
/// 1 while the database answers, 0 during an outage.
pub const DB_UP: &str = "chat_db_up";
/// Sends per group-commit transaction.
pub const GROUP_COMMIT_BATCH: &str = "chat_group_commit_batch_size";
/// Sends appended by one statement of a group-commit transaction.
pub const GROUP_COMMIT_APPENDS: &str = "chat_group_commit_appends_per_statement";
/// Group-commit transactions rolled back for one send's sake (the others ran again alone).
pub const GROUP_COMMIT_SPLITS: &str = "chat_group_commit_splits_total";

/// Registers the descriptions of the store's metrics.
pub fn describe() {
    describe_gauge!(POOL_CONNECTIONS, "Pooled database connections, by state (in_use, idle).");
    describe_gauge!(POOL_MAX, "The pool's maximum size.");
    describe_histogram!(CHECKOUT_WAIT, Unit::Seconds, "Wait for a database connection.");
    describe_counter!(CHECKOUT_TIMEOUTS, "Requests that got no database connection in time (answered 503).");
    describe_histogram!(
        USE_CASE_DURATION,
        Unit::Seconds,
        "Use-case transaction time, by use case and outcome (commit, rollback, error)."
    );
    describe_gauge!(DB_UP, "1 while the database answers, 0 during an outage.");
    describe_histogram!(GROUP_COMMIT_BATCH, Unit::Count, "Sends per group-commit transaction.");
    describe_histogram!(
        GROUP_COMMIT_APPENDS,
        Unit::Count,
        "Sends appended by one statement of a group-commit transaction (those that start with their append)."
    );
    describe_counter!(
        GROUP_COMMIT_SPLITS,
        "Group-commit transactions rolled back for one send's sake (the others ran again, each alone)."
    );
}

pub(crate) fn group_commit_batch(sends: usize) {
    #[expect(clippy::cast_precision_loss, reason = "a batch holds at most a few hundred sends")]
    histogram!(GROUP_COMMIT_BATCH).record(sends as f64);
}

pub(crate) fn group_commit_appends(sends: usize) {
    #[expect(clippy::cast_precision_loss, reason = "a batch holds at most a few hundred sends")]
    histogram!(GROUP_COMMIT_APPENDS).record(sends as f64);
}

pub(crate) fn group_commit_split() {
    counter!(GROUP_COMMIT_SPLITS).increment(1);
}

pub(crate) fn checkout_waited(wait: Duration) {
    histogram!(CHECKOUT_WAIT).record(wait.as_secs_f64());
}

pub(crate) fn checkout_timed_out() {
    counter!(CHECKOUT_TIMEOUTS).increment(1);
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Commit,
    Rollback,
    Error,
}

pub(crate) fn use_case_ran(use_case: &'static str, outcome: Outcome, took: Duration) {
    let outcome = match outcome {
        Outcome::Commit => "commit",
        Outcome::Rollback => "rollback",
        Outcome::Error => "error",
    };
    histogram!(USE_CASE_DURATION, "use_case" => use_case, "outcome" => outcome).record(took.as_secs_f64());
}

pub(crate) fn pool_state(state: &r2d2::State, max: u32) {
    gauge!(POOL_CONNECTIONS, "state" => "in_use").set(f64::from(state.connections - state.idle_connections));
    gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(state.idle_connections));
    gauge!(POOL_MAX).set(f64::from(max));
}

const UP: u8 = 1;
const DOWN: u8 = 2;

/// The database's reachability, logged on change only. Cheap to clone. Starts unknown
/// (0): the first success is not news, the first failure is.
#[derive(Debug, Clone, Default)]
pub struct DbHealth(Arc<AtomicU8>);

impl DbHealth {
    /// The database answered (a transaction or probe succeeded).
    pub fn up(&self) {
        let before = self.0.swap(UP, Ordering::AcqRel);
        if before != UP {
            gauge!(DB_UP).set(1.0);
        }
        if before == DOWN {
            tracing::info!("database reachable again");
        }
    }

    /// The database could not be reached (`error` says how). Logged when it was up or
    /// unknown before, not again until it has been up in between.
    pub fn down(&self, error: &dyn std::fmt::Display) {
        if self.0.swap(DOWN, Ordering::AcqRel) != DOWN {
            gauge!(DB_UP).set(0.0);
            tracing::error!(
                error = %error,
                "database unreachable: requests answer 503 until it is back (logged once; see chat_db_checkout_timeouts_total)"
            );
        }
    }

    /// Whether the last outcome was an outage.
    pub fn is_down(&self) -> bool {
        self.0.load(Ordering::Acquire) == DOWN
    }
}

/// r2d2's error handler: a failed connection attempt is an outage signal, not a log line.
impl r2d2::HandleError<diesel::r2d2::Error> for DbHealth {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        self.down(&error);
    }
}

#[cfg(test)]
mod tests {
    use super::DbHealth;

    #[test]
    fn only_changes_of_state_are_reported() {
        let health = DbHealth::default();
        assert!(!health.is_down());
        health.down(&"connection refused");
        health.down(&"connection refused");
        assert!(health.is_down());
        health.up();
        health.up();
        assert!(!health.is_down());
    }
}
