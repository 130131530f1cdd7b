//! Use case: start a DM (get-or-create), the avatar click in a group.

use chrono::Utc;

use crate::conversations::ConversationRepository;
use crate::direct_messages::model::{DmSettings, DmSummary, DmTarget};
use crate::direct_messages::ports::DirectMessageRepository;
use crate::error::RepoError;
use crate::events::{ChatEvent, Done};
use crate::ids::UserId;
use crate::principal::Principal;

/// Why a DM could not be started. Each rule has its own variant (and problem code),
/// except that being blocked answers exactly like sharing no group: the answer must not
/// reveal the block.
#[derive(Debug, thiserror::Error)]
pub enum StartDmError {
    /// The caller named themselves.
    #[error("you cannot start a conversation with yourself")]
    SelfTarget,
    /// No such user, or no active persona with this id.
    #[error("not found")]
    NotFound,
    /// The users share no group (or the target blocked the caller: indistinguishable).
    #[error("you can only message people who share a group with you")]
    NoSharedGroup,
    /// The caller has blocked the target; unblock first.
    #[error("you blocked this user")]
    YouBlocked,
    /// The persona does not take DMs.
    #[error("this persona does not take direct messages")]
    PersonaDmDisabled,
    /// The caller already has the maximum number of active DMs.
    #[error("you already have {max} active conversations")]
    LimitReached {
        /// The limit.
        max: i64,
    },
    /// The target user already has the maximum number of active DMs, so a new one
    /// cannot be opened with them (an existing DM is still returned).
    #[error("this person cannot take new conversations right now")]
    TargetLimitReached,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Whether one user can reach another with a DM at all (before any limit): the facts
/// a start checks first, and a group's member list checks per member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// The target is the caller.
    pub is_self: bool,
    /// The target exists.
    pub known: bool,
    /// The caller has blocked the target.
    pub you_blocked: bool,
    /// The target has blocked the caller.
    pub they_blocked: bool,
    /// They are members of a common active main or other group.
    pub share_group: bool,
}

impl Reach {
    /// The caller themselves.
    pub const MYSELF: Self =
        Self { is_self: true, known: true, you_blocked: false, they_blocked: false, share_group: true };

    /// Refuses a target the caller cannot reach. A block by the target answers exactly
    /// like sharing no group: the answer must not reveal the block.
    pub const fn check(self) -> Result<(), StartDmError> {
        if self.is_self {
            Err(StartDmError::SelfTarget)
        } else if !self.known {
            Err(StartDmError::NotFound)
        } else if self.you_blocked {
            Err(StartDmError::YouBlocked)
        } else if !self.share_group || self.they_blocked {
            Err(StartDmError::NoSharedGroup)
        } else {
            Ok(())
        }
    }
}

/// Whether a start has room under the active-DM limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// The DM that exists already: `Some(true)` when the caller archived it.
    pub existing: Option<bool>,
    /// The caller's active DMs (read only when the start would add one for them).
    pub caller_active: i64,
    /// The target user's active DMs (read only when a new DM is needed; personas have
    /// no limit: `None`).
    pub target_active: Option<i64>,
}

impl Room {
    /// Whether the start needs the caller's count: a new DM, or one they archived.
    pub const fn counts_for_caller(existing: Option<bool>) -> bool {
        !matches!(existing, Some(false))
    }

    /// Refuses a start beyond a limit. Re-opening an active DM always works; bringing
    /// back an archived one counts for the caller; a new DM between two users counts for
    /// both.
    pub const fn check(self, settings: &DmSettings) -> Result<(), StartDmError> {
        if !Self::counts_for_caller(self.existing) {
            return Ok(());
        }
        if self.caller_active >= settings.max_active {
            return Err(StartDmError::LimitReached { max: settings.max_active });
        }
        match (self.existing, self.target_active) {
            (None, Some(target)) if target >= settings.max_active => Err(StartDmError::TargetLimitReached),
            _ => Ok(()),
        }
    }
}

