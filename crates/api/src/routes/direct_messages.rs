//! The user side of DMs: start, list, open, read, write, mark read, archive.

use actix_web::{HttpResponse, delete, get, post, web};
use chat_domain::ConversationId;
use chat_domain::direct_messages::{self, StartDmError, UserDmError};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Caller;
use crate::dto::direct_messages::{DmListParams, StartDmRequest, UserDm, UserDmPage, encode_dm_cursor};
use crate::dto::messages::{HistoryParams, Message, MessagePage, ReadRequest, ReadState, SendMessageRequest};
use crate::extract::{ApiJson, ApiQuery, History, PathId, ReadUpTo, Valid};
use crate::openapi::{Conflict, Forbidden, NotFound, ValidationFailed};
use crate::problem::{ApiError, CLIENT_ID_REUSED, IDEMPOTENCY_KEY_REUSED};
use crate::send_trace::SendClock;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(start_dm)
        .service(list_dms)
        .service(get_dm)
        .service(list_messages)
        .service(send_message)
        .service(mark_read)
        .service(archive)
        .service(unarchive);
}

impl From<StartDmError> for ApiError {
    fn from(e: StartDmError) -> Self {
        match e {
            StartDmError::SelfTarget => {
                Self::invalid("targetId", "self", "you cannot start a conversation with yourself")
            }
            StartDmError::NotFound => Self::NotFound,
            StartDmError::NoSharedGroup => Self::Forbidden {
                code: "dm_no_shared_group",
                detail: "You can only message people who share a group with you.",
            },
            StartDmError::YouBlocked => {
                Self::Conflict { code: "dm_you_blocked", detail: "You blocked this user; unblock them first." }
            }
            StartDmError::PersonaDmDisabled => Self::Forbidden {
                code: "dm_persona_unavailable",
                detail: "This persona does not take direct messages.",
            },
            StartDmError::LimitReached { .. } => Self::Conflict {
                code: "dm_limit_reached",
                detail: "You have reached the maximum number of active conversations; archive one first.",
            },
            StartDmError::TargetLimitReached => Self::Conflict {
                code: "dm_target_limit_reached",
                detail: "This person cannot take new conversations right now.",
            },
            StartDmError::Repo(e) => e.into(),
        }
    }
}

impl From<UserDmError> for ApiError {
    fn from(e: UserDmError) -> Self {
        match e {
            UserDmError::NotFound => Self::NotFound,
            UserDmError::Blocked => Self::Forbidden {
                code: "dm_unavailable",
                detail: "You can no longer send messages in this conversation.",
            },
            UserDmError::ClientIdReused => CLIENT_ID_REUSED,
            UserDmError::KeyReused => IDEMPOTENCY_KEY_REUSED,
            UserDmError::Repo(e) => e.into(),
        }
    }
}

