//! The composition root: the only place where the database adapter meets the API.

pub mod config;
pub mod healthcheck;
pub mod legacy;
pub mod telemetry;
pub mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpServer, web};
use chat_api::auth::{AuthConfig, Authenticator};
use chat_api::rate_limit::RateLimits;
use chat_api::realtime::RealtimePublisher;
use chat_api::realtime::deliveries::NoticeDeliveries;
use chat_api::realtime::fanout::Fanout;
use chat_api::realtime::hub::Hub;
use chat_api::{ApiSettings, AppState};
use chat_domain::events::{Done, EventPublisher};
use chat_domain::store::Store;
use chat_domain::support::SupportHours;
use chat_domain::{direct_messages, support};
use chat_postgres::{PgStore, PoolConfig};

use crate::config::FanoutArgs;

/// Wires the PostgreSQL store, the authenticator and the real-time hub (with Redis
/// fan-out when `fanout.redis_url` is set) into the API's state. Must run inside a Tokio
/// runtime: it starts the fan-out's and the housekeeping's tasks.
pub fn app_state(
    database_url: &str,
    pool: PoolConfig,
    auth: &AuthConfig,
    settings: ApiSettings,
    fanout: &FanoutArgs,
) -> anyhow::Result<AppState> {
    app_state_on(PgStore::new(database_url, pool), auth, settings, fanout)
}

/// Like [`app_state`], on a store the caller keeps a handle to (for the metrics).
pub fn app_state_on(
    store: PgStore,
    auth: &AuthConfig,
    settings: ApiSettings,
    fanout: &FanoutArgs,
) -> anyhow::Result<AppState> {
    let authenticator = Authenticator::new(auth)?;
    let hub = Hub::start();
    let store = Arc::new(store);
    let fanout = match fanout.redis_config()? {
        Some(redis) => {
            let prefix = channel_prefix(Arc::clone(&store), fanout.redis_channel_prefix.clone());
            Some(Fanout::start(&redis, prefix, fanout.key(&auth.hs256_secret)?, &hub)?)
        }
        None => None,
    };
    let events: Arc<dyn EventPublisher> = Arc::new(RealtimePublisher::new(hub.clone(), fanout));
    let limits = Arc::new(RateLimits::new(&settings.rate_limits));
    tokio::spawn(forget_idle_callers(Arc::clone(&limits)));
    Ok(AppState { store, auth: Arc::new(authenticator), hub, events, settings: Arc::new(settings), limits })
}

/// The deployment's channel prefix: the configured one, else `chat:` and the database's
/// identity, asked for until the database answers (fan-out waits meanwhile).
async fn channel_prefix(store: Arc<PgStore>, configured: Option<String>) -> String {
    if let Some(prefix) = configured {
        return prefix;
    }
    let mut backoff = Duration::from_millis(100);
    loop {
        match store.database_identity().await {
            Ok(identity) => return format!("chat:{identity}"),
            Err(e) => tracing::warn!(error = %e, "fan-out waits for the database to name its channel"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Drops the buckets of callers who have been idle long enough to have a full bucket
/// again, every minute, so memory follows active callers.
async fn forget_idle_callers(limits: Arc<RateLimits>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        limits.retain_recent();
    }
}

/// Serves the API on `listener` until [`shut_down`] (see [`shut_down_on_signal`]); on
/// shutdown, in-flight requests get `shutdown_timeout` to finish.
pub fn server(
    listener: TcpListener,
    state: AppState,
    workers: Option<usize>,
    shutdown_timeout: Duration,
) -> std::io::Result<actix_web::dev::Server> {
    let head_timeout = state.settings.head_timeout;
    let mut server = HttpServer::new(move || chat_api::app(state.clone()).wrap(from_fn(close_when_draining)))
        .client_request_timeout(head_timeout)
        // Small frames (a typing event, a message to one socket) go out at once: with
        // Nagle's algorithm on (actix's default leaves the OS's), a frame written while
        // the previous one is unacknowledged waits for the peer's delayed ACK, about
        // 40 ms (docs/performance.md: the typing and send-to-receive tails).
        .tcp_nodelay(true)
        .shutdown_timeout(shutdown_timeout.as_secs())
        // Our own handler closes the sockets first (actix's would leave them open until
        // the timeout, and the client would see 1006 instead of 1001).
        .disable_signals()
        .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Drains the server for a deploy: stops accepting connections, closes every socket
/// with 1001 (going away: reconnect elsewhere and resume), lets in-flight requests
/// finish within the shutdown timeout, and resolves when the server has stopped.
pub async fn shut_down(hub: &Hub, server: &ServerHandle) {
    let stopped = server.stop(true);
    hub.shut_down();
    stopped.await;
}

/// Listens for SIGTERM (a deploy, `docker stop`) and SIGINT (Ctrl-C) from now on; the
/// future it returns waits for either, then runs [`shut_down`]. Fails when the handlers
/// cannot be installed, so that `serve` refuses to start rather than ignore deploys.
pub fn shut_down_on_signal(hub: Hub, server: ServerHandle) -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut interrupt) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "draining: closing sockets, finishing in-flight requests");
        shut_down(&hub, &server).await;
    })
}

