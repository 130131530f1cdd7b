//! Message bodies shared by every conversation kind.
//!
//! Two views of a message: [`Message`] for users, which has no field for the acting
//! admin at all, and [`AdminMessage`] for admins, which names them. Neither carries an
//! avatar: avatars live in conversation headers (product rule: no avatars in bubbles).

use chat_domain::MessageId;
use chat_domain::access::Author;
use chat_domain::conversations::{self, MessageBody, MessageKind, NewMessage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Violations;
use super::page::{Page, PageDoc, PageItem};
use crate::extract::Validated;
use crate::problem::ApiError;

/// The display name of messages written by the team without a persona.
pub const TEAM_NAME: &str = "Support";

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Plain text.
    Text,
    /// An image: `content` is its https URL.
    Image,
    /// A link: `content` is its https URL.
    Link,
    /// An admin notification (personal groups only).
    Notification,
}

impl From<MessageKind> for MessageType {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Text => Self::Text,
            MessageKind::Image => Self::Image,
            MessageKind::Link => Self::Link,
            MessageKind::Notification => Self::Notification,
        }
    }
}

impl From<MessageType> for MessageKind {
    fn from(kind: MessageType) -> Self {
        match kind {
            MessageType::Text => Self::Text,
            MessageType::Image => Self::Image,
            MessageType::Link => Self::Link,
            MessageType::Notification => Self::Notification,
        }
    }
}

/// Who a message is from, as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderType {
    /// A real user.
    RealUser,
    /// A persona.
    FakeUser,
    /// The support team, without a persona.
    Support,
}

/// The sender of a message: type, id and display name; never an avatar.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    /// What kind of sender.
    #[serde(rename = "type")]
    pub sender_type: SenderType,
    /// The user's or persona's id; `null` for the team.
    #[schema(example = 2)]
    pub id: Option<i32>,
    /// The name to show.
    #[schema(example = "Sam from Support")]
    pub display_name: String,
}

impl Sender {
    fn of(message: &conversations::Message) -> Self {
        let name = || message.sender_name.clone().unwrap_or_default();
        match message.author {
            Author::User(user) => {
                Self { sender_type: SenderType::RealUser, id: Some(user.get()), display_name: name() }
            }
            Author::Persona { persona, .. } | Author::Imported { persona: Some(persona) } => {
                Self { sender_type: SenderType::FakeUser, id: Some(persona.get()), display_name: name() }
            }
            Author::Team { .. } | Author::Imported { persona: None } => {
                Self { sender_type: SenderType::Support, id: None, display_name: TEAM_NAME.into() }
            }
        }
    }
}

/// A message, as users see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_message)]
pub struct Message {
    /// Its id (also the history cursor).
    #[schema(example = 1042)]
    pub id: i64,
    /// Its conversation.
    #[schema(example = 17)]
    pub conversation_id: i64,
    /// Its position in the conversation (1, 2, 3... no gaps): the resume position.
    #[schema(example = 5)]
    pub seq: i64,
    /// Who sent it.
    pub sender: Sender,
    /// What it carries.
    pub message_type: MessageType,
    /// The text or URL, as sent (escape it when rendering); `null` when hidden by a moderator.
    #[schema(example = "Hi! How can I change my email address?")]
    pub content: Option<String>,
    /// The sender's idempotency key, if any.
    pub client_message_id: Option<Uuid>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Whether a moderator hid it.
    pub hidden: bool,
}

impl From<conversations::Message> for Message {
    fn from(m: conversations::Message) -> Self {
        Self {
            id: m.id.get(),
            conversation_id: m.conversation_id.get(),
            seq: m.seq,
            sender: Sender::of(&m),
            message_type: m.kind.into(),
            content: (!m.hidden).then_some(m.content),
            client_message_id: m.client_message_id,
            created_at: m.created_at,
            hidden: m.hidden,
        }
    }
}

