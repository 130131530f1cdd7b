//! Use cases of the user side: open "Help & Support", read it, write in it, mark it read.
//!
//! The caller's conversation is found from their identity; no route takes a
//! conversation id, so a user cannot even name another user's conversation. Cursors and
//! read marks that name a message outside the caller's conversation are answered like
//! missing ones.

use crate::access::{self, Participants, Voice};
use crate::conversations::{
    AppendError, AppendTarget, ConversationRepository, HistoryQuery, Message, NewMessage, Page, ReadMark, Sent, Side,
    append_message, history, mark_read,
};
use crate::error::RepoError;
use crate::events::Done;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::principal::Principal;
use crate::support::model::{SupportConversation, SupportSettings};
use crate::support::ports::SupportRepository;

/// Why opening support failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenSupportError {
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a user-side support request failed.
#[derive(Debug, thiserror::Error)]
pub enum UserSupportError {
    /// A cursor or read mark names no message of the caller's conversation.
    #[error("not found")]
    NotFound,
    /// The `clientMessageId` is already used by another sender in this conversation.
    #[error("clientMessageId already used by another sender")]
    ClientIdReused,
    /// The caller already sent another message with this `clientMessageId` here.
    #[error("clientMessageId already used for another message")]
    KeyReused,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<AppendError> for UserSupportError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::ClientIdReused => Self::ClientIdReused,
            AppendError::KeyReused => Self::KeyReused,
            AppendError::Repo(e) => Self::Repo(e),
            // Only a user's own DM send can meet a block.
            AppendError::Blocked => Self::Repo(RepoError::internal("a block answered a send that is not a DM send")),
        }
    }
}

/// Finds or creates `user`'s support conversation; `true` when created.
pub(crate) fn ensure_support(
    repo: &mut (impl SupportRepository + ?Sized),
    user: UserId,
    settings: &SupportSettings,
) -> Result<(ConversationId, bool), RepoError> {
    if let Some(id) = repo.support_id_for_user(user)? {
        return Ok((id, false));
    }
    let configured = match settings.default_persona {
        Some(persona) if repo.persona_is_active(persona)? => Some(persona),
        _ => None,
    };
    let persona = match configured {
        Some(persona) => Some(persona),
        None => repo.default_support_persona()?,
    };
    repo.create_support(user, persona)
}

/// Gets or creates the caller's support conversation (`true` when created).
pub fn open_support(
    repo: &mut (impl SupportRepository + ?Sized),
    caller: &Principal,
    settings: &SupportSettings,
) -> Result<(SupportConversation, bool), OpenSupportError> {
    let (id, created) = ensure_support(repo, caller.user_id, settings)?;
    let view = repo.support_conversation(id)?.ok_or_else(|| RepoError::internal("support conversation vanished"))?;
    Ok((view, created))
}

