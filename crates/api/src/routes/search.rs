//! Full-text search: users over their own conversations, admins over everything (each DM
//! in an admin's results is written to the access log).

use actix_web::{HttpResponse, get, web};
use chat_domain::MessageId;
use chat_domain::search::{self, AdminSearchError};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AdminCaller, Caller};
use crate::dto::direct_messages::{AdminSearchHit, AdminSearchPage, SearchHitDto, SearchPage, SearchParams};
use crate::extract::ApiQuery;
use crate::openapi::ValidationFailed;
use crate::problem::{ADMIN_ONLY, ApiError};
use crate::state::AppState;

pub(super) fn configure_admin(cfg: &mut ServiceConfig<'_>) {
    cfg.service(search_everything);
}

pub(super) fn configure_user(cfg: &mut ServiceConfig<'_>) {
    cfg.service(search_mine);
}

impl From<AdminSearchError> for ApiError {
    fn from(e: AdminSearchError) -> Self {
        match e {
            AdminSearchError::Forbidden => ADMIN_ONLY,
            AdminSearchError::Repo(e) => e.into(),
        }
    }
}

/// Full-text search over every conversation; each DM in the results is written to the access log.
#[utoipa::path(
    operation_id = "adminSearch",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Hits, newest first, and the cursor of the next page.", body = AdminSearchPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/search")]
async fn search_everything(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain()?;
    let (hits, next) = state.store.run(move |tx| search::search_everything(tx, &admin, &query)).await?;
    Ok(HttpResponse::Ok().json(AdminSearchPage {
        items: hits.into_iter().map(AdminSearchHit::from).collect(),
        next_cursor: next.map(MessageId::get),
    }))
}

/// Full-text search over the caller's own conversations (support and DMs).
#[utoipa::path(
    operation_id = "search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Hits, newest first, and the cursor of the next page.", body = SearchPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/search")]
async fn search_mine(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain()?;
    let (hits, next) = state.store.run(move |tx| search::search_mine(tx, &caller, &query)).await?;
    Ok(HttpResponse::Ok().json(SearchPage {
        items: hits.into_iter().map(SearchHitDto::from).collect(),
        next_cursor: next.map(MessageId::get),
    }))
}
