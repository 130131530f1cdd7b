//! Direct-message, block, member, search and audit bodies.

use chat_domain::direct_messages::{
    AccessLogEntry, AccessLogQuery, AdminDmQuery, BlockedUser, DmCursor, DmKind, DmListQuery, DmParty, DmSummary,
    DmTarget,
};
use chat_domain::group_members::GroupMember;
use chat_domain::search::{HitKind, SearchHit, SearchQuery, SearchText};
use chat_domain::{ConversationId, MessageId, PersonaId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::Violations;
use super::messages::{
    ActingAdmin, AdminMessage, Message, MessageType, Sender, example_admin_question, example_message,
};
use super::page::{Page, PageDoc, PageItem};
use super::support::UserRef;
use crate::problem::ApiError;

/// Whom a DM is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    /// A real user.
    RealUser,
    /// A persona.
    FakeUser,
}

/// The kind of a DM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DmKindDto {
    /// Two real users.
    UserDm,
    /// A user and a persona.
    PersonaDm,
}

impl From<DmKind> for DmKindDto {
    fn from(k: DmKind) -> Self {
        match k {
            DmKind::UserDm => Self::UserDm,
            DmKind::PersonaDm => Self::PersonaDm,
        }
    }
}

/// Starts (or reopens) a DM.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"targetType": "real_user", "targetId": 3}))]
pub struct StartDmRequest {
    /// `real_user` or `fake_user` (a persona); the seed's `targetUserType` is accepted too.
    #[serde(alias = "targetUserType")]
    pub target_type: TargetType,
    /// The user's or persona's id; the seed's `targetUserId` is accepted too.
    #[serde(alias = "targetUserId")]
    #[schema(example = 2)]
    pub target_id: i32,
}

impl StartDmRequest {
    /// The domain target.
    pub const fn target(&self) -> DmTarget {
        match self.target_type {
            TargetType::RealUser => DmTarget::User(UserId(self.target_id)),
            TargetType::FakeUser => DmTarget::Persona(PersonaId(self.target_id)),
        }
    }
}

/// One side of a DM, as shown in headers: the other user's profile photo, or the persona's avatar.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    /// `real_user` or `fake_user`.
    #[serde(rename = "type")]
    pub party_type: TargetType,
    /// The user's or persona's id.
    #[schema(example = 2)]
    pub id: i32,
    /// The name to show.
    #[schema(example = "Bob Nguyen")]
    pub display_name: String,
    /// The avatar for the header.
    pub avatar_url: Option<String>,
}

impl From<DmParty> for Party {
    fn from(p: DmParty) -> Self {
        match p {
            DmParty::User(u) => Self {
                party_type: TargetType::RealUser,
                id: u.id.get(),
                display_name: u.display_name,
                avatar_url: u.profile_photo_url,
            },
            DmParty::Persona(p) => Self {
                party_type: TargetType::FakeUser,
                id: p.id.get(),
                display_name: p.name,
                avatar_url: p.avatar_url,
            },
        }
    }
}

/// A DM, as one of its users sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_user_dm)]
pub struct UserDm {
    /// Its id.
    #[schema(example = 42)]
    pub id: i64,
    /// `user_dm` or `persona_dm`.
    pub kind: DmKindDto,
    /// The other side, for the header (title and avatar).
    pub other: Party,
    /// Messages from the other side the caller has not read.
    pub unread_count: i32,
    /// The caller's read mark.
    pub last_read_message_id: i64,
    /// Whether the caller archived it.
    pub archived: bool,
    /// The newest message.
    pub last_message: Option<Message>,
    /// The newest activity.
    pub last_activity_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl UserDm {
    /// `dm` as seen by `viewer` (a participant).
    pub fn new(dm: DmSummary, viewer: UserId) -> Self {
        let kind = dm.kind().into();
        let mine = dm.is_side_one(viewer);
        let (other, side, archived) = if mine {
            (dm.other, dm.side_one, dm.archived_one)
        } else {
            (DmParty::User(dm.user_one), dm.side_two, dm.archived_two)
        };
        Self {
            id: dm.id.get(),
            kind,
            other: other.into(),
            unread_count: side.unread,
            last_read_message_id: side.last_read.get(),
            archived,
            last_message: dm.last_message.map(Message::from),
            last_activity_at: dm.last_message_at,
            created_at: dm.created_at,
        }
    }
}

/// The newest message of a DM in the admin list and header: its metadata only.
///
/// Staff access to private messages is recorded: the content is read by opening the
/// messages, which writes an access-log row; list views carry none.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminDmLastMessage {
    /// Its id.
    #[schema(example = 1042)]
    pub id: i64,
    /// Its position in the conversation.
    #[schema(example = 5)]
    pub seq: i64,
    /// Who users see as the sender.
    pub sender: Sender,
    /// The admin behind a persona message.
    pub acting_admin: Option<ActingAdmin>,
    /// What it carries.
    pub message_type: MessageType,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Whether a moderator hid it from users.
    pub hidden: bool,
}

