//! Use cases of a DM's participants: list, open, read, write, mark read, archive.
//!
//! A DM id the caller is not in answers exactly like one that does not exist.

use chrono::{DateTime, Utc};

use crate::access::{self, Author};
use crate::conversations::{
    AppendError, AppendTarget, ConversationRepository, ConversationState, HistoryQuery, Message, NewMessage, Page,
    ReadMark, Sent, append_message, history, mark_read,
};
use crate::direct_messages::model::{DmCursor, DmListQuery, DmSummary};
use crate::direct_messages::ports::DirectMessageRepository;
use crate::error::RepoError;
use crate::events::Done;
use crate::ids::{ConversationId, MessageId};
use crate::principal::Principal;

/// Why a participant's DM request failed.
#[derive(Debug, thiserror::Error)]
pub enum UserDmError {
    /// No DM with this id that the caller is in (or a cursor outside it).
    #[error("not found")]
    NotFound,
    /// A block between the two users stops new messages.
    #[error("you can no longer send messages in this conversation")]
    Blocked,
    /// The `clientMessageId` is already used by another sender in this conversation.
    #[error("clientMessageId already used by another sender")]
    ClientIdReused,
    /// The caller already sent another message with this `clientMessageId` here.
    #[error("clientMessageId already used for another message")]
    KeyReused,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<AppendError> for UserDmError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::ClientIdReused => Self::ClientIdReused,
            AppendError::KeyReused => Self::KeyReused,
            AppendError::Repo(e) => Self::Repo(e),
            AppendError::Blocked => Self::Blocked,
        }
    }
}

/// The DM's state if it is a DM the caller is in.
fn participant_state(state: Option<ConversationState>, caller: &Principal) -> Result<ConversationState, UserDmError> {
    state.filter(|s| access::is_dm_user(caller.user_id, &s.participants)).ok_or(UserDmError::NotFound)
}

/// A page of the caller's DMs, most recent activity first, and the next cursor.
pub fn list_dms(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    query: &DmListQuery,
) -> Result<(Vec<DmSummary>, Option<DmCursor>), RepoError> {
    let mut rows = repo.list_user_dms(caller.user_id, query)?;
    let has_more = rows.len() > usize::from(query.limit);
    rows.truncate(usize::from(query.limit));
    let next = if has_more { rows.last().map(|r| DmCursor(r.last_message_at, r.id)) } else { None };
    Ok((rows, next))
}

/// One DM the caller is in.
pub fn get_dm(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
) -> Result<DmSummary, UserDmError> {
    repo.dm_summary(id)?
        .filter(|dm| {
            dm.user_one.id == caller.user_id
                || matches!(&dm.other, crate::direct_messages::DmParty::User(u) if u.id == caller.user_id)
        })
        .ok_or(UserDmError::NotFound)
}

/// A page of a DM's history.
pub fn dm_history(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    query: &HistoryQuery,
) -> Result<Page<Message>, UserDmError> {
    participant_state(repo.conversation_state(id)?, caller)?;
    history(repo, id, query)?.ok_or(UserDmError::NotFound)
}

/// Posts in a DM as one of its users; refused while either user blocks the other.
///
/// One step: the append finds the DM only when the caller is one of its users (else
/// `NotFound`, as for a DM that does not exist), refuses it while a block stands between
/// a user DM's users, and takes the caller's side ([`AppendTarget::DmOf`]). Nothing is
/// read first, so group commit runs this send in its batch's one statement.
pub fn send_dm_message(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    new: &NewMessage,
) -> Result<Done<Sent>, UserDmError> {
    let author = Author::User(caller.user_id);
    let sent = append_message(repo, AppendTarget::DmOf(id), author, new)?.ok_or(UserDmError::NotFound)?;
    Ok(Done::sent(sent))
}

/// Moves the caller's read mark in a DM.
pub fn mark_dm_read(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    upto: MessageId,
) -> Result<Done<ReadMark>, UserDmError> {
    let mut state = participant_state(repo.lock_conversation(id)?, caller)?;
    let side = state.reader_side(caller.user_id, true);
    mark_read(repo, &mut state, side, upto)?.ok_or(UserDmError::NotFound)?;
    Ok(Done::read(ReadMark::of(&state, side), caller.user_id))
}

