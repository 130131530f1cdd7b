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

use crate::dto::messages::{example_admin_question, example_message, example_reply};

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

/// Schema-level examples for the bodies of modules that do not carry their own yet
/// (direct messages, groups, the chat list, search, moderation, notifications, sync).
///
/// Every request body and success response needs an example (the openapi test fails
/// otherwise), and these modules' DTOs belong to other work in progress; so their
/// examples live here for now, in one story with the DTOs' own (Alice, Bob, Sam, Ada).
/// An example on the DTO itself (`#[schema(example = ...)]`) wins over the one here, so
/// moving one onto its DTO needs no change in this file; the openapi test checks every
/// example against its schema, so one that drifts from its DTO fails.
///
/// Completes the collected document: shared examples, and `anyOf` for the untagged
/// unions whose variants overlap.
pub(crate) fn finish(openapi: &mut utoipa::openapi::OpenApi) {
    add_shared_examples(openapi);
    overlapping_unions_as_any_of(openapi);
    rate_limited_operations(openapi);
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

/// Called on the finished document (after the handlers' schemas are collected).
pub(crate) fn add_shared_examples(openapi: &mut utoipa::openapi::OpenApi) {
    let Some(components) = openapi.components.as_mut() else { return };
    for (name, example) in shared_examples() {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name)
            && object.example.is_none()
            && object.examples.is_empty()
        {
            object.example = Some(example);
        }
    }
}

/// Bob's last DM message to Alice, as users see it.
fn example_dm_message() -> serde_json::Value {
    json!({
        "id": 2041,
        "conversationId": 42,
        "seq": 3,
        "sender": {"type": "real_user", "id": 3, "displayName": "Bob Nguyen"},
        "messageType": "text",
        "content": "See you at the meetup!",
        "clientMessageId": null,
        "createdAt": "2026-11-24T11:00:00Z",
        "hidden": false
    })
}

fn example_group_message() -> serde_json::Value {
    json!({
        "kind": "message",
        "id": 5012,
        "groupId": 3,
        "messageType": "text",
        "sender": {"type": "real_user", "id": 3, "displayName": "Bob Nguyen"},
        "content": "Good morning everyone!",
        "createdAt": "2026-11-24T08:15:00Z"
    })
}

