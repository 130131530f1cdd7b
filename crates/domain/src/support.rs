//! Support conversations: each user's private thread with the support team.
//!
//! A user's conversation is created on first access and shown as "Help & Support".
//! Admins work a queue of them and answer as a persona or as the team; the acting admin
//! is recorded and shown to admins only. Lifecycle: a user message makes it `open`
//! (reopening a resolved one), a staff reply makes it `pending`, an admin may resolve
//! it, and pending conversations resolve themselves after an idle time.

mod admin;
mod hours;
mod lifecycle;
mod model;
mod ports;
mod user;

pub use self::admin::{
    AdminSupportError, ReplyError, SupportPatch, Voice as ReplyVoice, auto_resolve, get_support, mark_team_read,
    reply_to_support, support_history as admin_support_history, support_queue, update_support,
};
pub use self::hours::SupportHours;
pub use self::lifecycle::{SupportState, SupportStatus};
pub use self::model::{AssigneeFilter, QueueCursor, QueueQuery, QueueStatus, SupportConversation, SupportSettings};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockSupportRepository;
pub use self::ports::SupportRepository;
pub use self::user::{
    OpenSupportError, UserSupportError, mark_support_read, open_support, send_support_message, support_history,
};

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::Utc;

    use super::SupportState;
    use crate::access::{Author, Participants};
    use crate::conversations::{ConversationState, Message, MessageKind, SideState};

    use crate::ids::{ConversationId, MessageId, UserId};

    pub(crate) use crate::test_repo::MockRepo;

    /// A support conversation of `user`, open with nobody waiting.
    pub(crate) fn state(user: UserId) -> ConversationState {
        ConversationState {
            id: ConversationId(1),
            participants: Participants::Support { user },
            persona: None,
            support: Some(SupportState::new()),
            side_one: SideState::default(),
            side_two: SideState::default(),
            last_message_id: None,
            last_seq: 0,
            archived_one: None,
            archived_two: None,
            last_message_at: Utc::now(),
        }
    }

    /// A stored text message.
    pub(crate) fn message(id: i64, author: Author) -> Message {
        Message {
            id: MessageId(id),
            conversation_id: ConversationId(1),
            seq: id,
            author,
            sender_name: None,
            acting_admin_name: None,
            kind: MessageKind::Text,
            content: "hello".into(),
            client_message_id: None,
            created_at: Utc::now(),
            hidden: false,
        }
    }
}
