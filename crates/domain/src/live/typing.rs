//! Typing, by the rules of a send, blocks included, without reading the store on its
//! hot path: a socket remembers a [`NoBlock`] verdict per DM between users after the
//! first check ([`typing`]) and answers later typing from it ([`typing_without_store`])
//! until it ages out ([`NO_BLOCK_TTL`]) or a change of the pair's blocks voids it
//! ([`NoBlock::voided_by`]). The socket only keeps the verdicts; whether one answers is
//! decided here.

use std::time::{Duration, Instant};

use super::LiveError;
use crate::access::{self, Author, Denied, Participants, Voice};
use crate::direct_messages::DirectMessageRepository;
use crate::events::{ChatEvent, Done};
use crate::ids::{ConversationId, UserId};
use crate::principal::Principal;

/// How long a [`NoBlock`] verdict answers typing without reading the blocks again.
///
/// A block or unblock voids the pair's verdicts at once, on every instance
/// ([`ChatEvent::BlocksChanged`], through the hub and the fan-out between instances);
/// this age bounds how stale a verdict can be when that event is lost between
/// instances (the fan-out is best effort: Redis restarting or unreachable). A block then
/// stops the other side's typing within this time at most; their sends always read the
/// blocks and stop at once.
pub const NO_BLOCK_TTL: Duration = Duration::from_secs(30);

/// That no block stood, in either direction, between the two users of a DM when the
/// blocks were read: what a socket remembers per DM, so that typing there reads nothing
/// from the store while the verdict stands (younger than [`NO_BLOCK_TTL`], and not
/// [voided](Self::voided_by) by a change of the pair's blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoBlock {
    a: UserId,
    b: UserId,
    read_at: Instant,
}

impl NoBlock {
    /// Whether the verdict still answers for a conversation with `participants` at `now`:
    /// only for the DM of the pair it was read for, and only while it is young enough.
    fn stands_for(&self, participants: &Participants, now: Instant) -> bool {
        let same_pair = matches!(*participants, Participants::UserDm { a, b } if (a, b) == (self.a, self.b));
        same_pair && now.saturating_duration_since(self.read_at) < NO_BLOCK_TTL
    }

    /// Whether a change of the block of `blocker` on `blocked`
    /// ([`ChatEvent::BlocksChanged`]) voids this verdict: a block in either direction
    /// stops typing, so the pair counts, in either order.
    pub fn voided_by(&self, blocker: UserId, blocked: UserId) -> bool {
        (blocker, blocked) == (self.a, self.b) || (blocked, blocker) == (self.a, self.b)
    }
}

/// Who a typing indicator of `caller` is from, block aside: exactly where they may post
/// in their own voice (staff type as the conversation's persona or the team, never in
/// user-to-user DMs).
pub fn typing_voice(caller: &Principal, participants: &Participants) -> Result<Author, LiveError> {
    access::authorize_post(caller, participants, Voice::Own).map_err(|denied| match denied {
        Denied::NotVisible => LiveError::NotFound,
        Denied::ReadOnly | Denied::VoiceNotAllowed => LiveError::ReadOnly,
    })
}

/// Someone started or stopped typing, answered without the store where that is
/// enough: the event, if [`typing_voice`] allows it and no block can apply (anything
/// but a DM between users) or `verdict`, this DM's remembered [`NoBlock`], still
/// stands at `now`. `Ok(None)`: the blocks must be read, by [`typing`].
pub fn typing_without_store(
    caller: &Principal,
    conversation: ConversationId,
    participants: &Participants,
    verdict: Option<&NoBlock>,
    now: Instant,
    is_typing: bool,
) -> Result<Option<Done<()>>, LiveError> {
    let author = typing_voice(caller, participants)?;
    let blocks_unknown = matches!(participants, Participants::UserDm { .. })
        && !verdict.is_some_and(|verdict| verdict.stands_for(participants, now));
    if blocks_unknown {
        return Ok(None);
    }
    let event = typing_event(conversation, participants, author, is_typing);
    Ok(Some(Done::new((), vec![event])))
}

/// Someone started or stopped typing, the blocks read from the store: the event, if
/// [`typing_author`] allows it, and for a DM between users the [`NoBlock`] verdict the
/// socket may remember (aged from `now`, taken before the read, so its age is never
/// understated).
pub fn typing(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    conversation: ConversationId,
    participants: &Participants,
    now: Instant,
    is_typing: bool,
) -> Result<Done<Option<NoBlock>>, LiveError> {
    let author = typing_author(repo, caller, participants)?;
    let verdict = match *participants {
        Participants::UserDm { a, b } => Some(NoBlock { a, b, read_at: now }),
        _ => None,
    };
    Ok(Done::new(verdict, vec![typing_event(conversation, participants, author, is_typing)]))
}

fn typing_event(
    conversation: ConversationId,
    participants: &Participants,
    author: Author,
    is_typing: bool,
) -> ChatEvent {
    ChatEvent::Typing { participants: *participants, conversation, author, is_typing }
}