/// The admin who actually wrote a persona or team message.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActingAdmin {
    /// The admin's user id.
    #[schema(example = 6)]
    pub id: i32,
    /// Their display name.
    #[schema(example = "Ada (Admin)")]
    pub display_name: String,
}

/// A message, as admins see it: with the acting admin, and content even when hidden.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_admin_message)]
pub struct AdminMessage {
    /// Its id.
    #[schema(example = 1042)]
    pub id: i64,
    /// Its conversation.
    #[schema(example = 17)]
    pub conversation_id: i64,
    /// Its position in the conversation (1, 2, 3... no gaps).
    #[schema(example = 5)]
    pub seq: i64,
    /// Who users see as the sender.
    pub sender: Sender,
    /// The admin behind a persona or team message.
    pub acting_admin: Option<ActingAdmin>,
    /// What it carries.
    pub message_type: MessageType,
    /// The text or URL, as sent.
    #[schema(example = "Hi! How can I change my email address?")]
    pub content: String,
    /// The sender's idempotency key, if any.
    pub client_message_id: Option<Uuid>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Whether a moderator hid it from users.
    pub hidden: bool,
}

impl From<conversations::Message> for AdminMessage {
    fn from(m: conversations::Message) -> Self {
        let acting_admin = match m.author {
            Author::Persona { admin, .. } | Author::Team { admin } => {
                Some(ActingAdmin { id: admin.get(), display_name: m.acting_admin_name.clone().unwrap_or_default() })
            }
            // Moved from the group-based support, where the writer was not recorded.
            Author::User(_) | Author::Imported { .. } => None,
        };
        Self {
            id: m.id.get(),
            conversation_id: m.conversation_id.get(),
            seq: m.seq,
            sender: Sender::of(&m),
            acting_admin,
            message_type: m.kind.into(),
            content: m.content,
            client_message_id: m.client_message_id,
            created_at: m.created_at,
            hidden: m.hidden,
        }
    }
}

/// A page of history, as users see it.
pub type MessagePage = Page<Message>;

impl PageItem for Message {
    type Cursor = i64;
    const PAGE: PageDoc =
        PageDoc::new("MessagePage", "A page of history, as users see it.", HISTORY_ORDER, HISTORY_NEXT);
    fn example_page() -> Value {
        json!({"items": [example_reply(), example_message()], "nextCursor": 1042})
    }
}

/// A page of history, as admins see it.
pub type AdminMessagePage = Page<AdminMessage>;

impl PageItem for AdminMessage {
    type Cursor = i64;
    const PAGE: PageDoc =
        PageDoc::new("AdminMessagePage", "A page of history, as admins see it.", HISTORY_ORDER, HISTORY_NEXT);
    fn example_page() -> Value {
        json!({"items": [example_admin_message(), example_admin_question()], "nextCursor": 1042})
    }
}

/// The order of every history page (support, DMs, groups).
pub(crate) const HISTORY_ORDER: &str = "Newest first (or oldest first when paging with `after`).";
/// How every history page continues.
pub(crate) const HISTORY_NEXT: &str =
    "Pass as `before` (or `after`, in the same direction) for the next page; `null` on the last.";

/// Which slice of history to read (keyset; never offset).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages strictly older than this message id, newest first.
    pub before: Option<i64>,
    /// Messages strictly newer than this message id, oldest first (`0`: from the start).
    pub after: Option<i64>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl Validated for HistoryParams {
    type Domain = conversations::HistoryQuery;

    fn validated(self) -> Result<conversations::HistoryQuery, ApiError> {
        conversations::HistoryQuery::new(self.before, self.after, self.limit)
            .map_err(|(field, e)| ApiError::invalid(field, e.code, e.message))
    }
}

