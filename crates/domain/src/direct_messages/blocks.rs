//! Use cases: block, unblock, list blocks.
//!
//! A block or unblock that changed something returns [`ChatEvent::BlocksChanged`]: the
//! sockets of both users forget that no block stood between them (typing in their DM
//! is answered from that memory, [`crate::live::NoBlock`]), whichever instance they are
//! on. A block that already stood, or an unblock of nobody, changes nothing and says
//! nothing.

use crate::direct_messages::model::BlockedUser;
use crate::direct_messages::ports::DirectMessageRepository;
use crate::error::RepoError;
use crate::events::{ChatEvent, Done};
use crate::ids::UserId;
use crate::principal::Principal;

/// Why a block could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// Blocking oneself.
    #[error("you cannot block yourself")]
    SelfTarget,
    /// No such user.
    #[error("not found")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Blocks `target`; `true` when the block is new (and then the pair's
/// [`ChatEvent::BlocksChanged`]).
pub fn block_user(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    target: UserId,
) -> Result<Done<bool>, BlockError> {
    if target == caller.user_id {
        return Err(BlockError::SelfTarget);
    }
    if !repo.user_is_known(target)? {
        return Err(BlockError::NotFound);
    }
    let created = repo.block(caller.user_id, target)?;
    Ok(Done::new(created, changed(created, caller.user_id, target)))
}

/// Removes a block; a missing block is not an error (the end state is the same), and
/// only a removed one causes the pair's [`ChatEvent::BlocksChanged`].
pub fn unblock_user(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    target: UserId,
) -> Result<Done<()>, BlockError> {
    let removed = repo.unblock(caller.user_id, target)?;
    Ok(Done::new((), changed(removed, caller.user_id, target)))
}

/// The event of a block that was made or lifted, if it was.
fn changed(changed: bool, blocker: UserId, blocked: UserId) -> Vec<ChatEvent> {
    if changed { vec![ChatEvent::BlocksChanged { blocker, blocked }] } else { Vec::new() }
}

/// The users the caller has blocked.
pub fn list_blocks(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
) -> Result<Vec<BlockedUser>, RepoError> {
    repo.list_blocks(caller.user_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct_messages::ports::MockDirectMessageRepository;

    #[test]
    fn users_cannot_block_themselves_or_nobody() {
        let mut repo = MockDirectMessageRepository::new();
        repo.expect_block().never();
        let me = Principal::user(UserId(1));
        assert!(matches!(block_user(&mut repo, &me, UserId(1)), Err(BlockError::SelfTarget)));
        repo.expect_user_is_known().returning(|_| Ok(false));
        assert!(matches!(block_user(&mut repo, &me, UserId(2)), Err(BlockError::NotFound)));
    }

    #[test]
    fn blocking_twice_is_idempotent_and_only_a_new_block_is_announced() {
        let mut repo = MockDirectMessageRepository::new();
        repo.expect_user_is_known().returning(|_| Ok(true));
        let mut first = true;
        repo.expect_block().times(2).returning(move |_, _| Ok(std::mem::replace(&mut first, false)));
        let me = Principal::user(UserId(1));
        let first = block_user(&mut repo, &me, UserId(2)).unwrap();
        assert!(first.value);
        assert_eq!(first.events, [ChatEvent::BlocksChanged { blocker: UserId(1), blocked: UserId(2) }]);
        let again = block_user(&mut repo, &me, UserId(2)).unwrap();
        assert!(!again.value);
        assert!(again.events.is_empty(), "a block that already stood changes nothing: {:?}", again.events);
    }

    #[test]
    fn unblocking_removes_only_the_callers_own_block_and_only_a_removal_is_announced() {
        let mut repo = MockDirectMessageRepository::new();
        let mut present = true;
        repo.expect_unblock()
            .withf(|blocker, blocked| *blocker == UserId(1) && *blocked == UserId(2))
            .times(2)
            .returning(move |_, _| Ok(std::mem::replace(&mut present, false)));
        let me = Principal::user(UserId(1));
        let removed = unblock_user(&mut repo, &me, UserId(2)).unwrap();
        assert_eq!(removed.events, [ChatEvent::BlocksChanged { blocker: UserId(1), blocked: UserId(2) }]);
        let again = unblock_user(&mut repo, &me, UserId(2)).unwrap();
        assert!(again.events.is_empty(), "no block was removed: {:?}", again.events);
    }
}
