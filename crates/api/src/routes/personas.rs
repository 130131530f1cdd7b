//! Personas: `GET/POST /api/admin/chat/personas`, `PATCH /api/admin/chat/personas/{id}`,
//! `GET /api/user/chat/personas`.

use actix_web::{HttpResponse, get, patch, post, web};
use chat_domain::PersonaId;
use chat_domain::personas::{self, CreatePersonaError, ListPersonasError, UpdatePersonaError};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AdminCaller, Caller};
use crate::dto::personas::{
    AdminPersona, AdminPersonaList, CreatePersonaRequest, PublicPersona, PublicPersonaList, UpdatePersonaRequest,
};
use crate::extract::{ApiJson, PathId};
use crate::openapi::Conflict;
use crate::problem::{ADMIN_ONLY, ApiError};
use crate::state::AppState;

pub(super) fn configure_admin(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_personas).service(create_persona).service(update_persona);
}

pub(super) fn configure_user(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_dm_personas);
}

impl From<ListPersonasError> for ApiError {
    fn from(e: ListPersonasError) -> Self {
        match e {
            ListPersonasError::Forbidden => ADMIN_ONLY,
            ListPersonasError::Repo(e) => e.into(),
        }
    }
}

impl From<CreatePersonaError> for ApiError {
    fn from(e: CreatePersonaError) -> Self {
        match e {
            CreatePersonaError::Forbidden => ADMIN_ONLY,
            CreatePersonaError::Repo(e) => e.into(),
        }
    }
}

impl From<UpdatePersonaError> for ApiError {
    fn from(e: UpdatePersonaError) -> Self {
        match e {
            UpdatePersonaError::Forbidden => ADMIN_ONLY,
            UpdatePersonaError::NotFound => Self::NotFound,
            UpdatePersonaError::LastSupportAgent => Self::Conflict {
                code: "last_support_agent",
                detail: "At least one active support agent persona must remain.",
            },
            UpdatePersonaError::Repo(e) => e.into(),
        }
    }
}

/// Every persona, active or not (admins).
#[utoipa::path(
    operation_id = "adminListPersonas",
    tag = "personas",
    responses(
        (status = 200, description = "Every persona, by id.", body = AdminPersonaList),
    )
)]
#[get("/personas")]
async fn list_personas(state: web::Data<AppState>, AdminCaller(admin): AdminCaller) -> Result<HttpResponse, ApiError> {
    let list = state.store.run(move |tx| personas::list_personas(tx, &admin)).await?;
    Ok(HttpResponse::Ok().json(AdminPersonaList { items: list.into_iter().map(AdminPersona::from).collect() }))
}

/// Creates a persona (admins).
#[utoipa::path(
    operation_id = "adminCreatePersona",
    tag = "personas",
    request_body(content = CreatePersonaRequest, description = "The new persona."),
    responses(
        (status = 201, description = "The persona was created.", body = AdminPersona),
    )
)]
#[post("/personas")]
async fn create_persona(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiJson(body): ApiJson<CreatePersonaRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = body.try_into_domain()?;
    let persona = state.store.run(move |tx| personas::create_persona(tx, &admin, &new)).await?;
    Ok(HttpResponse::Created().json(AdminPersona::from(persona)))
}

/// Changes a persona (admins). Refuses to deactivate the last active support agent.
#[utoipa::path(
    operation_id = "adminUpdatePersona",
    tag = "personas",
    params(("id" = i32, Path, description = "The persona's id.")),
    request_body(content = UpdatePersonaRequest, description = "The fields to change."),
    responses(
        (status = 200, description = "The persona after the change.", body = AdminPersona),
        (status = 409, response = Conflict),
    )
)]
#[patch("/personas/{id}")]
async fn update_persona(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<PersonaId>,
    ApiJson(body): ApiJson<UpdatePersonaRequest>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.try_into_domain()?;
    let persona = state.store.run(move |tx| personas::update_persona(tx, &admin, id, &patch)).await?;
    Ok(HttpResponse::Ok().json(AdminPersona::from(persona)))
}

/// The personas the caller may start a DM with (active, DM-enabled), public fields only.
#[utoipa::path(
    operation_id = "listDmPersonas",
    tag = "personas",
    responses(
        (status = 200, description = "Personas that accept DMs, by id.", body = PublicPersonaList),
    )
)]
#[get("/personas")]
async fn list_dm_personas(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let list = state.store.run(|tx| personas::list_dm_personas(tx)).await?;
    Ok(HttpResponse::Ok().json(PublicPersonaList { items: list.into_iter().map(PublicPersona::from).collect() }))
}
