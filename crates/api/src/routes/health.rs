//! Liveness and readiness probes.
//!
//! Readiness means the database answers. It is checked on the store's own probe
//! connection, never from behind the requests waiting for the pool, so a load spike
//! (every connection busy) is reported as `saturated` with a 200, not as an outage: a
//! 503 from every instance at once would take them all out of a load balancer's
//! rotation and turn a spike into an outage.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;
use crate::state::AppState;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// A readiness probe's answer: the database is up; how busy this instance is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"status": "ok", "saturated": false, "pool": {"capacity": 24, "inUse": 3, "waiting": 0}}))]
pub struct Readiness {
    /// `ok`: the database answers.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Every pooled connection is in use: requests queue (and may get 503 after the
    /// checkout timeout), but the database is up. For dashboards and autoscaling, not
    /// for taking the instance out of rotation.
    pub saturated: bool,
    /// The pool's load.
    pub pool: PoolLoad,
}

/// How busy the database pool is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolLoad {
    /// Connections in the pool.
    pub capacity: usize,
    /// Connections running a request's work now.
    pub in_use: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// Liveness: the process is serving requests.
#[utoipa::path(
    operation_id = "healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process is alive.", body = Health, example = json!({"status": "ok"})))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers.
///
/// Checked on a connection of its own, within a short deadline (`CHAT_READYZ_TIMEOUT_MS`),
/// never behind the requests waiting for the pool: a saturated pool is still ready (200
/// with `saturated: true`); 503 means the database does not answer.
#[utoipa::path(
    operation_id = "readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The database answers; the instance can take traffic (even when saturated).", body = Readiness),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let load = state.store.ping().await?;
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ok",
        saturated: load.saturated(),
        pool: PoolLoad { capacity: load.capacity, in_use: load.in_use, waiting: load.waiting },
    }))
}
