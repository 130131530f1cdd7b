//! Missed-message webhooks, for admins: the digests that exhausted their attempts, and
//! sending one again.

use actix_web::{HttpResponse, get, post, web};
use chat_domain::webhooks::{self, DeliveryId};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::webhooks::{ParkedListParams, ParkedWebhookPage};
use crate::extract::{ApiQuery, PathId};
use crate::openapi::ValidationFailed;
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_parked).service(retry_parked);
}

/// Digests the app never accepted within the allowed attempts (docs/webhooks.md),
/// oldest first, with the last failure.
#[utoipa::path(
    operation_id = "adminListParkedWebhooks",
    tag = "webhooks-admin",
    params(ParkedListParams),
    responses(
        (status = 200, description = "A page of parked digests and the cursor of the next one.", body = ParkedWebhookPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/webhooks/parked")]
async fn list_parked(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<ParkedListParams>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit) = params.try_into_domain()?;
    let (rows, next) = state.store.run(move |tx| webhooks::parked(tx, &admin, after, limit)).await?;
    Ok(HttpResponse::Ok().json(ParkedWebhookPage::of(rows, next.map(|id| id.0))))
}

/// Sends a parked digest again: due at once, with the same `webhook-id` and a fresh
/// set of attempts.
#[utoipa::path(
    operation_id = "adminRetryParkedWebhook",
    tag = "webhooks-admin",
    params(("id" = i64, Path, description = "The parked digest's id.")),
    responses(
        (status = 202, description = "Due again; the dispatcher sends it within a second."),
    )
)]
#[post("/webhooks/parked/{id}/retry")]
async fn retry_parked(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<DeliveryId>,
) -> Result<HttpResponse, ApiError> {
    state.store.run(move |tx| webhooks::retry(tx, &admin, id, Utc::now())).await?;
    Ok(HttpResponse::Accepted().finish())
}
