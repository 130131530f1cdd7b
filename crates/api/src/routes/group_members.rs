//! The members of a group, and whether the caller may start a DM with each (the avatar
//! click).

use actix_web::{HttpResponse, get, web};
use chat_domain::group_members::{self, GroupMembersError};
use chat_domain::{GroupId, UserId};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Caller;
use crate::dto::direct_messages::{GroupMemberDto, GroupMemberPage, MemberParams};
use crate::extract::{ApiQuery, PathId};
use crate::openapi::ValidationFailed;
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_group_members);
}

impl From<GroupMembersError> for ApiError {
    fn from(e: GroupMembersError) -> Self {
        match e {
            GroupMembersError::NotFound => Self::NotFound,
            GroupMembersError::Repo(e) => e.into(),
        }
    }
}

/// The members of a group the caller belongs to, and whether the caller may DM each.
#[utoipa::path(
    operation_id = "listGroupMembers",
    tag = "groups",
    params(("id" = i32, Path, description = "The group's id."), MemberParams),
    responses(
        (status = 200, description = "A page of members by id.", body = GroupMemberPage),
        (status = 422, response = ValidationFailed),
    )
)]
#[get("/groups/{id}/members")]
async fn list_group_members(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(group): PathId<GroupId>,
    ApiQuery(params): ApiQuery<MemberParams>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit) = params.try_into_domain()?;
    let settings = state.settings.dms;
    let (members, next) = state
        .store
        .run(move |tx| group_members::list_group_members(tx, &caller, group, after, limit, &settings))
        .await?;
    Ok(HttpResponse::Ok().json(GroupMemberPage {
        items: members.into_iter().map(GroupMemberDto::from).collect(),
        next_cursor: next.map(UserId::get),
    }))
}
