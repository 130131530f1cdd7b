//! Bodies of the admin notification routes, and the style shown with every notice.

use chat_domain::notifications::{
    self, Audience, AudienceKind, Colours, HexColour, NewNotification, NotificationId, NotificationQuery,
    NotificationRecord, NotificationStatus, NotificationStyle, SendNotificationError, SentNotification, Template,
};
use chat_domain::values::MessageContent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Violations;
use super::page::{Page, PageDoc, PageItem};
use super::support::UserRef;
use crate::problem::ApiError;

/// A named style; each is a fixed palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateName {
    /// Neutral information: background `#f0f9ff`, text `#0369a1`, border `#38bdf8`.
    Info,
    /// Something went well: `#f0fdf4`, `#166534`, `#4ade80`.
    Success,
    /// Attention needed: `#fffbeb`, `#92400e`, `#fbbf24`.
    Warning,
    /// Offers and news: `#faf5ff`, `#6b21a8`, `#c084fc`.
    Promo,
}

impl From<TemplateName> for Template {
    fn from(t: TemplateName) -> Self {
        match t {
            TemplateName::Info => Self::Info,
            TemplateName::Success => Self::Success,
            TemplateName::Warning => Self::Warning,
            TemplateName::Promo => Self::Promo,
        }
    }
}

impl From<Template> for TemplateName {
    fn from(t: Template) -> Self {
        match t {
            Template::Info => Self::Info,
            Template::Success => Self::Success,
            Template::Warning => Self::Warning,
            Template::Promo => Self::Promo,
        }
    }
}

/// Custom colours, each exactly `#RRGGBB` (anything else is refused).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationStyleRequest {
    /// Bubble background.
    #[schema(example = "#f0f9ff", pattern = "^#[0-9a-fA-F]{6}$")]
    pub background_color: String,
    /// Text colour.
    #[schema(example = "#0369a1", pattern = "^#[0-9a-fA-F]{6}$")]
    pub text_color: String,
    /// Bubble border.
    #[schema(example = "#38bdf8", pattern = "^#[0-9a-fA-F]{6}$")]
    pub border_color: String,
}

/// Sends a notice. Give exactly one audience (`userId`, `userIds` or `allUsers: true`)
/// and at most one style (`template` or `notificationStyle`; `info` when neither).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "userId": 123,
    "content": "Welcome! Your account has been upgraded to Premium.",
    "notificationStyle": {"backgroundColor": "#f0f9ff", "textColor": "#0369a1", "borderColor": "#38bdf8"},
    "clientNotificationId": "5b0c7a52-3f7e-4c55-9a07-2f0d1c8e6a11"
}))]
pub struct SendNotificationRequest {
    /// One recipient.
    pub user_id: Option<i32>,
    /// Several recipients (1..=10,000 distinct user ids; duplicates count once).
    pub user_ids: Option<Vec<i32>>,
    /// Every user of the app.
    pub all_users: Option<bool>,
    /// The text (1..=4000 characters, trimmed, no control characters but line feeds and tabs).
    #[schema(min_length = 1, max_length = 4000)]
    pub content: String,
    /// A named style.
    pub template: Option<TemplateName>,
    /// Custom colours.
    pub notification_style: Option<NotificationStyleRequest>,
    /// When the notice disappears from recipients' views (RFC 3339, in the future).
    pub expires_at: Option<DateTime<Utc>>,
    /// A UUID chosen by the client: a retry with the same id creates nothing and answers
    /// with the first send's result.
    pub client_notification_id: Option<Uuid>,
}

impl SendNotificationRequest {
    /// Validates every field, naming each bad one.
    pub fn try_into_domain(self, now: DateTime<Utc>) -> Result<NewNotification, ApiError> {
        let mut v = Violations::default();
        let audience = match Audience::new(self.user_id, self.user_ids, self.all_users) {
            Ok(audience) => Some(audience),
            Err((field, e)) => {
                v.check::<()>(field, Err(e));
                None
            }
        };
        let content = v.check("content", MessageContent::parse(&self.content));
        let style = match (self.template, self.notification_style) {
            (Some(_), Some(_)) => {
                v.push("notificationStyle", "exclusive", "give either template or notificationStyle, not both");
                None
            }
            (Some(template), None) => Some(NotificationStyle::template(template.into())),
            (None, Some(custom)) => {
                let background =
                    v.check("notificationStyle.backgroundColor", HexColour::parse(&custom.background_color));
                let text = v.check("notificationStyle.textColor", HexColour::parse(&custom.text_color));
                let border = v.check("notificationStyle.borderColor", HexColour::parse(&custom.border_color));
                match (background, text, border) {
                    (Some(background), Some(text), Some(border)) => {
                        Some(NotificationStyle::custom(Colours { background, text, border }))
                    }
                    _ => None,
                }
            }
            (None, None) => Some(NotificationStyle::default()),
        };
        v.check("expiresAt", notifications::check_expiry(self.expires_at, now));
        let client_id = self.client_notification_id;
        let expires_at = self.expires_at;
        v.finish(|| NewNotification::new(audience?, content?, style?, expires_at, client_id, now).ok())
    }
}

/// The outcome of a send.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": 42, "recipientCount": 100_000}))]
pub struct NotificationSent {
    /// The notification's id (for the history and for retracting it).
    #[schema(example = 42)]
    pub id: i64,
    /// How many users it reached.
    #[schema(example = 1)]
    pub recipient_count: i64,
}

impl From<&SentNotification> for NotificationSent {
    fn from(s: &SentNotification) -> Self {
        Self { id: s.id.get(), recipient_count: s.reach }
    }
}

