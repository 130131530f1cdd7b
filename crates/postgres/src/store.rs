//! The r2d2 pool and the [`Store`] implementation, with a deadline on every wait.
//!
//! * **One checkout deadline.** A request waits at most `checkout_timeout` for a
//!   connection, in total: the semaphore in front of the blocking pool and r2d2's own
//!   wait share one deadline. While the database refuses connections (the last attempt
//!   to connect failed), a request with no idle connection to take fails at once.
//! * **One transaction deadline.** Once it has a connection, a unit of work gets
//!   `transaction_timeout` to finish, measured here, on the client: a database that is
//!   alive but not answering (SIGSTOP, a frozen VM) trips no server-side timeout. When
//!   it trips, the request gets its 503 and the blocking thread is left to finish; the
//!   job is rolled back rather than committed if it has not committed yet.
//! * **Server-side deadlines** on every connection (`statement_timeout`,
//!   `lock_timeout`, `idle_in_transaction_session_timeout`) free the connection when a
//!   statement or a lock wait runs long, and libpq's `connect_timeout` and keepalives
//!   bound connecting and notice a vanished peer ([`connect`]).
//! * **A bounded number of writers at a stuck conversation lock** ([`writers`]), so
//!   that lock waits on one conversation cannot take the whole pool again and again.
//! * **A probe of its own** ([`probe`]): readiness is answered on a dedicated
//!   connection, never from behind the requests waiting for the pool.
//! * **Measured** ([`crate::health`]): the wait for a connection, the requests that got
//!   none in time, each use case's transaction time, and the database's reachability
//!   (logged once per change of state, fed by the connection manager, r2d2's error
//!   handler, the probe and every unit of work's outcome).

mod connect;
mod group;
mod probe;
mod search_index;
mod writers;

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chat_domain::RepoError;
use chat_domain::store::{Job, JobOutcome, SendStages, SharedFuture, SharedJob, Store, StoreFuture, StoreLoad};
use diesel::prelude::*;
use diesel::r2d2::{Pool, PooledConnection, R2D2Connection};
use tokio::sync::Semaphore;

pub use self::connect::Keepalives;
use self::connect::{Manager, WarmUp};
pub use self::group::GroupCommitConfig;
use self::group::{GroupCommit, Submitted};
use self::probe::Probe;
use self::search_index::SearchIndexUpkeep;
pub use self::search_index::{SearchMerge, merge_search_pending};
pub(crate) use self::writers::{WriterGate, WriterSlot};
use crate::error::repo_error;
use crate::health::{self, DbHealth, Outcome};
use crate::tx::PgTx;

type PgPool = Pool<Manager>;

/// Pool sizing and every deadline of database work. [`Default`] holds the documented
/// defaults (README, docs/operations.md).
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Connections in the pool. PostgreSQL commits in groups only with many
    /// transactions in flight: 16-32 suits a 2-core machine (r2d2's default of 10 caps
    /// write throughput).
    pub max_size: u32,
    /// How long a request waits for a connection, in all, before the API answers 503.
    /// Short, so that an outage is a quick, honest error rather than a 30 s hang.
    pub checkout_timeout: Duration,
    /// How long a unit of work may take once it has its connection (client side,
    /// including the commit); past it the request answers 503.
    pub transaction_timeout: Duration,
    /// libpq's `connect_timeout` (whole seconds, at least 2).
    pub connect_timeout: Duration,
    /// libpq's TCP keepalives (and `tcp_user_timeout`, their sum).
    pub keepalives: Keepalives,
    /// `statement_timeout` of every pooled connection; below `transaction_timeout`, so
    /// that a slow statement is cancelled by the server and its connection reused.
    pub statement_timeout: Duration,
    /// `lock_timeout` of every pooled connection: the longest wait for a row lock.
    pub lock_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of every pooled connection: the server
    /// ends a transaction whose client went quiet (and frees its locks).
    pub idle_in_transaction_timeout: Duration,
    /// Transactions per conversation (per process) that may hold or wait for its row
    /// lock at once while that lock is stuck; the next writers get 503 at once.
    pub conversation_writers: usize,
    /// How long the readiness probe waits for the database.
    pub ping_timeout: Duration,
    /// Group commit of sends ([`group`]), or `None`: each send commits alone.
    pub group_commit: Option<GroupCommitConfig>,
    /// Connections of a separate pool for reads (history pages, lists, the support
    /// queue), so that they never queue behind commits; 0: reads share the pool.
    pub read_pool_size: u32,
    /// How often the search index's pending entries are merged into it, off the send
    /// path ([`search_index`]); `None`: only by the inserts that fill the list, and by
    /// autovacuum (PostgreSQL's default).
    pub search_index_merge: Option<Duration>,
    /// Whether stored messages leave webhook outbox rows (`chat.webhook_outbox = on` on
    /// every pooled connection): only while missed-message webhooks are on.
    pub webhook_outbox: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 24,
            checkout_timeout: Duration::from_secs(2),
            transaction_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            keepalives: Keepalives { idle: Duration::from_secs(30), interval: Duration::from_secs(10), count: 3 },
            statement_timeout: Duration::from_secs(4),
            lock_timeout: Duration::from_secs(1),
            idle_in_transaction_timeout: Duration::from_secs(10),
            conversation_writers: 4,
            ping_timeout: Duration::from_secs(1),
            group_commit: Some(GroupCommitConfig::default()),
            read_pool_size: 8,
            search_index_merge: Some(Duration::from_secs(1)),
            webhook_outbox: false,
        }
    }
}

