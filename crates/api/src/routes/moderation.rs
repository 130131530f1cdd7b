//! Moderation: admins hide a message from users (kept, with its content, for audit).

use actix_web::{HttpResponse, post, web};
use chat_domain::MessageId;
use chat_domain::moderation;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::Violations;
use crate::dto::direct_messages::HideRequest;
use crate::dto::messages::AdminMessage;
use crate::extract::{ApiJson, PathId};
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(hide_message);
}

/// Hides a message from users (kept, with its content, for audit).
#[utoipa::path(
    operation_id = "adminHideMessage",
    tag = "moderation",
    params(("id" = i64, Path, description = "The message's id.")),
    request_body(content = HideRequest, description = "Why."),
    responses(
        (status = 200, description = "The message, now hidden.", body = AdminMessage),
    )
)]
#[post("/messages/{id}/hide")]
async fn hide_message(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<MessageId>,
    ApiJson(body): ApiJson<HideRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut v = Violations::default();
    let reason = v.check("reason", moderation::parse_reason(&body.reason));
    let reason = v.finish(|| reason)?;
    let message = state.perform(move |tx| moderation::hide_message(tx, &admin, id, &reason)).await?;
    Ok(HttpResponse::Ok().json(AdminMessage::from(message)))
}