fn shared_examples() -> Vec<(&'static str, serde_json::Value)> {
    let alice = json!({"id": 1, "displayName": "Alice Martin", "profilePhotoUrl": "https://cdn.example.com/alice.png"});
    let ada = json!({"id": 6, "displayName": "Ada (Admin)", "profilePhotoUrl": null});
    let bob = json!({"type": "real_user", "id": 3, "displayName": "Bob Nguyen", "avatarUrl": "https://cdn.example.com/bob.png"});
    let user_dm = json!({
        "id": 42,
        "kind": "user_dm",
        "other": bob,
        "unreadCount": 1,
        "lastReadMessageId": 2040,
        "archived": false,
        "lastMessage": example_dm_message(),
        "lastActivityAt": "2026-11-24T11:00:00Z",
        "createdAt": "2026-11-20T18:00:00Z"
    });
    // Admin DM views carry no content (reading it is logged): the metadata only.
    let admin_dm_message = json!({
        "id": 2041,
        "seq": 3,
        "sender": {"type": "real_user", "id": 3, "displayName": "Bob Nguyen"},
        "actingAdmin": null,
        "messageType": "text",
        "createdAt": "2026-11-24T11:00:00Z",
        "hidden": false
    });
    let admin_dm = json!({
        "id": 42,
        "kind": "user_dm",
        "user": alice,
        "other": bob,
        "userUnreadCount": 1,
        "otherUnreadCount": 0,
        "waitingForPersona": false,
        "lastMessage": admin_dm_message,
        "lastActivityAt": "2026-11-24T11:00:00Z",
        "createdAt": "2026-11-20T18:00:00Z"
    });
    let notification = json!({
        "id": 42,
        "audience": "all_users",
        "targetUser": null,
        "content": "Welcome! Your account has been upgraded to Premium.",
        "style": {"template": "info", "backgroundColor": "#f0f9ff", "textColor": "#0369a1", "borderColor": "#38bdf8"},
        "status": "active",
        "sentBy": ada,
        "createdAt": "2026-11-24T07:00:00Z",
        "expiresAt": "2026-12-24T07:00:00Z",
        "retractedAt": null,
        "recipientCount": 100_000,
        "readCount": 5230
    });
    let second_group_message = json!({
        "kind": "message",
        "id": 5011,
        "groupId": 3,
        "messageType": "text",
        "sender": {"type": "fake_user", "id": 2, "displayName": "Coach Mia"},
        "content": "This week's challenge starts today.",
        "createdAt": "2026-11-24T08:00:00Z"
    });
    vec![
        ("StartDmRequest", json!({"targetType": "real_user", "targetId": 3})),
        ("UserDm", user_dm.clone()),
        ("UserDmPage", json!({"items": [user_dm], "nextCursor": null})),
        ("AdminDm", admin_dm.clone()),
        ("AdminDmPage", json!({"items": [admin_dm], "nextCursor": null})),
        (
            "BlockList",
            json!({"items": [{
                "user": {"id": 4, "displayName": "Mallory Stone", "profilePhotoUrl": null},
                "blockedAt": "2026-11-22T16:40:00Z"
            }]}),
        ),
        (
            "GroupMemberPage",
            json!({"items": [
                {"id": 3, "type": "real_user", "displayName": "Bob Nguyen",
                 "avatarUrl": "https://cdn.example.com/bob.png", "canDm": true},
                {"id": 5, "type": "real_user", "displayName": "Carol Diaz", "avatarUrl": null, "canDm": false}
            ], "nextCursor": 5}),
        ),
        ("GroupMessagePage", json!({"items": [example_group_message(), second_group_message], "nextCursor": 5011})),
        ("GroupReadRequest", json!({"lastReadMessageId": 5012})),
        ("GroupReadStateView", json!({"lastReadMessageId": 5012, "unreadCount": 0})),
        (
            "ChatListResponse",
            json!({
                "support": {
                    "id": 17,
                    "title": "Help & Support",
                    "avatarUrl": "https://cdn.example.com/sam.png",
                    "status": "pending",
                    "lastMessage": example_reply(),
                    "unreadCount": 1,
                    "lastActivityAt": "2026-11-24T09:32:00Z"
                },
                "items": [
                    {"kind": "user_dm", "id": 42, "groupKind": null, "title": "Bob Nguyen",
                     "avatarUrl": "https://cdn.example.com/bob.png", "lastMessage": example_dm_message(),
                     "unreadCount": 1, "lastActivityAt": "2026-11-24T11:00:00Z"},
                    {"kind": "group", "id": 3, "groupKind": "main", "title": "Main PEA Communication",
                     "avatarUrl": null, "lastMessage": example_group_message(),
                     "unreadCount": 4, "lastActivityAt": "2026-11-24T08:15:00Z"}
                ],
                "totalUnread": 6,
                "nextCursor": null
            }),
        ),
        (
            "SearchPage",
            json!({"items": [{
                "conversationId": 17,
                "conversationKind": "support",
                "snippet": "How can I change my email address?",
                "message": example_message()
            }], "nextCursor": null}),
        ),
        (
            "AdminSearchPage",
            json!({"items": [{
                "conversationId": 17,
                "conversationKind": "support",
                "snippet": "How can I change my email address?",
                "message": example_admin_question()
            }], "nextCursor": null}),
        ),
        ("HideRequest", json!({"reason": "Harassment"})),
        (
            "AccessLogPage",
            json!({"items": [{
                "id": 301,
                "admin": ada,
                "conversationId": 42,
                "action": "read_messages",
                "accessedAt": "2026-11-24T12:00:00Z"
            }], "nextCursor": null}),
        ),
        ("NotificationSent", json!({"id": 42, "recipientCount": 100_000})),
        ("AdminNotificationPage", json!({"items": [notification], "nextCursor": null})),
        ("SyncRequest", json!({"positions": {"17": 5, "42": 3}})),
        ("SyncResponse", json!({"messages": [example_reply()], "resyncRequired": false})),
    ]
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
    use serde_json::Value;

    use crate::dto::{direct_messages, groups, messages, notifications, personas, support};

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
        parse::<messages::SendMessageRequest>("SendMessageRequest").try_into_domain().unwrap();
        parse::<messages::ReadRequest>("ReadRequest");
        parse::<personas::CreatePersonaRequest>("CreatePersonaRequest").try_into_domain().unwrap();
        parse::<personas::UpdatePersonaRequest>("UpdatePersonaRequest").try_into_domain().unwrap();
        parse::<support::SupportReplyRequest>("SupportReplyRequest").try_into_domain().unwrap();
        parse::<support::UpdateSupportRequest>("UpdateSupportRequest").into_domain();
        parse::<direct_messages::StartDmRequest>("StartDmRequest");
        parse::<direct_messages::HideRequest>("HideRequest");
        parse::<groups::GroupReadRequest>("GroupReadRequest");
        parse::<notifications::SendNotificationRequest>("SendNotificationRequest");
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

    #[test]
    fn an_example_on_the_dto_wins_over_a_shared_one() {
        let mut api = crate::openapi();
        let own = serde_json::json!({"id": 7, "own": "example"});
        let components = api.components.as_mut().unwrap();
        let Some(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(dm))) = components.schemas.get_mut("UserDm")
        else {
            panic!("UserDm is an object schema");
        };
        dm.example = Some(own.clone());
        super::add_shared_examples(&mut api);
        assert_eq!(serde_json::to_value(&api).unwrap()["components"]["schemas"]["UserDm"]["example"], own);
        // And the 422 example names what the server sends.
        assert_eq!(example("Problem")["title"], "Unprocessable Entity");
    }
}
