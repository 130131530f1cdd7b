//! The admin stats: the plan's success metrics over a range of days.
//!
//! Three views of one report, each a schema of its own so that a generated client gets
//! one type per call: everything per bucket, support and persona DMs per responder,
//! support per assignee.

use actix_web::{HttpResponse, get, web};
use chat_domain::stats::{self, StatsError};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::stats::{
    AssigneeStats, PrivacyStats, ResponderStats, StatsByAssignee, StatsByPersona, StatsOverview, StatsParams,
    StatsRangeBody,
};
use crate::extract::ApiQuery;
use crate::openapi::ValidationFailed;
use crate::problem::{ADMIN_ONLY, ApiError};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(overview).service(by_persona).service(by_assignee);
}

impl From<StatsError> for ApiError {
    fn from(e: StatsError) -> Self {
        match e {
            StatsError::Forbidden => ADMIN_ONLY,
            StatsError::Repo(e) => e.into(),
        }
    }
}

/// Support, DM, notice and isolation figures, bucket by bucket (admins only).
#[utoipa::path(
    operation_id = "adminStats",
    tag = "stats-admin",
    params(StatsParams),
    responses(
        (status = 200, description = "One entry per bucket; the buckets tile the range.", body = StatsOverview),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/stats")]
async fn overview(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let range = params.try_into_domain()?;
    let hours = state.settings.support.hours;
    let overview = state.store.run(move |tx| stats::overview_stats(tx, &admin, range, hours)).await?;
    let hub = state.hub.stats();
    let privacy = PrivacyStats { refused_events: hub.refused, counting_since: state.hub.started_at() };
    Ok(HttpResponse::Ok().json(StatsOverview::new(overview, privacy, hours)))
}

/// Support figures per first responder (each persona, the team, unanswered), with each
/// persona's DM figures (admins only).
#[utoipa::path(
    operation_id = "adminStatsByPersona",
    tag = "stats-admin",
    params(StatsParams),
    responses(
        (status = 200, description = "One series per responder with data in the range.", body = StatsByPersona),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/stats/personas")]
async fn by_persona(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let range = params.try_into_domain()?;
    let hours = state.settings.support.hours;
    let groups = state.store.run(move |tx| stats::responder_stats(tx, &admin, range, hours)).await?;
    Ok(HttpResponse::Ok().json(StatsByPersona {
        range: StatsRangeBody::from(range),
        groups: groups.into_iter().map(ResponderStats::from).collect(),
        support_hours_utc: hours.map(|h| h.to_string()),
    }))
}

/// Support figures per assignee (admins only).
#[utoipa::path(
    operation_id = "adminStatsByAssignee",
    tag = "stats-admin",
    params(StatsParams),
    responses(
        (status = 200, description = "One series per assignee with data in the range.", body = StatsByAssignee),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/stats/assignees")]
async fn by_assignee(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let range = params.try_into_domain()?;
    let hours = state.settings.support.hours;
    let groups = state.store.run(move |tx| stats::assignee_stats(tx, &admin, range, hours)).await?;
    Ok(HttpResponse::Ok().json(StatsByAssignee {
        range: StatsRangeBody::from(range),
        groups: groups.into_iter().map(AssigneeStats::from).collect(),
        support_hours_utc: hours.map(|h| h.to_string()),
    }))
}
