//! Use cases of the live door that name only a conversation: typing ([`typing()`]), and a
//! read mark whose side depends on who reads. The REST routes name the side in their URL
//! (`/support/read`, `/admin/chat/support/{id}/read`, ...); a socket frame does not, so
//! the routing is a rule of its own, decided here and nowhere else.

mod typing;

pub use self::typing::{NO_BLOCK_TTL, NoBlock, typing, typing_author, typing_voice, typing_without_store};

use crate::access::{self, Participants};
use crate::conversations::{ConversationRepository, Message, ReadMark, ReplayRepository, Side, mark_read};
use crate::error::RepoError;
use crate::events::Done;
use crate::ids::{ConversationId, MessageId};
use crate::principal::Principal;

/// Why a live request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No such conversation, or none the caller may use this way: the same answer.
    #[error("not found")]
    NotFound,
    /// Staff read user-to-user DMs but never write (or type) in them.
    #[error("this conversation is read-only for the caller")]
    ReadOnly,
    /// A block between the two users stops posting, and so typing.
    #[error("you can no longer send messages in this conversation")]
    Blocked,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The participants of conversation `id`, if `caller` may read it (a socket's joins and
/// typing; a conversation the caller may not see is the same `NotFound` as a missing
/// one).
pub fn readable_participants(
    repo: &mut (impl ReplayRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
) -> Result<Participants, LiveError> {
    repo.conversation_position(id)?
        .map(|(participants, _)| participants)
        .filter(|participants| access::can_read(caller, participants))
        .ok_or(LiveError::NotFound)
}

/// The messages of conversation `id` with `after < seq <= upto`, in order, and its
/// participants: what a socket that saw a `seq` jump missed (an event lost between
/// instances). `Ok(None)` when the caller may not read it or it is gone.
pub fn missed_messages(
    repo: &mut (impl ReplayRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    after: i64,
    upto: i64,
) -> Result<Option<(Participants, Vec<Message>)>, RepoError> {
    let Some((participants, _)) = repo.conversation_position(id)? else {
        return Ok(None);
    };
    if !access::can_read(caller, &participants) {
        return Ok(None);
    }
    Ok(Some((participants, repo.messages_after(id, after, upto - after)?)))
}

/// The side `caller` reads as: participants read their own side; admins who are not
/// participants read as the team (side two) in support conversations and persona DMs;
/// nobody has a side in someone else's user-to-user DM, and a personal group's reads
/// go through its own route.
pub fn reader_side(caller: &Principal, participants: &Participants) -> Option<Side> {
    match *participants {
        Participants::Support { user } | Participants::PersonaDm { user, .. } if user == caller.user_id => {
            Some(Side::One)
        }
        Participants::Support { .. } | Participants::PersonaDm { .. } => caller.is_admin().then_some(Side::Two),
        Participants::UserDm { a, .. } if a == caller.user_id => Some(Side::One),
        Participants::UserDm { b, .. } if b == caller.user_id => Some(Side::Two),
        Participants::UserDm { .. } | Participants::PersonalGroup { .. } => None,
    }
}

/// Moves the caller's read mark in conversation `id` to `upto`, on the side
/// [`reader_side`] gives them (the socket's `read`).
pub fn mark_read_as_reader(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    upto: MessageId,
) -> Result<Done<ReadMark>, LiveError> {
    let mut state = repo.lock_conversation(id)?.ok_or(LiveError::NotFound)?;
    let side = reader_side(caller, &state.participants).ok_or(LiveError::NotFound)?;
    mark_read(repo, &mut state, side, upto)?.ok_or(LiveError::NotFound)?;
    Ok(Done::read(ReadMark::of(&state, side), caller.user_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct_messages::test_support::{MockRepo, dm_state, persona_dm_state};
    use crate::ids::{PersonaId, UserId};

    const ALICE: UserId = UserId(1);
    const BOB: UserId = UserId(2);
    const ADMIN: Principal = Principal::admin(UserId(9));

    #[test]
    fn readers_are_routed_to_their_side_by_participant_type() {
        let user = Principal::user(ALICE);
        let support = Participants::Support { user: ALICE };
        let persona = Participants::PersonaDm { user: ALICE, persona: PersonaId(3) };
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        assert_eq!(reader_side(&user, &support), Some(Side::One));
        assert_eq!(reader_side(&ADMIN, &support), Some(Side::Two));
        assert_eq!(reader_side(&user, &persona), Some(Side::One));
        assert_eq!(reader_side(&ADMIN, &persona), Some(Side::Two), "the team reads persona DMs");
        assert_eq!(reader_side(&Principal::user(BOB), &dm), Some(Side::Two));
        assert_eq!(reader_side(&Principal::admin(BOB), &dm), Some(Side::Two), "an admin in their own DM");
        assert_eq!(reader_side(&ADMIN, &dm), None, "no team side in user DMs");
        assert_eq!(reader_side(&Principal::user(BOB), &support), None);
        assert_eq!(reader_side(&user, &Participants::PersonalGroup { owner: ALICE }), None);
    }

    #[test]
    fn a_socket_reads_only_what_its_caller_may_read() {
        let mut repo = MockRepo::new();
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        repo.expect_conversation_position().returning(move |_| Ok(Some((dm, 3))));
        repo.expect_messages_after()
            .withf(|_, after, limit| (*after, *limit) == (1, 2))
            .returning(|_, _, _| Ok(Vec::new()));
        let stranger = Principal::user(UserId(5));
        assert!(matches!(readable_participants(&mut repo, &stranger, ConversationId(4)), Err(LiveError::NotFound)));
        assert_eq!(readable_participants(&mut repo, &ADMIN, ConversationId(4)).unwrap(), dm);
        assert_eq!(missed_messages(&mut repo, &stranger, ConversationId(4), 1, 3).unwrap(), None);
        let missed = missed_messages(&mut repo, &Principal::user(ALICE), ConversationId(4), 1, 3).unwrap();
        assert_eq!(missed, Some((dm, Vec::new())));
    }

    #[test]
    fn an_admin_marks_a_persona_dm_read_for_the_team() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(persona_dm_state(id, ALICE, PersonaId(3)))));
        repo.expect_message_position().returning(|_, _| Ok(Some(1)));
        repo.expect_count_unread().withf(|_, side, _| *side == Side::Two).returning(|_, _, _| Ok(0));
        repo.expect_save_conversation().times(1).returning(|_| Ok(()));
        let mark = mark_read_as_reader(&mut repo, &ADMIN, ConversationId(4), MessageId(5)).unwrap().value;
        assert_eq!((mark.side, mark.state.last_read), (Side::Two, MessageId(5)));
    }

    #[test]
    fn nobody_marks_a_conversation_they_have_no_side_in() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, ALICE, BOB))));
        repo.expect_save_conversation().never();
        let err = mark_read_as_reader(&mut repo, &ADMIN, ConversationId(4), MessageId(5)).unwrap_err();
        assert!(matches!(err, LiveError::NotFound));
    }
}
