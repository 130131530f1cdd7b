//! The group read side: a member's view of a group's messages and their read mark.
//!
//! There is deliberately no route for users to post into groups here: personal groups
//! are read-only for their owner (`authorize_group_post`), and regular group posting
//! belongs to another issue.

use actix_web::{HttpResponse, get, post, web};
use chat_domain::group_messages::{self, GroupError};
use chat_domain::{GroupId, MessageId};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Caller;
use crate::dto::groups::{GroupMessagePage, GroupReadRequest, GroupReadStateView};
use crate::dto::messages::HistoryParams;
use crate::extract::{ApiJson, History, PathId};
use crate::openapi::ValidationFailed;
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_group_messages).service(mark_group_read);
}

impl From<GroupError> for ApiError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::NotFound => Self::NotFound,
            GroupError::Repo(e) => e.into(),
        }
    }
}

/// A page of a group's messages, for members (keyset; newest first unless `after` is
/// given). Admin notices have `kind: "notification"`, `align: "center"`, their style and
/// no sender; expired and retracted notices are not listed.
#[utoipa::path(
    operation_id = "listGroupMessages",
    tag = "groups",
    params(("id" = i32, Path, description = "The group's id (the caller must be a member)."), HistoryParams),
    responses(
        (status = 200, description = "A page of messages and the cursor of the next one.", body = GroupMessagePage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/groups/{id}/messages")]
async fn list_group_messages(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    History(group, query): History<GroupId>,
) -> Result<HttpResponse, ApiError> {
    let page = state.store.read(move |tx| group_messages::group_history(tx, &caller, group, &query)).await?;
    Ok(HttpResponse::Ok().json(GroupMessagePage::from(page)))
}

/// Marks a group read up to a message (the read mark never moves backwards).
#[utoipa::path(
    operation_id = "markGroupRead",
    tag = "groups",
    params(("id" = i32, Path, description = "The group's id (the caller must be a member).")),
    request_body(content = GroupReadRequest, description = "The newest message seen."),
    responses(
        (status = 200, description = "The caller's read state in the group.", body = GroupReadStateView),
    )
)]
#[post("/groups/{id}/read")]
async fn mark_group_read(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(group): PathId<GroupId>,
    ApiJson(body): ApiJson<GroupReadRequest>,
) -> Result<HttpResponse, ApiError> {
    let upto = MessageId(body.last_read_message_id);
    let read = state.store.run(move |tx| group_messages::mark_group_read(tx, &caller, group, upto)).await?;
    Ok(HttpResponse::Ok().json(GroupReadStateView::from(read)))
}
