//! Adding a note: admins only, on support conversations and persona DMs; idempotent by
//! the author's `clientNoteId`; the conversation itself is left untouched.

use crate::access::{self, Denied};
use crate::conversations::ConversationRepository;
use crate::error::RepoError;
use crate::events::{ChatEvent, Done};
use crate::ids::ConversationId;
use crate::notes::model::{NewNote, Note, NoteAdded, NoteTarget};
use crate::notes::ports::NoteRepository;
use crate::principal::Principal;

/// Why a note could not be added.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// No conversation the route may name has this id.
    #[error("not found")]
    NotFound,
    /// A conversation between two users: admins never write there, notes included.
    #[error("admins never write in conversations between users")]
    ReadOnly,
    /// The author already used this `clientNoteId` for another note (other text, or
    /// another conversation): a retry must repeat its request.
    #[error("clientNoteId already used for another note")]
    KeyReused,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Adds an admin's note to conversation `id` (of the kind `target` names). Reads the
/// conversation's position without locking it and writes nothing but the note: no
/// status, read state or last message changes, so a note never makes a support
/// conversation `pending` nor counts as unread. The note's event goes to the team only.
pub fn add_note(
    repo: &mut (impl ConversationRepository + NoteRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    target: NoteTarget,
    new: &NewNote,
) -> Result<Done<NoteAdded>, NoteError> {
    if !caller.is_admin() {
        return Err(NoteError::Forbidden);
    }
    let state = repo.conversation_state(id)?.filter(|s| target.names(&s.participants)).ok_or(NoteError::NotFound)?;
    let participants = state.participants;
    access::may_note(caller, &participants).map_err(|denied| match denied {
        Denied::NotVisible => NoteError::NotFound,
        Denied::ReadOnly | Denied::VoiceNotAllowed => NoteError::ReadOnly,
    })?;
    let retry = |existing: Note| {
        if existing.conversation_id == id && existing.content == new.content.as_str() {
            Ok(Done::quiet(NoteAdded { note: existing, participants, created: false }))
        } else {
            Err(NoteError::KeyReused)
        }
    };
    if let Some(client_id) = new.client_note_id
        && let Some(existing) = repo.find_note_by_client_id(caller.user_id, client_id)?
    {
        return retry(existing);
    }
    let stored = repo.insert_note(id, caller.user_id, new.content.as_str(), new.client_note_id, state.last_seq)?;
    match (stored, new.client_note_id) {
        (Some(note), _) => {
            let event = ChatEvent::NoteAdded { participants, note: note.clone() };
            Ok(Done::new(NoteAdded { note, participants, created: true }, vec![event]))
        }
        // A concurrent retry with the same key stored it first.
        (None, Some(client_id)) => match repo.find_note_by_client_id(caller.user_id, client_id)? {
            Some(existing) => retry(existing),
            None => Err(RepoError::internal("a note's idempotency key conflicted, but no note holds it").into()),
        },
        (None, None) => Err(RepoError::internal("a note without idempotency key was not stored").into()),
    }
}
