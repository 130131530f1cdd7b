//! The OpenAPI document: shared components, security, and the route table derived from it.
//!
//! Paths and their schemas are collected from the handlers by utoipa-actix-web; this
//! module adds what is shared: the bearer scheme, the tags, and one reusable response
//! per error status, each a `Problem` with an example.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Response, ResponseBuilder, Schema, Type};

use utoipa::{IntoResponses, Modify, OpenApi, ToResponse};

mod rules;
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
    servers((url = "/", description = "The server that serves this document (`/api-docs/openapi.json`).")),
    modifiers(&BearerAuth, &MissedMessagesHook),
    components(
        schemas(
            Problem,
            crate::realtime::protocol::ClientFrame,
            crate::realtime::protocol::ServerFrame,
            crate::realtime::protocol::MessageEvent,
            crate::realtime::protocol::NoteEvent,
            crate::realtime::protocol::ConversationUpdatedEvent,
            crate::realtime::protocol::TypingEvent,
            crate::realtime::protocol::ReadEvent,
            crate::realtime::protocol::PresenceEvent,
            crate::realtime::protocol::NotificationEvent,
            crate::realtime::protocol::NotificationRetractedEvent,
            crate::realtime::protocol::AckFrame,
            crate::realtime::protocol::ErrorFrame,
            crate::realtime::protocol::ControlFrame,
            crate::dto::webhooks::MissedMessagesWebhook,
        ),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, RequestTimeout, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, TooManyRequests, InternalError, Unavailable
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
        (name = "stats-admin", description = "The success metrics: support response and resolution times, DM use, notice reach, isolation."),
        (name = "webhooks-admin", description = "Missed-message webhooks to the existing app: digests that could not be delivered (docs/webhooks.md)."),
        (name = "personas", description = "Personas that admins speak as."),
        (name = "operations", description = "Health and readiness probes."),
    )
)]
pub struct ApiDoc;

/// The name of the bearer security scheme. It is declared once, as the document's
/// default security: every operation requires it unless it opts out (the probes, with
/// `security(())`).
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
        openapi.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
}

/// The webhook the service posts to the existing app (OpenAPI 3.1 `webhooks`).
struct MissedMessagesHook;

impl Modify for MissedMessagesHook {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::ResponsesBuilder;
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
        use utoipa::openapi::request_body::RequestBodyBuilder;
        let operation = OperationBuilder::new()
            .operation_id(Some("missedMessages"))
            .summary(Some("A user has unread messages (one digest per user per window)"))
            .description(Some(
                "Posted to `CHAT_WEBHOOK_URL` when a user has not read a staff reply, a DM or a notice within \
                 `CHAT_WEBHOOK_READ_DELAY_SECS`. Signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, \
                 `webhook-signature`); delivered at least once: de-duplicate on `webhook-id`. See docs/webhooks.md.",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("MissedMessagesWebhook"))).build(),
                    )
                    .required(Some(utoipa::openapi::Required::True))
                    .build(),
            ))
            .responses(
                ResponsesBuilder::new()
                    .response("2XX", ResponseBuilder::new().description("Received; any 2xx ends the attempts.").build())
                    .response(
                        "default",
                        ResponseBuilder::new().description("Anything else is a failure: retried with backoff.").build(),
                    )
                    .build(),
            )
            .security(SecurityRequirement::default())
            .build();
        let hook = PathItem::new(HttpMethod::Post, operation);
        openapi.webhooks.get_or_insert_with(Default::default).paths.insert("missedMessages".to_owned(), hook);
    }
}

/// Completes the collected document: `anyOf` for the untagged unions whose variants
/// overlap, and 429 on the rate-limited operations. (Examples are on the DTOs
/// themselves: `#[schema(example = ...)]`, and for pages [`PageItem::example_page`](crate::dto::page::PageItem::example_page).)
pub(crate) fn finish(openapi: &mut utoipa::openapi::OpenApi) {
    standard_errors(openapi);
    overlapping_unions_as_any_of(openapi);
    rate_limited_operations(openapi);
}

/// The error responses an operation answers by its kind, declared here once (as the
/// bearer security is) rather than on each handler: every `/api/` operation may answer
/// [`AuthErrors`] (401, 500, 503); one with a path id, 404 ([`NotFound`]: a missing and a
/// foreign id answer alike); one under `/api/admin/`, 403 ([`Forbidden`], `admin_only`);
/// one with a body, [`BodyErrors`]. A handler lists only what is its own (a 409, a 422 of
/// its query, a 403 of a user route); what it lists wins.
fn standard_errors(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in &mut openapi.paths.paths {
        if !path.starts_with("/api/") {
            continue;
        }
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let mut standard = AuthErrors::responses();
            if path.contains('{') {
                standard.insert("404".to_owned(), RefOr::Ref(Ref::from_response_name("NotFound")));
            }
            if path.starts_with("/api/admin/") {
                standard.insert("403".to_owned(), RefOr::Ref(Ref::from_response_name("Forbidden")));
            }
            if operation.request_body.is_some() {
                standard.extend(BodyErrors::responses());
            }
            for (status, response) in standard {
                operation.responses.responses.entry(status).or_insert(response);
            }
        }
    }
}

/// Every operation that draws on a rate-limit budget may answer 429: decided by the
/// same [`Budget::of`](crate::rate_limit::Budget::of) that the server applies, so the
/// spec and the behaviour cannot drift apart.
fn rate_limited_operations(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in &mut openapi.paths.paths {
        let operations = [
            (Method::GET, item.get.as_mut()),
            (Method::POST, item.post.as_mut()),
            (Method::PATCH, item.patch.as_mut()),
            (Method::DELETE, item.delete.as_mut()),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation
                && crate::rate_limit::Budget::of(&method, path).is_some()
            {
                operation
                    .responses
                    .responses
                    .insert("429".to_owned(), RefOr::Ref(Ref::from_response_name("TooManyRequests")));
            }
        }
    }
}