/// A page of the caller's support history. Before the conversation exists it is empty.
pub fn support_history(
    repo: &mut (impl SupportRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    query: &HistoryQuery,
) -> Result<Page<Message>, UserSupportError> {
    match repo.support_id_for_user(caller.user_id)? {
        None if query.cursor().is_some() => Err(UserSupportError::NotFound),
        None => Ok(Page { items: Vec::new(), next_cursor: None }),
        Some(id) => history(repo, id, query)?.ok_or(UserSupportError::NotFound),
    }
}

/// Posts a message from the caller to support (creating the conversation if needed).
pub fn send_support_message(
    repo: &mut (impl SupportRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    settings: &SupportSettings,
    new: &NewMessage,
) -> Result<Done<Sent>, UserSupportError> {
    // The caller's own conversation: they speak as themselves, from side one, and the
    // append finds the row by its owner (no lookup first). Only a first message creates it.
    let participants = Participants::Support { user: caller.user_id };
    let author = access::authorize_post(caller, &participants, Voice::Own).map_err(|_| UserSupportError::NotFound)?;
    if let Some(sent) = append_message(repo, AppendTarget::SupportOf(caller.user_id), author, new)? {
        return Ok(Done::sent(sent));
    }
    let (id, _) = ensure_support(repo, caller.user_id, settings)?;
    let sent = append_message(repo, AppendTarget::Conversation(id, Side::One), author, new)?
        .ok_or_else(|| RepoError::internal("support conversation vanished"))?;
    Ok(Done::sent(sent))
}

/// Marks the caller's support conversation read up to `upto`.
pub fn mark_support_read(
    repo: &mut (impl SupportRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    upto: MessageId,
) -> Result<Done<ReadMark>, UserSupportError> {
    let id = repo.support_id_for_user(caller.user_id)?.ok_or(UserSupportError::NotFound)?;
    let mut state = repo.lock_conversation(id)?.ok_or(UserSupportError::NotFound)?;
    mark_read(repo, &mut state, Side::One, upto)?.ok_or(UserSupportError::NotFound)?;
    Ok(Done::read(ReadMark::of(&state, Side::One), caller.user_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::Appended;
    use crate::ids::PersonaId;
    use crate::support::test_support::{MockRepo, message, state};

    const ALICE: Principal = Principal::user(UserId(7));

    #[test]
    fn a_new_conversation_shows_the_configured_persona_when_active() {
        let mut repo = MockRepo::new();
        repo.expect_support_id_for_user().returning(|_| Ok(None));
        repo.expect_persona_is_active().returning(|p| Ok(p == PersonaId(4)));
        repo.expect_default_support_persona().never();
        repo.expect_create_support()
            .withf(|user, persona| *user == UserId(7) && *persona == Some(PersonaId(4)))
            .times(1)
            .returning(|_, _| Ok((ConversationId(1), true)));
        let settings = SupportSettings { default_persona: Some(PersonaId(4)), ..SupportSettings::default() };
        assert_eq!(ensure_support(&mut repo, UserId(7), &settings).unwrap(), (ConversationId(1), true));
    }

    #[test]
    fn a_retired_configured_persona_falls_back_to_the_first_agent() {
        let mut repo = MockRepo::new();
        repo.expect_support_id_for_user().returning(|_| Ok(None));
        repo.expect_persona_is_active().returning(|_| Ok(false));
        repo.expect_default_support_persona().returning(|| Ok(Some(PersonaId(9))));
        repo.expect_create_support()
            .withf(|_, persona| *persona == Some(PersonaId(9)))
            .returning(|_, _| Ok((ConversationId(1), true)));
        let settings = SupportSettings { default_persona: Some(PersonaId(4)), ..SupportSettings::default() };
        ensure_support(&mut repo, UserId(7), &settings).unwrap();
    }

    #[test]
    fn an_existing_conversation_is_reused() {
        let mut repo = MockRepo::new();
        repo.expect_support_id_for_user().returning(|_| Ok(Some(ConversationId(5))));
        repo.expect_create_support().never();
        assert_eq!(
            ensure_support(&mut repo, UserId(7), &SupportSettings::default()).unwrap(),
            (ConversationId(5), false)
        );
    }

    #[test]
    fn history_before_the_conversation_exists_is_empty_but_a_cursor_is_not_found() {
        let mut repo = MockRepo::new();
        repo.expect_support_id_for_user().returning(|_| Ok(None));
        repo.expect_list_messages().never();
        let newest = HistoryQuery::Older { before: None, limit: 10 };
        assert!(support_history(&mut repo, &ALICE, &newest).unwrap().items.is_empty());
        let cursor = HistoryQuery::Older { before: Some(MessageId(3)), limit: 10 };
        assert!(matches!(support_history(&mut repo, &ALICE, &cursor), Err(UserSupportError::NotFound)));
    }

    fn hello() -> NewMessage {
        NewMessage {
            body: crate::conversations::MessageBody::parse(crate::conversations::MessageKind::Text, "hi").unwrap(),
            client_message_id: None,
        }
    }

    #[test]
    fn a_users_send_finds_its_conversation_by_owner_with_no_lookup_first() {
        let mut repo = MockRepo::new();
        repo.expect_support_id_for_user().never();
        repo.expect_lock_conversation().never();
        repo.expect_append()
            .withf(|a| a.target == AppendTarget::SupportOf(UserId(7)))
            .times(1)
            .returning(|a| Ok(Appended::Stored { before: state(UserId(7)), message: message(3, a.author) }));
        let sent = send_support_message(&mut repo, &ALICE, &SupportSettings::default(), &hello()).unwrap().value;
        assert_eq!(sent.message.author, access::Author::User(UserId(7)));
        assert!(sent.created);
    }

    #[test]
    fn a_first_send_creates_the_conversation_then_appends_to_it() {
        let mut repo = MockRepo::new();
        repo.expect_append()
            .withf(|a| a.target == AppendTarget::SupportOf(UserId(7)))
            .times(1)
            .returning(|_| Ok(Appended::Missing));
        repo.expect_support_id_for_user().returning(|_| Ok(None));
        repo.expect_default_support_persona().returning(|| Ok(None));
        repo.expect_create_support().times(1).returning(|_, _| Ok((ConversationId(9), true)));
        repo.expect_append()
            .withf(|a| a.target == AppendTarget::Conversation(ConversationId(9), Side::One))
            .times(1)
            .returning(|a| Ok(Appended::Stored { before: state(UserId(7)), message: message(1, a.author) }));
        let sent = send_support_message(&mut repo, &ALICE, &SupportSettings::default(), &hello()).unwrap().value;
        assert!(sent.created);
    }

    #[test]
    fn marking_a_foreign_message_read_is_not_found() {
        let mut repo = MockRepo::new();
        repo.expect_support_id_for_user().returning(|_| Ok(Some(ConversationId(5))));
        repo.expect_lock_conversation().returning(|_| Ok(Some(state(UserId(7)))));
        repo.expect_message_position().returning(|_, _| Ok(None));
        repo.expect_save_conversation().never();
        assert!(matches!(mark_support_read(&mut repo, &ALICE, MessageId(99)), Err(UserSupportError::NotFound)));
    }
}
