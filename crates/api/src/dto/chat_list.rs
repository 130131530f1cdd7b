//! The unified chat list.

use chat_domain::UserId;
use chat_domain::chat_list::{ChatCursor, ChatEntry, ChatList};
use chat_domain::group_messages::GroupKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::Violations;
use super::direct_messages::{DmKindDto, UserDm, example_dm_message};
use super::groups::{GroupMessage, example_group_message};
use super::messages::{Message, example_reply};
use super::support::{SUPPORT_TITLE, SupportStatusDto};
use crate::problem::ApiError;

/// What a chat-list row is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    /// A DM with a user.
    UserDm,
    /// A DM with a persona.
    PersonaDm,
    /// A group (main, personal or other).
    Group,
}

/// Which kind of group.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKindDto {
    /// "Main PEA Communication".
    Main,
    /// The user's personal group (admin notices).
    Personal,
    /// Any other group.
    Other,
}

/// The newest message of a row.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Preview {
    /// In a DM.
    Dm(Message),
    /// In a group (a message or a notice).
    Group(GroupMessage),
}

/// "Help & Support", always first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportItem {
    /// The conversation's id; `null` until it is first opened.
    pub id: Option<i64>,
    /// "Help & Support".
    #[schema(example = "Help & Support")]
    pub title: &'static str,
    /// The support persona's avatar.
    pub avatar_url: Option<String>,
    /// Its status, once it exists.
    pub status: Option<SupportStatusDto>,
    /// The newest message.
    pub last_message: Option<Message>,
    /// Staff messages not read.
    pub unread_count: i32,
    /// The newest activity, once it exists.
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// A DM or a group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatListItem {
    /// What it is.
    pub kind: ChatKind,
    /// The DM's or group's id (use it with the matching routes).
    #[schema(example = 42)]
    pub id: i64,
    /// For groups: which kind.
    pub group_kind: Option<GroupKindDto>,
    /// The header title: the other side's name, or the group's.
    #[schema(example = "Bob Nguyen")]
    pub title: String,
    /// The header avatar: the other user's photo, the persona's avatar, or the group's.
    pub avatar_url: Option<String>,
    /// The newest message.
    pub last_message: Option<Preview>,
    /// Messages the caller has not read.
    pub unread_count: i64,
    /// The newest activity.
    pub last_activity_at: DateTime<Utc>,
}

/// The caller's chat list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_chat_list)]
pub struct ChatListResponse {
    /// "Help & Support", pinned (present even before the conversation exists).
    pub support: SupportItem,
    /// DMs and groups, most recent activity first.
    pub items: Vec<ChatListItem>,
    /// Unread over support, every active DM and every group.
    pub total_unread: i64,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

impl ChatListResponse {
    /// `list` as `viewer` sees it.
    pub fn new(list: ChatList, viewer: UserId) -> Self {
        let support = match list.support {
            Some(s) => SupportItem {
                id: Some(s.id.get()),
                title: SUPPORT_TITLE,
                avatar_url: s.persona.and_then(|p| p.avatar_url),
                status: Some(s.state.status.into()),
                last_message: s.last_message.map(Message::from),
                unread_count: s.user_side.unread,
                last_activity_at: Some(s.last_message_at),
            },
            None => SupportItem {
                id: None,
                title: SUPPORT_TITLE,
                avatar_url: None,
                status: None,
                last_message: None,
                unread_count: 0,
                last_activity_at: None,
            },
        };
        let items = list
            .entries
            .into_iter()
            .map(|entry| match entry {
                ChatEntry::Dm(dm) => {
                    let view = UserDm::new(dm, viewer);
                    ChatListItem {
                        kind: match view.kind {
                            DmKindDto::UserDm => ChatKind::UserDm,
                            DmKindDto::PersonaDm => ChatKind::PersonaDm,
                        },
                        id: view.id,
                        group_kind: None,
                        title: view.other.display_name,
                        avatar_url: view.other.avatar_url,
                        last_message: view.last_message.map(Preview::Dm),
                        unread_count: i64::from(view.unread_count),
                        last_activity_at: view.last_activity_at,
                    }
                }
                ChatEntry::Group(group) => {
                    let last_activity_at = group.last_activity();
                    ChatListItem {
                        kind: ChatKind::Group,
                        id: i64::from(group.group.id.get()),
                        group_kind: Some(match group.group.kind {
                            GroupKind::Main => GroupKindDto::Main,
                            GroupKind::Personal => GroupKindDto::Personal,
                            GroupKind::Other => GroupKindDto::Other,
                        }),
                        title: group.group.name,
                        avatar_url: group.group.avatar_url,
                        last_message: group.last_message.map(|m| Preview::Group(m.into())),
                        unread_count: group.read.unread,
                        last_activity_at,
                    }
                }
            })
            .collect();
        Self { support, items, total_unread: list.total_unread, next_cursor: list.next.map(encode) }
    }
}

fn encode(c: ChatCursor) -> String {
    format!("{}_{}_{}", c.at.timestamp_micros(), if c.group { "g" } else { "d" }, c.id)
}

fn decode(raw: &str) -> Option<ChatCursor> {
    let mut parts = raw.split('_');
    let at = super::cursor::micros(parts.next()?)?;
    let group = match parts.next()? {
        "g" => true,
        "d" => false,
        _ => return None,
    };
    let id = super::cursor::id(parts.next()?)?;
    parts.next().is_none().then_some(ChatCursor { at, group, id })
}

/// Paging through the chat list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChatListParams {
    /// The `nextCursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[gd]_[0-9]{1,18}$", example = "1732960000000000_d_42")]
    pub cursor: Option<String>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl ChatListParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<(Option<ChatCursor>, u16), ApiError> {
        let mut v = Violations::default();
        let after = match self.cursor.as_deref() {
            None => Some(None),
            Some(raw) => {
                let parsed = decode(raw);
                if parsed.is_none() {
                    v.push("cursor", "invalid_cursor", "is not a cursor returned by this endpoint");
                }
                parsed.map(Some)
            }
        };
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            v.push("limit", "out_of_range", "must be between 1 and 100");
        }
        v.finish(|| Some((after?, limit)))
    }
}

/// Example for the spec: Alice's list, with her support conversation pinned, her DM
/// with Bob and the main group.
fn example_chat_list() -> Value {
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
    })
}