/// Archives (`archived`) or brings back a DM for the caller only, at `now`.
///
/// Bringing one back is remembered, so that the idle-archive task does not archive
/// that side again before it has been idle for a whole period since.
pub fn set_dm_archived(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    archived: bool,
    now: DateTime<Utc>,
) -> Result<DmSummary, UserDmError> {
    let mut state = participant_state(repo.lock_conversation(id)?, caller)?;
    let side = state.reader_side(caller.user_id, true);
    if archived {
        state.set_archived(side, Some(now));
        repo.save_conversation(&state)?;
    } else if state.archived(side).is_some() {
        state.set_archived(side, None);
        repo.save_conversation(&state)?;
        repo.note_brought_back(id, side, now)?;
    }
    repo.dm_summary(id)?.ok_or(UserDmError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Author;
    use crate::conversations::{Appended, MessageBody, MessageKind, Side};
    use crate::direct_messages::test_support::{MockRepo, dm_state};
    use crate::ids::UserId;

    fn text() -> NewMessage {
        NewMessage { body: MessageBody::parse(MessageKind::Text, "hi").unwrap(), client_message_id: None }
    }

    #[test]
    fn a_dm_the_caller_is_not_a_user_of_is_not_found_and_nothing_is_read_first() {
        // The append decides (the adapter's statement; `append_model` and the API tests
        // check it against PostgreSQL): here it answers as for an outsider.
        for caller in [Principal::user(UserId(3)), Principal::admin(UserId(4))] {
            let mut repo = MockRepo::new();
            repo.expect_conversation_state().never();
            repo.expect_is_blocked().never();
            repo.expect_append()
                .withf(move |a| {
                    a.target == AppendTarget::DmOf(ConversationId(1)) && a.author == Author::User(caller.user_id)
                })
                .times(1)
                .returning(|_| Ok(Appended::Missing));
            let err = send_dm_message(&mut repo, &caller, ConversationId(1), &text());
            assert!(matches!(err, Err(UserDmError::NotFound)), "admins use the admin routes");
        }
    }

    #[test]
    fn a_block_stops_new_messages() {
        let mut repo = MockRepo::new();
        repo.expect_append().times(1).returning(|_| Ok(Appended::Blocked));
        let err = send_dm_message(&mut repo, &Principal::user(UserId(1)), ConversationId(1), &text());
        assert!(matches!(err, Err(UserDmError::Blocked)));
    }

    #[test]
    fn both_users_post_as_themselves_and_a_message_unarchives() {
        let archived = |id| {
            let mut s = dm_state(id, UserId(1), UserId(2));
            s.archived_one = Some(Utc::now());
            s
        };
        for user in [UserId(1), UserId(2)] {
            let mut repo = MockRepo::new();
            repo.expect_append().withf(move |a| a.author == Author::User(user)).times(1).returning(move |a| {
                let message = crate::support::test_support::message(5, a.author);
                Ok(Appended::Stored { before: archived(ConversationId(1)), message })
            });
            let sent = send_dm_message(&mut repo, &Principal::user(user), ConversationId(1), &text()).unwrap().value;
            assert!(sent.created);
            let mut after = archived(ConversationId(1));
            let side = after.side_of(&Author::User(user));
            after.apply_message(sent.message.id, sent.message.created_at, side);
            assert!(after.archived_one.is_none(), "the model unarchives");
            assert_eq!(after.side(side).unread, 0);
        }
    }

    #[test]
    fn archiving_is_per_side() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_save_conversation()
            .withf(|s| s.archived_two.is_some() && s.archived_one.is_none())
            .times(1)
            .returning(|_| Ok(()));
        repo.expect_dm_summary().returning(|id| Ok(Some(crate::direct_messages::test_support::summary(id))));
        repo.expect_note_brought_back().never();
        set_dm_archived(&mut repo, &Principal::user(UserId(2)), ConversationId(1), true, Utc::now()).unwrap();
    }

    #[test]
    fn unarchiving_brings_back_only_the_callers_side_and_is_remembered() {
        let mut repo = MockRepo::new();
        let archived_at = Utc::now() - chrono::Duration::days(30);
        repo.expect_lock_conversation().returning(move |id| {
            let mut s = dm_state(id, UserId(1), UserId(2));
            s.archived_one = Some(archived_at);
            s.archived_two = Some(archived_at);
            Ok(Some(s))
        });
        repo.expect_save_conversation()
            .withf(move |s| s.archived_one.is_none() && s.archived_two == Some(archived_at))
            .times(1)
            .returning(|_| Ok(()));
        let now = Utc::now();
        repo.expect_note_brought_back()
            .withf(move |id, side, at| *id == ConversationId(1) && *side == Side::One && *at == now)
            .times(1)
            .returning(|_, _, _| Ok(()));
        repo.expect_dm_summary().returning(|id| Ok(Some(crate::direct_messages::test_support::summary(id))));
        set_dm_archived(&mut repo, &Principal::user(UserId(1)), ConversationId(1), false, now).unwrap();
    }

    #[test]
    fn unarchiving_an_active_dm_changes_nothing() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_save_conversation().never();
        repo.expect_note_brought_back().never();
        repo.expect_dm_summary().returning(|id| Ok(Some(crate::direct_messages::test_support::summary(id))));
        set_dm_archived(&mut repo, &Principal::user(UserId(2)), ConversationId(1), false, Utc::now()).unwrap();
    }

    #[test]
    fn outsiders_cannot_archive_or_unarchive() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_save_conversation().never();
        repo.expect_note_brought_back().never();
        for archived in [true, false] {
            let err = set_dm_archived(&mut repo, &Principal::user(UserId(3)), ConversationId(1), archived, Utc::now());
            assert!(matches!(err, Err(UserDmError::NotFound)));
        }
    }
}
