//! The shared steps of posting, reading history and marking read.

use crate::access::{self, Author, Participants};
use crate::conversations::message::{Message, NewMessage};
use crate::conversations::paging::{HistoryQuery, Page};
use crate::conversations::ports::{Append, AppendTarget, Appended, ConversationRepository};
use crate::conversations::state::{ConversationState, Side};
use crate::error::RepoError;
use crate::ids::{ConversationId, MessageId};

/// A posted (or idempotently re-found) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The stored message.
    pub message: Message,
    /// Who is in the conversation: the audience of the event a new message causes.
    pub participants: Participants,
    /// `false` when a retry with the same `clientMessageId` found it already stored.
    pub created: bool,
    /// Whether the message changed the support conversation's status (a user message
    /// opens it, a staff reply makes it pending).
    pub status_changed: bool,
}

/// Why a message could not be appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The `clientMessageId` was already used in this conversation by someone else.
    #[error("this clientMessageId is already used by another sender in this conversation")]
    ClientIdReused,
    /// The same sender already stored another message (other content or type) with this
    /// `clientMessageId` here: a retry must repeat the request, not change it.
    #[error("this clientMessageId was already used for another message")]
    KeyReused,
    /// A block stands between the DM's users ([`AppendTarget::DmOf`] only).
    #[error("a block stands between the users of this conversation")]
    Blocked,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Appends a message, idempotently, in one step of the repository
/// ([`ConversationRepository::append`]); `Ok(None)` when the target names no
/// conversation.
///
/// The use case has decided who speaks and from which side; the effect on the
/// conversation (position, read state, unread counters, lifecycle) is
/// [`ConversationState::apply_message`], which the repository applies under the row's
/// lock and this function replays on the row as it was before, for the events. A retry
/// (the key is taken) reads the stored message, only then, and compares it.
///
/// The row the repository answers with is checked against what the target promised (the
/// author's side; for [`AppendTarget::DmOf`], a DM the author is one of the users of):
/// a mismatch is an internal error, which rolls the transaction back.
pub fn append_message(
    repo: &mut (impl ConversationRepository + ?Sized),
    target: AppendTarget,
    author: Author,
    new: &NewMessage,
) -> Result<Option<Sent>, AppendError> {
    let append = Append { target, author, body: new.body.clone(), client_id: new.client_message_id };
    match repo.append(&append)? {
        Appended::Missing => Ok(None),
        Appended::Blocked => Err(AppendError::Blocked),
        Appended::Stored { before, message } => {
            let mut state = before;
            let side = state.side_of(&author);
            let promised = match target.side() {
                Some(given) => given == side,
                None => own_dm(&state, &author),
            };
            if !promised {
                return Err(RepoError::internal("append: the row does not match the target").into());
            }
            let status_changed = state.apply_message(message.id, message.created_at, side);
            Ok(Some(Sent { message, participants: state.participants, created: true, status_changed }))
        }
        Appended::Duplicate { conversation } => {
            let key = new.client_message_id.ok_or_else(|| RepoError::internal("a duplicate without a key"))?;
            let existing = repo
                .find_by_client_id(conversation.id, key)?
                .ok_or_else(|| RepoError::internal("a duplicate key with no message"))?;
            if existing.author != author {
                Err(AppendError::ClientIdReused)
            } else if existing.kind != new.body.kind() || existing.content != new.body.content() {
                Err(AppendError::KeyReused)
            } else {
                let participants = conversation.participants;
                Ok(Some(Sent { message: existing, participants, created: false, status_changed: false }))
            }
        }
    }
}

/// Whether `state` is a DM `author` writes in as one of its users: what the repository
/// decides for [`AppendTarget::DmOf`].
fn own_dm(state: &ConversationState, author: &Author) -> bool {
    matches!(author, Author::User(user) if access::is_dm_user(*user, &state.participants))
}