/// Why a unit of work got no answer from the database in time (all `Unavailable`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Deadline {
    /// No connection within the checkout timeout (the pool is busy or connecting).
    #[error("no database connection within {0:?}")]
    Checkout(Duration),
    /// The last attempt to connect failed, and no idle connection was left.
    #[error("the database refuses connections")]
    Refusing,
    /// The work did not finish within the transaction timeout.
    #[error("the database did not finish the work within {0:?}")]
    Transaction(Duration),
}

/// The PostgreSQL-backed [`Store`].
///
/// A semaphore sized like the pool is taken *before* a blocking thread is used, so
/// waiting requests queue as cheap futures instead of parking hundreds of blocking
/// threads on `pool.get()`.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    read: Option<ReadPool>,
    refusing: Arc<AtomicBool>,
    writers: Arc<WriterGate>,
    probe: Arc<Probe>,
    group: Option<GroupCommit>,
    /// Keeps the search index's merging thread running while the store lives.
    _search_index: Option<SearchIndexUpkeep>,
    config: PoolConfig,
    health: DbHealth,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("state", &self.pool.state()).field("config", &self.config).finish()
    }
}

/// Set by the async side when it gave up on a unit of work: the blocking side then
/// rolls back instead of committing what the client was told failed.
type Abandoned = Arc<AtomicBool>;

impl PgStore {
    /// Creates the pool without connecting: the service starts (and reports not ready)
    /// while the database is down, and connects as soon as it is up.
    pub fn new(database_url: &str, config: PoolConfig) -> Self {
        let url = connect::connection_url(database_url, &config);
        let settings = connect::session_settings(&config);
        let refusing = Arc::new(AtomicBool::new(false));
        let health = DbHealth::default();
        // `warm_up`, if any, runs on each new connection, and then the pool opens its
        // connections at once (in the background) instead of on first use.
        let new_pool = |size: u32, settings: &str, warm_up: Option<WarmUp>| {
            let manager = Manager::new(&url, settings.to_owned(), Arc::clone(&refusing), health.clone(), warm_up);
            // No `SELECT 1` probe on checkout: it costs a round trip on every request. A
            // connection a database restart broke fails its next query, which answers 503
            // with Retry-After (an outage), and r2d2 discards it on return (`has_broken`).
            Pool::builder()
                .max_size(size)
                .min_idle(Some(if warm_up.is_some() { size } else { 0 }))
                .test_on_check_out(false)
                .connection_timeout(config.checkout_timeout)
                // An outage is logged once per change of state, not once per attempt.
                .error_handler(Box::new(health.clone()))
                .build_unchecked(manager)
        };
        let pool = new_pool(config.max_size, &settings, None);
        // Half the lock timeout: far beyond a healthy lock hold (milliseconds), and
        // early enough to stop the second wave of writers at a stuck lock.
        let writers = WriterGate::new(config.conversation_writers, congested_after(config.lock_timeout));
        // The group-commit writer has a connection of its own, outside the requests' pool.
        // Its row-lock wait is short (a locked conversation sends the batch back to this
        // pool rather than stalling every send behind it).
        let group = config.group_commit.map(|group| {
            let wait = if config.lock_timeout.is_zero() {
                group::LOCK_WAIT
            } else {
                config.lock_timeout.min(group::LOCK_WAIT)
            };
            let lock_wait = PoolConfig { lock_timeout: wait, ..config };
            let size = u32::try_from(group.writers.max(1)).unwrap_or(u32::MAX);
            // Generic plans: PostgreSQL would otherwise plan the append statement on
            // every execution (it estimates a generic plan over arrays of unknown length
            // as dearer than a custom one), and planning is a fifth of its CPU under
            // load. The writers run nothing else than sends, whose statements find rows
            // by key (the plans test checks the append's generic plan).
            let settings =
                format!("{} SET plan_cache_mode = force_generic_plan;", connect::session_settings(&lock_wait));
            // Each writer's connection is opened and its append statement prepared and
            // planned at start-up: the first sends after a deploy would otherwise wait
            // for that planning (100-250 ms on the bench, a batch of them behind it).
            let pool = new_pool(size, &settings, Some(crate::conversations::prepare_append));
            let (refusing, writers, health) = (Arc::clone(&refusing), Arc::clone(&writers), health.clone());
            GroupCommit::start(pool, refusing, writers, health, config.checkout_timeout, group)
        });
        // The search index's merges run on a connection of their own, beside the
        // requests' and the writers' pools.
        let search_index = config.search_index_merge.map(|interval| {
            SearchIndexUpkeep::start(
                new_pool(1, &settings, None),
                Arc::clone(&refusing),
                config.checkout_timeout,
                interval,
            )
        });
        Self {
            pool,
            permits: Arc::new(Semaphore::new(config.max_size as usize)),
            waiting: Arc::new(AtomicUsize::new(0)),
            read: (config.read_pool_size > 0).then(|| ReadPool {
                pool: new_pool(config.read_pool_size, &settings, None),
                permits: Arc::new(Semaphore::new(config.read_pool_size as usize)),
            }),
            refusing,
            writers,
            probe: Arc::new(Probe::new(url, settings)),
            group,
            _search_index: search_index,
            config,
            health,
        }
    }

