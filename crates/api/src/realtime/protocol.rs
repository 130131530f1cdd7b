//! The WebSocket protocol: JSON text frames with a `type`. Client requests carry an `id`
//! echoed in the reply (`ack` or `error`). Event names follow the seed plan.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::dto::direct_messages::{TargetType, UserDm};
use crate::dto::messages::{AdminMessage, Message, MessageType};
use crate::dto::notifications::SendNotificationRequest;
use crate::problem::ApiError;

/// A client frame as received: its `type`, its `id`, and its other fields. Each frame
/// type's fields are then parsed by [`RawFrame::body`] into the request type of its REST
/// twin (the same serde rules, `deny_unknown_fields` included, and the same problem
/// codes); `conversationId` stands for the twin's path id.
#[derive(Debug)]
pub struct RawFrame {
    /// The frame's `type`.
    pub kind: String,
    /// The request's `id`, echoed in the reply.
    pub id: Option<String>,
    body: serde_json::Map<String, serde_json::Value>,
}

impl RawFrame {
    /// Splits a text frame. Text that is not JSON is a `malformed_json`, a frame that is
    /// not an object or has no string `type` a `validation_failed`, as over REST; the
    /// `id` is kept for the reply whenever it could be read.
    pub fn parse(text: &str) -> Result<Self, (Option<String>, ApiError)> {
        use serde_json::Value;
        // The REST parser: malformed JSON, a non-object and repeated keys answer as there.
        let mut body: serde_json::Map<String, Value> =
            crate::extract::parse_json(text.as_bytes()).map_err(|e| (None, e))?;
        let id = match body.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(_) => return Err((None, ApiError::invalid("id", "invalid_type", "must be a string"))),
        };
        let kind = match body.remove("type") {
            Some(Value::String(kind)) => kind,
            None => return Err((id, ApiError::invalid("type", "required", "missing field `type`"))),
            Some(_) => return Err((id, ApiError::invalid("type", "invalid_type", "must be a string"))),
        };
        Ok(Self { kind, id, body })
    }

    /// Takes the frame's `conversationId`: the path id of its REST twin.
    pub fn conversation(&mut self) -> Result<chat_domain::ConversationId, ApiError> {
        match self.body.remove("conversationId") {
            None => Err(ApiError::invalid("conversationId", "required", "missing field `conversationId`")),
            Some(value) => serde_json::from_value(value)
                .map_err(|e| ApiError::invalid("conversationId", "invalid_type", e.to_string())),
        }
    }

    /// Parses the remaining fields as `T`, the REST twin's request body.
    pub fn body<T: serde::de::DeserializeOwned>(self) -> Result<T, ApiError> {
        crate::extract::parse_value(serde_json::Value::Object(self.body))
    }

    /// The answer to a `type` nobody handles.
    pub fn unknown_type(&self) -> ApiError {
        ApiError::invalid("type", "invalid_type", format!("unknown frame type `{}`", self.kind))
    }
}

/// A request without fields of its own (`ping`, `join-support-queue`, and the joins
/// once `conversationId` is taken).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// The fields of `resume`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// Last seen position per conversation (conversations not listed: from the start).
    #[serde(default)]
    pub positions: HashMap<String, i64>,
}

/// The fields of `typing` (besides `conversationId`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TypingRequest {
    /// Started (`true`, the default) or stopped.
    #[serde(default = "yes")]
    pub is_typing: bool,
}