impl From<chat_domain::conversations::Message> for AdminDmLastMessage {
    fn from(m: chat_domain::conversations::Message) -> Self {
        let m = AdminMessage::from(m);
        Self {
            id: m.id,
            seq: m.seq,
            sender: m.sender,
            acting_admin: m.acting_admin,
            message_type: m.message_type,
            created_at: m.created_at,
            hidden: m.hidden,
        }
    }
}

/// A DM, as admins see it: no message content (reading that is logged).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_admin_dm)]
pub struct AdminDm {
    /// Its id.
    #[schema(example = 42)]
    pub id: i64,
    /// `user_dm` or `persona_dm`.
    pub kind: DmKindDto,
    /// The real user on side one.
    pub user: UserRef,
    /// The other side.
    pub other: Party,
    /// Unread for side one.
    pub user_unread_count: i32,
    /// Unread for side two (for persona DMs: the team's).
    pub other_unread_count: i32,
    /// For persona DMs: the user wrote last, no persona answered yet, and the team has
    /// not read it (`POST /api/admin/chat/direct-messages/{id}/read` clears it).
    pub waiting_for_persona: bool,
    /// The newest message's metadata, without its content.
    pub last_message: Option<AdminDmLastMessage>,
    /// The newest activity.
    pub last_activity_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<DmSummary> for AdminDm {
    fn from(dm: DmSummary) -> Self {
        let kind = dm.kind();
        let waiting = kind == DmKind::PersonaDm
            && dm.side_two.unread > 0
            && dm.last_message.as_ref().is_some_and(|m| !m.author.is_staff());
        Self {
            id: dm.id.get(),
            kind: kind.into(),
            user: dm.user_one.into(),
            other: dm.other.into(),
            user_unread_count: dm.side_one.unread,
            other_unread_count: dm.side_two.unread,
            waiting_for_persona: waiting,
            last_message: dm.last_message.map(AdminDmLastMessage::from),
            last_activity_at: dm.last_message_at,
            created_at: dm.created_at,
        }
    }
}

/// A page of the caller's DMs.
pub type UserDmPage = Page<UserDm>;

impl PageItem for UserDm {
    type Cursor = String;
    const PAGE: PageDoc =
        PageDoc::new("UserDmPage", "A page of the caller's DMs.", "Most recent activity first.", DM_LIST_NEXT);
    fn example_page() -> Value {
        json!({"items": [example_user_dm()], "nextCursor": null})
    }
}

/// A page of DMs, for admins.
pub type AdminDmPage = Page<AdminDm>;

impl PageItem for AdminDm {
    type Cursor = String;
    const PAGE: PageDoc =
        PageDoc::new("AdminDmPage", "A page of DMs, for admins.", "Most recent activity first.", DM_LIST_NEXT);
    fn example_page() -> Value {
        json!({"items": [example_admin_dm()], "nextCursor": null})
    }
}

/// How both DM lists continue.
const DM_LIST_NEXT: &str = "Pass as `cursor` for the next page; `null` on the last.";

/// Encodes a (time, id) keyset position.
pub fn encode_dm_cursor(cursor: Option<DmCursor>) -> Option<String> {
    cursor.map(|c| format!("{}_{}", c.0.timestamp_micros(), c.1.get()))
}

fn decode_dm_cursor(raw: Option<&str>, v: &mut Violations) -> Option<Option<DmCursor>> {
    let Some(raw) = raw else { return Some(None) };
    let parsed = raw.split_once('_').and_then(|(micros, id)| {
        Some(DmCursor(super::cursor::micros(micros)?, ConversationId(super::cursor::id(id)?)))
    });
    if parsed.is_none() {
        v.push("cursor", "invalid_cursor", "is not a cursor returned by this endpoint");
    }
    parsed.map(Some)
}

fn limit(raw: Option<u16>, v: &mut Violations) -> Option<u16> {
    let limit = raw.unwrap_or(50);
    if (1..=100).contains(&limit) {
        Some(limit)
    } else {
        v.push("limit", "out_of_range", "must be between 1 and 100");
        None
    }
}

/// Paging through the caller's DMs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DmListParams {
    /// `true`: archived DMs only; default: active ones.
    #[serde(default)]
    pub archived: bool,
    /// The `nextCursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[0-9]{1,18}$", example = "1732960000000000_42")]
    pub cursor: Option<String>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl DmListParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<DmListQuery, ApiError> {
        let mut v = Violations::default();
        let after = decode_dm_cursor(self.cursor.as_deref(), &mut v);
        let limit = limit(self.limit, &mut v);
        v.finish(|| Some(DmListQuery { archived: self.archived, after: after?, limit: limit? }))
    }
}

