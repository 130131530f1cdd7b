//! The conversation repository port, shared by every conversation kind.

use uuid::Uuid;

use crate::access::Author;
use crate::conversations::message::{Message, MessageBody};
use crate::conversations::paging::HistoryQuery;
use crate::conversations::state::{ConversationState, Side};
use crate::error::RepoError;
use crate::ids::{ConversationId, MessageId, UserId};

/// Which conversation a message goes to, and from which side the author speaks there:
/// the side whose read mark moves to the new message (the other side gets one more
/// unread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendTarget {
    /// This conversation, the author on this side ([`ConversationState::side_of`]): the
    /// use case read the row and authorized the author first.
    Conversation(ConversationId, Side),
    /// The support conversation of this user, who speaks from side one (found by the
    /// unique index on its owner, so a user's send needs no lookup first);
    /// [`Appended::Missing`] until it exists.
    SupportOf(UserId),
    /// A DM as one of its users, the author ([`Author::User`]), on their side of it: the
    /// append itself decides what a user's DM send would otherwise read first, so the
    /// send needs no read before it. A DM the author is not one of the users of is
    /// [`Appended::Missing`], exactly like one that does not exist; a user-to-user DM
    /// with a block between its users (either way) is [`Appended::Blocked`].
    DmOf(ConversationId),
}

impl AppendTarget {
    /// The author's side when the target names it; `None` for [`Self::DmOf`], whose
    /// side is the author's in the DM the append finds.
    pub const fn side(&self) -> Option<Side> {
        match self {
            Self::Conversation(_, side) => Some(*side),
            Self::SupportOf(_) => Some(Side::One),
            Self::DmOf(_) => None,
        }
    }
}

/// One message to append, as the use case decided it: who speaks, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// Where, and from which side.
    pub target: AppendTarget,
    /// Who speaks (authorized by the use case, or by the target for
    /// [`AppendTarget::DmOf`]).
    pub author: Author,
    /// The validated body.
    pub body: MessageBody,
    /// The client's idempotency key.
    pub client_id: Option<Uuid>,
}

/// What [`ConversationRepository::append`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored: the conversation's row as it was just before (read under its lock),
    /// and the new message.
    Stored {
        /// The row before the message.
        before: ConversationState,
        /// The stored message.
        message: Message,
    },
    /// The idempotency key is already used in this conversation; nothing was written.
    Duplicate {
        /// The conversation's row (read under its lock).
        conversation: ConversationState,
    },
    /// No such conversation (for [`AppendTarget::DmOf`]: none the author is a user of).
    Missing,
    /// [`AppendTarget::DmOf`] only: a block stands between the DM's users; nothing was
    /// written.
    Blocked,
}

/// Storage of conversations' messages and state.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ConversationRepository {
    /// Locks the conversation's row until the transaction ends and returns its state, or
    /// `Ok(None)` when it does not exist. Every change to a conversation starts here, so
    /// messages of one conversation are inserted (and their ids assigned) in commit order.
    fn lock_conversation(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError>;

    /// Reads the conversation's state without locking it, or `Ok(None)`.
    fn conversation_state(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError>;

    /// Writes back read state, lifecycle and last-message fields changed under the lock.
    fn save_conversation(&mut self, state: &ConversationState) -> Result<(), RepoError>;

    /// The message stored earlier in this conversation with this idempotency key.
    fn find_by_client_id(&mut self, id: ConversationId, client_id: Uuid) -> Result<Option<Message>, RepoError>;

    /// Appends one message and applies its effect to the conversation row, atomically
    /// and in one step (the adapter: one statement).
    ///
    /// The effect MUST equal [`ConversationState::apply_message`] on the row as it was
    /// just before, under the row's lock: the message gets `last_seq + 1`, and read
    /// state, unread counters, last message, archive marks and the support lifecycle
    /// change as that model says. The adapter MUST return:
    /// - [`Appended::Stored`] with the row as it was before (locked) and the stored message;
    /// - [`Appended::Duplicate`] when `client_id` is already used in this conversation
    ///   (the unique index decides, also against a concurrent append that committed
    ///   while this one waited for the lock); then nothing was written;
    /// - [`Appended::Missing`] when the target names no conversation, and for
    ///   [`AppendTarget::DmOf`] when the author is not one of the DM's users (the
    ///   participant rule of `direct_messages::user`: a user DM's two users, a persona
    ///   DM's user);
    /// - [`Appended::Blocked`] for [`AppendTarget::DmOf`] in a user-to-user DM while
    ///   either user blocks the other (checked before the key: a blocked retry is
    ///   blocked); then nothing was written.
    ///
    /// The side the message counts from is the target's ([`AppendTarget::side`]), for
    /// [`AppendTarget::DmOf`] the author's in the DM found.
    fn append(&mut self, append: &Append) -> Result<Appended, RepoError>;

    /// The position (`seq`) of `message` in conversation `id`, or `Ok(None)` when it is not
    /// a message of that conversation. Positions, not ids, order a conversation: history
    /// moved in by the legacy migration has larger ids than newer messages.
    fn message_position(&mut self, id: ConversationId, message: MessageId) -> Result<Option<i64>, RepoError>;

    /// Up to `limit + 1` messages of the slice `query` names, in conversation order
    /// (newest first for `Older`, oldest first for `Newer`).
    fn list_messages(&mut self, id: ConversationId, query: &HistoryQuery) -> Result<Vec<Message>, RepoError>;

    /// How many messages *not* from `reader`'s side came after the message `after`.
    fn count_unread(&mut self, id: ConversationId, reader: Side, after: MessageId) -> Result<i64, RepoError>;
}