/// Every frame a client may send, for the documentation (the OpenAPI `ClientFrame`
/// schema). Frames are parsed through [`RawFrame`] into the REST twins' request types.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientFrame {
    /// Liveness check; answered by `pong`.
    Ping {
        /// Echoed in the reply.
        id: Option<String>,
    },
    /// Catch up on missed messages: conversation id -> last seen `seq`.
    Resume {
        /// Echoed in the reply.
        id: Option<String>,
        /// Last seen position per conversation (conversations not listed: from the start).
        #[serde(default)]
        positions: HashMap<String, i64>,
    },
    /// Users: confirm their own support conversation (events flow without it).
    /// Admins: receive one support conversation's events.
    JoinSupportConversation {
        /// Echoed in the reply.
        id: Option<String>,
        /// The support conversation.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
    },
    /// Admins: receive every support conversation's and persona DM's events, and count
    /// as "support online".
    JoinSupportQueue {
        /// Echoed in the reply.
        id: Option<String>,
    },
    /// Users: confirm a DM they are in. Admins: receive a DM's events (recorded in the
    /// access log, like a read).
    JoinDmConversation {
        /// Echoed in the reply.
        id: Option<String>,
        /// The DM.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
    },
    /// Users: send a message to support (same rules as REST).
    SupportMessage {
        /// Echoed in the `ack`.
        id: Option<String>,
        /// Text, or an https URL for images and links.
        content: String,
        /// `text` (default), `image` or `link`.
        #[serde(rename = "messageType", default = "text")]
        message_type: MessageType,
        /// Idempotency key.
        #[serde(rename = "clientMessageId")]
        client_message_id: Option<Uuid>,
    },
    /// Admins: answer a support conversation as a persona or the team.
    SupportResponse {
        /// Echoed in the `ack`.
        id: Option<String>,
        /// The support conversation.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
        /// Text, or an https URL.
        content: String,
        /// `text` (default), `image` or `link`.
        #[serde(rename = "messageType", default = "text")]
        message_type: MessageType,
        /// Answer as this persona (default: the conversation's).
        #[serde(rename = "personaId")]
        persona_id: Option<i32>,
        /// Answer as "Support", without a persona.
        #[serde(rename = "asTeam", default)]
        as_team: bool,
        /// Idempotency key.
        #[serde(rename = "clientMessageId")]
        client_message_id: Option<Uuid>,
    },
    /// Send in a DM (users in their DMs; admins in persona DMs, as the persona).
    DmMessage {
        /// Echoed in the `ack`.
        id: Option<String>,
        /// The DM.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
        /// Text, or an https URL.
        content: String,
        /// `text` (default), `image` or `link`.
        #[serde(rename = "messageType", default = "text")]
        message_type: MessageType,
        /// Idempotency key.
        #[serde(rename = "clientMessageId")]
        client_message_id: Option<Uuid>,
    },
    /// Start (or reopen) a DM, as `POST /api/user/chat/direct-messages`.
    StartDm {
        /// Echoed in the `ack`.
        id: Option<String>,
        /// `real_user` or `fake_user` (the seed's `targetUserType` is accepted too).
        #[serde(rename = "targetType", alias = "targetUserType")]
        target_type: TargetType,
        /// The user's or persona's id (the seed's `targetUserId` is accepted too).
        #[serde(rename = "targetId", alias = "targetUserId")]
        target_id: i32,
    },
    /// The caller started or stopped typing.
    Typing {
        /// Echoed in an `error`, if any.
        id: Option<String>,
        /// Where.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
        /// Started (`true`) or stopped.
        #[serde(rename = "isTyping", default = "yes")]
        is_typing: bool,
    },
    /// Admins: send a notice, exactly as `POST /api/admin/chat/notifications` (its body's
    /// fields next to `type` and `id`; the same validation, field by field).
    AdminNotification {
        /// Echoed in the `ack` (which carries `notification`).
        id: Option<String>,
        /// The notice, as the REST request body.
        #[serde(flatten)]
        #[schema(schema_with = notification_fields)]
        request: SendNotificationRequest,
    },
    /// Admins: add an internal note to a support conversation or a persona DM, as
    /// `POST /api/admin/chat/support/{id}/notes` and `POST
    /// /api/admin/chat/direct-messages/{id}/notes` (the same body and rules). Staff-only:
    /// no user ever receives it.
    AddNote {
        /// Echoed in the `ack` (which carries `note`).
        id: Option<String>,
        /// The support conversation or persona DM.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
        /// Text, with the rules of a text message.
        content: String,
        /// Idempotency key: a retry returns the stored note.
        #[serde(rename = "clientNoteId")]
        client_note_id: Option<Uuid>,
    },
    /// The caller read up to a message.
    Read {
        /// Echoed in the `ack`.
        id: Option<String>,
        /// Where.
        #[serde(rename = "conversationId")]
        conversation_id: i64,
        /// The newest message seen.
        #[serde(rename = "lastReadMessageId")]
        last_read_message_id: i64,
    },
}

