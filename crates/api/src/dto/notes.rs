//! Internal notes, as admins see them. There is no user view of a note at all: the user
//! views ([`Message`](crate::dto::messages::Message) and the socket's user frames) are
//! built from messages only, and a note is not a message, so a note cannot reach a user
//! payload without a compile error:
//!
//! ```compile_fail
//! fn leak(note: chat_domain::notes::Note) -> chat_api::dto::messages::Message {
//!     chat_api::dto::messages::Message::from(note)
//! }
//! ```
//!
//! ```compile_fail
//! fn leak(note: chat_domain::notes::Note) -> chat_api::dto::messages::MessagePage {
//!     chat_api::dto::messages::MessagePage::from(chat_domain::conversations::Page { items: vec![note], next_cursor: None })
//! }
//! ```

use chat_domain::notes::{AdminHistory, NewNote, Note};
use chat_domain::values::MessageContent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Violations;
use super::messages::{AdminMessage, example_admin_message, example_admin_question};
use crate::extract::Validated;
use crate::problem::ApiError;

/// Adds an internal note (admins only; users never see it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "content": "Called her back: the new address needs a confirmation link, sent.",
    "clientNoteId": "5d1c7a52-7f3e-4b8e-9a51-0c2b5e6f7a81"
}))]
pub struct AddNoteRequest {
    /// Text, with the rules of a text message (1..=4000 characters after trimming).
    #[schema(
        min_length = 1,
        max_length = 4000,
        example = "Called her back: the new address needs a confirmation link, sent."
    )]
    pub content: String,
    /// A UUID chosen by the client; a retry with the same id returns the stored note.
    #[schema(example = "5d1c7a52-7f3e-4b8e-9a51-0c2b5e6f7a81")]
    pub client_note_id: Option<Uuid>,
}

impl Validated for AddNoteRequest {
    type Domain = NewNote;

    fn validated(self) -> Result<NewNote, ApiError> {
        let mut v = Violations::default();
        let content = v.check("content", MessageContent::parse(&self.content));
        v.finish(|| Some(NewNote { content: content?, client_note_id: self.client_note_id }))
    }
}

/// The admin who wrote a note.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteAuthor {
    /// The admin's user id.
    #[schema(example = 6)]
    pub id: i32,
    /// Their display name.
    #[schema(example = "Ada (Admin)")]
    pub display_name: String,
}

/// The marker of a note among messages.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// An internal note.
    Note,
}

/// An internal note: staff-only, placed after the message whose `seq` is `afterSeq`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_note)]
pub struct AdminNote {
    /// Always `note` (tells a note from a message where a client merges the two).
    pub kind: NoteKind,
    /// Its id (notes have ids of their own, not message ids).
    #[schema(example = 31)]
    pub id: i64,
    /// Its conversation.
    #[schema(example = 17)]
    pub conversation_id: i64,
    /// The `seq` of the newest message when it was written (`0`: before any message):
    /// show it after that message and before the next one.
    #[schema(example = 6)]
    pub after_seq: i64,
    /// Who wrote it.
    pub author: NoteAuthor,
    /// The text, as written.
    #[schema(example = "Called her back: the new address needs a confirmation link, sent.")]
    pub content: String,
    /// The author's idempotency key, if any.
    pub client_note_id: Option<Uuid>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl From<Note> for AdminNote {
    fn from(n: Note) -> Self {
        Self {
            kind: NoteKind::Note,
            id: n.id.get(),
            conversation_id: n.conversation_id.get(),
            after_seq: n.after_seq,
            author: NoteAuthor { id: n.author.get(), display_name: n.author_name.unwrap_or_default() },
            content: n.content,
            client_note_id: n.client_note_id,
            created_at: n.created_at,
        }
    }
}

/// A page of history as admins see it: the messages, and the internal notes written
/// among them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_admin_history_page)]
pub struct AdminHistoryPage {
    /// Newest first (or oldest first when paging with `after`).
    pub items: Vec<AdminMessage>,
    /// Pass as `before` (or `after`) for the next page; `null` on the last.
    pub next_cursor: Option<i64>,
    /// The notes written among this page's messages, in the same order as `items`: a
    /// note goes right after the message whose `seq` is its `afterSeq`. The page with
    /// the first message also holds the notes written before any message, the page with
    /// the newest message every later one, so paging shows each note once.
    pub notes: Vec<AdminNote>,
}

impl From<AdminHistory> for AdminHistoryPage {
    fn from(history: AdminHistory) -> Self {
        let AdminHistory { page, notes } = history;
        Self {
            next_cursor: page.next_cursor.map(|id| id.get()),
            items: page.map(AdminMessage::from).items,
            notes: notes.into_iter().map(AdminNote::from).collect(),
        }
    }
}

/// A note written after the answer of the shared example (Ada to her colleagues).
pub(crate) fn example_note() -> Value {
    json!({
        "kind": "note",
        "id": 31,
        "conversationId": 17,
        "afterSeq": 6,
        "author": {"id": 6, "displayName": "Ada (Admin)"},
        "content": "Called her back: the new address needs a confirmation link, sent.",
        "clientNoteId": "5d1c7a52-7f3e-4b8e-9a51-0c2b5e6f7a81",
        "createdAt": "2026-11-24T09:35:00Z"
    })
}

fn example_admin_history_page() -> Value {
    json!({
        "items": [example_admin_message(), example_admin_question()],
        "nextCursor": 1042,
        "notes": [example_note()]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_example_is_a_valid_note() {
        let example = json!({
            "content": "Called her back: the new address needs a confirmation link, sent.",
            "clientNoteId": "5d1c7a52-7f3e-4b8e-9a51-0c2b5e6f7a81"
        });
        let request: AddNoteRequest = serde_json::from_value(example).unwrap();
        assert!(request.validated().is_ok());
    }

    #[test]
    fn notes_follow_the_text_rules_of_messages() {
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(4001)] {
            let request = AddNoteRequest { content: bad.to_owned(), client_note_id: None };
            let error = request.validated().unwrap_err();
            assert!(format!("{error:?}").contains("content"), "{bad:?}: {error:?}");
        }
    }
}
