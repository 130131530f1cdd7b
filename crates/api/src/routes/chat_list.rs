//! `GET /api/user/chat/conversations`: the unified chat list.

use actix_web::{HttpResponse, get, web};
use chat_domain::chat_list;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Caller;
use crate::dto::chat_list::{ChatListParams, ChatListResponse};
use crate::extract::ApiQuery;
use crate::openapi::ValidationFailed;
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(conversations);
}

/// The caller's chat list: "Help & Support" pinned first, then DMs and groups by last
/// activity, each with a header, the last message and the unread count; and the total
/// unread.
#[utoipa::path(
    operation_id = "listConversations",
    tag = "chat-list",
    params(ChatListParams),
    responses(
        (status = 200, description = "A page of the chat list.", body = ChatListResponse),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/conversations")]
async fn conversations(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<ChatListParams>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit) = params.try_into_domain()?;
    let list = state.store.read(move |tx| chat_list::chat_list(tx, &caller, after, limit)).await?;
    Ok(HttpResponse::Ok().json(ChatListResponse::new(list, caller.user_id)))
}