/// How a notice looks: the template it came from (if any) and the colours to render.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationStyleView {
    /// The template, or `null` for custom colours.
    pub template: Option<TemplateName>,
    /// Bubble background, `#RRGGBB`.
    #[schema(example = "#f0f9ff")]
    pub background_color: String,
    /// Text colour, `#RRGGBB`.
    #[schema(example = "#0369a1")]
    pub text_color: String,
    /// Bubble border, `#RRGGBB`.
    #[schema(example = "#38bdf8")]
    pub border_color: String,
}

impl From<NotificationStyle> for NotificationStyleView {
    fn from(s: NotificationStyle) -> Self {
        Self {
            template: s.template.map(TemplateName::from),
            background_color: s.colours.background.as_str().to_owned(),
            text_color: s.colours.text.as_str().to_owned(),
            border_color: s.colours.border.as_str().to_owned(),
        }
    }
}

/// The shape of a notice's audience.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AudienceKindDto {
    /// One user (`targetUser`).
    User,
    /// A list of users.
    Users,
    /// Every user.
    AllUsers,
}

/// Where a notice stands for its recipients.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatusDto {
    /// Shown to recipients.
    Active,
    /// Past `expiresAt`: shown to nobody.
    Expired,
    /// Retracted: shown to nobody.
    Retracted,
}

/// A sent notice in the admin history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminNotification {
    /// Its id.
    #[schema(example = 42)]
    pub id: i64,
    /// Its audience's shape.
    pub audience: AudienceKindDto,
    /// The recipient, for a single-user notice.
    pub target_user: Option<UserRef>,
    /// Its text.
    pub content: String,
    /// Its style.
    pub style: NotificationStyleView,
    /// Active, expired or retracted (now).
    pub status: NotificationStatusDto,
    /// The admin who sent it (admins only ever see this).
    pub sent_by: UserRef,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was retracted.
    pub retracted_at: Option<DateTime<Utc>>,
    /// How many users it reached.
    #[schema(example = 100000)]
    pub recipient_count: i64,
    /// How many of them have read it.
    #[schema(example = 5230)]
    pub read_count: i64,
}

impl AdminNotification {
    /// The view of `r` at `now`.
    pub fn new(r: NotificationRecord, now: DateTime<Utc>) -> Self {
        let status = match r.status(now) {
            NotificationStatus::Active => NotificationStatusDto::Active,
            NotificationStatus::Expired => NotificationStatusDto::Expired,
            NotificationStatus::Retracted => NotificationStatusDto::Retracted,
        };
        Self {
            id: r.id.get(),
            audience: match r.audience {
                AudienceKind::User => AudienceKindDto::User,
                AudienceKind::Users => AudienceKindDto::Users,
                AudienceKind::AllUsers => AudienceKindDto::AllUsers,
            },
            target_user: r.target_user.map(UserRef::from),
            content: r.content,
            style: r.style.into(),
            status,
            sent_by: r.sent_by.into(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            retracted_at: r.retracted_at,
            recipient_count: r.reach,
            read_count: r.read_count,
        }
    }
}

/// A page of the admin history.
pub type AdminNotificationPage = Page<AdminNotification>;

impl PageItem for AdminNotification {
    type Cursor = i64;
    const PAGE: PageDoc = PageDoc::new(
        "AdminNotificationPage",
        "A page of the admin history.",
        "Newest first.",
        "Pass as `before` for the next page; `null` on the last.",
    );
    fn example_page() -> Value {
        let notification = json!({
            "id": 42,
            "audience": "all_users",
            "targetUser": null,
            "content": "Welcome! Your account has been upgraded to Premium.",
            "style": {"template": "info", "backgroundColor": "#f0f9ff", "textColor": "#0369a1", "borderColor": "#38bdf8"},
            "status": "active",
            "sentBy": {"id": 6, "displayName": "Ada (Admin)", "profilePhotoUrl": null},
            "createdAt": "2026-11-24T07:00:00Z",
            "expiresAt": "2026-12-24T07:00:00Z",
            "retractedAt": null,
            "recipientCount": 100_000,
            "readCount": 5230
        });
        json!({"items": [notification], "nextCursor": null})
    }
}

/// Which notices to list (keyset, newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationListParams {
    /// Only notices that reached this user.
    pub user_id: Option<i32>,
    /// Notices strictly older than this notification id (the previous page's `nextCursor`).
    pub before: Option<i64>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u16>,
}

impl NotificationListParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<NotificationQuery, ApiError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid("limit", "out_of_range", "must be between 1 and 100"));
        }
        Ok(NotificationQuery {
            user: self.user_id.map(chat_domain::UserId),
            before: self.before.map(NotificationId),
            limit,
        })
    }
}

/// Maps a send's refusal; unknown users are named at their position in the request.
pub fn send_error(e: SendNotificationError, user_ids: Option<&[i32]>) -> ApiError {
    match e {
        SendNotificationError::Forbidden => crate::problem::ADMIN_ONLY,
        SendNotificationError::UnknownUsers(missing) => ApiError::Validation(
            missing
                .into_iter()
                .map(|user| {
                    let field = user_ids
                        .and_then(|ids| ids.iter().position(|id| *id == user.get()))
                        .map_or_else(|| "userId".to_owned(), |i| format!("userIds[{i}]"));
                    crate::problem::FieldViolation::new(field, "unknown_user", format!("no user has id {user}"))
                })
                .collect(),
        ),
        SendNotificationError::Repo(e) => e.into(),
    }
}
