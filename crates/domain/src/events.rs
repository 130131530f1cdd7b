//! What happened, for the real-time layer: the events use cases cause, and the port
//! that publishes them.
//!
//! Events are published after the transaction that caused them has committed, never
//! inside it, and a failed publication never fails the write: PostgreSQL stays the
//! truth, and clients that missed an event catch up by resuming from their last seen
//! position in each conversation.

use chrono::{DateTime, Utc};

use crate::access::{Author, Participants};
use crate::conversations::{Message, Side, SideState};
use crate::ids::{ConversationId, UserId};
use crate::notes::Note;
use crate::notifications::{NotificationId, NotificationStyle};

/// Who a notification event reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// These users (each in their personal group).
    Users(Vec<UserId>),
    /// Every user.
    Everyone,
}

impl From<&crate::notifications::Audience> for Recipients {
    fn from(audience: &crate::notifications::Audience) -> Self {
        match audience {
            crate::notifications::Audience::User(user) => Self::Users(vec![*user]),
            crate::notifications::Audience::Users(users) => Self::Users(users.clone()),
            crate::notifications::Audience::AllUsers => Self::Everyone,
        }
    }
}

/// Something a connected client may need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A message was stored.
    MessageCreated {
        /// Who is in the conversation.
        participants: Participants,
        /// The message.
        message: Message,
    },
    /// A moderator hid a message: clients replace it (users see it hidden, without its
    /// content; admins see it marked hidden).
    MessageHidden {
        /// Who is in the conversation.
        participants: Participants,
        /// The message, now hidden.
        message: Message,
    },
    /// A conversation's status, assignee or existence changed; clients refetch it.
    ConversationUpdated {
        /// Who is in the conversation.
        participants: Participants,
        /// Which one.
        conversation: ConversationId,
    },
    /// Someone is typing (ephemeral: dropped first under pressure, never replayed).
    Typing {
        /// Who is in the conversation.
        participants: Participants,
        /// Which one.
        conversation: ConversationId,
        /// Who types (for staff, the admin; users only ever see the persona or team).
        author: Author,
        /// Started or stopped.
        is_typing: bool,
    },
    /// An admin notice landed in its recipients' personal groups.
    NotificationCreated {
        /// Who received it.
        recipients: Recipients,
        /// Which notice.
        notification: NotificationId,
        /// Its text.
        content: String,
        /// How it looks.
        style: NotificationStyle,
        /// When it disappears, if ever.
        expires_at: Option<DateTime<Utc>>,
    },
    /// A notice was retracted: it is gone for every recipient.
    NotificationRetracted {
        /// Who had received it.
        recipients: Recipients,
        /// Which notice.
        notification: NotificationId,
    },
    /// An admin added an internal note: it reaches staff only (the team's feed and admins
    /// who joined the conversation, [`crate::access::note_watchers`]), never a
    /// participant, and has no user rendering at all.
    NoteAdded {
        /// Who is in the conversation (to find the team's feed, never to reach them).
        participants: Participants,
        /// The note.
        note: Note,
    },
    /// A side moved its read mark.
    Read {
        /// Who is in the conversation.
        participants: Participants,
        /// Which one.
        conversation: ConversationId,
        /// Which side read.
        side: Side,
        /// The new read state of that side.
        state: SideState,
        /// The reader (an admin, for the team's side).
        reader: UserId,
    },
    /// A block between two users was made or lifted. Never shown to anyone: the sockets
    /// of both users (on every instance) drop what they remember about blocks between
    /// them ([`crate::live::NoBlock`]), so their next typing in the pair's DM reads the
    /// blocks afresh. A block in either direction counts: the pair, not its order.
    BlocksChanged {
        /// Who made or lifted the block.
        blocker: UserId,
        /// Whom it is about.
        blocked: UserId,
    },
}

impl ChatEvent {
    /// The event a [`crate::conversations::Sent`] causes, if the message is new.
    pub fn for_sent(sent: &crate::conversations::Sent) -> Option<Self> {
        sent.created.then(|| Self::MessageCreated { participants: sent.participants, message: sent.message.clone() })
    }

    /// The event of a read mark moved by `reader` (an admin, for the team's side).
    pub const fn of_read(mark: &crate::conversations::ReadMark, reader: UserId) -> Self {
        Self::Read {
            participants: mark.participants,
            conversation: mark.conversation,
            side: mark.side,
            state: mark.state,
            reader,
        }
    }

    /// The `ConversationUpdated` a [`crate::conversations::Sent`] causes, if the message
    /// changed the support conversation's status.
    pub fn status_change_of(sent: &crate::conversations::Sent) -> Option<Self> {
        sent.status_changed.then_some(Self::ConversationUpdated {
            participants: sent.participants,
            conversation: sent.message.conversation_id,
        })
    }
}

/// What a write use case returns: its result and the events it caused, which the caller
/// publishes once the transaction has committed (never inside it, and never failing
/// the write).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "the events of a committed use case must be published"]
pub struct Done<T> {
    /// The use case's result.
    pub value: T,
    /// What it caused, in order.
    pub events: Vec<ChatEvent>,
}

impl<T> Done<T> {
    /// A result and its events.
    pub const fn new(value: T, events: Vec<ChatEvent>) -> Self {
        Self { value, events }
    }

    /// A result that caused nothing anyone is told about live.
    pub const fn quiet(value: T) -> Self {
        Self { value, events: Vec::new() }
    }
}

impl Done<crate::conversations::Sent> {
    /// A send: the new message (a retry causes nothing), then the support conversation's
    /// status change, if the message caused one.
    pub fn sent(sent: crate::conversations::Sent) -> Self {
        let events = [ChatEvent::for_sent(&sent), ChatEvent::status_change_of(&sent)].into_iter().flatten().collect();
        Self { value: sent, events }
    }
}

impl Done<crate::conversations::ReadMark> {
    /// A read mark moved by `reader` (an admin, for the team's side).
    pub fn read(mark: crate::conversations::ReadMark, reader: UserId) -> Self {
        let event = ChatEvent::of_read(&mark, reader);
        Self { value: mark, events: vec![event] }
    }
}

/// Delivers events to connected clients (in-process, or across instances).
///
/// Implementations MUST NOT block and MUST NOT fail the caller: delivery is best effort,
/// and clients recover anything lost by resuming from PostgreSQL.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EventPublisher: Send + Sync {
    /// Publishes an event that has been committed.
    fn publish(&self, event: ChatEvent);
}