/// Filters of the admin DM list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdminDmParams {
    /// Only DMs this user is in.
    pub user_id: Option<i32>,
    /// Only DMs with this persona.
    pub persona_id: Option<i32>,
    /// `user_dm` or `persona_dm`.
    #[param(inline)]
    pub kind: Option<DmKindDto>,
    /// Only persona DMs waiting for a persona reply.
    #[serde(default)]
    pub waiting: bool,
    /// The `nextCursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,16}_[0-9]{1,18}$", example = "1732960000000000_42")]
    pub cursor: Option<String>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl AdminDmParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<AdminDmQuery, ApiError> {
        let mut v = Violations::default();
        let after = decode_dm_cursor(self.cursor.as_deref(), &mut v);
        let limit = limit(self.limit, &mut v);
        v.finish(|| {
            Some(AdminDmQuery {
                user: self.user_id.map(UserId),
                persona: self.persona_id.map(PersonaId),
                kind: self.kind.map(|k| match k {
                    DmKindDto::UserDm => DmKind::UserDm,
                    DmKindDto::PersonaDm => DmKind::PersonaDm,
                }),
                waiting: self.waiting,
                after: after?,
                limit: limit?,
            })
        })
    }
}

/// A blocked user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedUserDto {
    /// The user.
    pub user: UserRef,
    /// Since when.
    pub blocked_at: DateTime<Utc>,
}

impl From<BlockedUser> for BlockedUserDto {
    fn from(b: BlockedUser) -> Self {
        Self { user: b.user.into(), blocked_at: b.blocked_at }
    }
}

/// The users the caller blocked.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{
    "user": {"id": 4, "displayName": "Mallory Stone", "profilePhotoUrl": null},
    "blockedAt": "2026-11-22T16:40:00Z"
}]}))]
pub struct BlockList {
    /// Most recent first.
    pub items: Vec<BlockedUserDto>,
}

/// A group member, for the avatar click.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberDto {
    /// The user's id (`targetId` for a DM).
    #[schema(example = 2)]
    pub id: i32,
    /// Always `real_user`.
    #[serde(rename = "type")]
    pub member_type: TargetType,
    /// Their display name.
    #[schema(example = "Bob Nguyen")]
    pub display_name: String,
    /// Their profile photo.
    pub avatar_url: Option<String>,
    /// Whether starting a DM with them would succeed: `false` for the caller, in
    /// personal groups, with a block either way, and when a new DM is needed and they
    /// are at their own active-DM limit. It always agrees with what the start answers.
    pub can_dm: bool,
}

impl From<GroupMember> for GroupMemberDto {
    fn from(m: GroupMember) -> Self {
        Self {
            id: m.user.id.get(),
            member_type: TargetType::RealUser,
            display_name: m.user.display_name,
            avatar_url: m.user.profile_photo_url,
            can_dm: m.can_dm,
        }
    }
}

/// A page of group members, by id.
pub type GroupMemberPage = Page<GroupMemberDto>;

