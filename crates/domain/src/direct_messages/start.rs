//! Use case: start a DM (get-or-create), the avatar click in a group.

use chrono::Utc;

use crate::conversations::ConversationRepository;
use crate::direct_messages::model::{DmSettings, DmSummary, DmTarget};
use crate::direct_messages::ports::DirectMessageRepository;
use crate::error::RepoError;
use crate::ids::ConversationId;
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

/// Gets or creates the DM between the caller and `target`; `true` when created.
///
/// Re-opening an existing DM that the caller archived brings it back, which counts
/// toward the active limit like creating one. A new DM between two users counts for
/// both, so it needs room under the limit on both sides; both users' starts are
/// serialized (in id order, so that two people starting with each other cannot
/// deadlock), which makes each limit exact under concurrency.
pub fn start_dm(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    target: DmTarget,
    settings: &DmSettings,
) -> Result<(DmSummary, bool), StartDmError> {
    let me = caller.user_id;
    match target {
        DmTarget::User(other) => {
            if other == me {
                return Err(StartDmError::SelfTarget);
            }
            if !repo.user_is_known(other)? {
                return Err(StartDmError::NotFound);
            }
            if repo.is_blocked(me, other)? {
                return Err(StartDmError::YouBlocked);
            }
            // A block by the target answers exactly like sharing no group.
            if !repo.share_a_group(me, other)? || repo.is_blocked(other, me)? {
                return Err(StartDmError::NoSharedGroup);
            }
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
    let (id, created) = match repo.find_dm(me, target)? {
        Some(id) => (bring_back(repo, id, caller, settings)?, false),
        None => {
            check_limit(repo, caller, settings)?;
            if let DmTarget::User(other) = target
                && repo.count_active_dms(other)? >= settings.max_active
            {
                return Err(StartDmError::TargetLimitReached);
            }
            repo.create_dm(me, target)?
        }
    };
    let summary = repo.dm_summary(id)?.ok_or_else(|| RepoError::internal("DM vanished after creation"))?;
    Ok((summary, created))
}

fn check_limit(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    settings: &DmSettings,
) -> Result<(), StartDmError> {
    if repo.count_active_dms(caller.user_id)? >= settings.max_active {
        return Err(StartDmError::LimitReached { max: settings.max_active });
    }
    Ok(())
}

/// Un-archives an existing DM for the caller, within the limit.
fn bring_back(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + ?Sized),
    id: ConversationId,
    caller: &Principal,
    settings: &DmSettings,
) -> Result<ConversationId, StartDmError> {
    let mut state = repo.lock_conversation(id)?.ok_or_else(|| RepoError::internal("DM vanished"))?;
    let side = state.reader_side(caller.user_id, true);
    if state.archived(side).is_some() {
        check_limit(repo, caller, settings)?;
        state.set_archived(side, None);
        repo.save_conversation(&state)?;
        repo.note_brought_back(id, side, Utc::now())?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::Side;
    use crate::direct_messages::test_support::{MockRepo, dm_state, summary};
    use crate::ids::{PersonaId, UserId};

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
        let (dm, created) = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap();
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
        let (_, created) = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap();
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
        assert!(!start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &settings).unwrap().1);
        assert!(start_dm(&mut repo, &ALICE, DmTarget::Persona(PersonaId(3)), &settings).unwrap().1);
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
        let (_, created) = start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings { max_active: 5 }).unwrap();
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
        start_dm(&mut repo, &ALICE, DmTarget::User(BOB), &DmSettings::default()).unwrap();
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
}