/// While draining, each response closes its connection, so that keep-alive clients (a
/// load balancer's pooled connections) move to another instance instead of holding this
/// one open until the shutdown timeout.
async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let draining = res.request().app_data::<web::Data<AppState>>().is_some_and(|state| state.hub.is_shutting_down());
    if draining && res.status() != StatusCode::SWITCHING_PROTOCOLS {
        res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// Idle-time housekeeping, run every minute for as long as the server runs: resolve
/// pending support conversations idle for `support_idle`, archive DMs idle for
/// `dm_idle` (see [`maintain`]), record the notices' live deliveries
/// ([`record_notice_deliveries`]), store the stats of closed buckets ([`store_stats`]).
pub async fn maintenance_loop(
    store: Arc<dyn Store>,
    events: Arc<dyn EventPublisher>,
    deliveries: NoticeDeliveries,
    support_hours: Option<SupportHours>,
    support_idle: Option<Duration>,
    dm_idle: Option<Duration>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The stats start at the second round, a minute after the start: a starting
    // instance (or one starting during an outage) does not add that work to its start.
    let mut first = true;
    loop {
        tick.tick().await;
        maintain(&store, &events, support_idle.map(idle_before), dm_idle.map(idle_before)).await;
        record_notice_deliveries(&store, &deliveries).await;
        if !std::mem::take(&mut first) {
            store_stats(&store, support_hours).await;
        }
    }
}

/// One round of housekeeping: resolves pending support conversations idle since
/// `support_before` (telling their users and the queue, after each batch's commit) and
/// archives DMs idle since `dm_before`. Each runs in batches; a failure is logged and
/// retried at the next round.
pub async fn maintain(
    store: &Arc<dyn Store>,
    events: &Arc<dyn EventPublisher>,
    support_before: Option<chrono::DateTime<chrono::Utc>>,
    dm_before: Option<chrono::DateTime<chrono::Utc>>,
) {
    if let Some(before) = support_before {
        drain("auto-resolved idle support conversations", || {
            let (store, events) = (Arc::clone(store), Arc::clone(events));
            async move {
                let resolve = move |tx: &mut dyn chat_domain::store::Tx| {
                    support::auto_resolve(tx, before, 500).map(|changed| Done::new(changed.clone(), changed))
                };
                chat_api::state::perform(store.as_ref(), events.as_ref(), resolve).await
            }
        })
        .await;
    }
    if let Some(before) = dm_before {
        drain("archived idle direct messages", || {
            let store = Arc::clone(store);
            async move { store.run(move |tx| direct_messages::archive_idle_dms(tx, before, 500)).await }
        })
        .await;
    }
}

/// Stores the admin stats of the last year's closed days and weeks that are not stored
/// yet, three buckets per transaction (each far within its deadline), so that reports
/// read them instead of computing them (docs/architecture.md, decision 20). After a
/// deploy onto a year of history the first round (a minute after the start) takes a
/// while (docs/performance.md);
/// then each round stores the day (and on Mondays the week) that has just closed.
/// Support durations are stored as counted with `hours` (`CHAT_SUPPORT_HOURS_UTC`, as the
/// reports count them).
pub async fn store_stats(store: &Arc<dyn Store>, hours: Option<SupportHours>) {
    loop {
        let store = Arc::clone(store);
        let stored =
            store.run(move |tx| chat_domain::stats::store_closed_buckets(tx, chrono::Utc::now(), 3, hours)).await;
        match stored {
            Ok(done) if done.is_empty() => break,
            Ok(done) => tracing::info!(count = done.len(), "stored stats buckets"),
            // An outage is logged once by the store's health tracking; this job just
            // waits for the next round.
            Err(chat_domain::RepoError::Unavailable(_)) => break,
            Err(e) => {
                tracing::warn!(error = %e, "storing stats buckets failed; retrying at the next tick");
                break;
            }
        }
    }
}

/// Writes the live deliveries of notices the real-time layer counted since the last
/// call (docs/admin-guide.md, "Notices"); on failure they are kept for the next round.
pub async fn record_notice_deliveries(store: &Arc<dyn Store>, deliveries: &NoticeDeliveries) {
    let taken = deliveries.take();
    if taken.is_empty() {
        return;
    }
    let batch = taken.clone();
    match store.run(move |tx| chat_domain::stats::record_notice_deliveries(tx, &batch)).await {
        Ok(()) => tracing::debug!(count = taken.len(), "recorded notice deliveries"),
        Err(e) => {
            tracing::warn!(error = %e, "recording notice deliveries failed; retrying at the next tick");
            deliveries.restore(&taken);
        }
    }
}

fn idle_before(idle: Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX)
}

/// Runs a batch job until it reports nothing left (or fails).
async fn drain<F, Fut, T>(what: &str, mut batch: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<T>, chat_domain::RepoError>>,
{
    loop {
        match batch().await {
            Ok(done) if done.is_empty() => break,
            Ok(done) => tracing::info!(count = done.len(), "{what}"),
            Err(e) => {
                tracing::warn!(error = %e, "{what}: failed; retrying at the next tick");
                break;
            }
        }
    }
}