impl PageItem for GroupMemberDto {
    type Cursor = i32;
    const PAGE: PageDoc = PageDoc::new(
        "GroupMemberPage",
        "A page of group members, by id.",
        "Members by id.",
        "Pass as `after` for the next page; `null` on the last.",
    );
    fn example_page() -> Value {
        json!({"items": [
            {"id": 3, "type": "real_user", "displayName": "Bob Nguyen",
             "avatarUrl": "https://cdn.example.com/bob.png", "canDm": true},
            {"id": 5, "type": "real_user", "displayName": "Carol Diaz", "avatarUrl": null, "canDm": false}
        ], "nextCursor": 5})
    }
}

/// Paging through members.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberParams {
    /// Members with a larger id than this.
    pub after: Option<i32>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl MemberParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<(Option<UserId>, u16), ApiError> {
        let mut v = Violations::default();
        let limit = limit(self.limit, &mut v);
        v.finish(|| Some((self.after.map(UserId), limit?)))
    }
}

/// What kind of conversation a search hit is in.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitKindDto {
    /// The support conversation.
    Support,
    /// A DM between users.
    UserDm,
    /// A DM with a persona.
    PersonaDm,
}

impl From<HitKind> for HitKindDto {
    fn from(k: HitKind) -> Self {
        match k {
            HitKind::Support => Self::Support,
            HitKind::UserDm => Self::UserDm,
            HitKind::PersonaDm => Self::PersonaDm,
        }
    }
}

/// A search hit, as users see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHitDto {
    /// The conversation it is in.
    #[schema(example = 42)]
    pub conversation_id: i64,
    /// Its kind.
    pub conversation_kind: HitKindDto,
    /// A plain-text excerpt around the match (escape it when rendering).
    #[schema(example = "about the refund for my last order")]
    pub snippet: String,
    /// The message.
    pub message: Message,
}

impl From<SearchHit> for SearchHitDto {
    fn from(h: SearchHit) -> Self {
        Self {
            conversation_id: h.message.conversation_id.get(),
            conversation_kind: h.kind.into(),
            snippet: h.snippet,
            message: h.message.into(),
        }
    }
}

/// A search hit, as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSearchHit {
    /// The conversation it is in.
    pub conversation_id: i64,
    /// Its kind.
    pub conversation_kind: HitKindDto,
    /// A plain-text excerpt around the match.
    pub snippet: String,
    /// The message, with the acting admin.
    pub message: AdminMessage,
}

impl From<SearchHit> for AdminSearchHit {
    fn from(h: SearchHit) -> Self {
        Self {
            conversation_id: h.message.conversation_id.get(),
            conversation_kind: h.kind.into(),
            snippet: h.snippet,
            message: h.message.into(),
        }
    }
}

/// A page of search hits, newest first.
pub type SearchPage = Page<SearchHitDto>;

impl PageItem for SearchHitDto {
    type Cursor = i64;
    const PAGE: PageDoc =
        PageDoc::new("SearchPage", "A page of search hits, newest first.", "Hits, newest first.", BEFORE_NEXT);
    fn example_page() -> Value {
        json!({"items": [example_hit(example_message())], "nextCursor": null})
    }
}

/// A page of search hits, for admins.
pub type AdminSearchPage = Page<AdminSearchHit>;

impl PageItem for AdminSearchHit {
    type Cursor = i64;
    const PAGE: PageDoc =
        PageDoc::new("AdminSearchPage", "A page of search hits, for admins.", "Hits, newest first.", BEFORE_NEXT);
    fn example_page() -> Value {
        json!({"items": [example_hit(example_admin_question())], "nextCursor": null})
    }
}

/// How the lists paged by `before` continue.
const BEFORE_NEXT: &str = "Pass as `before` for the next page; `null` on the last.";

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words (web-search syntax: `"exact phrase"`, `-excluded`), 1..=200 characters.
    #[param(example = "refund")]
    pub q: String,
    /// Hits older than this message id (the previous page's `nextCursor`).
    pub before: Option<i64>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl SearchParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<SearchQuery, ApiError> {
        let mut v = Violations::default();
        let text = v.check("q", SearchText::parse(&self.q));
        let limit = limit(Some(self.limit.unwrap_or(20)), &mut v);
        v.finish(|| Some(SearchQuery { text: text?, before: self.before.map(MessageId), limit: limit? }))
    }
}

