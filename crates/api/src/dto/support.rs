//! Support conversation bodies.

use chat_domain::conversations::{PersonaSummary, UserSummary};
use chat_domain::support::{
    AssigneeFilter, QueueCursor, QueueQuery, QueueStatus, ReplyVoice, SupportConversation, SupportPatch, SupportStatus,
};
use chat_domain::{ConversationId, PersonaId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Violations;
use super::messages::{AdminMessage, Message, MessageType, example_admin_question, example_reply, new_message};
use super::page::{Page, PageDoc, PageItem};
use crate::extract::{Validated, double_option};
use crate::problem::ApiError;

/// The title of the support conversation in the chat list and header.
pub const SUPPORT_TITLE: &str = "Help & Support";

/// Where a support conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupportStatusDto {
    /// The user is waiting for an answer.
    Open,
    /// Answered; waiting for the user.
    Pending,
    /// Done, until the user writes again.
    Resolved,
}

impl From<SupportStatus> for SupportStatusDto {
    fn from(s: SupportStatus) -> Self {
        match s {
            SupportStatus::Open => Self::Open,
            SupportStatus::Pending => Self::Pending,
            SupportStatus::Resolved => Self::Resolved,
        }
    }
}

impl From<SupportStatusDto> for SupportStatus {
    fn from(s: SupportStatusDto) -> Self {
        match s {
            SupportStatusDto::Open => Self::Open,
            SupportStatusDto::Pending => Self::Pending,
            SupportStatusDto::Resolved => Self::Resolved,
        }
    }
}

/// What the user's chat header shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportHeader {
    /// Always "Help & Support".
    #[schema(example = "Help & Support")]
    pub title: &'static str,
    /// The support persona's name.
    #[schema(example = "Sam from Support")]
    pub persona_name: Option<String>,
    /// The avatar for the header.
    #[schema(example = "https://cdn.example.com/sam.png")]
    pub avatar_url: Option<String>,
    /// Whether support is online now.
    pub online: bool,
}

/// The caller's support conversation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_user_support)]
pub struct UserSupportConversation {
    /// Its id.
    #[schema(example = 17)]
    pub id: i64,
    /// Where it stands.
    pub status: SupportStatusDto,
    /// The header.
    pub header: SupportHeader,
    /// Staff messages the caller has not read.
    pub unread_count: i32,
    /// The caller's read mark.
    pub last_read_message_id: i64,
    /// The newest message.
    pub last_message: Option<Message>,
    /// The newest activity.
    pub last_activity_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl UserSupportConversation {
    /// The user's view of `c`.
    pub fn new(c: SupportConversation, online: bool) -> Self {
        let persona = c.persona;
        Self {
            id: c.id.get(),
            status: c.state.status.into(),
            header: SupportHeader {
                title: SUPPORT_TITLE,
                persona_name: persona.as_ref().map(|p| p.name.clone()),
                avatar_url: persona.and_then(|p| p.avatar_url),
                online,
            },
            unread_count: c.user_side.unread,
            last_read_message_id: c.user_side.last_read.get(),
            last_message: c.last_message.map(Message::from),
            last_activity_at: c.last_message_at,
            created_at: c.created_at,
        }
    }
}

/// A user as shown to admins.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    /// Their id.
    #[schema(example = 1)]
    pub id: i32,
    /// Their display name.
    #[schema(example = "Alice Martin")]
    pub display_name: String,
    /// Their profile photo.
    pub profile_photo_url: Option<String>,
}

impl From<UserSummary> for UserRef {
    fn from(u: UserSummary) -> Self {
        Self { id: u.id.get(), display_name: u.display_name, profile_photo_url: u.profile_photo_url }
    }
}

/// A persona as shown in headers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonaRef {
    /// Its id.
    #[schema(example = 1)]
    pub id: i32,
    /// Its name.
    #[schema(example = "Sam from Support")]
    pub name: String,
    /// Its avatar.
    pub avatar_url: Option<String>,
}

impl From<PersonaSummary> for PersonaRef {
    fn from(p: PersonaSummary) -> Self {
        Self { id: p.id.get(), name: p.name, avatar_url: p.avatar_url }
    }
}

