//! `GET /api/chat/ws` (the WebSocket) and `POST /api/user/chat/sync` (the same catch-up
//! for clients without a socket).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chat_domain::ConversationId;
use chat_domain::conversations::{self, Replay};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{Caller, bearer_token};
use crate::dto::messages::{AdminMessage, Message, example_reply};
use crate::extract::ApiJson;
use crate::openapi::{BadRequest, Forbidden};
use crate::problem::ApiError;
use crate::realtime::{REPLAY_LIMIT, run_session};
use crate::state::AppState;

/// The subprotocol a browser offers, next to `bearer.<token>`.
pub const SUBPROTOCOL: &str = "chat.v1";

pub(super) fn configure_socket(cfg: &mut ServiceConfig<'_>) {
    cfg.service(websocket);
}

pub(super) fn configure_user(cfg: &mut ServiceConfig<'_>) {
    cfg.service(sync);
}

/// The token from the `Authorization` header, the `access_token` query parameter, or a
/// `bearer.<token>` subprotocol (browsers cannot set headers on a WebSocket).
fn socket_token(req: &HttpRequest) -> Option<String> {
    if let Some(token) = bearer_token(req) {
        return Some(token.to_owned());
    }
    let query = form_urlencoded::parse(req.query_string().as_bytes());
    if let Some((_, token)) = query.into_iter().find(|(k, _)| k == "access_token") {
        return Some(token.into_owned());
    }
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("bearer.").map(str::to_owned))
}

fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Non-browser clients send no Origin; browsers always do.
        None => Ok(()),
        Some(origin) if state.settings.cors_allowed_origins.iter().any(|allowed| allowed == origin) => Ok(()),
        Some(_) => {
            Err(ApiError::Forbidden { code: "origin_not_allowed", detail: "This origin may not open a socket." })
        }
    }
}

/// Opens the real-time socket. Authenticated before the upgrade (`Authorization:
/// Bearer`, `?access_token=`, or the subprotocols `chat.v1, bearer.<token>`); browser
/// origins must be allowed. See docs/websocket.md for the protocol.
#[utoipa::path(
    operation_id = "openSocket",
    tag = "realtime",
    params(("access_token" = Option<String>, Query, description = "The token, for browsers (never logged).")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
#[get("/ws")]
async fn websocket(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    check_origin(&req, &state)?;
    let token = socket_token(&req).ok_or(ApiError::Unauthorized("A bearer token is required."))?;
    let (principal, exp) = state.auth.authenticate_with_expiry(&token, &state.store).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let expires_at = Instant::now() + Duration::from_secs(exp.saturating_sub(now));
    let (response, ws_session, stream) =
        actix_ws::handle_with_protocols(&req, body, &[SUBPROTOCOL]).map_err(|e| ApiError::BadRequest {
            code: "websocket_handshake",
            detail: format!("This endpoint expects a WebSocket upgrade: {e}"),
        })?;
    let state = state.clone();
    actix_web::rt::spawn(run_session(state, principal, Some(expires_at), ws_session, stream));
    Ok(response)
}

/// Catch-up for clients without a socket: the last seen `seq` per conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"positions": {"17": 5, "42": 3}}))]
pub struct SyncRequest {
    /// Conversation id -> last seen `seq` (conversations not listed: from the start).
    #[serde(default)]
    #[schema(example = json!({"17": 5, "42": 0}))]
    pub positions: HashMap<String, i64>,
}

/// A missed message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SyncMessage {
    /// As users see it.
    User(Message),
    /// As admins see it.
    Admin(AdminMessage),
}

/// What the caller missed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"messages": [example_reply()], "resyncRequired": false}))]
pub struct SyncResponse {
    /// Missed messages, per conversation in `seq` order.
    pub messages: Vec<SyncMessage>,
    /// More was missed than a sync returns: page through the histories instead.
    pub resync_required: bool,
}

/// Every message after the caller's positions, from PostgreSQL (at most 1,000).
#[utoipa::path(
    operation_id = "sync",
    tag = "realtime",
    request_body(content = SyncRequest, description = "Last seen positions."),
    responses(
        (status = 200, description = "What was missed.", body = SyncResponse),
    )
)]
#[post("/sync")]
async fn sync(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SyncRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut positions = HashMap::new();
    for (key, seq) in body.positions {
        let id = key
            .parse::<i64>()
            .map_err(|_| ApiError::invalid(format!("positions.{key}"), "invalid_id", "is not a conversation id"))?;
        positions.insert(ConversationId(id), seq.max(0));
    }
    let replay = state.store.run(move |tx| conversations::replay(tx, &caller, &positions, REPLAY_LIMIT)).await?;
    let response = match replay {
        Replay::Messages(missed) => SyncResponse {
            messages: missed
                .into_iter()
                .map(
                    |(_, m)| if caller.is_admin() { SyncMessage::Admin(m.into()) } else { SyncMessage::User(m.into()) },
                )
                .collect(),
            resync_required: false,
        },
        Replay::ResyncRequired => SyncResponse { messages: Vec::new(), resync_required: true },
    };
    Ok(HttpResponse::Ok().json(response))
}