/// Hides a message from users.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Harassment"}))]
pub struct HideRequest {
    /// Why (1..=500 characters), kept for audit.
    #[schema(example = "Harassment")]
    pub reason: String,
}

/// One recorded staff access to a DM.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogEntryDto {
    /// Its id.
    pub id: i64,
    /// The admin.
    pub admin: UserRef,
    /// The DM.
    pub conversation_id: i64,
    /// `read_messages` or `search`.
    #[schema(example = "read_messages")]
    pub action: String,
    /// When.
    pub accessed_at: DateTime<Utc>,
}

impl From<AccessLogEntry> for AccessLogEntryDto {
    fn from(e: AccessLogEntry) -> Self {
        Self {
            id: e.id,
            admin: e.admin.into(),
            conversation_id: e.conversation_id.get(),
            action: e.action,
            accessed_at: e.accessed_at,
        }
    }
}

/// A page of the access log, newest first.
pub type AccessLogPage = Page<AccessLogEntryDto>;

impl PageItem for AccessLogEntryDto {
    type Cursor = i64;
    const PAGE: PageDoc =
        PageDoc::new("AccessLogPage", "A page of the access log, newest first.", "Newest first.", BEFORE_NEXT);
    fn example_page() -> Value {
        json!({"items": [{
            "id": 301,
            "admin": example_ada(),
            "conversationId": 42,
            "action": "read_messages",
            "accessedAt": "2026-11-24T12:00:00Z"
        }], "nextCursor": null})
    }
}

/// Filters of the access log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessLogParams {
    /// Only this admin.
    pub admin_id: Option<i32>,
    /// Only this conversation.
    pub conversation_id: Option<i64>,
    /// Entries older than this id.
    pub before: Option<i64>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl AccessLogParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<AccessLogQuery, ApiError> {
        let mut v = Violations::default();
        let limit = limit(self.limit, &mut v);
        v.finish(|| {
            Some(AccessLogQuery {
                admin: self.admin_id.map(UserId),
                conversation: self.conversation_id.map(ConversationId),
                before: self.before,
                limit: limit?,
            })
        })
    }
}

/// Examples for the spec: Alice's DM with Bob (and Ada, the admin who oversees it), in
/// the same story as the support examples.
fn example_alice() -> Value {
    json!({"id": 1, "displayName": "Alice Martin", "profilePhotoUrl": "https://cdn.example.com/alice.png"})
}

fn example_ada() -> Value {
    json!({"id": 6, "displayName": "Ada (Admin)", "profilePhotoUrl": null})
}

fn example_bob() -> Value {
    json!({"type": "real_user", "id": 3, "displayName": "Bob Nguyen", "avatarUrl": "https://cdn.example.com/bob.png"})
}

/// Bob's last DM message to Alice, as users see it.
pub(crate) fn example_dm_message() -> Value {
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

fn example_user_dm() -> Value {
    json!({
        "id": 42,
        "kind": "user_dm",
        "other": example_bob(),
        "unreadCount": 1,
        "lastReadMessageId": 2040,
        "archived": false,
        "lastMessage": example_dm_message(),
        "lastActivityAt": "2026-11-24T11:00:00Z",
        "createdAt": "2026-11-20T18:00:00Z"
    })
}

/// Admin DM views carry no content (reading it is logged): the metadata only.
fn example_admin_dm() -> Value {
    json!({
        "id": 42,
        "kind": "user_dm",
        "user": example_alice(),
        "other": example_bob(),
        "userUnreadCount": 1,
        "otherUnreadCount": 0,
        "waitingForPersona": false,
        "lastMessage": {
            "id": 2041,
            "seq": 3,
            "sender": {"type": "real_user", "id": 3, "displayName": "Bob Nguyen"},
            "actingAdmin": null,
            "messageType": "text",
            "createdAt": "2026-11-24T11:00:00Z",
            "hidden": false
        },
        "lastActivityAt": "2026-11-24T11:00:00Z",
        "createdAt": "2026-11-20T18:00:00Z"
    })
}

/// Alice's support question, found by a search for "email".
fn example_hit(message: Value) -> Value {
    json!({
        "conversationId": 17,
        "conversationKind": "support",
        "snippet": "How can I change my email address?",
        "message": message
    })
}
