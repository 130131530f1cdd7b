//! The members of a group, for the avatar click that starts a DM.

use std::collections::HashMap;

use crate::conversations::UserSummary;
use crate::direct_messages::{DirectMessageRepository, DmProspect, DmSettings, Reach, Room, may_start_user_dm};
use crate::error::RepoError;
use crate::ids::{GroupId, UserId};
use crate::principal::Principal;

/// A member as the caller sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member.
    pub user: UserSummary,
    /// Whether starting a DM with them would succeed now: decided by the rule of the
    /// start itself ([`may_start_user_dm`]) from the same facts, so the two never
    /// disagree (a block by the member shows exactly as starting answers it: someone
    /// who cannot be reached). False for the caller, across a block either way, without
    /// a common main or other group (in any group the list is read from), and when a
    /// new DM would exceed the caller's or the member's active-DM limit.
    pub can_dm: bool,
}

/// Storage of group membership (the existing app's tables, read only).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait GroupMemberRepository {
    /// The kind (`main`, `personal`, `other`) of an active group `user` is a member of,
    /// or `Ok(None)` when there is no such group, they are not in it, or it is one of the
    /// old shared support groups (never listed: their members must not see each other).
    fn member_group_kind(&mut self, group: GroupId, user: UserId) -> Result<Option<String>, RepoError>;

    /// Up to `limit + 1` members by id, after `after`.
    fn list_members(
        &mut self,
        group: GroupId,
        after: Option<UserId>,
        limit: u16,
    ) -> Result<Vec<UserSummary>, RepoError>;
}

/// Why members could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum GroupMembersError {
    /// No such group, or the caller is not a member: the same answer.
    #[error("not found")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A page of a group's members (members only), and the next cursor.
pub fn list_group_members(
    repo: &mut (impl GroupMemberRepository + DirectMessageRepository + ?Sized),
    caller: &Principal,
    group: GroupId,
    after: Option<UserId>,
    limit: u16,
    settings: &DmSettings,
) -> Result<(Vec<GroupMember>, Option<UserId>), GroupMembersError> {
    repo.member_group_kind(group, caller.user_id)?.ok_or(GroupMembersError::NotFound)?;
    let mut rows = repo.list_members(group, after, limit)?;
    let has_more = rows.len() > usize::from(limit);
    rows.truncate(usize::from(limit));
    let next = if has_more { rows.last().map(|u| u.id) } else { None };
    let others: Vec<UserId> = rows.iter().map(|u| u.id).filter(|id| *id != caller.user_id).collect();
    let (prospects, caller_active) = if others.is_empty() {
        (HashMap::new(), 0)
    } else {
        let prospects: HashMap<UserId, DmProspect> =
            repo.dm_prospects(caller.user_id, &others)?.into_iter().map(|p| (p.user, p)).collect();
        (prospects, repo.count_active_dms(caller.user_id)?)
    };
    let members = rows
        .into_iter()
        .map(|user| {
            let can_dm = if user.id == caller.user_id {
                let room = Room { existing: None, caller_active, target_active: None };
                may_start_user_dm(Reach::MYSELF, room, settings).is_ok()
            } else {
                prospects.get(&user.id).is_some_and(|p| p.allows(caller_active, settings))
            };
            GroupMember { can_dm, user }
        })
        .collect();
    Ok((members, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct_messages::test_support::MockRepo;

    const SETTINGS: DmSettings = DmSettings { max_active: 3 };
    const OPEN: Reach =
        Reach { is_self: false, known: true, you_blocked: false, they_blocked: false, share_group: true };

    fn user(id: i32) -> UserSummary {
        UserSummary { id: UserId(id), display_name: format!("U{id}"), profile_photo_url: None }
    }

    fn prospect(id: i32, reach: Reach, existing: Option<bool>, active: i64) -> DmProspect {
        DmProspect { user: UserId(id), reach, existing, active }
    }

    fn can_dm(prospects: Vec<DmProspect>, caller_active: i64) -> Vec<bool> {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(Some("main".into())));
        let ids: Vec<i32> = std::iter::once(1).chain(prospects.iter().map(|p| p.user.get())).collect();
        repo.expect_list_members().returning(move |_, _, _| Ok(ids.iter().map(|id| user(*id)).collect()));
        repo.expect_dm_prospects()
            .withf(|me, others| *me == UserId(1) && !others.contains(&UserId(1)))
            .return_once(move |_, _| Ok(prospects));
        repo.expect_count_active_dms().withf(|me| *me == UserId(1)).returning(move |_| Ok(caller_active));
        let (members, _) =
            list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 10, &SETTINGS).unwrap();
        members.iter().map(|m| m.can_dm).collect()
    }

    #[test]
    fn non_members_get_not_found_and_read_nothing() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(None));
        repo.expect_list_members().never();
        repo.expect_dm_prospects().never();
        let err = list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 10, &SETTINGS);
        assert!(matches!(err, Err(GroupMembersError::NotFound)));
    }

    #[test]
    fn members_can_be_messaged_except_oneself_and_pages_continue_after_the_last() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(Some("main".into())));
        repo.expect_list_members().returning(|_, _, _| Ok(vec![user(1), user(2), user(3)]));
        repo.expect_dm_prospects()
            .withf(|me, others| *me == UserId(1) && others == [UserId(2)])
            .returning(|_, _| Ok(vec![prospect(2, OPEN, None, 0)]));
        repo.expect_count_active_dms().returning(|_| Ok(0));
        let (members, next) =
            list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 2, &SETTINGS).unwrap();
        assert_eq!(members.iter().map(|m| m.can_dm).collect::<Vec<_>>(), [false, true]);
        assert_eq!(next, Some(UserId(2)));
    }

    #[test]
    fn blocks_either_way_and_no_shared_group_read_as_start_answers() {
        let rows = vec![
            prospect(2, Reach { they_blocked: true, ..OPEN }, None, 0),
            prospect(3, OPEN, None, 0),
            prospect(4, Reach { you_blocked: true, ..OPEN }, Some(false), 0),
            prospect(5, Reach { share_group: false, ..OPEN }, None, 0),
        ];
        assert_eq!(can_dm(rows, 0), [false, false, true, false, false]);
    }

    #[test]
    fn limits_count_on_both_sides_for_new_dms_only() {
        let rows = vec![
            prospect(2, OPEN, None, 3),        // the member is full
            prospect(3, OPEN, Some(false), 3), // an existing DM reopens whatever the counts
            prospect(4, OPEN, None, 0),
        ];
        assert_eq!(can_dm(rows.clone(), 2), [false, false, true, true]);
        // The caller at their own limit: only existing, active DMs.
        let archived = prospect(5, OPEN, Some(true), 0);
        assert_eq!(can_dm([rows, vec![archived]].concat(), 3), [false, false, true, false, false]);
    }
}
