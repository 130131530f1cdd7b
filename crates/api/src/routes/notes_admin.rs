//! Internal notes: admins add them to a support conversation or a persona DM. They are
//! read with the admin histories (`notes` beside `items`) and never reach a user.

use actix_web::{HttpResponse, post, web};
use chat_domain::ConversationId;
use chat_domain::notes::{self, NewNote, NoteError, NoteTarget};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::AdminCaller;
use crate::dto::notes::{AddNoteRequest, AdminNote};
use crate::extract::{PathId, Valid};
use crate::openapi::Conflict;
use crate::problem::{ADMIN_ONLY, ApiError};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(add_support_note).service(add_dm_note);
}

impl From<NoteError> for ApiError {
    fn from(e: NoteError) -> Self {
        match e {
            NoteError::Forbidden => ADMIN_ONLY,
            NoteError::NotFound => Self::NotFound,
            NoteError::ReadOnly => Self::Forbidden {
                code: "admin_read_only",
                detail: "Admins can read conversations between users but never write in them, notes included.",
            },
            NoteError::KeyReused => Self::Conflict {
                code: "idempotency_key_reused",
                detail: "This clientNoteId was already used for a different note; a retry must send the same note.",
            },
            NoteError::Repo(e) => e.into(),
        }
    }
}

async fn add(
    state: web::Data<AppState>,
    admin: chat_domain::Principal,
    id: ConversationId,
    target: NoteTarget,
    new: NewNote,
) -> Result<HttpResponse, ApiError> {
    let added = state.perform(move |tx| notes::add_note(tx, &admin, id, target, &new)).await?;
    Ok(super::created_or_ok(added.created, AdminNote::from(added.note)))
}

/// Adds an internal note to a support conversation: admins see it in the history and on
/// their sockets; the user never does, and the conversation's status, read state and
/// last message do not change.
#[utoipa::path(
    operation_id = "adminAddSupportNote",
    tag = "support-admin",
    params(("id" = i64, Path, description = "The support conversation's id.")),
    request_body(content = AddNoteRequest, description = "The note."),
    responses(
        (status = 201, description = "Stored (committed) note.", body = AdminNote),
        (status = 200, description = "A retry: the note stored earlier with this clientNoteId.", body = AdminNote),
        (status = 409, response = Conflict),
    )
)]
#[post("/support/{id}/notes")]
async fn add_support_note(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
    Valid(new): Valid<AddNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    add(state, admin, id, NoteTarget::Support, new).await
}

/// Adds an internal note to a persona DM (user-to-user DMs take none: `admin_read_only`);
/// as on support conversations, only admins ever see it.
#[utoipa::path(
    operation_id = "adminAddDirectMessageNote",
    tag = "direct-messages-admin",
    params(("id" = i64, Path, description = "The persona DM's id.")),
    request_body(content = AddNoteRequest, description = "The note."),
    responses(
        (status = 201, description = "Stored (committed) note.", body = AdminNote),
        (status = 200, description = "A retry: the note stored earlier with this clientNoteId.", body = AdminNote),
        (status = 409, response = Conflict),
    )
)]
#[post("/direct-messages/{id}/notes")]
async fn add_dm_note(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ConversationId>,
    Valid(new): Valid<AddNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    add(state, admin, id, NoteTarget::Dm, new).await
}
