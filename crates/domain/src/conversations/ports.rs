//! The conversation repository port, shared by every conversation kind.

use uuid::Uuid;

use crate::access::Author;
use crate::conversations::message::{Message, MessageBody};
use crate::conversations::paging::HistoryQuery;
use crate::conversations::state::{ConversationState, Side};
use crate::error::RepoError;
use crate::ids::{ConversationId, MessageId};

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

    /// Stores a message at position `seq` (the conversation's next, under its lock) and
    /// returns it with its id, time and names.
    fn insert_message(
        &mut self,
        id: ConversationId,
        seq: i64,
        author: &Author,
        body: &MessageBody,
        client_id: Option<Uuid>,
    ) -> Result<Message, RepoError>;

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
