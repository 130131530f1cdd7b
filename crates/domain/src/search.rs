//! Full-text search over the conversations a caller may read.
//!
//! A user's search covers their support conversation and their DMs, nothing else;
//! an admin's search covers every conversation, and each DM it reveals is written to
//! the staff access log in the same transaction.

use crate::conversations::Message;
use crate::direct_messages::DirectMessageRepository;
use crate::error::RepoError;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::principal::Principal;
use crate::values::text_value;

text_value!(
    /// Search words: 1..=200 characters on one line (web-search syntax: quotes, `-word`).
    SearchText, max = 200, multiline = false
);

/// Whose conversations a search covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// The conversations this user is a participant of.
    Participant(UserId),
    /// Every conversation (admins).
    Everything,
}

/// What kind of conversation a hit is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    /// A support conversation.
    Support,
    /// Two users.
    UserDm,
    /// A user and a persona.
    PersonaDm,
}

/// One matching message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The message.
    pub message: Message,
    /// Its conversation's kind.
    pub kind: HitKind,
    /// A short plain-text excerpt around the match.
    pub snippet: String,
}

/// A search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words.
    pub text: SearchText,
    /// Only hits older than this message (the previous page's cursor).
    pub before: Option<MessageId>,
    /// Page size, 1..=100.
    pub limit: u16,
}

/// Storage-side search.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SearchRepository {
    /// Up to `limit + 1` hits within `scope`, newest first. Implementations MUST NOT
    /// return messages outside `scope`, nor hidden messages for a participant scope.
    fn search_messages(&mut self, scope: SearchScope, query: &SearchQuery) -> Result<Vec<SearchHit>, RepoError>;
}

/// The access-log action for an admin search revealing a DM.
pub const SEARCH_ACCESS: &str = "search";

fn page(mut hits: Vec<SearchHit>, limit: u16) -> (Vec<SearchHit>, Option<MessageId>) {
    let has_more = hits.len() > usize::from(limit);
    hits.truncate(usize::from(limit));
    let next = if has_more { hits.last().map(|h| h.message.id) } else { None };
    (hits, next)
}

/// Searches the caller's own conversations (for admins too: their own).
pub fn search_mine(
    repo: &mut (impl SearchRepository + ?Sized),
    caller: &Principal,
    query: &SearchQuery,
) -> Result<(Vec<SearchHit>, Option<MessageId>), RepoError> {
    let hits = repo.search_messages(SearchScope::Participant(caller.user_id), query)?;
    Ok(page(hits, query.limit))
}

/// Why an admin search failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminSearchError {
    /// Only admins search everything.
    #[error("admins only")]
    Forbidden,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Searches every conversation (admins); logs each DM revealed.
pub fn search_everything(
    repo: &mut (impl SearchRepository + DirectMessageRepository + ?Sized),
    caller: &Principal,
    query: &SearchQuery,
) -> Result<(Vec<SearchHit>, Option<MessageId>), AdminSearchError> {
    if !caller.is_admin() {
        return Err(AdminSearchError::Forbidden);
    }
    let (hits, next) = page(repo.search_messages(SearchScope::Everything, query)?, query.limit);
    let mut logged: Vec<ConversationId> = Vec::new();
    for hit in hits.iter().filter(|h| matches!(h.kind, HitKind::UserDm | HitKind::PersonaDm)) {
        if !logged.contains(&hit.message.conversation_id) {
            repo.record_access(caller.user_id, hit.message.conversation_id, SEARCH_ACCESS)?;
            logged.push(hit.message.conversation_id);
        }
    }
    Ok((hits, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_trimmed_bounded_and_single_line() {
        assert_eq!(SearchText::parse("  refund  ").unwrap().as_str(), "refund");
        assert!(SearchText::parse(" ").is_err());
        assert!(SearchText::parse(&"a".repeat(201)).is_err());
        assert!(SearchText::parse("a\nb").is_err());
    }

    #[test]
    fn a_user_search_is_scoped_to_the_caller() {
        let mut repo = MockSearchRepository::new();
        repo.expect_search_messages()
            .withf(|scope, _| *scope == SearchScope::Participant(UserId(4)))
            .times(1)
            .returning(|_, _| Ok(Vec::new()));
        let query = SearchQuery { text: SearchText::parse("x").unwrap(), before: None, limit: 10 };
        search_mine(&mut repo, &Principal::admin(UserId(4)), &query).unwrap();
    }
}
