//! The admin side of support: the queue, one conversation, replies, status, read state.

use actix_web::{HttpResponse, get, patch, post, web};
use chat_domain::ConversationId;
use chat_domain::notes;
use chat_domain::support::{self, AdminSupportError, ReplyError};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::messages::{AdminMessage, HistoryParams, ReadRequest, ReadState};
use crate::dto::notes::AdminHistoryPage;
use crate::dto::support::{
    AdminSupportConversation, QueueParams, SupportQueuePage, SupportReplyRequest, UpdateSupportRequest, queue_cursor,
};
use crate::extract::{ApiJson, ApiQuery, History, PathId, ReadUpTo, Valid};
use crate::openapi::{Conflict, ValidationFailed};
use crate::problem::{ADMIN_ONLY, ApiError, CLIENT_ID_REUSED, IDEMPOTENCY_KEY_REUSED};
use crate::send_trace::SendClock;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(queue)
        .service(get_conversation)
        .service(update_conversation)
        .service(list_messages)
        .service(reply)
        .service(mark_read);
}

impl From<AdminSupportError> for ApiError {
    fn from(e: AdminSupportError) -> Self {
        match e {
            AdminSupportError::Forbidden => ADMIN_ONLY,
            AdminSupportError::NotFound => Self::NotFound,
            AdminSupportError::UnknownAssignee => {
                Self::invalid("assigneeId", "unknown_user", "is not the id of an existing user")
            }
            AdminSupportError::CursorMismatch => {
                Self::invalid("cursor", "invalid_cursor", "belongs to another status filter")
            }
            AdminSupportError::Repo(e) => e.into(),
        }
    }
}

impl From<ReplyError> for ApiError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Forbidden => ADMIN_ONLY,
            ReplyError::NotFound => Self::NotFound,
            ReplyError::UnknownPersona => Self::invalid("personaId", "unknown_persona", "is not an active persona"),
            ReplyError::VoiceNotAllowed => Self::Forbidden {
                code: "voice_not_allowed",
                detail: "You cannot answer as a persona in your own support conversation; answer as the team.",
            },
            ReplyError::ClientIdReused => CLIENT_ID_REUSED,
            ReplyError::KeyReused => IDEMPOTENCY_KEY_REUSED,
            ReplyError::Repo(e) => e.into(),
        }
    }
}

/// The support queue: open conversations longest-waiting first, other statuses by activity.
#[utoipa::path(
    operation_id = "adminSupportQueue",
    tag = "support-admin",
    params(QueueParams),
    responses(
        (status = 200, description = "A page of the queue and the cursor of the next one.", body = SupportQueuePage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/support")]
async fn queue(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<QueueParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain(admin.user_id)?;
    let (rows, next) = state.store.read(move |tx| support::support_queue(tx, &admin, &query)).await?;
    Ok(HttpResponse::Ok().json(SupportQueuePage {
        items: rows.into_iter().map(AdminSupportConversation::from).collect(),
        next_cursor: queue_cursor(next),
    }))
}

/// One support conversation.
#[utoipa::path(
    operation_id = "adminGetSupportConversation",
    tag = "support-admin",
    params(("id" = i64, Path, description = "The support conversation's id.")),
    responses(
        (status = 200, description = "The conversation.", body = AdminSupportConversation),
    )
)]
#[get("/support/{id}")]
async fn get_conversation(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let conversation = state.store.run(move |tx| support::get_support(tx, &admin, id)).await?;
    Ok(HttpResponse::Ok().json(AdminSupportConversation::from(conversation)))
}

/// Changes the status and/or assignee.
#[utoipa::path(
    operation_id = "adminUpdateSupportConversation",
    tag = "support-admin",
    params(("id" = i64, Path, description = "The support conversation's id.")),
    request_body(content = UpdateSupportRequest, description = "The fields to change."),
    responses(
        (status = 200, description = "The conversation after the change.", body = AdminSupportConversation),
    )
)]
#[patch("/support/{id}")]
async fn update_conversation(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
    ApiJson(body): ApiJson<UpdateSupportRequest>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_domain();
    let now = Utc::now();
    let conversation = state.perform(move |tx| support::update_support(tx, &admin, id, patch, now)).await?;
    Ok(HttpResponse::Ok().json(AdminSupportConversation::from(conversation)))
}

/// A page of a support conversation's history, with the acting admin of staff messages
/// and the internal notes written among its messages.
#[utoipa::path(
    operation_id = "adminListSupportMessages",
    tag = "support-admin",
    params(("id" = i64, Path, description = "The support conversation's id."), HistoryParams),
    responses(
        (status = 200, description = "A page of messages, the internal notes among them, and the cursor of the next page.", body = AdminHistoryPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/support/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    History(id, query): History<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.read(move |tx| notes::admin_support_history_with_notes(tx, &admin, id, &query)).await?;
    Ok(HttpResponse::Ok().json(AdminHistoryPage::from(page)))
}

/// Answers as a persona (default: the conversation's) or as the team; it becomes `pending`.
#[utoipa::path(
    operation_id = "adminReplySupport",
    tag = "support-admin",
    params(("id" = i64, Path, description = "The support conversation's id.")),
    request_body(content = SupportReplyRequest, description = "The answer."),
    responses(
        (status = 201, description = "Stored (committed) message.", body = AdminMessage),
        (status = 200, description = "A retry: the message stored earlier with this clientMessageId.", body = AdminMessage),
        (status = 409, response = Conflict),
    )
)]
#[post("/support/{id}/messages")]
async fn reply(
    clock: SendClock,
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
    Valid((voice, new)): Valid<SupportReplyRequest>,
) -> Result<HttpResponse, ApiError> {
    let sent = state.perform_send(clock, move |tx| support::reply_to_support(tx, &admin, id, voice, &new)).await?;
    Ok(super::created_or_ok(sent.created, AdminMessage::from(sent.message)))
}

/// Marks the conversation read for the whole team up to a message.
#[utoipa::path(
    operation_id = "adminMarkSupportRead",
    tag = "support-admin",
    params(("id" = i64, Path, description = "The support conversation's id.")),
    request_body(content = ReadRequest, description = "The newest message seen."),
    responses(
        (status = 200, description = "The team's read state.", body = ReadState),
    )
)]
#[post("/support/{id}/read")]
async fn mark_read(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ReadUpTo(id, upto): ReadUpTo<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let mark = state.perform(move |tx| support::mark_team_read(tx, &admin, id, upto)).await?;
    Ok(HttpResponse::Ok().json(ReadState::from(mark.state)))
}
