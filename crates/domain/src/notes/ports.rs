//! The note repository port.
//!
//! Notes live in a table of their own, so that no message query can return one. The
//! port therefore has no method that reads messages, and the message ports none that
//! reads notes.

use uuid::Uuid;

use crate::error::RepoError;
use crate::ids::{ConversationId, UserId};
use crate::notes::model::Note;

/// Storage of internal notes.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait NoteRepository {
    /// The note `author` stored earlier with this idempotency key (in any conversation).
    fn find_note_by_client_id(&mut self, author: UserId, client_id: Uuid) -> Result<Option<Note>, RepoError>;

    /// Stores a note after position `after_seq` and returns it with its id, time and the
    /// author's name. MUST return `Ok(None)`, storing nothing, when `author` already has a
    /// note with `client_id` (a concurrent retry won the race).
    fn insert_note(
        &mut self,
        conversation: ConversationId,
        author: UserId,
        content: &str,
        client_id: Option<Uuid>,
        after_seq: i64,
    ) -> Result<Option<Note>, RepoError>;

    /// The notes of a conversation whose `after_seq` lies in `from..=to`, in
    /// conversation order (`after_seq`, then id), oldest first.
    fn notes_between(&mut self, conversation: ConversationId, from: i64, to: i64) -> Result<Vec<Note>, RepoError>;
}
