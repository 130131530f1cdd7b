//! Missed-message webhooks: the payload the app receives (documented under the
//! document's `webhooks`) and the admin view of parked digests.

use chat_domain::webhooks::{DeliveryId, ParkedDelivery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::dto::page::{Page, PageDoc, PageItem};
use crate::problem::ApiError;

/// `POST {CHAT_WEBHOOK_URL}`: one user's unread messages of one digest window
/// (docs/webhooks.md). Signed the Standard Webhooks way: headers `webhook-id` (the same
/// on every attempt: de-duplicate on it), `webhook-timestamp`, `webhook-signature`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "type": "chat.missed_messages",
    "timestamp": "2026-11-30T12:00:00.123Z",
    "data": {
        "userId": 8, "windowStart": "2026-11-30T12:00:00Z", "unreadTotal": 3,
        "items": [
            {"kind": "support", "conversationId": 41, "unread": 2, "firstSentAt": "2026-11-30T11:57:40Z",
             "lastSentAt": "2026-11-30T11:57:52Z", "lastMessageId": 9120, "link": "/chat/support"},
            {"kind": "notice", "unread": 1, "firstSentAt": "2026-11-30T11:58:01Z",
             "lastSentAt": "2026-11-30T11:58:01Z", "lastMessageId": 733, "link": "/chat/notifications"}
        ]
    }
}))]
pub struct MissedMessagesWebhook {
    /// The event type; ignore types you do not know.
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^chat\\.missed_messages$")]
    pub kind: String,
    /// When the digest was made.
    pub timestamp: DateTime<Utc>,
    /// What the user missed.
    pub data: MissedMessagesData,
}

/// One user's unread messages of one window, grouped by place.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MissedMessagesData {
    /// The user to reach.
    pub user_id: i32,
    /// The start of the digest window.
    pub window_start: DateTime<Utc>,
    /// Unread messages over all items.
    #[schema(minimum = 1)]
    pub unread_total: u32,
    /// One per place: support first, then DMs by conversation, then notices.
    pub items: Vec<MissedItem>,
}

/// The kind of place a missed message is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MissedKind {
    /// The user's support conversation (a staff reply).
    Support,
    /// A direct message (from a user or a persona).
    DirectMessage,
    /// An admin notice.
    Notice,
}

/// One place's unread messages.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MissedItem {
    /// The kind of place.
    pub kind: MissedKind,
    /// The conversation (absent for notices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<i64>,
    /// Unread messages there in this window.
    #[schema(minimum = 1)]
    pub unread: u32,
    /// When the first of them was sent.
    pub first_sent_at: DateTime<Utc>,
    /// When the last of them was sent.
    pub last_sent_at: DateTime<Utc>,
    /// The last of them.
    pub last_message_id: i64,
    /// Where the app opens the chat, relative to its own base URL.
    pub link: String,
    /// The last message's text; only when the deployment sets
    /// `CHAT_WEBHOOK_INCLUDE_CONTENT=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// A digest that exhausted its attempts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": 52, "eventId": "0b5c2f2e-7e52-4b8e-9c1e-8b7a3f1d2c4e", "userId": 8, "attempts": 10,
    "lastError": "answered 503 Service Unavailable",
    "createdAt": "2026-11-30T12:00:00Z", "parkedAt": "2026-11-30T14:31:07Z"
}))]
pub struct ParkedWebhook {
    /// Its id (to retry it).
    pub id: i64,
    /// The `webhook-id` the app sees on every attempt.
    pub event_id: Uuid,
    /// The user it is about.
    pub user_id: i32,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure as the dispatcher saw it.
    pub last_error: Option<String>,
    /// When the digest was made.
    pub created_at: DateTime<Utc>,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

impl From<ParkedDelivery> for ParkedWebhook {
    fn from(parked: ParkedDelivery) -> Self {
        Self {
            id: parked.id.0,
            event_id: parked.event_id,
            user_id: parked.user_id.get(),
            attempts: parked.attempts,
            last_error: parked.last_error,
            created_at: parked.created_at,
            parked_at: parked.parked_at,
        }
    }
}

/// A page of parked digests, oldest first.
pub type ParkedWebhookPage = Page<ParkedWebhook>;

impl PageItem for ParkedWebhook {
    type Cursor = i64;
    const PAGE: PageDoc = PageDoc::new(
        "ParkedWebhookPage",
        "A page of parked digests.",
        "Oldest first.",
        "Pass as `after` for the next page; `null` on the last.",
    );
    fn example_page() -> Value {
        let parked = json!({
            "id": 52, "eventId": "0b5c2f2e-7e52-4b8e-9c1e-8b7a3f1d2c4e", "userId": 8, "attempts": 10,
            "lastError": "answered 503 Service Unavailable",
            "createdAt": "2026-11-30T12:00:00Z", "parkedAt": "2026-11-30T14:31:07Z"
        });
        json!({"items": [parked], "nextCursor": null})
    }
}

/// Which parked digests to list (keyset, oldest first).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ParkedListParams {
    /// Digests after this id (the previous page's `nextCursor`).
    pub after: Option<i64>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u8>,
}

impl ParkedListParams {
    /// Validates the parameters.
    pub fn try_into_domain(self) -> Result<(Option<DeliveryId>, u8), ApiError> {
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid("limit", "out_of_range", "must be between 1 and 100"));
        }
        Ok((self.after.map(DeliveryId), limit))
    }
}
