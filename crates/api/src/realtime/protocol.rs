//! The WebSocket protocol: JSON text frames with a `type`. Client requests carry an `id`
//! echoed in the reply (`ack` or `error`). Event names follow the seed plan.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::dto::direct_messages::{TargetType, UserDm};
use crate::dto::messages::{AdminMessage, Message, MessageType};
use crate::dto::notifications::SendNotificationRequest;

/// A frame from a client.
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
/// (`type: dm-message`), as users see it; or a message a moderator hid (`type: message-updated`: replace the message with this id;
/// its `content` is `null` and `hidden` is `true`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEvent {
    /// `support-message`, `dm-message` or `message-updated`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// The conversation.
    pub conversation_id: i64,
    /// The message (its `seq` is the resume position).
    pub message: Message,
}

/// A new or hidden message, as admins see it (with the acting admin, and the content of
/// a hidden message, marked `hidden`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminMessageEvent {
    /// `support-message`, `dm-message` or `message-updated`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// The conversation.
    pub conversation_id: i64,
    /// The message.
    pub message: AdminMessage,
}

/// A conversation changed (status, assignee, creation): refetch it over REST.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationUpdatedEvent {
    /// `conversation-updated`.
    #[serde(rename = "type")]
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
    pub event_type: &'static str,
    /// Support is online.
    pub support_online: bool,
}

/// A stored message in an `ack`: the user view, or the admin view for admins.
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
}

/// A request failed, or the connection misbehaved; `code` is a problem code of the REST API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorFrame {
    /// `error`.
    #[serde(rename = "type")]
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
    pub event_type: &'static str,
    /// The request's `id`.
    pub id: Option<String>,
    /// For `resumed`: how many messages were replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<usize>,
}