/// A support conversation, as admins see it (a queue row, or one conversation).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_admin_support)]
pub struct AdminSupportConversation {
    /// Its id.
    #[schema(example = 17)]
    pub id: i64,
    /// The user it belongs to.
    pub user: UserRef,
    /// Where it stands.
    pub status: SupportStatusDto,
    /// The admin in charge.
    pub assignee: Option<UserRef>,
    /// Since when the user has been waiting (open conversations).
    pub waiting_since: Option<DateTime<Utc>>,
    /// The persona in the header, and the default voice of replies.
    pub persona: Option<PersonaRef>,
    /// User messages the team has not read (shared by all admins).
    pub team_unread_count: i32,
    /// The team's read mark.
    pub team_last_read_message_id: i64,
    /// Staff messages the user has not read.
    pub user_unread_count: i32,
    /// The newest message.
    pub last_message: Option<AdminMessage>,
    /// The newest activity.
    pub last_activity_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<SupportConversation> for AdminSupportConversation {
    fn from(c: SupportConversation) -> Self {
        Self {
            id: c.id.get(),
            user: c.user.into(),
            status: c.state.status.into(),
            assignee: c.assignee.map(UserRef::from),
            waiting_since: c.state.waiting_since,
            persona: c.persona.map(PersonaRef::from),
            team_unread_count: c.team_side.unread,
            team_last_read_message_id: c.team_side.last_read.get(),
            user_unread_count: c.user_side.unread,
            last_message: c.last_message.map(AdminMessage::from),
            last_activity_at: c.last_message_at,
            created_at: c.created_at,
        }
    }
}

/// A page of the support queue.
pub type SupportQueuePage = Page<AdminSupportConversation>;

impl PageItem for AdminSupportConversation {
    type Cursor = String;
    const PAGE: PageDoc = PageDoc::new(
        "SupportQueuePage",
        "A page of the support queue.",
        "Open: longest waiting first; other statuses: most recent activity first.",
        "Pass as `cursor` (with the same filters) for the next page; `null` on the last.",
    );
    fn example_page() -> Value {
        json!({"items": [example_admin_support()], "nextCursor": "w1795590997000000_17"})
    }
}

/// Queue filter on status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueStatusParam {
    /// Users waiting for an answer (default).
    #[default]
    Open,
    /// Answered.
    Pending,
    /// Done.
    Resolved,
    /// Everything.
    All,
}

/// Filters and cursor of the support queue.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `open` (default), `pending`, `resolved` or `all`.
    #[serde(default)]
    #[param(inline)]
    pub status: QueueStatusParam,
    /// `me`, `none`, or an admin's user id; any assignee when absent.
    #[param(pattern = "^(me|none|[0-9]{1,9})$", example = "me")]
    pub assignee: Option<String>,
    /// Only conversations showing this persona.
    pub persona_id: Option<i32>,
    /// The `nextCursor` of the previous page.
    #[param(pattern = r"^[wa][0-9]{1,16}_[0-9]{1,18}$", example = "w1732960000000000_42")]
    pub cursor: Option<String>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

fn encode_cursor(cursor: QueueCursor) -> String {
    let (tag, at, id) = match cursor {
        QueueCursor::Waiting(at, id) => ('w', at, id),
        QueueCursor::Activity(at, id) => ('a', at, id),
    };
    format!("{tag}{}_{}", at.timestamp_micros(), id.get())
}

fn decode_cursor(raw: &str) -> Option<QueueCursor> {
    let mut chars = raw.chars();
    let tag = chars.next()?;
    let (micros, id) = chars.as_str().split_once('_')?;
    let at = super::cursor::micros(micros)?;
    let id = ConversationId(super::cursor::id(id)?);
    match tag {
        'w' => Some(QueueCursor::Waiting(at, id)),
        'a' => Some(QueueCursor::Activity(at, id)),
        _ => None,
    }
}

/// Encodes the queue's next cursor.
pub fn queue_cursor(cursor: Option<QueueCursor>) -> Option<String> {
    cursor.map(encode_cursor)
}

impl QueueParams {
    /// Validates the filters; `me` resolves to `caller`.
    pub fn try_into_domain(self, caller: UserId) -> Result<QueueQuery, ApiError> {
        let mut v = Violations::default();
        let status = match self.status {
            QueueStatusParam::Open => QueueStatus::Open,
            QueueStatusParam::Pending => QueueStatus::Pending,
            QueueStatusParam::Resolved => QueueStatus::Resolved,
            QueueStatusParam::All => QueueStatus::All,
        };
        let assignee = match self.assignee.as_deref() {
            None => Some(AssigneeFilter::Any),
            Some("me") => Some(AssigneeFilter::Admin(caller)),
            Some("none") => Some(AssigneeFilter::Nobody),
            Some(raw) => match super::cursor::id(raw).and_then(|id| i32::try_from(id).ok()) {
                Some(id) => Some(AssigneeFilter::Admin(UserId(id))),
                None => {
                    v.push("assignee", "invalid_value", "must be `me`, `none` or a user id");
                    None
                }
            },
        };
        let after = match self.cursor.as_deref() {
            None => Some(None),
            Some(raw) => match decode_cursor(raw) {
                Some(cursor) => Some(Some(cursor)),
                None => {
                    v.push("cursor", "invalid_cursor", "is not a cursor returned by this endpoint");
                    None
                }
            },
        };
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            v.push("limit", "out_of_range", "must be between 1 and 100");
        }
        v.finish(|| {
            Some(QueueQuery {
                status,
                assignee: assignee?,
                persona: self.persona_id.map(PersonaId),
                after: after?,
                limit,
            })
        })
    }
}

