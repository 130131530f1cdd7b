//! Notes as written and stored.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::Participants;
use crate::ids::{ConversationId, UserId};
use crate::values::MessageContent;

/// A row of `chat_internal_notes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NoteId(pub i64);

impl NoteId {
    /// The raw database value.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for NoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A validated request to add a note: text with the rules of a text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    /// The text (1..=4000 characters, as a message's).
    pub content: MessageContent,
    /// The author's idempotency key: a retry with the same key returns the stored note.
    pub client_note_id: Option<Uuid>,
}

/// A stored note. There is deliberately no conversion from a note into a message: the
/// user views of the API are built from [`crate::conversations::Message`] only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Its id.
    pub id: NoteId,
    /// Its conversation (a support conversation or a persona DM).
    pub conversation_id: ConversationId,
    /// The admin who wrote it.
    pub author: UserId,
    /// The admin's display name.
    pub author_name: Option<String>,
    /// The text, as written.
    pub content: String,
    /// The author's idempotency key, if any.
    pub client_note_id: Option<Uuid>,
    /// The `seq` of the conversation's newest message when the note was written (0: before
    /// any message): the note sits after that message in the admin history.
    pub after_seq: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A note added (or idempotently re-found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteAdded {
    /// The note.
    pub note: Note,
    /// Who is in the conversation (the note's event goes to the team's feed only).
    pub participants: Participants,
    /// `false` when a retry with the same `clientNoteId` found it already stored.
    pub created: bool,
}

/// Which conversations a route takes notes for: a route family's ids must not open
/// another family's conversations (a persona DM id on the support route is a 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteTarget {
    /// Support conversations (`/api/admin/chat/support/{id}/notes`).
    Support,
    /// DMs (`/api/admin/chat/direct-messages/{id}/notes`): persona DMs take notes, user
    /// DMs refuse them (admins never write in those).
    Dm,
    /// Either (the socket's `add-note`, whose frame names only a conversation).
    Any,
}

impl NoteTarget {
    /// Whether a conversation with these participants is one this route may name.
    pub const fn names(self, participants: &Participants) -> bool {
        matches!(
            (self, participants),
            (Self::Support | Self::Any, Participants::Support { .. })
                | (Self::Dm | Self::Any, Participants::UserDm { .. } | Participants::PersonaDm { .. })
        )
    }
}