/// Starts a DM with a user who shares a group with the caller, or with a persona that
/// takes DMs. Get-or-create: the same pair always gets the same conversation.
#[utoipa::path(
    operation_id = "startDirectMessage",
    tag = "direct-messages",
    request_body(content = StartDmRequest, description = "Whom to message."),
    responses(
        (status = 201, description = "A new conversation.", body = UserDm),
        (status = 200, description = "The existing conversation with this user or persona.", body = UserDm),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
#[post("/direct-messages")]
async fn start_dm(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<StartDmRequest>,
) -> Result<HttpResponse, ApiError> {
    let target = body.target();
    let settings = state.settings.dms;
    let (dm, created) = state.perform(move |tx| direct_messages::start_dm(tx, &caller, target, &settings)).await?;
    let body = UserDm::new(dm, caller.user_id);
    Ok(super::created_or_ok(created, body))
}

/// The caller's DMs, most recent activity first (`archived=true` for archived ones).
#[utoipa::path(
    operation_id = "listDirectMessages",
    tag = "direct-messages",
    params(DmListParams),
    responses(
        (status = 200, description = "A page of DMs and the cursor of the next one.", body = UserDmPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/direct-messages")]
async fn list_dms(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<DmListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain()?;
    let (rows, next) = state.store.read(move |tx| direct_messages::list_dms(tx, &caller, &query)).await?;
    Ok(HttpResponse::Ok().json(UserDmPage {
        items: rows.into_iter().map(|dm| UserDm::new(dm, caller.user_id)).collect(),
        next_cursor: encode_dm_cursor(next),
    }))
}

/// One of the caller's DMs.
#[utoipa::path(
    operation_id = "getDirectMessage",
    tag = "direct-messages",
    params(("id" = i64, Path, description = "The DM's id.")),
    responses(
        (status = 200, description = "The DM.", body = UserDm),
    )
)]
#[get("/direct-messages/{id}")]
async fn get_dm(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(id): PathId<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let dm = state.store.run(move |tx| direct_messages::get_dm(tx, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(UserDm::new(dm, caller.user_id)))
}

/// A page of a DM's history (keyset; newest first unless `after` is given).
#[utoipa::path(
    operation_id = "listDirectMessageMessages",
    tag = "direct-messages",
    params(("id" = i64, Path, description = "The DM's id."), HistoryParams),
    responses(
        (status = 200, description = "A page of messages and the cursor of the next one.", body = MessagePage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/direct-messages/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    History(id, query): History<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.read(move |tx| direct_messages::dm_history(tx, &caller, id, &query)).await?;
    Ok(HttpResponse::Ok().json(MessagePage::from(page)))
}

/// Sends a message in a DM (it comes back from the archive for both sides).
#[utoipa::path(
    operation_id = "sendDirectMessage",
    tag = "direct-messages",
    params(("id" = i64, Path, description = "The DM's id.")),
    request_body(content = SendMessageRequest, description = "The message."),
    responses(
        (status = 201, description = "Stored (committed) message.", body = Message),
        (status = 200, description = "A retry: the message stored earlier with this clientMessageId.", body = Message),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    )
)]
#[post("/direct-messages/{id}/messages")]
async fn send_message(
    clock: SendClock,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(id): PathId<ConversationId>,
    Valid(new): Valid<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let sent = state.perform_send(clock, move |tx| direct_messages::send_dm_message(tx, &caller, id, &new)).await?;
    Ok(super::created_or_ok(sent.created, Message::from(sent.message)))
}

/// Marks a DM read up to a message.
#[utoipa::path(
    operation_id = "markDirectMessageRead",
    tag = "direct-messages",
    params(("id" = i64, Path, description = "The DM's id.")),
    request_body(content = ReadRequest, description = "The newest message seen."),
    responses(
        (status = 200, description = "The caller's read state.", body = ReadState),
    )
)]
#[post("/direct-messages/{id}/read")]
async fn mark_read(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ReadUpTo(id, upto): ReadUpTo<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let mark = state.perform(move |tx| direct_messages::mark_dm_read(tx, &caller, id, upto)).await?;
    Ok(HttpResponse::Ok().json(ReadState::from(mark.state)))
}

/// Archives a DM for the caller only (it leaves the default list until a new message).
#[utoipa::path(
    operation_id = "archiveDirectMessage",
    tag = "direct-messages",
    params(("id" = i64, Path, description = "The DM's id.")),
    responses(
        (status = 200, description = "The DM, archived for the caller.", body = UserDm),
    )
)]
#[post("/direct-messages/{id}/archive")]
async fn archive(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(id): PathId<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    set_archived(state, caller, id, true).await
}

/// Brings an archived DM back to the caller's list.
#[utoipa::path(
    operation_id = "unarchiveDirectMessage",
    tag = "direct-messages",
    params(("id" = i64, Path, description = "The DM's id.")),
    responses(
        (status = 200, description = "The DM, active again for the caller.", body = UserDm),
    )
)]
#[delete("/direct-messages/{id}/archive")]
async fn unarchive(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(id): PathId<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    set_archived(state, caller, id, false).await
}

async fn set_archived(
    state: web::Data<AppState>,
    caller: chat_domain::Principal,
    id: ConversationId,
    archived: bool,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let dm = state.store.run(move |tx| direct_messages::set_dm_archived(tx, &caller, id, archived, now)).await?;
    Ok(HttpResponse::Ok().json(UserDm::new(dm, caller.user_id)))
}
