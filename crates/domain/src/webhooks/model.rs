//! What the webhook flow handles: outbox candidates, digests, deliveries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::Participants;
use crate::conversations::Side;
use crate::ids::{ConversationId, MessageId, UserId};

/// A stored message taken from the outbox, with what is needed to decide whether it
/// was missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The message (`dm_messages.id`, or `chat_messages.id` for a notice).
    pub message: MessageId,
    /// When it was stored.
    pub sent_at: DateTime<Utc>,
    /// Where it was posted, and the read state there now.
    pub origin: Origin,
    /// Its text, only when the collection asked for content.
    pub content: Option<String>,
}

/// Where a candidate message was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A support conversation or a direct message.
    Conversation {
        /// Which one.
        id: ConversationId,
        /// Who is in it.
        participants: Participants,
        /// The side that wrote the message.
        author: Side,
        /// How far side one has read.
        side_one_read: MessageId,
        /// How far side two has read.
        side_two_read: MessageId,
        /// Whether users still see the message (not hidden by a moderator, not removed).
        visible: bool,
    },
    /// A notice in a user's personal group.
    Notice {
        /// The user it was for.
        owner: UserId,
        /// How far they have read their personal group.
        read: MessageId,
        /// Whether it still shows (not retracted, not expired).
        visible: bool,
    },
}

/// What kind of place a missed message is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MissedKind {
    /// The user's support conversation (a staff reply).
    Support,
    /// A direct message (from another user or a persona).
    DirectMessage,
    /// An admin notice.
    Notice,
}

/// One user's unread messages of one place, in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissedItem {
    /// The kind of place.
    pub kind: MissedKind,
    /// The conversation (none for notices: they all live in the personal group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    /// How many unread messages of this window.
    pub unread: u32,
    /// When the first of them was sent.
    pub first_sent_at: DateTime<Utc>,
    /// When the last of them was sent.
    pub last_sent_at: DateTime<Utc>,
    /// The last of them.
    pub last_message_id: MessageId,
    /// Where the app should open the chat, relative to its own base URL.
    pub link: String,
    /// The last message's text, only when the deployment sends content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// The `data` of a `chat.missed_messages` webhook: one user's unread messages of one
/// digest window, grouped by place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissedMessages {
    /// The user to reach.
    pub user_id: UserId,
    /// The start of the digest window.
    pub window_start: DateTime<Utc>,
    /// Unread messages in all items.
    pub unread_total: u32,
    /// One item per place, support first, then DMs by conversation, then notices.
    pub items: Vec<MissedItem>,
}

/// A webhook event as the receiver gets it (the Standard Webhooks payload shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// The event id, sent as `webhook-id` on every attempt.
    #[serde(skip)]
    pub event_id: Uuid,
    /// Always `chat.missed_messages`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the digest was made.
    pub timestamp: DateTime<Utc>,
    /// What was missed.
    pub data: MissedMessages,
}

impl Digest {
    /// The event type of a missed-messages digest.
    pub const TYPE: &'static str = "chat.missed_messages";
}

/// A stored digest's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeliveryId(pub i64);

/// A digest claimed for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The event id (`webhook-id`).
    pub event_id: Uuid,
    /// The payload, exactly as stored (it is signed and sent byte for byte).
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// A digest that exhausted its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkedDelivery {
    /// Its id (to retry it).
    pub id: DeliveryId,
    /// The event id the receiver sees.
    pub event_id: Uuid,
    /// The user it is about.
    pub user_id: UserId,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure, as the dispatcher saw it.
    pub last_error: Option<String>,
    /// When the digest was made.
    pub created_at: DateTime<Utc>,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}