    /// Sets the pool gauges (connections in use and idle), for a metrics scrape.
    pub fn record_pool_state(&self) {
        health::pool_state(&self.pool.state(), self.config.max_size);
    }

    /// The support queue's state for the metrics: conversations open, users waiting for
    /// an answer, and the oldest wait. Two index scans (the queue's partial indexes).
    pub async fn support_queue(&self) -> Result<SupportQueueGauges, RepoError> {
        self.with_connection(|conn, _| {
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
    /// transaction the store manages, within the checkout and transaction deadlines.
    ///
    /// Measures the wait for a connection, counts the requests that got none in time,
    /// and reports reachability to the [`DbHealth`].
    async fn with_connection<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection, &AtomicBool) -> Result<T, RepoError> + Send + 'static,
    {
        self.on_pool(&self.pool, &self.permits, f).await
    }

    /// [`Self::with_connection`] on the read pool (the pool when there is none).
    async fn with_read_connection<T, F>(&self, f: F) -> Result<T, RepoError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection, &AtomicBool) -> Result<T, RepoError> + Send + 'static,
    {
        match &self.read {
            Some(read) => self.on_pool(&read.pool, &read.permits, f).await,
            None => self.with_connection(f).await,
        }
    }

    async fn on_pool<T, F>(&self, pool: &PgPool, permits: &Arc<Semaphore>, f: F) -> Result<T, RepoError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection, &AtomicBool) -> Result<T, RepoError> + Send + 'static,
    {
        let asked = Instant::now();
        let checkout_by = asked + self.config.checkout_timeout;
        let waiting = Waiting::count(&self.waiting);
        let permit = tokio::time::timeout_at(checkout_by.into(), Arc::clone(permits).acquire_owned()).await;
        drop(waiting);
        let permit = permit
            .map_err(|_| {
                health::checkout_timed_out();
                unavailable(Deadline::Checkout(self.config.checkout_timeout))
            })?
            .map_err(|closed| RepoError::Unavailable(Box::new(closed)))?;
        let (pool, refusing, health) = (pool.clone(), Arc::clone(&self.refusing), self.health.clone());
        let checkout_timeout = self.config.checkout_timeout;
        let abandoned: Abandoned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&abandoned);
        let task = tokio::task::spawn_blocking(move || {
            // Held until the work is done, even if the awaiting request gave up.
            let _permit = permit;
            // A refusal was reported to the health by the failed connection attempt itself
            // (the manager): here it is only counted.
            let mut conn = checkout(&pool, &refusing, checkout_by, checkout_timeout)
                .inspect_err(|_| health::checkout_timed_out())?;
            health::checkout_waited(asked.elapsed());
            let result = f(&mut conn, &flag);
            match &result {
                // A deadline or a congested conversation is not an outage; a lost
                // connection is (then r2d2 discards it, and reconnecting tells more).
                Err(RepoError::Unavailable(e)) if conn.is_broken() => health.down(e),
                Err(RepoError::Unavailable(_)) => {}
                _ => health.up(),
            }
            result
        });
        let finish_by = checkout_by + self.config.transaction_timeout;
        match tokio::time::timeout_at(finish_by.into(), task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Ok(Err(join)) => Err(RepoError::internal(join)),
            Err(_) => {
                abandoned.store(true, Ordering::Release);
                Err(unavailable(Deadline::Transaction(self.config.transaction_timeout)))
            }
        }
    }

    /// A name of this database that no other database shares: the cluster's
    /// `system_identifier` (random, chosen by initdb) and the database's oid, as
    /// `{system}-{oid}`. Where `pg_control_system()` is not allowed (some managed
    /// services), the database's name stands in for the system, which is unique only
    /// per server: then configure a channel prefix explicitly.
    pub async fn database_identity(&self) -> Result<String, RepoError> {
        #[derive(QueryableByName)]
        struct Identity {
            #[diesel(sql_type = diesel::sql_types::Text)]
            system: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            database: i64,
        }
        self.with_connection(|conn, _| {
            let identity = diesel::sql_query(
                "SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system,
                        (SELECT oid::bigint FROM pg_database WHERE datname = current_database()) AS database",
            )
            .get_result::<Identity>(conn)
            .or_else(|_| {
                tracing::warn!("pg_control_system() is not allowed: the database's name stands in for its system");
                diesel::sql_query(
                    "SELECT current_database()::text AS system,
                            (SELECT oid::bigint FROM pg_database WHERE datname = current_database()) AS database",
                )
                .get_result::<Identity>(conn)
            })
            .map_err(repo_error)?;
            Ok(format!("{}-{}", identity.system, identity.database))
        })
        .await
    }

    /// Runs a send alone on the requests' pool (group commit off, or its batch rolled
    /// back), stamping its stages from there on: `queued` (unless the writers' queue
    /// already did), `picked` when it has its connection, `appended` when its use case
    /// returned, `committed`.
    async fn execute_alone(
        &self,
        use_case: &'static str,
        mut job: SharedJob,
        mut stages: SendStages,
    ) -> (Result<Box<dyn Any + Send>, RepoError>, SendStages) {
        stages.queued.get_or_insert_with(Instant::now);
        let writers = Arc::clone(&self.writers);
        let ran = self
            .with_connection(move |conn, abandoned| {
                let picked = Instant::now();
                let mut appended = None;
                let job: Job = Box::new(move |tx| job(tx));
                let result = run_job(conn, use_case, job, &writers, abandoned, &mut appended);
                result.map(|payload| (payload, picked, appended, Instant::now()))
            })
            .await;
        match ran {
            Ok((payload, picked, appended, committed)) => {
                let stages = SendStages { picked: Some(picked), appended, committed: Some(committed), ..stages };
                (Ok(payload), stages)
            }
            Err(e) => (Err(e), stages),
        }
    }

    /// How busy the pool is now.
    fn load(&self) -> StoreLoad {
        let capacity = self.config.max_size as usize;
        StoreLoad {
            capacity,
            in_use: capacity.saturating_sub(self.permits.available_permits()),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

/// The pool reads use, apart from the writes' (`PoolConfig::read_pool_size`).
#[derive(Clone)]
struct ReadPool {
    pool: PgPool,
    permits: Arc<Semaphore>,
}

/// One request counted as waiting for a permit, until dropped (also when the request
/// is cancelled while it waits).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When a writer at a conversation's lock counts as stuck (see [`writers`]).
fn congested_after(lock_timeout: Duration) -> Duration {
    if lock_timeout.is_zero() { Duration::from_millis(500) } else { (lock_timeout / 2).max(Duration::from_millis(100)) }
}

fn unavailable(deadline: Deadline) -> RepoError {
    RepoError::Unavailable(Box::new(deadline))
}

/// A pooled connection by `deadline`: an idle one at once; else, unless the database is
/// refusing connections, whatever r2d2 hands out before the deadline.
fn checkout(
    pool: &PgPool,
    refusing: &AtomicBool,
    deadline: Instant,
    checkout_timeout: Duration,
) -> Result<PooledConnection<Manager>, RepoError> {
    // Short slices, so that a refusal noticed while waiting ends the wait.
    const SLICE: Duration = Duration::from_millis(100);
    loop {
        if let Some(conn) = pool.try_get() {
            return Ok(conn);
        }
        if refusing.load(Ordering::Acquire) {
            return Err(unavailable(Deadline::Refusing));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(unavailable(Deadline::Checkout(checkout_timeout)));
        }
        if let Ok(conn) = pool.get_timeout(remaining.min(SLICE)) {
            return Ok(conn);
        }
    }
}

/// Why a transaction ended without committing.
enum Abort {
    /// The use case refused; its result is handed back after the rollback.
    Refused(Box<dyn Any + Send>),
    /// The database failed (including at commit).
    Db(diesel::result::Error),
    /// The caller stopped waiting (transaction deadline): its client was told 503.
    Abandoned,
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

/// Runs a job in one transaction, measured as `use_case`; `ran` is set when the job
/// has returned, before the commit.
fn run_job(
    conn: &mut PgConnection,
    use_case: &'static str,
    job: Job,
    writers: &Arc<WriterGate>,
    abandoned: &AtomicBool,
    ran: &mut Option<Instant>,
) -> Result<Box<dyn Any + Send>, RepoError> {
    let began = Instant::now();
    let outcome = conn.transaction::<_, Abort, _>(|conn| {
        let outcome = job(&mut PgTx::with_writer_gate(conn, writers));
        *ran = Some(Instant::now());
        match outcome {
            JobOutcome::Commit(_) if abandoned.load(Ordering::Acquire) => Err(Abort::Abandoned),
            JobOutcome::Commit(payload) => Ok(payload),
            JobOutcome::Rollback(payload) => Err(Abort::Refused(payload)),
        }
    });
    let (result, measured) = match outcome {
        Ok(payload) => (Ok(payload), Outcome::Commit),
        Err(Abort::Refused(payload)) => (Ok(payload), Outcome::Rollback),
        Err(Abort::Db(e)) => (Err(repo_error(e)), Outcome::Error),
        Err(Abort::Abandoned) => (Err(RepoError::internal("abandoned after the transaction deadline")), Outcome::Error),
    };
    health::use_case_ran(use_case, measured, began.elapsed());
    result
}

/// Runs a read use case without `BEGIN` and `COMMIT`: at PostgreSQL's READ COMMITTED
/// each statement reads a snapshot of its own inside a transaction or not, so the two
/// would be round trips for nothing (two of the four a history page costs). What a read
/// writes (an admin's access-log row for the DM history they read) commits with its own
/// statement; the use case writes it before it returns the page, so no messages are
/// handed out without it.
fn run_read(
    conn: &mut PgConnection,
    use_case: &'static str,
    job: Job,
    writers: &Arc<WriterGate>,
) -> Box<dyn Any + Send> {
    let began = Instant::now();
    let (payload, measured) = match job(&mut PgTx::with_writer_gate(conn, writers)) {
        JobOutcome::Commit(payload) => (payload, Outcome::Commit),
        JobOutcome::Rollback(payload) => (payload, Outcome::Rollback),
    };
    health::use_case_ran(use_case, measured, began.elapsed());
    payload
}

impl Store for PgStore {
    fn execute(&self, use_case: &'static str, job: Job) -> StoreFuture {
        let store = self.clone();
        Box::pin(async move {
            let writers = Arc::clone(&store.writers);
            store
                .with_connection(move |conn, abandoned| run_job(conn, use_case, job, &writers, abandoned, &mut None))
                .await
        })
    }

    fn execute_read(&self, use_case: &'static str, job: Job) -> StoreFuture {
        let store = self.clone();
        Box::pin(async move {
            let writers = Arc::clone(&store.writers);
            store.with_read_connection(move |conn, _| Ok(run_read(conn, use_case, job, &writers))).await
        })
    }

    fn execute_shared(&self, use_case: &'static str, job: SharedJob) -> SharedFuture {
        let store = self.clone();
        Box::pin(async move {
            let Some(group) = store.group.clone() else {
                return store.execute_alone(use_case, job, SendStages::default()).await;
            };
            let config = store.config;
            let finish_by = Instant::now() + config.checkout_timeout + config.transaction_timeout;
            match group.submit(use_case, job, finish_by, config.transaction_timeout).await {
                Submitted::Done(result, stages) => (result, stages),
                Submitted::Alone(job, stages) => store.execute_alone(use_case, job, stages).await,
            }
        })
    }

    fn ping(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<StoreLoad, RepoError>> + Send>> {
        let store = self.clone();
        Box::pin(async move {
            match store.probe.check(store.config.ping_timeout).await {
                Ok(()) => store.health.up(),
                Err(RepoError::Unavailable(e)) => {
                    store.health.down(&e);
                    return Err(RepoError::Unavailable(e));
                }
                Err(e) => return Err(e),
            }
            Ok(store.load())
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
