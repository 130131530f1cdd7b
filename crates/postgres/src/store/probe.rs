//! The readiness probe's own connection, outside the pool.
//!
//! Readiness means "the database answers", not "a request would get a connection
//! now": a probe queued behind the pool would report a load spike as an outage and
//! take every instance out of rotation at once. So the probe keeps one connection of
//! its own (opened with the same deadlines as the pool's), runs `SELECT 1` on it within
//! its own short deadline, and reopens it after a failure. If an earlier probe is still
//! waiting on the database, the next one does not queue behind it: the database is
//! not answering, and that is the answer.

use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use chat_domain::RepoError;
use diesel::PgConnection;
use diesel::connection::SimpleConnection;

/// Why the probe says the database is down.
#[derive(Debug, thiserror::Error)]
enum ProbeFailure {
    #[error("the database did not answer the readiness probe within {0:?}")]
    Deadline(Duration),
    #[error("an earlier readiness probe is still waiting for the database")]
    Busy,
    #[error("cannot connect for the readiness probe: {0}")]
    Connect(#[source] diesel::r2d2::Error),
}

/// One dedicated connection for readiness checks.
#[derive(Debug)]
pub(crate) struct Probe {
    url: String,
    settings: String,
    conn: Mutex<Option<ProbeConnection>>,
}

/// `PgConnection` is not `Debug`.
struct ProbeConnection(PgConnection);

impl std::fmt::Debug for ProbeConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbeConnection")
    }
}

impl Probe {
    pub(crate) const fn new(url: String, settings: String) -> Self {
        Self { url, settings, conn: Mutex::new(None) }
    }

    /// `Ok` when the database answers `SELECT 1` within `deadline`.
    pub(crate) async fn check(self: &std::sync::Arc<Self>, deadline: Duration) -> Result<(), RepoError> {
        let probe = std::sync::Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || probe.check_blocking());
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(RepoError::internal(join)),
            Err(_) => Err(RepoError::Unavailable(Box::new(ProbeFailure::Deadline(deadline)))),
        }
    }

    fn check_blocking(&self) -> Result<(), RepoError> {
        let mut slot = match self.conn.try_lock() {
            Ok(slot) => slot,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(RepoError::Unavailable(Box::new(ProbeFailure::Busy))),
        };
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => super::connect::establish(&self.url, &self.settings)
                .map(ProbeConnection)
                .map_err(|e| RepoError::Unavailable(Box::new(ProbeFailure::Connect(e))))?,
        };
        // Whatever the error, the probe's answer is "not ready".
        conn.0.batch_execute("SELECT 1").map_err(|e| RepoError::Unavailable(Box::new(e)))?;
        // Kept only after it answered: a failed connection is reopened next time.
        *slot = Some(conn);
        Ok(())
    }
}