/// Posts a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "content": "Hi! How can I change my email address?",
    "messageType": "text",
    "clientMessageId": "0b0f4c4e-8a51-4d1e-9a3f-3c7d2f1e9b10"
}))]
pub struct SendMessageRequest {
    /// Text (1..=4000 characters), or the https URL of an image or link.
    #[schema(min_length = 1, max_length = 4000, example = "Hi! How can I change my email address?")]
    pub content: String,
    /// `text` (default), `image` or `link`.
    #[serde(default = "default_type")]
    pub message_type: MessageType,
    /// A UUID chosen by the client; a retry with the same id returns the stored message.
    #[schema(example = "0b0f4c4e-8a51-4d1e-9a3f-3c7d2f1e9b10")]
    pub client_message_id: Option<Uuid>,
}

const fn default_type() -> MessageType {
    MessageType::Text
}

/// Parses content and type into a validated message, naming the bad field.
pub fn new_message(
    content: &str,
    message_type: MessageType,
    client_message_id: Option<Uuid>,
    v: &mut Violations,
) -> Option<NewMessage> {
    let body = match message_type {
        MessageType::Notification => {
            v.check::<MessageBody>("messageType", MessageBody::parse(MessageKind::Notification, content));
            None
        }
        kind => v.check("content", MessageBody::parse(kind.into(), content)),
    }?;
    Some(NewMessage { body, client_message_id })
}

impl Validated for SendMessageRequest {
    type Domain = NewMessage;

    fn validated(self) -> Result<NewMessage, ApiError> {
        let mut v = Violations::default();
        let new = new_message(&self.content, self.message_type, self.client_message_id, &mut v);
        v.finish(|| new)
    }
}

/// Moves the caller's read mark.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"lastReadMessageId": 1043}))]
pub struct ReadRequest {
    /// The newest message the caller has seen (a message of this conversation).
    #[schema(example = 1042)]
    pub last_read_message_id: i64,
}

impl Validated for ReadRequest {
    type Domain = MessageId;

    fn validated(self) -> Result<MessageId, ApiError> {
        Ok(MessageId(self.last_read_message_id))
    }
}

/// A side's read state after the change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"lastReadMessageId": 1043, "unreadCount": 0}))]
pub struct ReadState {
    /// The read mark (it never moves backwards).
    #[schema(example = 1042)]
    pub last_read_message_id: i64,
    /// The other side's messages after it.
    #[schema(example = 0)]
    pub unread_count: i32,
}

impl From<conversations::SideState> for ReadState {
    fn from(s: conversations::SideState) -> Self {
        Self { last_read_message_id: s.last_read.get(), unread_count: s.unread }
    }
}

/// Examples for the spec: one support exchange (Alice asks, Sam answers, written by Ada).
/// Other DTOs build on them, so every example tells the same story.
pub(crate) fn example_message() -> Value {
    json!({
        "id": 1042,
        "conversationId": 17,
        "seq": 5,
        "sender": {"type": "real_user", "id": 1, "displayName": "Alice Martin"},
        "messageType": "text",
        "content": "Hi! How can I change my email address?",
        "clientMessageId": "0b0f4c4e-8a51-4d1e-9a3f-3c7d2f1e9b10",
        "createdAt": "2026-11-24T09:30:00Z",
        "hidden": false
    })
}

/// The answer, as the user sees it: the persona, no trace of the admin.
pub(crate) fn example_reply() -> Value {
    json!({
        "id": 1043,
        "conversationId": 17,
        "seq": 6,
        "sender": {"type": "fake_user", "id": 1, "displayName": "Sam from Support"},
        "messageType": "text",
        "content": "Happy to help! Go to Settings > Account.",
        "clientMessageId": null,
        "createdAt": "2026-11-24T09:32:00Z",
        "hidden": false
    })
}

/// The answer, as admins see it: the persona and the admin who wrote it.
pub(crate) fn example_admin_message() -> Value {
    let mut message = example_reply();
    message["actingAdmin"] = json!({"id": 6, "displayName": "Ada (Admin)"});
    message
}

/// The question, as admins see it (a user's message has no acting admin).
pub(crate) fn example_admin_question() -> Value {
    let mut message = example_message();
    message["actingAdmin"] = Value::Null;
    message
}
