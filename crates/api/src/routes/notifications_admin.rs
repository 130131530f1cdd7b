//! Admin notifications: send a notice, read the history, retract one.

use actix_web::{HttpResponse, delete, get, post, web};
use chat_domain::notifications::{self, NotificationId};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::notifications::{
    AdminNotification, AdminNotificationPage, NotificationListParams, NotificationSent, SendNotificationRequest,
    send_error,
};
use crate::extract::{ApiJson, ApiQuery, PathId};
use crate::openapi::ValidationFailed;
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(send_notification).service(list_notifications).service(retract_notification);
}

/// Sends a notice to one user, a list of users, or every user. It lands in each user's
/// personal group (created when missing). A retry with the same `clientNotificationId`
/// creates nothing and answers 200 with the first send's result.
#[utoipa::path(
    operation_id = "adminSendNotification",
    tag = "notifications-admin",
    request_body(content = SendNotificationRequest, description = "The audience, content and style."),
    responses(
        (status = 201, description = "Sent and committed: the notification id and its reach.", body = NotificationSent),
        (status = 200, description = "A retry: the notification sent earlier with this clientNotificationId.", body = NotificationSent),
    )
)]
#[post("/notifications")]
async fn send_notification(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiJson(body): ApiJson<SendNotificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let user_ids = body.user_ids.clone();
    let new = body.try_into_domain(Utc::now())?;
    let sent = state
        .perform(move |tx| notifications::send_notification(tx, &admin, &new))
        .await
        .map_err(|e| send_error(e, user_ids.as_deref()))?;
    if sent.created {
        tracing::info!(notification = %sent.id, reach = sent.reach, "notification sent");
    }
    let body = NotificationSent::from(&sent);
    Ok(super::created_or_ok(sent.created, body))
}

/// The history of sent notices, newest first, with reach and read counts.
#[utoipa::path(
    operation_id = "adminListNotifications",
    tag = "notifications-admin",
    params(NotificationListParams),
    responses(
        (status = 200, description = "A page of notices and the cursor of the next one.", body = AdminNotificationPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/notifications")]
async fn list_notifications(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiQuery(params): ApiQuery<NotificationListParams>,
) -> Result<HttpResponse, ApiError> {
    let query = params.try_into_domain()?;
    let (rows, next) = state.store.run(move |tx| notifications::list_notifications(tx, &admin, &query)).await?;
    let now = Utc::now();
    Ok(HttpResponse::Ok().json(AdminNotificationPage {
        items: rows.into_iter().map(|r| AdminNotification::new(r, now)).collect(),
        next_cursor: next.map(NotificationId::get),
    }))
}

/// Retracts a notice: it disappears at once for every recipient (it stays in the
/// history as `retracted`). Retracting it again changes nothing.
#[utoipa::path(
    operation_id = "adminRetractNotification",
    tag = "notifications-admin",
    params(("id" = i64, Path, description = "The notification's id.")),
    responses(
        (status = 204, description = "Retracted."),
    )
)]
#[delete("/notifications/{id}")]
async fn retract_notification(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<NotificationId>,
) -> Result<HttpResponse, ApiError> {
    state.perform(move |tx| notifications::retract_notification(tx, &admin, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