/// The fields of `SendNotificationRequest`, open to the frame's `type` and `id` (the REST
/// body's schema forbids other properties, which would forbid those two here).
fn notification_fields() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::PartialSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    match SendNotificationRequest::schema() {
        RefOr::T(Schema::Object(mut object)) => {
            object.additional_properties = None;
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

const fn text() -> MessageType {
    MessageType::Text
}

const fn yes() -> bool {
    true
}

/// A new message in a support conversation (`type: support-message`) or a DM
/// (`type: dm-message`); or a message a moderator hid (`type: message-updated`: replace
/// the message with this id; for users its `content` is `null` and `hidden` is `true`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    /// `support-message`, `dm-message` or `message-updated`.
    #[serde(rename = "type")]
    #[schema(schema_with = message_event_types)]
    pub event_type: &'static str,
    /// The conversation.
    pub conversation_id: i64,
    /// The message (its `seq` is the resume position): the user view on users' sockets,
    /// the admin view (`AdminMessage`: with the acting admin) on admins'.
    #[schema(value_type = AckMessage)]
    pub message: Message,
}

/// A new or hidden message, as admins see it (with the acting admin, and the content of
/// a hidden message, marked `hidden`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminMessageEvent {
    /// `support-message`, `dm-message` or `message-updated`.
    #[serde(rename = "type")]
    #[schema(schema_with = message_event_types)]
    pub event_type: &'static str,
    /// The conversation.
    pub conversation_id: i64,
    /// The message.
    pub message: AdminMessage,
}

/// An internal note was added (`type: note`): admins' sockets only (those watching the
/// support queue, or joined to the conversation). It takes no `seq`: show it after the
/// message whose `seq` is its `afterSeq`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteEvent {
    /// `note`.
    #[serde(rename = "type")]
    #[schema(schema_with = note_type)]
    pub event_type: &'static str,
    /// The conversation.
    pub conversation_id: i64,
    /// The note.
    pub note: crate::dto::notes::AdminNote,
}

/// A conversation changed (status, assignee, creation): refetch it over REST.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationUpdatedEvent {
    /// `conversation-updated`.
    #[serde(rename = "type")]
    #[schema(schema_with = conversation_updated_type)]
    pub event_type: &'static str,
    /// The conversation.
    pub conversation_id: i64,
}

/// Who is typing or reading, as a client may see it: for staff, the persona or the
/// team; admins also see the acting admin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// `real_user`, `fake_user` or `support`.
    #[serde(rename = "type")]
    pub actor_type: &'static str,
    /// The user's or persona's id; `null` for the team.
    pub id: Option<i32>,
    /// The admin behind a persona or the team (admin frames only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting_admin_id: Option<i32>,
}

/// Someone started or stopped typing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypingEvent {
    /// `typing`.
    #[serde(rename = "type")]
    #[schema(schema_with = typing_type)]
    pub event_type: &'static str,
    /// Where.
    pub conversation_id: i64,
    /// Who.
    pub sender: Actor,
    /// Started or stopped.
    pub is_typing: bool,
}

/// A side moved its read mark.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadEvent {
    /// `read`.
    #[serde(rename = "type")]
    #[schema(schema_with = read_type)]
    pub event_type: &'static str,
    /// Where.
    pub conversation_id: i64,
    /// Who read (the team, for support and persona DMs).
    pub reader: Actor,
    /// Their read mark.
    pub last_read_message_id: i64,
    /// Their unread count after it.
    pub unread_count: i32,
}

/// An admin notice landed in the user's personal group (centered, in its own colours,
/// with no sender).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationEvent {
    /// `admin-notification`.
    #[serde(rename = "type")]
    #[schema(schema_with = notification_type)]
    pub event_type: &'static str,
    /// The notice.
    pub notification_id: i64,
    /// Its text.
    pub content: String,
    /// Always `center`.
    pub align: &'static str,
    /// Its colours.
    pub style: crate::dto::notifications::NotificationStyleView,
    /// When it disappears, if ever.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A notice was retracted: remove it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRetractedEvent {
    /// `notification-retracted`.
    #[serde(rename = "type")]
    #[schema(schema_with = notification_retracted_type)]
    pub event_type: &'static str,
    /// The notice.
    pub notification_id: i64,
}

/// Whether support is online (at least one admin has the queue open).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    /// `presence`.
    #[serde(rename = "type")]
    #[schema(schema_with = presence_type)]
    pub event_type: &'static str,
    /// Support is online.
    pub support_online: bool,
}

/// A stored message in an `ack` or an event: the user view, or the admin view for admins.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AckMessage {
    /// As users see it.
    User(Message),
    /// As admins see it.
    Admin(AdminMessage),
}

