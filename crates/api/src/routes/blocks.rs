//! Blocks: whom the caller has blocked, blocking and unblocking a user.

use actix_web::{HttpResponse, delete, get, post, web};
use chat_domain::UserId;
use chat_domain::direct_messages::{self, BlockError};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Caller;
use crate::dto::direct_messages::{BlockList, BlockedUserDto};
use crate::extract::PathId;
use crate::openapi::ValidationFailed;
use crate::problem::ApiError;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_blocks).service(block).service(unblock);
}

impl From<BlockError> for ApiError {
    fn from(e: BlockError) -> Self {
        match e {
            BlockError::SelfTarget => Self::invalid("userId", "self", "you cannot block yourself"),
            BlockError::NotFound => Self::NotFound,
            BlockError::Repo(e) => e.into(),
        }
    }
}

/// The users the caller has blocked.
#[utoipa::path(
    operation_id = "listBlocks",
    tag = "blocks",
    responses(
        (status = 200, description = "Blocked users, most recent first.", body = BlockList),
    )
)]
#[get("/blocks")]
async fn list_blocks(state: web::Data<AppState>, Caller(caller): Caller) -> Result<HttpResponse, ApiError> {
    let blocks = state.store.run(move |tx| direct_messages::list_blocks(tx, &caller)).await?;
    Ok(HttpResponse::Ok().json(BlockList { items: blocks.into_iter().map(BlockedUserDto::from).collect() }))
}

/// Blocks a user: they can no longer start a DM with the caller or write in their DM.
#[utoipa::path(
    operation_id = "blockUser",
    tag = "blocks",
    params(("userId" = i32, Path, description = "The user to block.")),
    responses(
        (status = 201, description = "Blocked."),
        (status = 200, description = "Was already blocked."),
        (status = 422, response = ValidationFailed),
    )
)]
#[post("/blocks/{userId}")]
async fn block(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(target): PathId<UserId>,
) -> Result<HttpResponse, ApiError> {
    let created = state.perform(move |tx| direct_messages::block_user(tx, &caller, target)).await?;
    Ok(if created { HttpResponse::Created().finish() } else { HttpResponse::Ok().finish() })
}

/// Unblocks a user (unblocking someone not blocked changes nothing).
#[utoipa::path(
    operation_id = "unblockUser",
    tag = "blocks",
    params(("userId" = i32, Path, description = "The user to unblock.")),
    responses(
        (status = 204, description = "Not blocked (any more)."),
    )
)]
#[delete("/blocks/{userId}")]
async fn unblock(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    PathId(target): PathId<UserId>,
) -> Result<HttpResponse, ApiError> {
    state.perform(move |tx| direct_messages::unblock_user(tx, &caller, target)).await?;
    Ok(HttpResponse::NoContent().finish())
}