/// What decides whether the caller may start a DM with one other user, read for a whole
/// page of group members at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmProspect {
    /// The other user.
    pub user: UserId,
    /// Whether the caller can reach them.
    pub reach: Reach,
    /// Their DM with the caller, if any: `Some(true)` when the caller archived it.
    pub existing: Option<bool>,
    /// Their active DMs.
    pub active: i64,
}

impl DmProspect {
    /// Whether starting a DM with this user would succeed for a caller with
    /// `caller_active` active DMs.
    pub fn allows(&self, caller_active: i64, settings: &DmSettings) -> bool {
        let room = Room { existing: self.existing, caller_active, target_active: Some(self.active) };
        may_start_user_dm(self.reach, room, settings).is_ok()
    }
}

/// Whether a start with a user would succeed, given everything it checks: the one rule
/// behind both [`start_dm`] and a group member's `canDm`, so the two cannot disagree.
pub fn may_start_user_dm(reach: Reach, room: Room, settings: &DmSettings) -> Result<(), StartDmError> {
    reach.check()?;
    room.check(settings)
}

/// Gets or creates the DM between the caller and `target`; `true` when created.
///
/// Re-opening an existing DM that the caller archived brings it back, which counts
/// toward the active limit like creating one. A new DM between two users counts for
/// both, so it needs room under the limit on both sides; both users' starts are
/// serialized (in id order, so that two people starting with each other cannot
/// deadlock), which makes each limit exact under concurrency. Each fact is read only
/// when the rule ([`Reach::check`], [`Room::check`]) still needs it.
pub fn start_dm(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    target: DmTarget,
    settings: &DmSettings,
) -> Result<Done<(DmSummary, bool)>, StartDmError> {
    let me = caller.user_id;
    match target {
        DmTarget::User(other) => {
            let reach = if other == me {
                Reach::MYSELF
            } else {
                let known = repo.user_is_known(other)?;
                let you_blocked = known && repo.is_blocked(me, other)?;
                let share_group = known && !you_blocked && repo.share_a_group(me, other)?;
                let they_blocked = share_group && repo.is_blocked(other, me)?;
                Reach { is_self: false, known, you_blocked, they_blocked, share_group }
            };
            reach.check()?;
        }
        DmTarget::Persona(persona) => match repo.persona_dm_enabled(persona)? {
            None => return Err(StartDmError::NotFound),
            Some(false) => return Err(StartDmError::PersonaDmDisabled),
            Some(true) => {}
        },
    }
    match target {
        DmTarget::User(other) => {
            repo.lock_dm_starts(me.min(other))?;
            repo.lock_dm_starts(me.max(other))?;
        }
        DmTarget::Persona(_) => repo.lock_dm_starts(me)?,
    }
    let existing = match repo.find_dm(me, target)? {
        Some(id) => {
            let state = repo.lock_conversation(id)?.ok_or_else(|| RepoError::internal("DM vanished"))?;
            let side = state.reader_side(me, true);
            Some((state, side))
        }
        None => None,
    };
    let archived = existing.as_ref().map(|(state, side)| state.archived(*side).is_some());
    let caller_active = if Room::counts_for_caller(archived) { repo.count_active_dms(me)? } else { 0 };
    let target_active = match target {
        DmTarget::User(other) if archived.is_none() && caller_active < settings.max_active => {
            Some(repo.count_active_dms(other)?)
        }
        _ => None,
    };
    Room { existing: archived, caller_active, target_active }.check(settings)?;
    let (id, created) = match existing {
        Some((mut state, side)) => {
            if state.archived(side).is_some() {
                state.set_archived(side, None);
                repo.save_conversation(&state)?;
                repo.note_brought_back(state.id, side, Utc::now())?;
            }
            (state.id, false)
        }
        None => repo.create_dm(me, target)?,
    };
    let summary = repo.dm_summary(id)?.ok_or_else(|| RepoError::internal("DM vanished after creation"))?;
    // A new DM appears in both users' lists.
    let events = if created {
        vec![ChatEvent::ConversationUpdated { participants: summary.participants(), conversation: id }]
    } else {
        Vec::new()
    };
    Ok(Done::new((summary, created), events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::Side;
    use crate::direct_messages::test_support::{MockRepo, dm_state, summary};
    use crate::ids::ConversationId;
    use crate::ids::PersonaId;

    const ALICE: Principal = Principal::user(UserId(1));
    const BOB: UserId = UserId(2);

    fn reachable(repo: &mut MockRepo) {
        repo.expect_user_is_known().returning(|_| Ok(true));
        repo.expect_share_a_group().returning(|_, _| Ok(true));
        repo.expect_is_blocked().returning(|_, _| Ok(false));
        repo.expect_lock_dm_starts().returning(|_| Ok(()));
    }

    #[test]
    fn a_new_pair_gets_a_new_dm() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(None));
        repo.expect_count_active_dms().returning(|_| Ok(3));
        repo.expect_create_dm().times(1).returning(|_, _| Ok((ConversationId(9), true)));
        repo.expect_dm_summary().returning(|id| Ok(Some(summary(id))));
        let (dm, created) = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap().value;
        assert!(created);
        assert_eq!(dm.id, ConversationId(9));
    }

    #[test]
    fn an_existing_pair_gets_the_same_dm_without_counting() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(Some(ConversationId(9))));
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_count_active_dms().never();
        repo.expect_create_dm().never();
        repo.expect_dm_summary().returning(|id| Ok(Some(summary(id))));
        let (_, created) = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap().value;
        assert!(!created);
    }

    #[test]
    fn the_limit_is_enforced_under_the_start_lock() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(None));
        repo.expect_count_active_dms().returning(|_| Ok(5));
        repo.expect_create_dm().never();
        let settings = DmSettings { max_active: 5 };
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &settings).unwrap_err();
        assert!(matches!(err, StartDmError::LimitReached { max: 5 }));
    }

    #[test]
    fn a_new_dm_needs_room_under_the_targets_limit_too() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(None));
        repo.expect_count_active_dms().returning(|user| Ok(if user == BOB { 5 } else { 1 }));
        repo.expect_create_dm().never();
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings { max_active: 5 }).unwrap_err();
        assert!(matches!(err, StartDmError::TargetLimitReached));
    }

    #[test]
    fn a_full_target_still_gets_back_an_existing_dm_and_personas_have_no_limit() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, target| Ok((target == DmTarget::User(BOB)).then_some(ConversationId(9))));
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_persona_dm_enabled().returning(|_| Ok(Some(true)));
        repo.expect_count_active_dms().withf(|user| *user == ALICE.user_id).returning(|_| Ok(0));
        repo.expect_create_dm().times(1).returning(|_, _| Ok((ConversationId(10), true)));
        repo.expect_dm_summary().returning(|id| Ok(Some(summary(id))));
        let settings = DmSettings { max_active: 5 };
        assert!(!start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &settings).unwrap().value.1);
        assert!(start_dm(&mut repo, &ALICE, DmTarget::Persona(PersonaId(3)), &settings).unwrap().value.1);
    }

    #[test]
    fn both_users_starts_are_serialized_in_id_order() {
        for (caller, target) in [(UserId(1), UserId(2)), (UserId(2), UserId(1))] {
            let mut repo = MockRepo::new();
            repo.expect_user_is_known().returning(|_| Ok(true));
            repo.expect_share_a_group().returning(|_, _| Ok(true));
            repo.expect_is_blocked().returning(|_, _| Ok(false));
            let mut seq = mockall::Sequence::new();
            for user in [UserId(1), UserId(2)] {
                repo.expect_lock_dm_starts()
                    .withf(move |u| *u == user)
                    .times(1)
                    .in_sequence(&mut seq)
                    .returning(|_| Ok(()));
            }
            repo.expect_find_dm().returning(|_, _| Ok(Some(ConversationId(9))));
            repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
            repo.expect_dm_summary().returning(|id| Ok(Some(summary(id))));
            let _done =
                start_dm(&mut repo, &Principal::user(caller), DmTarget::User(target), &DmSettings::default()).unwrap();
        }
    }

    #[test]
    fn bringing_back_an_archived_dm_counts_toward_the_limit() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(Some(ConversationId(9))));
        repo.expect_lock_conversation().returning(|id| {
            let mut s = dm_state(id, UserId(1), UserId(2));
            s.archived_one = Some(Utc::now());
            Ok(Some(s))
        });
        repo.expect_count_active_dms().returning(|_| Ok(5));
        repo.expect_save_conversation().never();
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings { max_active: 5 }).unwrap_err();
        assert!(matches!(err, StartDmError::LimitReached { .. }));
    }

    #[test]
    fn bringing_back_an_archived_dm_within_the_limit_unarchives_the_callers_side_and_is_remembered() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(Some(ConversationId(9))));
        repo.expect_lock_conversation().returning(|id| {
            let mut s = dm_state(id, UserId(1), UserId(2));
            s.archived_one = Some(Utc::now());
            s.archived_two = Some(Utc::now());
            Ok(Some(s))
        });
        repo.expect_count_active_dms().returning(|_| Ok(4));
        repo.expect_save_conversation()
            .withf(|s| s.archived_one.is_none() && s.archived_two.is_some())
            .times(1)
            .returning(|_| Ok(()));
        let before = Utc::now();
        repo.expect_note_brought_back()
            .withf(move |id, side, at| *id == ConversationId(9) && *side == Side::One && *at >= before)
            .times(1)
            .returning(|_, _, _| Ok(()));
        repo.expect_create_dm().never();
        repo.expect_dm_summary().returning(|id| Ok(Some(summary(id))));
        let (_, created) =
            start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings { max_active: 5 }).unwrap().value;
        assert!(!created);
    }

    #[test]
    fn reopening_an_active_dm_changes_nothing() {
        let mut repo = MockRepo::new();
        reachable(&mut repo);
        repo.expect_find_dm().returning(|_, _| Ok(Some(ConversationId(9))));
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_save_conversation().never();
        repo.expect_note_brought_back().never();
        repo.expect_dm_summary().returning(|id| Ok(Some(summary(id))));
        let _done = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap();
    }

    #[test]
    fn a_caller_who_blocked_the_target_is_told_to_unblock_first() {
        let mut repo = MockRepo::new();
        repo.expect_user_is_known().returning(|_| Ok(true));
        repo.expect_share_a_group().returning(|_, _| Ok(true));
        repo.expect_is_blocked().returning(|blocker, blocked| Ok(blocker == ALICE.user_id && blocked == BOB));
        repo.expect_lock_dm_starts().never();
        repo.expect_find_dm().never();
        repo.expect_create_dm().never();
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap_err();
        assert!(matches!(err, StartDmError::YouBlocked));
    }

    #[test]
    fn a_block_by_the_target_refuses_even_an_existing_dm() {
        let mut repo = MockRepo::new();
        repo.expect_user_is_known().returning(|_| Ok(true));
        repo.expect_share_a_group().returning(|_, _| Ok(true));
        repo.expect_is_blocked().returning(|blocker, blocked| Ok(blocker == BOB && blocked == ALICE.user_id));
        repo.expect_find_dm().never();
        repo.expect_lock_conversation().never();
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap_err();
        assert!(matches!(err, StartDmError::NoSharedGroup));
    }

    #[test]
    fn no_dm_with_yourself_or_an_unknown_user() {
        let mut repo = MockRepo::new();
        repo.expect_create_dm().never();
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(UserId(1)), &DmSettings::default()).unwrap_err();
        assert!(matches!(err, StartDmError::SelfTarget));
        repo.expect_user_is_known().returning(|_| Ok(false));
        let err = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap_err();
        assert!(matches!(err, StartDmError::NotFound));
    }

    #[test]
    fn a_block_by_the_target_looks_exactly_like_no_shared_group() {
        let mut repo = MockRepo::new();
        repo.expect_user_is_known().returning(|_| Ok(true));
        repo.expect_share_a_group().returning(|_, _| Ok(true));
        repo.expect_is_blocked().returning(|blocker, _| Ok(blocker == BOB));
        repo.expect_create_dm().never();
        let blocked = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap_err();
        let mut repo = MockRepo::new();
        repo.expect_user_is_known().returning(|_| Ok(true));
        repo.expect_is_blocked().returning(|_, _| Ok(false));
        repo.expect_share_a_group().returning(|_, _| Ok(false));
        let strangers = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap_err();
        assert_eq!(blocked.to_string(), strangers.to_string());
        assert!(matches!((blocked, strangers), (StartDmError::NoSharedGroup, StartDmError::NoSharedGroup)));
    }

    #[test]
    fn personas_must_take_dms() {
        let mut repo = MockRepo::new();
        repo.expect_persona_dm_enabled().returning(|p| Ok(if p == PersonaId(1) { Some(false) } else { None }));
        repo.expect_create_dm().never();
        let closed = start_dm(&mut repo, &ALICE, DmTarget::Persona(PersonaId(1)), &DmSettings::default());
        assert!(matches!(closed, Err(StartDmError::PersonaDmDisabled)));
        let missing = start_dm(&mut repo, &ALICE, DmTarget::Persona(PersonaId(2)), &DmSettings::default());
        assert!(matches!(missing, Err(StartDmError::NotFound)));
    }

    const MAX: DmSettings = DmSettings { max_active: 2 };

    fn room(existing: Option<bool>, caller_active: i64, target_active: i64) -> Room {
        Room { existing, caller_active, target_active: Some(target_active) }
    }

    #[test]
    fn the_rule_refuses_in_the_order_a_start_answers() {
        let open = Reach { is_self: false, known: true, you_blocked: false, they_blocked: false, share_group: true };
        assert!(may_start_user_dm(open, room(None, 1, 1), &MAX).is_ok());
        let refused = |reach, room| may_start_user_dm(reach, room, &MAX).unwrap_err().to_string();
        assert_eq!(refused(Reach::MYSELF, room(None, 0, 0)), StartDmError::SelfTarget.to_string());
        assert_eq!(refused(Reach { known: false, ..open }, room(None, 0, 0)), StartDmError::NotFound.to_string());
        assert_eq!(
            refused(Reach { you_blocked: true, ..open }, room(None, 0, 0)),
            StartDmError::YouBlocked.to_string()
        );
        let hidden = StartDmError::NoSharedGroup.to_string();
        assert_eq!(refused(Reach { they_blocked: true, ..open }, room(Some(false), 0, 0)), hidden);
        assert_eq!(refused(Reach { share_group: false, ..open }, room(None, 0, 0)), hidden);
        assert_eq!(refused(open, room(None, 2, 0)), StartDmError::LimitReached { max: 2 }.to_string());
        assert_eq!(refused(open, room(Some(true), 2, 0)), StartDmError::LimitReached { max: 2 }.to_string());
        assert_eq!(refused(open, room(None, 1, 2)), StartDmError::TargetLimitReached.to_string());
    }

    #[test]
    fn an_existing_dm_reopens_at_any_count_and_an_archived_one_needs_the_callers_room() {
        let open = Reach { is_self: false, known: true, you_blocked: false, they_blocked: false, share_group: true };
        assert!(may_start_user_dm(open, room(Some(false), 9, 9), &MAX).is_ok());
        assert!(may_start_user_dm(open, room(Some(true), 1, 9), &MAX).is_ok());
        let prospect = DmProspect { user: BOB, reach: open, existing: None, active: 0 };
        assert!(prospect.allows(1, &MAX));
        assert!(!prospect.allows(2, &MAX));
    }
}
