//! The Prometheus endpoint: `GET /metrics` on its own listener (`CHAT_METRICS_BIND`),
//! never on the public one, so it cannot be exposed by accident.
//!
//! The recorder is installed only when the listener is configured: without it every
//! measurement is a no-op. Gauges that describe the database (pool state, the support
//! queue) are read on each scrape, so they cost nothing between scrapes and are never
//! stale. docs/operations.md lists every metric, with example alerts.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use chat_postgres::PgStore;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds) for requests, checkouts and transactions: from a cached
/// read (about 1 ms) to the 2 s checkout timeout and beyond.
const SECONDS_BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0];

/// Installs the process-wide Prometheus recorder and describes every metric. Spawns
/// the recorder's upkeep (which bounds histogram memory between scrapes) on the current
/// Tokio runtime.
pub fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)?
        .install_recorder()?;
    chat_api::metrics::describe();
    chat_postgres::health::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Serves `GET /metrics` on `listener` (one worker: a scrape every few seconds).
pub fn metrics_server(
    listener: TcpListener,
    handle: PrometheusHandle,
    store: PgStore,
) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new((handle, store));
    let server = HttpServer::new(move || App::new().app_data(state.clone()).route("/metrics", web::get().to(scrape)))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?;
    Ok(server.run())
}

async fn scrape(state: web::Data<(PrometheusHandle, PgStore)>) -> HttpResponse {
    let (handle, store) = state.get_ref();
    store.record_pool_state();
    match store.support_queue().await {
        Ok(queue) => chat_api::metrics::support_gauges(
            queue.open,
            queue.waiting,
            Duration::try_from_secs_f64(queue.oldest_waiting_seconds).unwrap_or_default(),
        ),
        // The outage is logged and counted by the store; the gauges keep their last value.
        Err(e) => tracing::debug!(error = %e, "support queue gauges not refreshed"),
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(handle.render())
}