/// The finished document as served and committed: [`finish`]ed, plus the validation
/// rules that only the JSON form can carry ([`rules`]).
pub(crate) fn document(openapi: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi).unwrap_or_default();
    rules::apply(&mut doc);
    doc
}

/// Untagged enums whose variants overlap: an admin's view of a message is a user's view
/// plus fields, so one value matches both and a `oneOf` (what utoipa emits for an
/// untagged enum) would reject it. JSON Schema's `anyOf` says what the body is.
const OVERLAPPING_UNIONS: [&str; 2] = ["SyncMessage", "AckMessage"];

fn overlapping_unions_as_any_of(openapi: &mut utoipa::openapi::OpenApi) {
    let Some(components) = openapi.components.as_mut() else { return };
    for name in OVERLAPPING_UNIONS {
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get(name) {
            let mut any_of = utoipa::openapi::schema::AnyOf::new();
            any_of.items = one_of.items.clone();
            any_of.description = one_of.description.clone();
            any_of.example = one_of.example.clone();
            any_of.examples = one_of.examples.clone();
            components.schemas.insert(name.to_owned(), RefOr::T(Schema::AnyOf(any_of)));
        }
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
    RequestTimeout,
    408,
    "request_timeout",
    "The body did not arrive within the body deadline (`CHAT_HTTP_BODY_TIMEOUT_MS`); the connection is closed.",
    "The request body did not arrive within 10000 ms."
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

/// 429: the caller spent its budget for this kind of request.
#[derive(Debug)]
pub struct TooManyRequests;

impl<'s> ToResponse<'s> for TooManyRequests {
    fn response() -> (&'s str, RefOr<Response>) {
        let example = json!({
            "type": "urn:chat:problem:rate_limited",
            "title": "Too Many Requests",
            "status": 429,
            "detail": "Too many requests of this kind (sends); retry in 1 s.",
            "code": "rate_limited",
        });
        let content =
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).example(Some(example)).build();
        let header = |description: &str, example: serde_json::Value| {
            HeaderBuilder::new()
                .schema(Some(Object::with_type(Type::String)))
                .description(Some(description))
                .example(Some(example))
                .build()
        };
        let response = ResponseBuilder::new()
            .description(
                "The caller spent its budget for this kind of request (sends, DM starts, notifications or reads); \
                 nothing was done. Retry after `Retry-After` seconds.",
            )
            .header("Retry-After", header("Seconds until a retry can succeed.", json!("1")))
            .header(
                "RateLimit-Policy",
                header(
                    "The budget (draft-ietf-httpapi-ratelimit-headers): quota `q` requests per window `w` seconds.",
                    json!("\"sends\";q=20;w=10"),
                ),
            )
            .header(
                "RateLimit",
                header(
                    "What is left: `r` requests, `t` seconds until the next one is allowed.",
                    json!("\"sends\";r=0;t=1"),
                ),
            )
            .content(PROBLEM_JSON, content)
            .build();
        ("TooManyRequests", response.into())
    }
}

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
    /// What any operation with a JSON body may answer: 400, 408, 413, 415, 422.
    BodyErrors {
        "400" => BadRequest,
        "408" => RequestTimeout,
        "413" => PayloadTooLarge,
        "415" => UnsupportedMediaType,
        "422" => ValidationFailed,
    }
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

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use crate::extract::Validated;
    use serde_json::Value;

    use crate::dto::{direct_messages, groups, messages, notes, notifications, personas, support};

    /// The schema-level example of `name` in the finished document.
    fn example(name: &str) -> Value {
        let spec = serde_json::to_value(crate::openapi()).unwrap();
        spec["components"]["schemas"][name]["example"].clone()
    }

    fn parse<T: DeserializeOwned>(name: &str) -> T {
        let example = example(name);
        serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{name}: {e}: {example}"))
    }

    /// A request example is a request the server accepts: it deserializes into its DTO
    /// (which refuses unknown fields) and passes validation.
    #[test]
    fn request_examples_are_accepted_requests() {
        parse::<messages::SendMessageRequest>("SendMessageRequest").validated().unwrap();
        parse::<messages::ReadRequest>("ReadRequest");
        parse::<personas::CreatePersonaRequest>("CreatePersonaRequest").try_into_domain().unwrap();
        parse::<personas::UpdatePersonaRequest>("UpdatePersonaRequest").try_into_domain().unwrap();
        parse::<support::SupportReplyRequest>("SupportReplyRequest").validated().unwrap();
        parse::<support::UpdateSupportRequest>("UpdateSupportRequest").into_domain();
        parse::<direct_messages::StartDmRequest>("StartDmRequest");
        parse::<direct_messages::HideRequest>("HideRequest");
        parse::<groups::GroupReadRequest>("GroupReadRequest");
        parse::<notifications::SendNotificationRequest>("SendNotificationRequest");
        parse::<notes::AddNoteRequest>("AddNoteRequest").validated().unwrap();
    }

    #[test]
    fn unions_whose_variants_overlap_are_any_of() {
        // An admin's message is a user's message plus fields: under `oneOf` it would match
        // both variants and be invalid (schemathesis found this on POST /api/user/chat/sync).
        let api = crate::openapi();
        let schemas = &api.components.as_ref().expect("components").schemas;
        for name in super::OVERLAPPING_UNIONS {
            assert!(matches!(schemas.get(name), Some(super::RefOr::T(super::Schema::AnyOf(_)))), "{name} is anyOf");
        }
    }
}