/// An admin's answer in a support conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "content": "Happy to help! Go to Settings > Account.",
    "messageType": "text",
    "clientMessageId": "5d2b8f61-3c1e-4f0a-9e7d-2a6b4c8d1e3f",
    "personaId": 1
}))]
pub struct SupportReplyRequest {
    /// Text (1..=4000 characters), or the https URL of an image or link.
    #[schema(min_length = 1, max_length = 4000, example = "Happy to help! Go to Settings > Account.")]
    pub content: String,
    /// `text` (default), `image` or `link`.
    #[serde(default = "text")]
    pub message_type: MessageType,
    /// A UUID chosen by the client; a retry with the same id returns the stored message.
    pub client_message_id: Option<Uuid>,
    /// Answer as this persona (default: the conversation's support persona).
    #[schema(example = 1)]
    pub persona_id: Option<i32>,
    /// Answer as the team ("Support") without a persona. Excludes `personaId`.
    #[serde(default)]
    pub as_team: bool,
}

const fn text() -> MessageType {
    MessageType::Text
}

impl Validated for SupportReplyRequest {
    type Domain = (ReplyVoice, chat_domain::conversations::NewMessage);

    fn validated(self) -> Result<(ReplyVoice, chat_domain::conversations::NewMessage), ApiError> {
        let mut v = Violations::default();
        let voice = match (self.persona_id, self.as_team) {
            (Some(_), true) => {
                v.push("asTeam", "exclusive", "give either `personaId` or `asTeam`, not both");
                None
            }
            (Some(id), false) => Some(ReplyVoice::Persona(PersonaId(id))),
            (None, true) => Some(ReplyVoice::Team),
            (None, false) => Some(ReplyVoice::Default),
        };
        let new = new_message(&self.content, self.message_type, self.client_message_id, &mut v);
        v.finish(|| Some((voice?, new?)))
    }
}

/// Changes the status and/or assignee of a support conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"status": "pending", "assigneeId": 6}))]
pub struct UpdateSupportRequest {
    /// New status.
    pub status: Option<SupportStatusDto>,
    /// New assignee (a user id), or `null` to unassign.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>, example = 6)]
    pub assignee_id: Option<Option<i32>>,
}

impl UpdateSupportRequest {
    /// Converts into the domain patch.
    pub fn into_domain(self) -> SupportPatch {
        SupportPatch { status: self.status.map(SupportStatus::from), assignee: self.assignee_id.map(|a| a.map(UserId)) }
    }
}

/// Examples for the spec: Alice's conversation, answered by Sam (written by Ada).
fn example_user_support() -> Value {
    json!({
        "id": 17,
        "status": "pending",
        "header": {
            "title": SUPPORT_TITLE,
            "personaName": "Sam from Support",
            "avatarUrl": "https://cdn.example.com/sam.png",
            "online": true
        },
        "unreadCount": 1,
        "lastReadMessageId": 1042,
        "lastMessage": example_reply(),
        "lastActivityAt": "2026-11-24T09:32:00Z",
        "createdAt": "2026-11-24T09:29:00Z"
    })
}

/// A queue row: Alice is waiting, Ada has taken it.
fn example_admin_support() -> Value {
    json!({
        "id": 17,
        "user": {"id": 1, "displayName": "Alice Martin", "profilePhotoUrl": "https://cdn.example.com/alice.png"},
        "status": "open",
        "assignee": {"id": 6, "displayName": "Ada (Admin)", "profilePhotoUrl": null},
        "waitingSince": "2026-11-24T09:30:00Z",
        "persona": {"id": 1, "name": "Sam from Support", "avatarUrl": "https://cdn.example.com/sam.png"},
        "teamUnreadCount": 1,
        "teamLastReadMessageId": 1041,
        "userUnreadCount": 0,
        "lastMessage": example_admin_question(),
        "lastActivityAt": "2026-11-24T09:30:00Z",
        "createdAt": "2026-11-24T09:29:00Z"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_micros(1_795_590_997_123_456).unwrap();
        for cursor in [QueueCursor::Waiting(at, ConversationId(17)), QueueCursor::Activity(at, ConversationId(3))] {
            assert_eq!(decode_cursor(&encode_cursor(cursor)), Some(cursor));
        }
        for bad in ["", "w", "x1_2", "w1", "wabc_1", "w1_x"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