/// A page of a conversation's history, or `Ok(None)` when the cursor names no message
/// of this conversation (answered like a missing conversation: a foreign message id
/// must not behave differently from a nonexistent one).
pub fn history(
    repo: &mut (impl ConversationRepository + ?Sized),
    id: ConversationId,
    query: &HistoryQuery,
) -> Result<Option<Page<Message>>, RepoError> {
    if let Some(cursor) = query.cursor()
        && repo.message_position(id, cursor)?.is_none()
    {
        return Ok(None);
    }
    let rows = repo.list_messages(id, query)?;
    Ok(Some(Page::from_overfetch(rows, query.limit(), |m| m.id)))
}

/// A side's read mark after a read: what the read event tells the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMark {
    /// Who is in the conversation.
    pub participants: Participants,
    /// Which conversation.
    pub conversation: ConversationId,
    /// Which side read.
    pub side: Side,
    /// Its read state now.
    pub state: crate::conversations::SideState,
}

impl ReadMark {
    /// The read mark of `side` in `state`.
    pub fn of(state: &ConversationState, side: Side) -> Self {
        Self { participants: state.participants, conversation: state.id, side, state: *state.side(side) }
    }
}

/// Moves `side`'s read mark to `upto` in a conversation locked by the caller, or
/// `Ok(None)` when `upto` is not a message of this conversation.
pub fn mark_read(
    repo: &mut (impl ConversationRepository + ?Sized),
    state: &mut ConversationState,
    side: Side,
    upto: MessageId,
) -> Result<Option<bool>, RepoError> {
    let Some(position) = repo.message_position(state.id, upto)? else {
        return Ok(None);
    };
    // Marks only move forward, in conversation order (by position, not by id).
    let current = match state.side(side).last_read {
        MessageId(0) => 0,
        last => repo.message_position(state.id, last)?.unwrap_or(0),
    };
    if position <= current {
        return Ok(Some(false));
    }
    let unread = repo.count_unread(state.id, side, upto)?;
    state.mark_read(side, upto, unread);
    repo.save_conversation(state)?;
    Ok(Some(true))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::conversations::message::{MessageBody, MessageKind};
    use crate::conversations::ports::MockConversationRepository;
    use crate::conversations::state::SideState;
    use crate::ids::{PersonaId, UserId};
    use crate::support::{SupportState, SupportStatus};

    const USER: UserId = UserId(7);
    const ADMIN: UserId = UserId(1);

    fn state() -> ConversationState {
        ConversationState {
            id: ConversationId(3),
            participants: Participants::Support { user: USER },
            persona: Some(PersonaId(2)),
            support: Some(SupportState { status: SupportStatus::Pending, assignee: None, waiting_since: None }),
            side_one: SideState::default(),
            side_two: SideState::default(),
            last_message_id: None,
            last_seq: 0,
            archived_one: None,
            archived_two: None,
            last_message_at: DateTime::<Utc>::MIN_UTC,
        }
    }

    fn stored(id: i64, author: Author, client: Option<Uuid>) -> Message {
        Message {
            id: MessageId(id),
            conversation_id: ConversationId(3),
            seq: id,
            author,
            sender_name: Some("Alice".into()),
            acting_admin_name: None,
            kind: MessageKind::Text,
            content: "hi".into(),
            client_message_id: client,
            created_at: Utc::now(),
            hidden: false,
        }
    }

    fn new(client: Option<Uuid>) -> NewMessage {
        NewMessage { body: MessageBody::parse(MessageKind::Text, "hi").unwrap(), client_message_id: client }
    }

    const HERE: AppendTarget = AppendTarget::Conversation(ConversationId(3), Side::One);
    const THERE: AppendTarget = AppendTarget::Conversation(ConversationId(3), Side::Two);

    fn stored_append(before: ConversationState, id: i64) -> impl FnMut(&Append) -> Result<Appended, RepoError> {
        move |a| Ok(Appended::Stored { before: before.clone(), message: stored(id, a.author, a.client_id) })
    }

    #[test]
    fn a_user_message_reopens_support_and_counts_for_the_team() {
        let mut repo = MockConversationRepository::new();
        repo.expect_append().withf(|a| a.target == HERE).times(1).returning(stored_append(state(), 10));
        repo.expect_find_by_client_id().never();
        let sent = append_message(&mut repo, HERE, Author::User(USER), &new(None)).unwrap().unwrap();
        assert!(sent.created);
        assert!(sent.status_changed, "pending -> open");
    }

    #[test]
    fn a_retry_returns_the_stored_message_and_writes_nothing() {
        let key = Uuid::new_v4();
        let mut repo = MockConversationRepository::new();
        repo.expect_append().times(1).returning(|_| Ok(Appended::Duplicate { conversation: state() }));
        repo.expect_find_by_client_id().returning(move |_, _| Ok(Some(stored(10, Author::User(USER), Some(key)))));
        let sent = append_message(&mut repo, HERE, Author::User(USER), &new(Some(key))).unwrap().unwrap();
        assert!(!sent.created);
        assert_eq!(sent.message.id, MessageId(10));
    }

    #[test]
    fn a_key_reused_by_the_same_sender_for_other_content_is_refused() {
        let key = Uuid::new_v4();
        let mut repo = MockConversationRepository::new();
        repo.expect_append().returning(|_| Ok(Appended::Duplicate { conversation: state() }));
        repo.expect_find_by_client_id().returning(move |_, _| Ok(Some(stored(10, Author::User(USER), Some(key)))));
        let other =
            NewMessage { body: MessageBody::parse(MessageKind::Text, "bye").unwrap(), client_message_id: Some(key) };
        let err = append_message(&mut repo, HERE, Author::User(USER), &other).unwrap_err();
        assert!(matches!(err, AppendError::KeyReused));
    }

    #[test]
    fn a_key_used_by_another_sender_is_a_conflict() {
        let key = Uuid::new_v4();
        let mut repo = MockConversationRepository::new();
        repo.expect_append().returning(|_| Ok(Appended::Duplicate { conversation: state() }));
        repo.expect_find_by_client_id().returning(move |_, _| Ok(Some(stored(10, Author::User(USER), Some(key)))));
        let team = Author::Team { admin: ADMIN };
        let err = append_message(&mut repo, THERE, team, &new(Some(key))).unwrap_err();
        assert!(matches!(err, AppendError::ClientIdReused));
    }

    #[test]
    fn a_staff_reply_makes_support_pending() {
        let mut before = state();
        before.support =
            Some(SupportState { status: SupportStatus::Open, assignee: None, waiting_since: Some(Utc::now()) });
        let mut repo = MockConversationRepository::new();
        repo.expect_append().returning(stored_append(before, 11));
        let persona = Author::Persona { persona: PersonaId(2), admin: ADMIN };
        let sent = append_message(&mut repo, THERE, persona, &new(None)).unwrap().unwrap();
        assert!(sent.status_changed, "open -> pending");
    }

    #[test]
    fn a_missing_conversation_is_none() {
        let mut repo = MockConversationRepository::new();
        repo.expect_append().returning(|_| Ok(Appended::Missing));
        let target = AppendTarget::SupportOf(USER);
        assert!(append_message(&mut repo, target, Author::User(USER), &new(None)).unwrap().is_none());
    }

    #[test]
    fn a_side_that_does_not_match_the_author_is_refused() {
        let mut repo = MockConversationRepository::new();
        repo.expect_append().returning(stored_append(state(), 12));
        let err = append_message(&mut repo, THERE, Author::User(USER), &new(None)).unwrap_err();
        assert!(matches!(err, AppendError::Repo(_)));
    }

    fn user_dm(a: UserId, b: UserId) -> ConversationState {
        ConversationState { participants: Participants::UserDm { a, b }, persona: None, support: None, ..state() }
    }

    #[test]
    fn a_dm_send_is_stored_from_either_users_side() {
        const OTHER: UserId = UserId(8);
        for before in [user_dm(USER, OTHER), user_dm(OTHER, USER)] {
            let participants = before.participants;
            let mut repo = MockConversationRepository::new();
            repo.expect_append()
                .withf(|a| a.target == AppendTarget::DmOf(ConversationId(3)) && a.target.side().is_none())
                .times(1)
                .returning(stored_append(before, 13));
            let target = AppendTarget::DmOf(ConversationId(3));
            let sent = append_message(&mut repo, target, Author::User(USER), &new(None)).unwrap().unwrap();
            assert!(sent.created);
            assert_eq!((sent.message.id, sent.participants), (MessageId(13), participants));
        }
    }

    #[test]
    fn a_dm_send_answered_with_a_row_the_author_is_not_in_is_refused() {
        // The repository promised a DM the author is a user of; anything else (another
        // pair's DM, a support conversation) is a broken adapter: roll back, store nothing.
        for before in [user_dm(UserId(8), UserId(9)), state()] {
            let mut repo = MockConversationRepository::new();
            repo.expect_append().returning(stored_append(before, 14));
            let target = AppendTarget::DmOf(ConversationId(3));
            let err = append_message(&mut repo, target, Author::User(USER), &new(None)).unwrap_err();
            assert!(matches!(err, AppendError::Repo(_)));
        }
    }

    #[test]
    fn a_blocked_dm_send_is_refused_and_reads_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_append().times(1).returning(|_| Ok(Appended::Blocked));
        repo.expect_find_by_client_id().never();
        let target = AppendTarget::DmOf(ConversationId(3));
        let err = append_message(&mut repo, target, Author::User(USER), &new(Some(Uuid::new_v4()))).unwrap_err();
        assert!(matches!(err, AppendError::Blocked));
    }

    #[test]
    fn the_model_applies_the_lifecycle_after_the_read_state() {
        let mut s = state();
        let at = Utc::now();
        assert!(s.apply_message(MessageId(5), at, Side::One));
        assert_eq!(s.support.unwrap().waiting_since, Some(at));
        assert_eq!((s.last_seq, s.side_two.unread), (1, 1));
        assert!(!s.apply_message(MessageId(6), at, Side::One), "already open");
        assert!(s.apply_message(MessageId(7), at, Side::Two));
        assert_eq!(
            s.support.unwrap(),
            SupportState { status: SupportStatus::Pending, assignee: None, waiting_since: None }
        );
    }

    #[test]
    fn a_foreign_cursor_reads_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_message_position().returning(|_, _| Ok(None));
        repo.expect_list_messages().never();
        let query = HistoryQuery::Older { before: Some(MessageId(99)), limit: 10 };
        assert_eq!(history(&mut repo, ConversationId(3), &query).unwrap(), None);
    }

    #[test]
    fn marking_read_recounts_unread_after_the_mark() {
        let mut repo = MockConversationRepository::new();
        repo.expect_message_position().returning(|_, id| Ok(Some(id.get())));
        repo.expect_count_unread()
            .withf(|_, side, after| *side == Side::One && *after == MessageId(5))
            .returning(|_, _, _| Ok(2));
        repo.expect_save_conversation().times(1).returning(|_| Ok(()));
        let mut s = state();
        s.side_one.unread = 4;
        assert_eq!(mark_read(&mut repo, &mut s, Side::One, MessageId(5)).unwrap(), Some(true));
        assert_eq!(s.side_one, SideState { last_read: MessageId(5), unread: 2 });
    }

    #[test]
    fn marks_follow_positions_not_ids() {
        // Moved-in history: message 90 sits at position 1, message 5 at position 3.
        let mut repo = MockConversationRepository::new();
        repo.expect_message_position().returning(|_, id| Ok(Some(if id == MessageId(90) { 1 } else { 3 })));
        repo.expect_count_unread().never();
        repo.expect_save_conversation().never();
        let mut s = state();
        s.side_one.last_read = MessageId(5);
        assert_eq!(mark_read(&mut repo, &mut s, Side::One, MessageId(90)).unwrap(), Some(false), "no step backwards");
    }

    #[test]
    fn marking_an_older_message_read_changes_nothing() {
        let mut repo = MockConversationRepository::new();
        repo.expect_message_position().returning(|_, id| Ok(Some(id.get())));
        repo.expect_count_unread().never();
        repo.expect_save_conversation().never();
        let mut s = state();
        s.side_one.last_read = MessageId(9);
        assert_eq!(mark_read(&mut repo, &mut s, Side::One, MessageId(5)).unwrap(), Some(false));
    }
}
