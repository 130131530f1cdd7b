//! Admin oversight of DMs: list, open, read (logged), answer persona DMs, mark persona
//! DMs read for the team, the access log.

use actix_web::{HttpResponse, get, post, web};
use chat_domain::ConversationId;
use chat_domain::direct_messages::{self, AdminDmError};
use chat_domain::notes;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::direct_messages::{
    AccessLogEntryDto, AccessLogPage, AccessLogParams, AdminDm, AdminDmPage, AdminDmParams, encode_dm_cursor,
};
use crate::dto::messages::{AdminMessage, HistoryParams, ReadRequest, ReadState, SendMessageRequest};
use crate::dto::notes::AdminHistoryPage;
use crate::extract::{ApiQuery, History, PathId, ReadUpTo, Valid};
use crate::openapi::{Conflict, ValidationFailed};
use crate::problem::{ADMIN_ONLY, ApiError, CLIENT_ID_REUSED, IDEMPOTENCY_KEY_REUSED};
use crate::send_trace::SendClock;
use crate::state::AppState;

pub(super) fn configure_admin(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_dms).service(get_dm).service(list_messages).service(reply).service(mark_read).service(access_log);
}

impl From<AdminDmError> for ApiError {
    fn from(e: AdminDmError) -> Self {
        match e {
            AdminDmError::Forbidden => ADMIN_ONLY,
            AdminDmError::NotFound => Self::NotFound,
            AdminDmError::UserDmReadOnly => Self::Forbidden {
                code: "admin_read_only",
                detail: "Admins can read conversations between users but never post in them.",
            },
            AdminDmError::ClientIdReused => CLIENT_ID_REUSED,
            AdminDmError::KeyReused => IDEMPOTENCY_KEY_REUSED,
            AdminDmError::Repo(e) => e.into(),
        }
    }
}

/// Every DM, most recent activity first, with filters.
#[utoipa::path(
    operation_id = "adminListDirectMessages",
    tag = "direct-messages-admin",
    params(AdminDmParams),
    responses(
        (status = 200, description = "A page of DMs and the cursor of the next one.", body = AdminDmPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/direct-messages")]
async fn list_dms(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<AdminDmParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain()?;
    let (rows, next) = state.store.read(move |tx| direct_messages::admin_list_dms(tx, &admin, &query)).await?;
    Ok(HttpResponse::Ok().json(AdminDmPage {
        items: rows.into_iter().map(AdminDm::from).collect(),
        next_cursor: encode_dm_cursor(next),
    }))
}

/// One DM (no messages: reading those is logged).
#[utoipa::path(
    operation_id = "adminGetDirectMessage",
    tag = "direct-messages-admin",
    params(("id" = i64, Path, description = "The DM's id.")),
    responses(
        (status = 200, description = "The DM.", body = AdminDm),
    )
)]
#[get("/direct-messages/{id}")]
async fn get_dm(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let dm = state.store.run(move |tx| direct_messages::admin_get_dm(tx, &admin, id)).await?;
    Ok(HttpResponse::Ok().json(AdminDm::from(dm)))
}

/// A page of a DM's messages, hidden ones included, with the internal notes among them
/// (persona DMs); the read is written to the access log.
#[utoipa::path(
    operation_id = "adminListDirectMessageMessages",
    tag = "direct-messages-admin",
    params(("id" = i64, Path, description = "The DM's id."), HistoryParams),
    responses(
        (status = 200, description = "A page of messages, the internal notes among them (persona DMs), and the cursor of the next page.", body = AdminHistoryPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/direct-messages/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    History(id, query): History<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.read(move |tx| notes::admin_dm_history_with_notes(tx, &admin, id, &query)).await?;
    Ok(HttpResponse::Ok().json(AdminHistoryPage::from(page)))
}

/// Answers in a persona DM, as that conversation's persona (never in user-to-user DMs).
#[utoipa::path(
    operation_id = "adminReplyDirectMessage",
    tag = "direct-messages-admin",
    params(("id" = i64, Path, description = "The persona DM's id.")),
    request_body(content = SendMessageRequest, description = "The answer."),
    responses(
        (status = 201, description = "Stored (committed) message.", body = AdminMessage),
        (status = 200, description = "A retry: the message stored earlier with this clientMessageId.", body = AdminMessage),
        (status = 409, response = Conflict),
    )
)]
#[post("/direct-messages/{id}/messages")]
async fn reply(
    clock: SendClock,
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
    Valid(new): Valid<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let sent = state.perform_send(clock, move |tx| direct_messages::reply_in_persona_dm(tx, &admin, id, &new)).await?;
    Ok(super::created_or_ok(sent.created, AdminMessage::from(sent.message)))
}

/// Marks a persona DM read for the team (the read state all admins share): the admin
/// list's `otherUnreadCount` and `waitingForPersona` follow it, and the user's sockets
/// and the admins watching hear of it.
#[utoipa::path(
    operation_id = "adminMarkDirectMessageRead",
    tag = "direct-messages-admin",
    params(("id" = i64, Path, description = "The persona DM's id.")),
    request_body(content = ReadRequest, description = "The newest message the team has seen."),
    responses(
        (status = 200, description = "The team's read state.", body = ReadState),
    )
)]
#[post("/direct-messages/{id}/read")]
async fn mark_read(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ReadUpTo(id, upto): ReadUpTo<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let mark = state.perform(move |tx| direct_messages::mark_team_dm_read(tx, &admin, id, upto)).await?;
    Ok(HttpResponse::Ok().json(ReadState::from(mark.state)))
}

/// The staff access log: every admin read of a DM's messages, newest first.
#[utoipa::path(
    operation_id = "adminAccessLog",
    tag = "moderation",
    params(AccessLogParams),
    responses(
        (status = 200, description = "A page of the log and the cursor of the next one.", body = AccessLogPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/audit")]
async fn access_log(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<AccessLogParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain()?;
    let (rows, next) = state.store.run(move |tx| direct_messages::list_access_log(tx, &admin, &query)).await?;
    Ok(HttpResponse::Ok()
        .json(AccessLogPage { items: rows.into_iter().map(AccessLogEntryDto::from).collect(), next_cursor: next }))
}
