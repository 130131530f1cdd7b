//! Use cases: block, unblock, list blocks.

use crate::direct_messages::model::BlockedUser;
use crate::direct_messages::ports::DirectMessageRepository;
use crate::error::RepoError;
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

/// Blocks `target`; `true` when the block is new.
pub fn block_user(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    target: UserId,
) -> Result<bool, BlockError> {
    if target == caller.user_id {
        return Err(BlockError::SelfTarget);
    }
    if !repo.user_is_known(target)? {
        return Err(BlockError::NotFound);
    }
    Ok(repo.block(caller.user_id, target)?)
}

/// Removes a block; a missing block is not an error (the end state is the same).
pub fn unblock_user(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    target: UserId,
) -> Result<(), BlockError> {
    repo.unblock(caller.user_id, target)?;
    Ok(())
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
    fn blocking_twice_is_idempotent() {
        let mut repo = MockDirectMessageRepository::new();
        repo.expect_user_is_known().returning(|_| Ok(true));
        let mut first = true;
        repo.expect_block().times(2).returning(move |_, _| Ok(std::mem::replace(&mut first, false)));
        let me = Principal::user(UserId(1));
        assert!(block_user(&mut repo, &me, UserId(2)).unwrap());
        assert!(!block_user(&mut repo, &me, UserId(2)).unwrap());
    }

    #[test]
    fn unblocking_removes_only_the_callers_own_block_and_is_idempotent() {
        let mut repo = MockDirectMessageRepository::new();
        let mut present = true;
        repo.expect_unblock()
            .withf(|blocker, blocked| *blocker == UserId(1) && *blocked == UserId(2))
            .times(2)
            .returning(move |_, _| Ok(std::mem::replace(&mut present, false)));
        let me = Principal::user(UserId(1));
        unblock_user(&mut repo, &me, UserId(2)).unwrap();
        unblock_user(&mut repo, &me, UserId(2)).unwrap();
    }
}
