//! Moderation: admins hide messages. A hidden message keeps its row and content for
//! audit; users see that a message was hidden, never its content.

use crate::conversations::Message;
use crate::error::RepoError;
use crate::ids::{MessageId, UserId};
use crate::principal::Principal;
use crate::values::{ValueError, text_value};

text_value!(
    /// Why a message was hidden: 1..=500 characters, kept for audit.
    HideReason, max = 500, multiline = true
);

/// Storage of moderation actions.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ModerationRepository {
    /// Hides the conversation message `id` (keeping the first hide's author and reason
    /// when it is already hidden) and returns it, or `Ok(None)` when it does not exist.
    fn hide_message(&mut self, id: MessageId, admin: UserId, reason: &HideReason)
    -> Result<Option<Message>, RepoError>;
}

/// Why a message could not be hidden.
#[derive(Debug, thiserror::Error)]
pub enum HideError {
    /// Only admins moderate.
    #[error("admins only")]
    Forbidden,
    /// No such message.
    #[error("not found")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Hides a message from users.
pub fn hide_message(
    repo: &mut (impl ModerationRepository + ?Sized),
    caller: &Principal,
    id: MessageId,
    reason: &HideReason,
) -> Result<Message, HideError> {
    if !caller.is_admin() {
        return Err(HideError::Forbidden);
    }
    repo.hide_message(id, caller.user_id, reason)?.ok_or(HideError::NotFound)
}

/// Validates a hide reason (re-exported for the edge).
pub fn parse_reason(raw: &str) -> Result<HideReason, ValueError> {
    HideReason::parse(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_hide_and_missing_messages_are_not_found() {
        let mut repo = MockModerationRepository::new();
        let reason = HideReason::parse("spam").unwrap();
        repo.expect_hide_message().never();
        let user = Principal::user(UserId(1));
        assert!(matches!(hide_message(&mut repo, &user, MessageId(1), &reason), Err(HideError::Forbidden)));
        let mut repo = MockModerationRepository::new();
        repo.expect_hide_message().returning(|_, _, _| Ok(None));
        let admin = Principal::admin(UserId(2));
        assert!(matches!(hide_message(&mut repo, &admin, MessageId(1), &reason), Err(HideError::NotFound)));
    }
}