/// A request succeeded; for sends, only after the message is committed.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct AckFrame {
    /// `ack`.
    #[serde(rename = "type")]
    #[schema(schema_with = ack_type)]
    pub event_type: &'static str,
    /// The request's `id`.
    pub id: Option<String>,
    /// For sends: the stored message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<AckMessage>,
    /// For `start-dm`: the DM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation: Option<UserDm>,
    /// For `read`: the caller's read state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<crate::dto::messages::ReadState>,
    /// For `admin-notification`: the notice's id and reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<crate::dto::notifications::NotificationSent>,
    /// For `add-note`: the stored note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<crate::dto::notes::AdminNote>,
}

/// A request failed, or the connection misbehaved; `code` is a problem code of the REST API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorFrame {
    /// `error`.
    #[serde(rename = "type")]
    #[schema(schema_with = error_type)]
    pub event_type: &'static str,
    /// The request's `id`, if it had one.
    pub id: Option<String>,
    /// A stable machine code (`not_found`, `validation_failed`, `rate_limited`, ...).
    pub code: String,
    /// A human explanation.
    pub detail: String,
    /// For `validation_failed`: the fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<crate::problem::FieldViolation>,
}

/// Replies without a payload: `pong`, `resumed`, `resync-required`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlFrame {
    /// `pong`, `resumed` or `resync-required`.
    #[serde(rename = "type")]
    #[schema(schema_with = control_types)]
    pub event_type: &'static str,
    /// The request's `id`.
    pub id: Option<String>,
    /// For `resumed`: how many messages were replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<usize>,
}

/// The schema of a frame's `type`: a string of these values only, so a generated client
/// can tell the frames apart (a TypeScript `switch` on `type` narrows to one frame).
macro_rules! frame_types {
    ($($name:ident: [$($value:literal),+];)+) => {$(
        fn $name() -> utoipa::openapi::Object {
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .enum_values(Some([$($value),+]))
                .build()
        }
    )+};
}

frame_types! {
    message_event_types: ["support-message", "dm-message", "message-updated"];
    note_type: ["note"];
    conversation_updated_type: ["conversation-updated"];
    typing_type: ["typing"];
    read_type: ["read"];
    notification_type: ["admin-notification"];
    notification_retracted_type: ["notification-retracted"];
    presence_type: ["presence"];
    ack_type: ["ack"];
    error_type: ["error"];
    control_types: ["pong", "resumed", "resync-required"];
}

/// Every frame the server sends, told apart by `type` (the discriminator). Documentation
/// of the protocol: each frame is written from its own struct; the realtime tests check
/// every frame they receive against this schema.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[expect(clippy::large_enum_variant, reason = "the protocol's schema; frames are written from their own structs")]
#[schema(discriminator(property_name = "type", mapping(
    ("support-message" = "#/components/schemas/MessageEvent"),
    ("dm-message" = "#/components/schemas/MessageEvent"),
    ("message-updated" = "#/components/schemas/MessageEvent"),
    ("note" = "#/components/schemas/NoteEvent"),
    ("conversation-updated" = "#/components/schemas/ConversationUpdatedEvent"),
    ("typing" = "#/components/schemas/TypingEvent"),
    ("read" = "#/components/schemas/ReadEvent"),
    ("admin-notification" = "#/components/schemas/NotificationEvent"),
    ("notification-retracted" = "#/components/schemas/NotificationRetractedEvent"),
    ("presence" = "#/components/schemas/PresenceEvent"),
    ("ack" = "#/components/schemas/AckFrame"),
    ("error" = "#/components/schemas/ErrorFrame"),
    ("pong" = "#/components/schemas/ControlFrame"),
    ("resumed" = "#/components/schemas/ControlFrame"),
    ("resync-required" = "#/components/schemas/ControlFrame"),
)))]
pub enum ServerFrame {
    /// A new or hidden message (users get the user view, admins the admin view).
    Message(MessageEvent),
    /// An internal note (admins only).
    Note(NoteEvent),
    /// A conversation changed.
    ConversationUpdated(ConversationUpdatedEvent),
    /// Someone is typing.
    Typing(TypingEvent),
    /// A read mark moved.
    Read(ReadEvent),
    /// A notice arrived.
    Notification(NotificationEvent),
    /// A notice was retracted.
    NotificationRetracted(NotificationRetractedEvent),
    /// Support's presence.
    Presence(PresenceEvent),
    /// A request succeeded.
    Ack(AckFrame),
    /// A request failed.
    Error(ErrorFrame),
    /// `pong`, `resumed`, `resync-required`.
    Control(ControlFrame),
}