/// Who a typing indicator of `caller` in a conversation with `participants` is from, if
/// they may type there: [`typing_voice`], and nobody while a block stands between a
/// DM's users.
pub fn typing_author(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    participants: &Participants,
) -> Result<Author, LiveError> {
    let author = typing_voice(caller, participants)?;
    if let Participants::UserDm { a, b } = *participants
        && (repo.is_blocked(a, b)? || repo.is_blocked(b, a)?)
    {
        return Err(LiveError::Blocked);
    }
    Ok(author)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct_messages::test_support::MockRepo;
    use crate::ids::PersonaId;

    const ALICE: UserId = UserId(1);
    const BOB: UserId = UserId(2);
    const CAROL: UserId = UserId(3);
    const ADMIN: Principal = Principal::admin(UserId(9));

    #[test]
    fn typing_follows_the_rules_of_a_send() {
        let mut repo = MockRepo::new();
        repo.expect_is_blocked().returning(|blocker, _| Ok(blocker == BOB));
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        assert!(matches!(typing_author(&mut repo, &ADMIN, &dm), Err(LiveError::ReadOnly)));
        assert!(matches!(typing_author(&mut repo, &Principal::user(ALICE), &dm), Err(LiveError::Blocked)));
        let stranger = Principal::user(UserId(5));
        assert!(matches!(typing_author(&mut repo, &stranger, &dm), Err(LiveError::NotFound)));
        let persona = Participants::PersonaDm { user: ALICE, persona: PersonaId(3) };
        let staff = typing_author(&mut repo, &ADMIN, &persona).unwrap();
        assert!(staff.is_staff(), "the team types as the persona");
        let mut open = MockRepo::new();
        open.expect_is_blocked().times(2).returning(|_, _| Ok(false));
        assert_eq!(typing_author(&mut open, &Principal::user(ALICE), &dm).unwrap(), Author::User(ALICE));
    }

    /// A socket's typing frames, as the API answers them: from the remembered verdict
    /// while it stands, through the store otherwise (remembering the new verdict).
    struct Socket {
        caller: Principal,
        verdict: Option<NoBlock>,
    }

    impl Socket {
        fn type_in(&mut self, repo: &mut MockRepo, dm: &Participants, now: Instant) -> Result<Done<()>, LiveError> {
            let conversation = ConversationId(4);
            if let Some(done) = typing_without_store(&self.caller, conversation, dm, self.verdict.as_ref(), now, true)?
            {
                return Ok(done);
            }
            let done = typing(repo, &self.caller, conversation, dm, now, true)?;
            self.verdict = done.value;
            Ok(Done::new((), done.events))
        }
    }

    #[test]
    fn the_blocks_are_not_read_again_while_a_verdict_stands() {
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        let mut repo = MockRepo::new();
        // One check reads both directions, once.
        repo.expect_is_blocked().times(2).returning(|_, _| Ok(false));
        let mut alice = Socket { caller: Principal::user(ALICE), verdict: None };
        let start = Instant::now();
        for second in 0..NO_BLOCK_TTL.as_secs() {
            let done = alice.type_in(&mut repo, &dm, start + Duration::from_secs(second)).unwrap();
            assert!(matches!(done.events[..], [ChatEvent::Typing { author: Author::User(ALICE), .. }]));
        }
        repo.checkpoint();

        // Aged out: the next frame reads the blocks again, and now finds Bob's block.
        repo.expect_is_blocked().times(1..=2).returning(|blocker, _| Ok(blocker == BOB));
        let late = alice.type_in(&mut repo, &dm, start + NO_BLOCK_TTL);
        assert!(matches!(late, Err(LiveError::Blocked)), "{late:?}");
    }

    #[test]
    fn a_change_of_the_pairs_blocks_either_way_voids_the_verdict() {
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        let mut repo = MockRepo::new();
        repo.expect_is_blocked().times(2).returning(|_, _| Ok(false));
        let now = Instant::now();
        let verdict = typing(&mut repo, &Principal::user(BOB), ConversationId(4), &dm, now, true).unwrap().value;
        let verdict = verdict.expect("a DM between users gives a verdict");
        assert!(verdict.voided_by(ALICE, BOB) && verdict.voided_by(BOB, ALICE));
        assert!(!verdict.voided_by(ALICE, CAROL) && !verdict.voided_by(CAROL, BOB), "another pair's block");
    }

    #[test]
    fn a_verdict_answers_only_for_its_own_dm_and_never_past_the_send_rules() {
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        let mut repo = MockRepo::new();
        repo.expect_is_blocked().times(2).returning(|_, _| Ok(false));
        let now = Instant::now();
        let verdict = typing(&mut repo, &Principal::user(ALICE), ConversationId(4), &dm, now, true).unwrap().value;
        let alice = Principal::user(ALICE);
        let other_dm = Participants::UserDm { a: ALICE, b: CAROL };
        let elsewhere = typing_without_store(&alice, ConversationId(5), &other_dm, verdict.as_ref(), now, true);
        assert!(matches!(elsewhere, Ok(None)), "another DM reads its own blocks: {elsewhere:?}");
        let staff = typing_without_store(&ADMIN, ConversationId(4), &dm, verdict.as_ref(), now, true);
        assert!(matches!(staff, Err(LiveError::ReadOnly)), "{staff:?}");
        let stranger =
            typing_without_store(&Principal::user(CAROL), ConversationId(4), &dm, verdict.as_ref(), now, true);
        assert!(matches!(stranger, Err(LiveError::NotFound)), "{stranger:?}");
    }

    #[test]
    fn where_no_block_can_apply_typing_needs_no_verdict_and_gives_none() {
        let support = Participants::Support { user: ALICE };
        let now = Instant::now();
        let done = typing_without_store(&ADMIN, ConversationId(4), &support, None, now, true).unwrap();
        let done = done.expect("no block applies to a support conversation");
        assert!(matches!(done.events[..], [ChatEvent::Typing { author: Author::Team { .. }, .. }]));
        let mut repo = MockRepo::new();
        repo.expect_is_blocked().never();
        let through_store = typing(&mut repo, &Principal::user(ALICE), ConversationId(4), &support, now, true).unwrap();
        assert_eq!(through_store.value, None, "nothing to remember where no block applies");
    }
}
