//! Group message bodies: regular messages with their sender, and admin notices with
//! their display contract (no sender at all, centred, in their colours).

use chat_domain::group_messages::{self, GroupEntry, GroupReadState, GroupSender};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::messages::{HISTORY_NEXT, HISTORY_ORDER, MessageType};
use super::notifications::NotificationStyleView;
use super::page::{Page, PageDoc, PageItem};

/// Who wrote a group message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupSenderType {
    /// A real user.
    RealUser,
    /// A persona.
    FakeUser,
    /// An admin writing as themselves.
    Admin,
}

/// The sender of a group message: type, id and display name; never an avatar.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMessageSender {
    /// What kind of sender; `null` when the existing data no longer names one.
    #[serde(rename = "type")]
    pub sender_type: Option<GroupSenderType>,
    /// The user's or persona's id; `null` when unknown.
    #[schema(example = 12)]
    pub id: Option<i32>,
    /// The name to show.
    #[schema(example = "Bob Nguyen")]
    pub display_name: String,
}

impl From<GroupSender> for GroupMessageSender {
    fn from(s: GroupSender) -> Self {
        match s {
            GroupSender::User { id, name } => {
                Self { sender_type: Some(GroupSenderType::RealUser), id: Some(id.get()), display_name: name }
            }
            GroupSender::Persona { id, name } => {
                Self { sender_type: Some(GroupSenderType::FakeUser), id: Some(id.get()), display_name: name }
            }
            GroupSender::Admin { id, name } => {
                Self { sender_type: Some(GroupSenderType::Admin), id: Some(id.get()), display_name: name }
            }
            GroupSender::Unknown => Self { sender_type: None, id: None, display_name: "Unknown".to_owned() },
        }
    }
}

/// How a notice is aligned: always centred.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    /// Centred, not left or right.
    Center,
}

/// A message someone wrote in the group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegularGroupMessage {
    /// Its id (also the history cursor).
    #[schema(example = 5012)]
    pub id: i64,
    /// Its group.
    #[schema(example = 3)]
    pub group_id: i32,
    /// `text`, `image` or `link`.
    pub message_type: MessageType,
    /// Who wrote it.
    pub sender: GroupMessageSender,
    /// The text or URL, as sent (escape it when rendering).
    #[schema(example = "Good morning everyone!")]
    pub content: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// An admin notice: no sender fields, centred, in its own colours.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupNotice {
    /// Its id (also the history cursor).
    #[schema(example = 5013)]
    pub id: i64,
    /// Its group (the recipient's personal group).
    #[schema(example = 9)]
    pub group_id: i32,
    /// Always `notification`.
    pub message_type: MessageType,
    /// Always `center`.
    pub align: Align,
    /// The colours to render it in.
    pub style: NotificationStyleView,
    /// The text, as sent (escape it when rendering).
    #[schema(example = "Welcome! Your account has been upgraded to Premium.")]
    pub content: String,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it disappears, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A group message: `kind` tells a regular message from an admin notice.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroupMessage {
    /// A message someone wrote.
    Message(RegularGroupMessage),
    /// An admin notice.
    Notification(GroupNotice),
}

impl From<group_messages::GroupMessage> for GroupMessage {
    fn from(m: group_messages::GroupMessage) -> Self {
        match m.entry {
            GroupEntry::Message { sender, kind } => Self::Message(RegularGroupMessage {
                id: m.id.get(),
                group_id: m.group_id.get(),
                message_type: kind.into(),
                sender: sender.into(),
                content: m.content,
                created_at: m.created_at,
            }),
            GroupEntry::Notice(notice) => Self::Notification(GroupNotice {
                id: m.id.get(),
                group_id: m.group_id.get(),
                message_type: MessageType::Notification,
                align: Align::Center,
                style: notice.style.into(),
                content: m.content,
                created_at: m.created_at,
                expires_at: notice.expires_at,
            }),
        }
    }
}

/// A page of a group's history.
pub type GroupMessagePage = Page<GroupMessage>;

impl PageItem for GroupMessage {
    type Cursor = i64;
    const PAGE: PageDoc = PageDoc::new("GroupMessagePage", "A page of a group's history.", HISTORY_ORDER, HISTORY_NEXT);
    fn example_page() -> Value {
        let second = json!({
            "kind": "message",
            "id": 5011,
            "groupId": 3,
            "messageType": "text",
            "sender": {"type": "fake_user", "id": 2, "displayName": "Coach Mia"},
            "content": "This week's challenge starts today.",
            "createdAt": "2026-11-24T08:00:00Z"
        });
        json!({"items": [example_group_message(), second], "nextCursor": 5011})
    }
}

/// Moves the caller's read mark in a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"lastReadMessageId": 5012}))]
pub struct GroupReadRequest {
    /// The newest message the caller has seen (a message of this group).
    #[schema(example = 5013)]
    pub last_read_message_id: i64,
}

/// The caller's read state in a group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"lastReadMessageId": 5012, "unreadCount": 0}))]
pub struct GroupReadStateView {
    /// The read mark (it never moves backwards).
    #[schema(example = 5013)]
    pub last_read_message_id: i64,
    /// Visible messages after it not written by the caller (counted up to 1000).
    #[schema(example = 0)]
    pub unread_count: i64,
}

impl From<GroupReadState> for GroupReadStateView {
    fn from(s: GroupReadState) -> Self {
        Self { last_read_message_id: s.last_read.get(), unread_count: s.unread }
    }
}

/// Examples for the spec: Bob's morning message in the main group.
pub(crate) fn example_group_message() -> Value {
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
