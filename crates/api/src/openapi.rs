//! The OpenAPI document: shared components, security, and the route table derived from it.
//!
//! Paths and their schemas are collected from the handlers by utoipa-actix-web; this
//! module adds what is shared: the bearer scheme, the tags, and one reusable response
//! per error status, each a `Problem` with an example.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use utoipa::{IntoResponses, Modify, OpenApi, ToResponse};

use crate::problem::{PROBLEM_JSON, Problem};

/// The base document; handlers add their paths.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Chat service API",
        description = "Support conversations, direct messages and admin notifications. \
            Errors are RFC 9457 `application/problem+json` with a stable `code`; \
            lists page by keyset cursor. See docs/api-design.md.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&BearerAuth),
    components(
        schemas(
            Problem,
            crate::realtime::protocol::ClientFrame,
            crate::realtime::protocol::MessageEvent,
            crate::realtime::protocol::AdminMessageEvent,
            crate::realtime::protocol::ConversationUpdatedEvent,
            crate::realtime::protocol::TypingEvent,
            crate::realtime::protocol::ReadEvent,
            crate::realtime::protocol::PresenceEvent,
            crate::realtime::protocol::NotificationEvent,
            crate::realtime::protocol::NotificationRetractedEvent,
            crate::realtime::protocol::AckFrame,
            crate::realtime::protocol::ErrorFrame,
            crate::realtime::protocol::ControlFrame,
        ),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, InternalError, Unavailable
        )
    ),
    tags(
        (name = "support", description = "The caller's private conversation with the support team (\"Help & Support\")."),
        (name = "support-admin", description = "The support queue: answering users as a persona or as the team."),
        (name = "chat-list", description = "The unified chat list: Help & Support, DMs and groups."),
        (name = "direct-messages", description = "The caller's DMs with users who share a group, and with personas."),
        (name = "direct-messages-admin", description = "Oversight of every DM; answering persona DMs."),
        (name = "blocks", description = "Blocking users."),
        (name = "groups", description = "Groups the caller belongs to."),
        (name = "search", description = "Full-text search over the conversations the caller may read."),
        (name = "moderation", description = "Hiding messages and the staff access log."),
        (name = "realtime", description = "The WebSocket (`/api/chat/ws`, protocol in docs/websocket.md and openapi/asyncapi.yaml) and its REST catch-up."),
        (name = "notifications-admin", description = "Admin notices into users' personal groups: send, history, retract."),
        (name = "personas", description = "Personas that admins speak as."),
        (name = "operations", description = "Health and readiness probes."),
    )
)]
pub struct ApiDoc;

/// The name of the bearer security scheme, as referenced by every protected operation.
pub const BEARER: &str = "bearerAuth";

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT from the community app: HS256 (or RS256 when configured), `sub` = user id, \
                         `role` = `user` or `admin`, `exp` required.",
                    ))
                    .build(),
            ),
        );
    }
}

macro_rules! problem_response {
    ($name:ident, $status:literal, $code:literal, $description:literal, $detail:literal) => {
        #[doc = $description]
        #[derive(Debug)]
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                let example = json!({
                    "type": concat!("urn:chat:problem:", $code),
                    "title": actix_web::http::StatusCode::from_u16($status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Error"),
                    "status": $status,
                    "detail": $detail,
                    "code": $code,
                });
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .example(Some(example))
                    .build();
                let response = ResponseBuilder::new().description($description).content(PROBLEM_JSON, content).build();
                (stringify!($name), response.into())
            }
        }
    };
}

problem_response!(
    BadRequest,
    400,
    "malformed_json",
    "The body is not valid JSON, or the query string is malformed.",
    "The request body is not valid JSON: EOF while parsing an object at line 1 column 1"
);
problem_response!(
    Unauthorized,
    401,
    "unauthorized",
    "No bearer token, or one that is invalid, expired, or names no existing user.",
    "The token has expired."
);
problem_response!(
    Forbidden,
    403,
    "admin_only",
    "Authenticated, but not allowed: the `code` says why (e.g. `admin_only`).",
    "This route is for admins only."
);
problem_response!(
    NotFound,
    404,
    "not_found",
    "Nothing with this id exists for the caller. Missing and foreign ids answer identically.",
    "The requested resource does not exist."
);
problem_response!(
    Conflict,
    409,
    "last_support_agent",
    "The request conflicts with the current state: the `code` says how.",
    "at least one active support agent persona must remain"
);
problem_response!(
    PayloadTooLarge,
    413,
    "payload_too_large",
    "The body exceeds the size limit.",
    "The request body exceeds 262144 bytes."
);
problem_response!(
    UnsupportedMediaType,
    415,
    "unsupported_media_type",
    "The body is not `application/json`.",
    "The request body must be application/json."
);
problem_response!(
    ValidationFailed,
    422,
    "validation_failed",
    "One or more fields are invalid; `errors` names each of them.",
    "One or more fields are invalid."
);
problem_response!(
    InternalError,
    500,
    "internal_error",
    "An unexpected error; the cause is logged, never sent.",
    "An unexpected error occurred."
);
problem_response!(
    Unavailable,
    503,
    "service_unavailable",
    "The database is unreachable; retry after the `Retry-After` delay.",
    "The service is temporarily unavailable; retry shortly."
);

/// Declares a named set of error responses, each a `$ref` to the shared component above,
/// so an operation lists `AuthErrors` instead of repeating the same three lines.
macro_rules! response_set {
    ($(#[$meta:meta])* $name:ident { $($status:literal => $response:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($status.to_owned(), RefOr::Ref(Ref::from_response_name(stringify!($response))))),+])
            }
        }
    };
}

response_set!(
    /// What any authenticated operation may answer: 401, 500, 503.
    AuthErrors { "401" => Unauthorized, "500" => InternalError, "503" => Unavailable }
);
response_set!(
    /// What any operation with a JSON body may answer: 400, 413, 415, 422.
    BodyErrors { "400" => BadRequest, "413" => PayloadTooLarge, "415" => UnsupportedMediaType, "422" => ValidationFailed }
);

/// The paths of the spec and their methods, for answering 405 (with `Allow`) rather than
/// 404 when a known path is called with an undeclared method.
#[derive(Debug)]
pub struct RouteTable(Vec<(ResourceDef, Vec<Method>)>);

impl RouteTable {
    /// Reads the paths and methods of `api`.
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ];
                let methods = methods.into_iter().filter_map(|(m, on)| on.then_some(m)).collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods allowed on `path`, or `None` when the spec has no such path.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let methods: Vec<&str> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter().map(Method::as_str))
            .collect();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}
