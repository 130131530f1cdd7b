//! The r2d2 pool and the [`Store`] implementation.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_domain::RepoError;
use chat_domain::store::{Job, JobOutcome, Store, StoreFuture};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use tokio::sync::Semaphore;

use crate::error::repo_error;
use crate::health::{self, DbHealth, Outcome};
use crate::tx::PgTx;

type PgPool = Pool<ConnectionManager<PgConnection>>;

/// Pool sizing and waiting limits.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Connections in the pool. PostgreSQL commits in groups only with many
    /// transactions in flight: 16-32 suits a 2-core machine (r2d2's default of 10 caps
    /// write throughput).
    pub max_size: u32,
    /// How long a request waits for a connection before the API answers 503. Short, so
    /// that an outage is a quick, honest error rather than a 30 s hang.
    pub checkout_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_size: 24, checkout_timeout: Duration::from_secs(2) }
    }
}

/// The PostgreSQL-backed [`Store`].
///
/// A semaphore sized like the pool is taken (with the checkout timeout) *before* a
/// blocking thread is used, so waiting requests queue as cheap futures instead of
/// parking hundreds of blocking threads on `pool.get()`.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    permits: Arc<Semaphore>,
    checkout_timeout: Duration,
    max_size: u32,
    health: DbHealth,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("state", &self.pool.state())
            .field("checkout_timeout", &self.checkout_timeout)
            .finish()
    }
}

impl PgStore {
    /// Creates the pool without connecting: the service starts (and reports not ready)
    /// while the database is down, and connects as soon as it is up.
    pub fn new(database_url: &str, config: PoolConfig) -> Self {
        let manager = ConnectionManager::<PgConnection>::new(database_url);
        // No `SELECT 1` probe on checkout: it costs a round trip on every request. A
        // connection a database restart broke fails its next query, which answers 503
        // with Retry-After (an outage), and r2d2 discards it on return (`has_broken`).
        let health = DbHealth::default();
        let pool = Pool::builder()
            .max_size(config.max_size)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(config.checkout_timeout)
            // An outage is logged once per change of state, not once per attempt.
            .error_handler(Box::new(health.clone()))
            .build_unchecked(manager);
        let permits = Arc::new(Semaphore::new(config.max_size as usize));
        Self { pool, permits, checkout_timeout: config.checkout_timeout, max_size: config.max_size, health }
    }

    /// Sets the pool gauges (connections in use and idle), for a metrics scrape.
    pub fn record_pool_state(&self) {
        health::pool_state(&self.pool.state(), self.max_size);
    }

    /// The support queue's state for the metrics: conversations open, users waiting for
    /// an answer, and the oldest wait. Two index scans (the queue's partial indexes).
    pub async fn support_queue(&self) -> Result<SupportQueueGauges, RepoError> {
        self.with_connection(|conn| {
            diesel::sql_query(
                "SELECT
                    (SELECT count(*) FROM direct_messages
                      WHERE conversation_type = 'support' AND support_status = 'open') AS open,
                    (SELECT count(*) FROM direct_messages
                      WHERE conversation_type = 'support' AND support_status = 'open'
                        AND waiting_since IS NOT NULL) AS waiting,
                    (SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(waiting_since)), 0)::float8
                       FROM direct_messages
                      WHERE conversation_type = 'support' AND support_status = 'open'
                        AND waiting_since IS NOT NULL) AS oldest_waiting_seconds",
            )
            .get_result::<SupportQueueGauges>(conn)
            .map_err(repo_error)
        })
        .await
    }

    /// Runs a closure on a pooled connection on a blocking thread, outside any
    /// transaction the store manages.
    ///
    /// Measures the wait for a connection, counts the requests that got none in time,
    /// and reports reachability to the [`DbHealth`].
    async fn with_connection<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, RepoError> + Send + 'static,
    {
        let asked = Instant::now();
        let permit = tokio::time::timeout(self.checkout_timeout, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|elapsed| {
                health::checkout_timed_out();
                RepoError::Unavailable(Box::new(elapsed))
            })?
            .map_err(|closed| RepoError::Unavailable(Box::new(closed)))?;
        let (pool, health) = (self.pool.clone(), self.health.clone());
        let task = tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the awaiting request was cancelled.
            let _permit = permit;
            let mut conn = pool.get().map_err(|e| {
                health::checkout_timed_out();
                health.down(&e);
                RepoError::Unavailable(Box::new(e))
            })?;
            health::checkout_waited(asked.elapsed());
            let result = f(&mut conn);
            match &result {
                Err(RepoError::Unavailable(e)) => health.down(e),
                _ => health.up(),
            }
            result
        });
        match task.await {
            Ok(result) => result,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => Err(RepoError::internal(join)),
        }
    }
}

/// Why a transaction ended without committing.
enum Abort {
    /// The use case refused; its result is handed back after the rollback.
    Refused(Box<dyn Any + Send>),
    /// The database failed (including at commit).
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

/// Runs a job in one transaction, measured as `use_case`.
fn run_job(conn: &mut PgConnection, use_case: &'static str, job: Job) -> Result<Box<dyn Any + Send>, RepoError> {
    let began = Instant::now();
    let outcome = conn.transaction::<_, Abort, _>(|conn| match job(&mut PgTx::new(conn)) {
        JobOutcome::Commit(payload) => Ok(payload),
        JobOutcome::Rollback(payload) => Err(Abort::Refused(payload)),
    });
    let (result, measured) = match outcome {
        Ok(payload) => (Ok(payload), Outcome::Commit),
        Err(Abort::Refused(payload)) => (Ok(payload), Outcome::Rollback),
        Err(Abort::Db(e)) => (Err(repo_error(e)), Outcome::Error),
    };
    health::use_case_ran(use_case, measured, began.elapsed());
    result
}

impl Store for PgStore {
    fn execute(&self, use_case: &'static str, job: Job) -> StoreFuture {
        let store = self.clone();
        Box::pin(async move { store.with_connection(move |conn| run_job(conn, use_case, job)).await })
    }

    fn ping(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<(), RepoError>> + Send>> {
        let store = self.clone();
        Box::pin(async move {
            store
                .with_connection(|conn| diesel::sql_query("SELECT 1").execute(conn).map(drop).map_err(repo_error))
                .await
        })
    }
}

/// The support queue's state (see [`PgStore::support_queue`]).
#[derive(Debug, Clone, Copy, PartialEq, diesel::QueryableByName)]
pub struct SupportQueueGauges {
    /// Support conversations with status `open`.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub open: i64,
    /// Open ones whose user waits for an answer.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub waiting: i64,
    /// How long the longest-waiting user has waited, in seconds (0 when nobody waits).
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub oldest_waiting_seconds: f64,
}
