//! Use cases of the group read side, and the rule that keeps personal groups read-only.

use crate::access::{self, Denied, Participants, Voice};
use crate::conversations::{HistoryQuery, Page};
use crate::error::RepoError;
use crate::group_messages::model::{GroupInfo, GroupKind, GroupMessage, GroupReadState, GroupSummary};
use crate::group_messages::ports::GroupMessageRepository;
use crate::ids::{GroupId, MessageId};
use crate::principal::Principal;

/// Why a group read request failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// No such group, not a member, or a cursor/read mark naming no message of the
    /// group: all answered alike.
    #[error("not found")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a user may not post in a group.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupPostError {
    /// No such group, or not a member.
    #[error("not found")]
    NotFound,
    /// A personal group holds admin notices only: its owner reads, never writes.
    #[error("personal groups are read-only")]
    PersonalGroupReadOnly,
}

/// A page of a group's visible messages, for a member.
pub fn group_history(
    repo: &mut (impl GroupMessageRepository + ?Sized),
    caller: &Principal,
    group: GroupId,
    query: &HistoryQuery,
) -> Result<Page<GroupMessage>, GroupError> {
    repo.member_group(group, caller.user_id)?.ok_or(GroupError::NotFound)?;
    if let Some(cursor) = query.cursor()
        && !repo.message_in_group(group, cursor)?
    {
        return Err(GroupError::NotFound);
    }
    let rows = repo.list_group_messages(group, caller.user_id, query)?;
    Ok(Page::from_overfetch(rows, query.limit(), |m| m.id))
}

/// Moves the caller's read mark in a group to `upto` (never backwards) and returns the
/// resulting read state.
pub fn mark_group_read(
    repo: &mut (impl GroupMessageRepository + ?Sized),
    caller: &Principal,
    group: GroupId,
    upto: MessageId,
) -> Result<GroupReadState, GroupError> {
    let user = caller.user_id;
    repo.member_group(group, user)?.ok_or(GroupError::NotFound)?;
    if !repo.message_in_group(group, upto)? {
        return Err(GroupError::NotFound);
    }
    let current = repo.group_last_read(group, user)?;
    let last_read = if upto > current {
        repo.save_group_read(group, user, upto)?;
        upto
    } else {
        current
    };
    let unread = repo.count_group_unread(group, user, last_read)?;
    Ok(GroupReadState { last_read, unread })
}

/// Every group the caller is a member of, with its last visible message and the caller's
/// unread count, newest activity first: the groups part of the chat list.
pub fn group_summaries(
    repo: &mut (impl GroupMessageRepository + ?Sized),
    caller: &Principal,
) -> Result<Vec<GroupSummary>, RepoError> {
    repo.group_summaries(caller.user_id)
}

