//! The composition root: the only place where the database adapter meets the API.

pub mod config;
pub mod legacy;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use chat_api::auth::{AuthConfig, Authenticator};
use chat_api::realtime::RealtimePublisher;
use chat_api::realtime::fanout::Fanout;
use chat_api::realtime::hub::Hub;
use chat_api::{ApiSettings, AppState};
use chat_domain::events::EventPublisher;
use chat_domain::store::Store;
use chat_domain::{direct_messages, support};
use chat_postgres::{PgStore, PoolConfig};

use crate::config::FanoutArgs;

/// Wires the PostgreSQL store, the authenticator and the real-time hub (with Redis
/// fan-out when `fanout.redis_url` is set) into the API's state. Must run inside a Tokio
/// runtime: it starts the hub task.
pub fn app_state(
    database_url: &str,
    pool: PoolConfig,
    auth: &AuthConfig,
    settings: ApiSettings,
    fanout: &FanoutArgs,
) -> anyhow::Result<AppState> {
    let authenticator = Authenticator::new(auth)?;
    let hub = Hub::start();
    let store = Arc::new(PgStore::new(database_url, pool));
    let fanout = match &fanout.redis_url {
        Some(url) => {
            let prefix = channel_prefix(Arc::clone(&store), fanout.redis_channel_prefix.clone());
            Some(Fanout::start(url, prefix, fanout.key(&auth.hs256_secret)?, &hub)?)
        }
        None => None,
    };
    let events: Arc<dyn EventPublisher> = Arc::new(RealtimePublisher::new(hub.clone(), fanout));
    Ok(AppState { store, auth: Arc::new(authenticator), hub, events, settings: Arc::new(settings) })
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

/// Serves the API on `listener` until SIGINT or SIGTERM, then drains in-flight requests.
pub fn server(
    listener: TcpListener,
    state: AppState,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let head_timeout = state.settings.head_timeout;
    let mut server = HttpServer::new(move || chat_api::app(state.clone()))
        .client_request_timeout(head_timeout)
        .shutdown_timeout(10)
        .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Idle-time housekeeping, run every minute for as long as the server runs: resolve
/// pending support conversations idle for `support_idle`, archive DMs idle for
/// `dm_idle` (see [`maintain`]).
pub async fn maintenance_loop(
    store: Arc<dyn Store>,
    events: Arc<dyn EventPublisher>,
    support_idle: Option<Duration>,
    dm_idle: Option<Duration>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        maintain(&store, &events, support_idle.map(idle_before), dm_idle.map(idle_before)).await;
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
                let changed = store.run(move |tx| support::auto_resolve(tx, before, 500)).await?;
                for event in &changed {
                    events.publish(event.clone());
                }
                Ok(changed)
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
