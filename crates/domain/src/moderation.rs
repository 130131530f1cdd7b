//! Moderation: admins hide messages. A hidden message keeps its row and content for
//! audit; users see that a message was hidden, never its content.

use crate::conversations::Message;
use crate::error::{AdminError, RepoError};
use crate::events::{ChatEvent, Done};
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

/// Hides a message from users.
pub fn hide_message(
    repo: &mut (impl ModerationRepository + crate::conversations::ReplayRepository + ?Sized),
    caller: &Principal,
    id: MessageId,
    reason: &HideReason,
) -> Result<Done<Message>, AdminError> {
    AdminError::require_admin(caller)?;
    let message = repo.hide_message(id, caller.user_id, reason)?.ok_or(AdminError::NotFound)?;
    // Live clients of the conversation replace the message.
    let events = repo
        .conversation_position(message.conversation_id)?
        .map(|(participants, _)| ChatEvent::MessageHidden { participants, message: message.clone() })
        .into_iter()
        .collect();
    Ok(Done::new(message, events))
}

/// Validates a hide reason (re-exported for the edge).
pub fn parse_reason(raw: &str) -> Result<HideReason, ValueError> {
    HideReason::parse(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Author, Participants};
    use crate::conversations::{MessageKind, ReplayRepository};
    use crate::ids::ConversationId;

    mockall::mock! {
        Repo {}
        impl ModerationRepository for Repo {
            fn hide_message<'a>(&mut self, id: MessageId, admin: UserId, reason: &'a HideReason)
                -> Result<Option<Message>, RepoError>;
        }
        impl ReplayRepository for Repo {
            fn conversation_positions(&mut self, user: UserId)
                -> Result<Vec<(ConversationId, Participants, i64)>, RepoError>;
            fn conversation_position(&mut self, id: ConversationId) -> Result<Option<(Participants, i64)>, RepoError>;
            fn messages_after(&mut self, id: ConversationId, after: i64, limit: i64) -> Result<Vec<Message>, RepoError>;
        }
    }

    fn hidden(id: MessageId) -> Message {
        Message {
            id,
            conversation_id: ConversationId(3),
            seq: 1,
            author: Author::User(UserId(1)),
            sender_name: None,
            acting_admin_name: None,
            kind: MessageKind::Text,
            content: "spam".into(),
            client_message_id: None,
            created_at: chrono::Utc::now(),
            hidden: true,
        }
    }

    #[test]
    fn only_admins_hide_and_missing_messages_are_not_found() {
        let mut repo = MockRepo::new();
        let reason = HideReason::parse("spam").unwrap();
        repo.expect_hide_message().never();
        let user = Principal::user(UserId(1));
        assert!(matches!(hide_message(&mut repo, &user, MessageId(1), &reason), Err(AdminError::Forbidden)));
        let mut repo = MockRepo::new();
        repo.expect_hide_message().returning(|_, _, _| Ok(None));
        let admin = Principal::admin(UserId(2));
        assert!(matches!(hide_message(&mut repo, &admin, MessageId(1), &reason), Err(AdminError::NotFound)));
    }

    #[test]
    fn a_hidden_message_is_replaced_live_in_its_conversation() {
        let mut repo = MockRepo::new();
        let reason = HideReason::parse("spam").unwrap();
        repo.expect_hide_message().returning(|id, _, _| Ok(Some(hidden(id))));
        let participants = Participants::Support { user: UserId(1) };
        repo.expect_conversation_position().returning(move |_| Ok(Some((participants, 1))));
        let done = hide_message(&mut repo, &Principal::admin(UserId(2)), MessageId(8), &reason).unwrap();
        assert_eq!(done.events, [ChatEvent::MessageHidden { participants, message: done.value.clone() }]);
        assert!(done.value.hidden);
    }
}
