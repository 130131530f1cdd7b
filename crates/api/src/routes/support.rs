//! The user side of support: `GET /api/user/chat/support`, its messages, and read state.

use actix_web::{HttpResponse, get, post, web};
use chat_domain::support::{self, OpenSupportError, UserSupportError};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Caller;
use crate::dto::messages::{HistoryParams, Message, MessagePage, ReadRequest, ReadState, SendMessageRequest};
use crate::dto::support::UserSupportConversation;
use crate::extract::{Valid, ValidQuery};
use crate::openapi::{Conflict, NotFound, ValidationFailed};
use crate::problem::{ApiError, CLIENT_ID_REUSED, IDEMPOTENCY_KEY_REUSED};
use crate::send_trace::SendClock;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(open_support).service(list_messages).service(send_message).service(mark_read);
}

impl From<OpenSupportError> for ApiError {
    fn from(e: OpenSupportError) -> Self {
        match e {
            OpenSupportError::Repo(e) => e.into(),
        }
    }
}

impl From<UserSupportError> for ApiError {
    fn from(e: UserSupportError) -> Self {
        match e {
            UserSupportError::NotFound => Self::NotFound,
            UserSupportError::ClientIdReused => CLIENT_ID_REUSED,
            UserSupportError::KeyReused => IDEMPOTENCY_KEY_REUSED,
            UserSupportError::Repo(e) => e.into(),
        }
    }
}

/// Gets the caller's support conversation, creating it on first access.
#[utoipa::path(
    operation_id = "getSupportConversation",
    tag = "support",
    responses(
        (status = 200, description = "The caller's support conversation.", body = UserSupportConversation),
        (status = 201, description = "Created on this first access.", body = UserSupportConversation),
    )
)]
#[get("/support")]
async fn open_support(state: web::Data<AppState>, Caller(caller): Caller) -> Result<HttpResponse, ApiError> {
    let settings = state.settings.support.clone();
    // Online: an admin has the queue open (on any instance), within support hours if set.
    let online = settings.online_at(Utc::now()) && state.hub.support_online();
    let (conversation, created) = state.store.run(move |tx| support::open_support(tx, &caller, &settings)).await?;
    let body = UserSupportConversation::new(conversation, online);
    Ok(super::created_or_ok(created, body))
}

/// A page of the caller's support history (keyset; newest first unless `after` is given).
#[utoipa::path(
    operation_id = "listSupportMessages",
    tag = "support",
    params(HistoryParams),
    responses(
        (status = 200, description = "A page of messages and the cursor of the next one.", body = MessagePage),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/support/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ValidQuery(query): ValidQuery<HistoryParams>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.read(move |tx| support::support_history(tx, &caller, &query)).await?;
    Ok(HttpResponse::Ok().json(MessagePage::from(page)))
}

/// Sends a message to support (creating the conversation if needed); it becomes `open`.
#[utoipa::path(
    operation_id = "sendSupportMessage",
    tag = "support",
    request_body(content = SendMessageRequest, description = "The message."),
    responses(
        (status = 201, description = "Stored (committed) message.", body = Message),
        (status = 200, description = "A retry: the message stored earlier with this clientMessageId.", body = Message),
        (status = 409, response = Conflict),
    )
)]
#[post("/support/messages")]
async fn send_message(
    clock: SendClock,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    Valid(new): Valid<SendMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let settings = state.settings.support.clone();
    let sent = state.perform_send(clock, move |tx| support::send_support_message(tx, &caller, &settings, &new)).await?;
    Ok(super::created_or_ok(sent.created, Message::from(sent.message)))
}

/// Marks the caller's support conversation read up to a message.
#[utoipa::path(
    operation_id = "markSupportRead",
    tag = "support",
    request_body(content = ReadRequest, description = "The newest message seen."),
    responses(
        (status = 200, description = "The caller's read state.", body = ReadState),
        (status = 404, response = NotFound),
    )
)]
#[post("/support/read")]
async fn mark_read(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    Valid(upto): Valid<ReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let mark = state.perform(move |tx| support::mark_support_read(tx, &caller, upto)).await?;
    Ok(HttpResponse::Ok().json(ReadState::from(mark.state)))
}
