//! The admin histories with their notes: a page of messages, and the notes written among
//! those messages.

use crate::conversations::{ConversationRepository, HistoryQuery, Message, Page};
use crate::direct_messages::{AdminDmError, DirectMessageRepository};
use crate::error::RepoError;
use crate::ids::{ConversationId, MessageId};
use crate::notes::model::Note;
use crate::notes::ports::NoteRepository;
use crate::principal::Principal;
use crate::support::AdminSupportError;

/// A page of history as admins see it: the messages, and the notes among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminHistory {
    /// The messages.
    pub page: Page<Message>,
    /// The notes that belong to this page ([`notes_of_page`]), in the page's order.
    pub notes: Vec<Note>,
}

/// The notes that belong to a page of history, in the page's order (newest first for
/// `before` pages, oldest first for `after` pages).
///
/// A note belongs to the page holding the message it was written after (its
/// `after_seq`). The page holding the conversation's first message also takes the notes
/// written before any message, and the page holding its newest message every later
/// note; an empty page without a cursor (a conversation without messages) takes all.
/// Paging through a whole history therefore shows every note exactly once.
pub fn notes_of_page(
    repo: &mut (impl NoteRepository + ?Sized),
    id: ConversationId,
    page: &Page<Message>,
    query: &HistoryQuery,
) -> Result<Vec<Note>, RepoError> {
    let (holds_first, holds_last) = match *query {
        HistoryQuery::Older { before, .. } => (page.next_cursor.is_none(), before.is_none()),
        HistoryQuery::Newer { after, .. } => (after == MessageId(0), page.next_cursor.is_none()),
    };
    let seqs = || page.items.iter().map(|m| m.seq);
    let range = match (seqs().min(), seqs().max()) {
        (Some(lo), Some(hi)) => Some((if holds_first { 0 } else { lo }, if holds_last { i64::MAX } else { hi })),
        _ if query.cursor().is_none() => Some((0, i64::MAX)),
        // An empty page past a cursor: its notes are on the page of the cursor's side.
        _ => None,
    };
    let Some((from, to)) = range else { return Ok(Vec::new()) };
    let mut notes = repo.notes_between(id, from, to)?;
    if matches!(query, HistoryQuery::Older { .. }) {
        notes.reverse();
    }
    Ok(notes)
}

/// A page of a support conversation's history with its notes (admins only).
pub fn admin_support_history_with_notes(
    repo: &mut (impl ConversationRepository + NoteRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    query: &HistoryQuery,
) -> Result<AdminHistory, AdminSupportError> {
    let page = crate::support::admin_support_history(&mut *repo, caller, id, query)?;
    let notes = notes_of_page(repo, id, &page, query)?;
    Ok(AdminHistory { page, notes })
}

/// A page of a DM's history with its notes (admins only; the read is logged as by
/// [`crate::direct_messages::admin_dm_history`]). Only persona DMs have notes.
pub fn admin_dm_history_with_notes(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + NoteRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    query: &HistoryQuery,
) -> Result<AdminHistory, AdminDmError> {
    let page = crate::direct_messages::admin_dm_history(&mut *repo, caller, id, query)?;
    let notes = notes_of_page(repo, id, &page, query)?;
    Ok(AdminHistory { page, notes })
}
