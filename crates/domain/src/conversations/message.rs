//! Messages and their validated bodies.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::Author;
use crate::ids::{ConversationId, MessageId, PersonaId, UserId};
use crate::values::{HttpsUrl, MessageContent, ValueError};

/// What a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Plain text.
    Text,
    /// An image, by https URL.
    Image,
    /// A link, by https URL.
    Link,
    /// An admin notification (personal groups only; never sent through a conversation).
    Notification,
}

impl MessageKind {
    /// The stored and serialized name (the seed plan's words).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Link => "link",
            Self::Notification => "notification",
        }
    }

    /// Parses a stored name.
    pub fn from_db(raw: &str) -> Option<Self> {
        [Self::Text, Self::Image, Self::Link, Self::Notification].into_iter().find(|k| k.as_str() == raw)
    }
}

/// A validated message body: text content, or an https URL for images and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody {
    kind: MessageKind,
    content: String,
}

impl MessageBody {
    /// Validates `raw` for `kind`.
    pub fn parse(kind: MessageKind, raw: &str) -> Result<Self, ValueError> {
        let content = match kind {
            MessageKind::Text => MessageContent::parse(raw)?.into_inner(),
            MessageKind::Image | MessageKind::Link => HttpsUrl::parse(raw)?.into_inner(),
            MessageKind::Notification => {
                return Err(ValueError::new(
                    "not_allowed",
                    "notifications are sent through the notifications API, not as messages",
                ));
            }
        };
        Ok(Self { kind, content })
    }

    /// Its kind.
    pub const fn kind(&self) -> MessageKind {
        self.kind
    }

    /// Its content (text, or the URL).
    pub fn content(&self) -> &str {
        &self.content
    }
}

/// A validated request to post a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The body.
    pub body: MessageBody,
    /// The client's idempotency key: a retry with the same key returns the stored message.
    pub client_message_id: Option<Uuid>,
}

/// A stored message, with the names a view needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id; ids grow with commit order within a conversation.
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its position in the conversation: 1, 2, 3... with no gap, in commit order.
    pub seq: i64,
    /// Who it is from (for staff messages, including the acting admin).
    pub author: Author,
    /// The display name of the user or persona; `None` for the team ("Support").
    pub sender_name: Option<String>,
    /// The acting admin's display name (admin views only).
    pub acting_admin_name: Option<String>,
    /// Its kind.
    pub kind: MessageKind,
    /// Its content as sent.
    pub content: String,
    /// The client's idempotency key, if any.
    pub client_message_id: Option<Uuid>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Whether a moderator hid it (users see no content).
    pub hidden: bool,
}

/// A real user as shown in headers and lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// Their display name.
    pub display_name: String,
    /// Their profile photo (headers only, never in bubbles).
    pub profile_photo_url: Option<String>,
}

/// A persona as shown in headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonaSummary {
    /// Its id.
    pub id: PersonaId,
    /// Its name.
    pub name: String,
    /// Its avatar.
    pub avatar_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_links_must_be_https_urls() {
        assert!(MessageBody::parse(MessageKind::Image, "https://cdn.example.com/a.png").is_ok());
        assert_eq!(MessageBody::parse(MessageKind::Link, "see https://x.com").unwrap_err().code, "invalid_url");
        assert_eq!(MessageBody::parse(MessageKind::Image, "http://x.com/a.png").unwrap_err().code, "not_https");
    }

    #[test]
    fn text_follows_content_rules_and_notifications_are_refused() {
        assert_eq!(MessageBody::parse(MessageKind::Text, "  hi ").unwrap().content(), "hi");
        assert_eq!(MessageBody::parse(MessageKind::Text, "").unwrap_err().code, "empty");
        assert_eq!(MessageBody::parse(MessageKind::Notification, "x").unwrap_err().code, "not_allowed");
    }
}
