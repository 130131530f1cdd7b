//! The members of a group, for the avatar click that starts a DM.

use std::collections::HashSet;

use crate::conversations::UserSummary;
use crate::direct_messages::{DirectMessageRepository, DmSettings};
use crate::error::RepoError;
use crate::ids::{GroupId, UserId};
use crate::principal::Principal;

/// A member as the caller sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member.
    pub user: UserSummary,
    /// Whether the caller may start a DM with them from here: not themselves, only in
    /// main and other groups, not while a block stands between them in either
    /// direction, and not when a new DM would be needed and the member is at their own
    /// active-DM limit. It agrees with what starting a DM would answer about this
    /// member, so a block by the member shows here exactly as starting does (someone
    /// who cannot be reached), never as a contradiction that gives the block away. The
    /// caller's own limit is not reflected: starting answers `dm_limit_reached`, which
    /// tells them what to do.
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
    let kind = repo.member_group_kind(group, caller.user_id)?.ok_or(GroupMembersError::NotFound)?;
    let dm_group = matches!(kind.as_str(), "main" | "other");
    let mut rows = repo.list_members(group, after, limit)?;
    let has_more = rows.len() > usize::from(limit);
    rows.truncate(usize::from(limit));
    let next = if has_more { rows.last().map(|u| u.id) } else { None };
    let others: Vec<UserId> = rows.iter().map(|u| u.id).filter(|id| *id != caller.user_id).collect();
    let mut unreachable = HashSet::new();
    if dm_group && !others.is_empty() {
        unreachable.extend(repo.blocks_between(caller.user_id, &others)?);
        unreachable.extend(repo.without_room_for(caller.user_id, &others, settings.max_active)?);
    }
    let members = rows
        .into_iter()
        .map(|user| GroupMember {
            can_dm: dm_group && user.id != caller.user_id && !unreachable.contains(&user.id),
            user,
        })
        .collect();
    Ok((members, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct_messages::test_support::MockRepo;

    const SETTINGS: DmSettings = DmSettings { max_active: 100 };

    fn user(id: i32) -> UserSummary {
        UserSummary { id: UserId(id), display_name: format!("U{id}"), profile_photo_url: None }
    }

    #[test]
    fn non_members_get_not_found_and_read_nothing() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(None));
        repo.expect_list_members().never();
        repo.expect_blocks_between().never();
        repo.expect_without_room_for().never();
        let err = list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 10, &SETTINGS);
        assert!(matches!(err, Err(GroupMembersError::NotFound)));
    }

    #[test]
    fn members_of_the_main_group_can_be_messaged_except_oneself() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(Some("main".into())));
        repo.expect_list_members().returning(|_, _, _| Ok(vec![user(1), user(2), user(3)]));
        repo.expect_blocks_between()
            .withf(|me, others| *me == UserId(1) && others == [UserId(2)])
            .returning(|_, _| Ok(Vec::new()));
        repo.expect_without_room_for()
            .withf(|me, others, max| *me == UserId(1) && others == [UserId(2)] && *max == 100)
            .returning(|_, _, _| Ok(Vec::new()));
        let (members, next) =
            list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 2, &SETTINGS).unwrap();
        assert_eq!(members.iter().map(|m| m.can_dm).collect::<Vec<_>>(), [false, true]);
        assert_eq!(next, Some(UserId(2)));
    }

    #[test]
    fn members_with_a_block_either_way_cannot_be_messaged_as_start_would_answer() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(Some("other".into())));
        repo.expect_list_members().returning(|_, _, _| Ok(vec![user(1), user(2), user(3), user(4)]));
        // 2 blocked the caller, the caller blocked 4.
        repo.expect_blocks_between().returning(|_, _| Ok(vec![UserId(2), UserId(4)]));
        repo.expect_without_room_for().returning(|_, _, _| Ok(Vec::new()));
        let (members, _) =
            list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 10, &SETTINGS).unwrap();
        assert_eq!(members.iter().map(|m| m.can_dm).collect::<Vec<_>>(), [false, false, true, false]);
    }

    #[test]
    fn members_a_new_dm_has_no_room_for_cannot_be_messaged() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(Some("main".into())));
        repo.expect_list_members().returning(|_, _, _| Ok(vec![user(1), user(2), user(3)]));
        repo.expect_blocks_between().returning(|_, _| Ok(Vec::new()));
        repo.expect_without_room_for().returning(|_, _, _| Ok(vec![UserId(3)]));
        let (members, _) =
            list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 10, &SETTINGS).unwrap();
        assert_eq!(members.iter().map(|m| m.can_dm).collect::<Vec<_>>(), [false, true, false]);
    }

    #[test]
    fn nobody_can_be_messaged_from_a_personal_group() {
        let mut repo = MockRepo::new();
        repo.expect_member_group_kind().returning(|_, _| Ok(Some("personal".into())));
        repo.expect_list_members().returning(|_, _, _| Ok(vec![user(1), user(2)]));
        repo.expect_blocks_between().never();
        repo.expect_without_room_for().never();
        let (members, _) =
            list_group_members(&mut repo, &Principal::user(UserId(1)), GroupId(5), None, 10, &SETTINGS).unwrap();
        assert!(members.iter().all(|m| !m.can_dm));
    }
}