/// Whether `caller` may post a message of their own in `group` (found with
/// [`GroupMessageRepository::member_group`]; `None` when they are not a member).
///
/// Members may post in main and other groups; nobody posts in a personal group as
/// themselves: its owner only reads, admins write there only as notices. Any future
/// group-posting route MUST ask this first.
pub fn authorize_group_post(caller: &Principal, group: Option<&GroupInfo>) -> Result<(), GroupPostError> {
    let group = group.ok_or(GroupPostError::NotFound)?;
    match (group.kind, group.owner) {
        (GroupKind::Personal, Some(owner)) => {
            match access::authorize_post(caller, &Participants::PersonalGroup { owner }, Voice::Own) {
                Err(Denied::NotVisible) => Err(GroupPostError::NotFound),
                // The policy never lets anyone post in a personal group as themselves.
                Ok(_) | Err(Denied::ReadOnly | Denied::VoiceNotAllowed) => Err(GroupPostError::PersonalGroupReadOnly),
            }
        }
        (GroupKind::Personal, None) => Err(GroupPostError::PersonalGroupReadOnly),
        (GroupKind::Main | GroupKind::Other, _) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::conversations::MessageKind;
    use crate::group_messages::model::{GroupEntry, GroupSender};
    use crate::group_messages::ports::MockGroupMessageRepository;
    use crate::ids::UserId;

    const ALICE: Principal = Principal::user(UserId(7));

    fn group(kind: GroupKind, owner: Option<UserId>) -> GroupInfo {
        GroupInfo { id: GroupId(3), name: "G".into(), kind, owner, avatar_url: None, created_at: Utc::now() }
    }

    fn message(id: i64) -> GroupMessage {
        GroupMessage {
            id: MessageId(id),
            group_id: GroupId(3),
            entry: GroupEntry::Message {
                sender: GroupSender::User { id: UserId(8), name: "Bob".into() },
                kind: MessageKind::Text,
            },
            content: "hi".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn users_never_post_in_their_personal_group() {
        let mine = group(GroupKind::Personal, Some(UserId(7)));
        assert_eq!(authorize_group_post(&ALICE, Some(&mine)), Err(GroupPostError::PersonalGroupReadOnly));
        // Admins do not post there as themselves either (notices have their own path).
        assert_eq!(
            authorize_group_post(&Principal::admin(UserId(1)), Some(&mine)),
            Err(GroupPostError::PersonalGroupReadOnly)
        );
        assert_eq!(authorize_group_post(&ALICE, None), Err(GroupPostError::NotFound));
        assert_eq!(authorize_group_post(&ALICE, Some(&group(GroupKind::Main, None))), Ok(()));
    }

    #[test]
    fn someone_elses_personal_group_is_not_found_not_read_only() {
        let theirs = group(GroupKind::Personal, Some(UserId(8)));
        assert_eq!(authorize_group_post(&ALICE, Some(&theirs)), Err(GroupPostError::NotFound));
    }

    #[test]
    fn non_members_read_nothing() {
        let mut repo = MockGroupMessageRepository::new();
        repo.expect_member_group().returning(|_, _| Ok(None));
        repo.expect_list_group_messages().never();
        repo.expect_save_group_read().never();
        let query = HistoryQuery::Older { before: None, limit: 10 };
        assert!(matches!(group_history(&mut repo, &ALICE, GroupId(3), &query), Err(GroupError::NotFound)));
        assert!(matches!(mark_group_read(&mut repo, &ALICE, GroupId(3), MessageId(1)), Err(GroupError::NotFound)));
    }

    #[test]
    fn a_cursor_from_another_group_is_not_found() {
        let mut repo = MockGroupMessageRepository::new();
        repo.expect_member_group().returning(|_, _| Ok(Some(group(GroupKind::Main, None))));
        repo.expect_message_in_group().returning(|_, _| Ok(false));
        repo.expect_list_group_messages().never();
        let query = HistoryQuery::Older { before: Some(MessageId(99)), limit: 10 };
        assert!(matches!(group_history(&mut repo, &ALICE, GroupId(3), &query), Err(GroupError::NotFound)));
    }

    #[test]
    fn pages_carry_the_next_cursor() {
        let mut repo = MockGroupMessageRepository::new();
        repo.expect_member_group().returning(|_, _| Ok(Some(group(GroupKind::Main, None))));
        repo.expect_list_group_messages()
            .withf(|g, reader, _| *g == GroupId(3) && *reader == UserId(7))
            .returning(|_, _, _| Ok(vec![message(9), message(8), message(7)]));
        let page =
            group_history(&mut repo, &ALICE, GroupId(3), &HistoryQuery::Older { before: None, limit: 2 }).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(MessageId(8)));
    }

    #[test]
    fn read_marks_only_move_forward() {
        let mut repo = MockGroupMessageRepository::new();
        repo.expect_member_group().returning(|_, _| Ok(Some(group(GroupKind::Personal, Some(UserId(7))))));
        repo.expect_message_in_group().returning(|_, _| Ok(true));
        repo.expect_group_last_read().returning(|_, _| Ok(MessageId(10)));
        repo.expect_save_group_read().never();
        repo.expect_count_group_unread().withf(|_, _, after| *after == MessageId(10)).returning(|_, _, _| Ok(2));
        let state = mark_group_read(&mut repo, &ALICE, GroupId(3), MessageId(5)).unwrap();
        assert_eq!(state, GroupReadState { last_read: MessageId(10), unread: 2 });
    }

    #[test]
    fn a_newer_mark_is_saved_and_unread_recounted_after_it() {
        let mut repo = MockGroupMessageRepository::new();
        repo.expect_member_group().returning(|_, _| Ok(Some(group(GroupKind::Main, None))));
        repo.expect_message_in_group().returning(|_, _| Ok(true));
        repo.expect_group_last_read().returning(|_, _| Ok(MessageId(3)));
        repo.expect_save_group_read()
            .withf(|g, u, upto| *g == GroupId(3) && *u == UserId(7) && *upto == MessageId(12))
            .times(1)
            .returning(|_, _, _| Ok(()));
        repo.expect_count_group_unread().returning(|_, _, _| Ok(0));
        let state = mark_group_read(&mut repo, &ALICE, GroupId(3), MessageId(12)).unwrap();
        assert_eq!(state, GroupReadState { last_read: MessageId(12), unread: 0 });
    }
}
