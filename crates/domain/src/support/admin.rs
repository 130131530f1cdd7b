//! Use cases of the admin side: the queue, one conversation, replies, status and
//! assignee, the team's read state, and auto-resolve.

use chrono::{DateTime, Utc};

use crate::access::{self, Author, Denied, Participants};
use crate::conversations::{
    AppendError, AppendTarget, ConversationRepository, ConversationState, HistoryQuery, Message, NewMessage, Page,
    ReadMark, Sent, Side, append_message, history, mark_read,
};
use crate::error::RepoError;
use crate::events::{ChatEvent, Done};
use crate::ids::{ConversationId, MessageId, PersonaId, UserId};
use crate::principal::Principal;
use crate::support::lifecycle::SupportStatus;
use crate::support::model::{QueueCursor, QueueQuery, SupportConversation};
use crate::support::ports::SupportRepository;
use crate::users::UserDirectory;

/// Why an admin support request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminSupportError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// No support conversation (or message of it) has this id.
    #[error("not found")]
    NotFound,
    /// The assignee is not an existing user.
    #[error("unknown assignee")]
    UnknownAssignee,
    /// The queue cursor belongs to another status filter.
    #[error("the cursor does not match the status filter")]
    CursorMismatch,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why a reply could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// No support conversation has this id.
    #[error("not found")]
    NotFound,
    /// The persona does not exist or is inactive.
    #[error("unknown or inactive persona")]
    UnknownPersona,
    /// The caller may not speak as a persona here (they own the conversation; they may
    /// answer it as the team).
    #[error("voice not allowed")]
    VoiceNotAllowed,
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

impl From<AppendError> for ReplyError {
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

/// Whom an admin answers as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// The conversation's persona, or the team when it has none (or it was retired).
    Default,
    /// A given persona.
    Persona(PersonaId),
    /// The team, shown as "Support".
    Team,
}

/// A change of status and/or assignee. `assignee: Some(None)` unassigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SupportPatch {
    /// New status.
    pub status: Option<SupportStatus>,
    /// New assignee, or `Some(None)` to unassign.
    pub assignee: Option<Option<UserId>>,
}

fn require_admin(caller: &Principal) -> Result<(), AdminSupportError> {
    if caller.is_admin() { Ok(()) } else { Err(AdminSupportError::Forbidden) }
}

/// Locks `id` if it is a support conversation.
fn lock_support(
    repo: &mut (impl ConversationRepository + ?Sized),
    id: ConversationId,
) -> Result<Option<ConversationState>, RepoError> {
    Ok(repo.lock_conversation(id)?.filter(|s| matches!(s.participants, Participants::Support { .. })))
}

/// The queue: open conversations longest-waiting first, others by last activity.
/// Returns the page and the cursor of the next one.
pub fn support_queue(
    repo: &mut (impl SupportRepository + ?Sized),
    caller: &Principal,
    query: &QueueQuery,
) -> Result<(Vec<SupportConversation>, Option<QueueCursor>), AdminSupportError> {
    require_admin(caller)?;
    if !query.cursor_matches_order() {
        return Err(AdminSupportError::CursorMismatch);
    }
    let mut rows = repo.support_queue(query)?;
    let has_more = rows.len() > usize::from(query.limit);
    rows.truncate(usize::from(query.limit));
    let next = if has_more { rows.last().map(|row| query.cursor_after(row)) } else { None };
    Ok((rows, next))
}

/// One support conversation.
pub fn get_support(
    repo: &mut (impl SupportRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
) -> Result<SupportConversation, AdminSupportError> {
    require_admin(caller)?;
    repo.support_conversation(id)?.ok_or(AdminSupportError::NotFound)
}

/// A page of a support conversation's history (admin view).
pub fn support_history(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    query: &HistoryQuery,
) -> Result<Page<Message>, AdminSupportError> {
    require_admin(caller)?;
    let is_support =
        repo.conversation_state(id)?.is_some_and(|s| matches!(s.participants, Participants::Support { .. }));
    if !is_support {
        return Err(AdminSupportError::NotFound);
    }
    history(repo, id, query)?.ok_or(AdminSupportError::NotFound)
}

/// Posts an admin's answer as a persona or as the team; the conversation becomes pending.
pub fn reply_to_support(
    repo: &mut (impl SupportRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    voice: Voice,
    new: &NewMessage,
) -> Result<Done<Sent>, ReplyError> {
    if !caller.is_admin() {
        return Err(ReplyError::Forbidden);
    }
    // Read, not locked: who is in a conversation and its kind never change, and the
    // append below takes the row's lock for the effect itself.
    let state = repo
        .conversation_state(id)?
        .filter(|s| matches!(s.participants, Participants::Support { .. }))
        .ok_or(ReplyError::NotFound)?;
    if access::is_participant(caller.user_id, &state.participants) {
        // An admin answering their own support conversation from the queue speaks for the
        // team, never as themselves (that is the user route) and never as a persona to
        // themselves. Without this, the access policy would see a participant and store
        // a "team" reply as the admin's own user message.
        let author = match voice {
            Voice::Team | Voice::Default => Author::Team { admin: caller.user_id },
            Voice::Persona(_) => return Err(ReplyError::VoiceNotAllowed),
        };
        let here = AppendTarget::Conversation(id, state.side_of(&author));
        let sent = append_message(repo, here, author, new)?.ok_or(ReplyError::NotFound)?;
        return Ok(Done::sent(sent));
    }
    let asked = match voice {
        Voice::Team => access::Voice::Own,
        Voice::Persona(persona) if repo.persona_is_active(persona)? => access::Voice::Persona(persona),
        Voice::Persona(_) => return Err(ReplyError::UnknownPersona),
        Voice::Default => match state.persona {
            Some(persona) if repo.persona_is_active(persona)? => access::Voice::Persona(persona),
            _ => access::Voice::Own,
        },
    };
    let author = access::authorize_post(caller, &state.participants, asked).map_err(|denied| match denied {
        Denied::NotVisible => ReplyError::NotFound,
        Denied::ReadOnly | Denied::VoiceNotAllowed => ReplyError::VoiceNotAllowed,
    })?;
    let here = AppendTarget::Conversation(id, state.side_of(&author));
    let sent = append_message(repo, here, author, new)?.ok_or(ReplyError::NotFound)?;
    Ok(Done::sent(sent))
}

/// Changes status and/or assignee.
pub fn update_support(
    repo: &mut (impl SupportRepository + ConversationRepository + UserDirectory + ?Sized),
    caller: &Principal,
    id: ConversationId,
    patch: SupportPatch,
    now: DateTime<Utc>,
) -> Result<Done<SupportConversation>, AdminSupportError> {
    require_admin(caller)?;
    let mut state = lock_support(repo, id)?.ok_or(AdminSupportError::NotFound)?;
    if let Some(Some(assignee)) = patch.assignee
        && !repo.user_exists(assignee)?
    {
        return Err(AdminSupportError::UnknownAssignee);
    }
    let support = state.support.get_or_insert_default();
    if let Some(status) = patch.status {
        support.set_status(status, now);
    }
    if let Some(assignee) = patch.assignee {
        support.assignee = assignee;
    }
    repo.save_conversation(&state)?;
    let conversation = repo.support_conversation(id)?.ok_or(AdminSupportError::NotFound)?;
    let updated = ChatEvent::ConversationUpdated { participants: state.participants, conversation: id };
    Ok(Done::new(conversation, vec![updated]))
}

/// Moves the team's read mark (shared by all admins) to `upto`.
pub fn mark_team_read(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    upto: MessageId,
) -> Result<Done<ReadMark>, AdminSupportError> {
    require_admin(caller)?;
    let mut state = lock_support(repo, id)?.ok_or(AdminSupportError::NotFound)?;
    mark_read(repo, &mut state, Side::Two, upto)?.ok_or(AdminSupportError::NotFound)?;
    Ok(Done::read(ReadMark::of(&state, Side::Two), caller.user_id))
}

/// Resolves pending conversations idle since before `idle_before` (open ones, where a
/// user is waiting, are never touched). Returns what changed, for the caller to
/// publish after the commit: a `ConversationUpdated` per resolved conversation.
pub fn auto_resolve(
    repo: &mut (impl SupportRepository + ?Sized),
    idle_before: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<ChatEvent>, RepoError> {
    let resolved = repo.resolve_idle_pending(idle_before, batch)?;
    Ok(resolved
        .into_iter()
        .map(|(conversation, user)| ChatEvent::ConversationUpdated {
            participants: Participants::Support { user },
            conversation,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::conversations::{Appended, MessageBody, MessageKind};
    use crate::support::test_support::{MockRepo, message, state};

    const ADMIN: Principal = Principal::admin(UserId(1));
    const USER: UserId = UserId(7);

    fn text() -> NewMessage {
        NewMessage { body: MessageBody::parse(MessageKind::Text, "hello").unwrap(), client_message_id: None }
    }

    fn replying(expected: Author) -> MockRepo {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|_| {
            let mut s = state(USER);
            s.persona = Some(PersonaId(2));
            Ok(Some(s))
        });
        repo.expect_find_by_client_id().never();
        repo.expect_append()
            .withf(move |a| a.author == expected && a.target.side() == Some(Side::Two))
            .times(1)
            .returning(|a| Ok(Appended::Stored { before: state(USER), message: message(20, a.author) }));
        repo
    }

    #[test]
    fn replies_default_to_the_conversations_persona() {
        let mut repo = replying(Author::Persona { persona: PersonaId(2), admin: UserId(1) });
        repo.expect_persona_is_active().returning(|_| Ok(true));
        let _done = reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Default, &text()).unwrap();
    }

    #[test]
    fn a_retired_header_persona_falls_back_to_the_team() {
        let mut repo = replying(Author::Team { admin: UserId(1) });
        repo.expect_persona_is_active().returning(|_| Ok(false));
        let _done = reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Default, &text()).unwrap();
    }

    #[test]
    fn admins_may_answer_as_any_active_persona_or_as_the_team() {
        let mut repo = replying(Author::Persona { persona: PersonaId(5), admin: UserId(1) });
        repo.expect_persona_is_active().returning(|_| Ok(true));
        let _done =
            reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Persona(PersonaId(5)), &text()).unwrap();
        let mut repo = replying(Author::Team { admin: UserId(1) });
        let _done = reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Team, &text()).unwrap();
    }

    #[test]
    fn an_admin_answering_their_own_conversation_speaks_for_the_team_never_as_a_user() {
        let own = |repo: &mut MockRepo| {
            repo.expect_conversation_state().returning(|_| {
                let mut s = state(UserId(1));
                s.persona = Some(PersonaId(2));
                Ok(Some(s))
            });
        };
        for voice in [Voice::Team, Voice::Default] {
            let mut repo = MockRepo::new();
            own(&mut repo);
            repo.expect_persona_is_active().returning(|_| Ok(true));
            // A staff message: the team's side, and the conversation is answered.
            repo.expect_append()
                .withf(|a| a.author == Author::Team { admin: UserId(1) } && a.target.side() == Some(Side::Two))
                .times(1)
                .returning(|a| Ok(Appended::Stored { before: state(UserId(1)), message: message(20, a.author) }));
            let sent = reply_to_support(&mut repo, &ADMIN, ConversationId(1), voice, &text()).unwrap().value;
            assert_eq!(sent.message.author, Author::Team { admin: UserId(1) }, "{voice:?}");
            assert!(sent.status_changed, "open -> pending");
        }
        let mut repo = MockRepo::new();
        own(&mut repo);
        repo.expect_persona_is_active().returning(|_| Ok(true));
        repo.expect_append().never();
        let err = reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Persona(PersonaId(2)), &text());
        assert!(matches!(err, Err(ReplyError::VoiceNotAllowed)));
    }

    #[test]
    fn an_unknown_persona_is_refused_before_anything_is_stored() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|_| Ok(Some(state(USER))));
        repo.expect_persona_is_active().returning(|_| Ok(false));
        repo.expect_append().never();
        let err = reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Persona(PersonaId(5)), &text());
        assert!(matches!(err, Err(ReplyError::UnknownPersona)));
    }

    #[test]
    fn users_cannot_reply_and_dms_are_not_support() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().never();
        let err = reply_to_support(&mut repo, &Principal::user(USER), ConversationId(1), Voice::Team, &text());
        assert!(matches!(err, Err(ReplyError::Forbidden)));

        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|_| {
            let mut s = state(USER);
            s.participants = Participants::UserDm { a: USER, b: UserId(8) };
            s.support = None;
            Ok(Some(s))
        });
        let err = reply_to_support(&mut repo, &ADMIN, ConversationId(1), Voice::Team, &text());
        assert!(matches!(err, Err(ReplyError::NotFound)));
    }

    #[test]
    fn assigning_an_unknown_user_is_refused() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|_| Ok(Some(state(USER))));
        repo.expect_user_exists().returning(|_| Ok(false));
        repo.expect_save_conversation().never();
        let patch = SupportPatch { status: None, assignee: Some(Some(UserId(77))) };
        let err = update_support(&mut repo, &ADMIN, ConversationId(1), patch, Utc::now());
        assert!(matches!(err, Err(AdminSupportError::UnknownAssignee)));
    }

    #[test]
    fn resolving_and_unassigning_are_saved() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|_| Ok(Some(state(USER))));
        repo.expect_save_conversation()
            .withf(|s| {
                let support = s.support.unwrap();
                support.status == SupportStatus::Resolved && support.assignee.is_none()
            })
            .times(1)
            .returning(|_| Ok(()));
        repo.expect_support_conversation().returning(|_| Ok(None));
        let patch = SupportPatch { status: Some(SupportStatus::Resolved), assignee: Some(None) };
        let _ = update_support(&mut repo, &ADMIN, ConversationId(1), patch, Utc::now());
    }

    #[test]
    fn a_queue_cursor_from_another_order_is_refused() {
        let mut repo = MockRepo::new();
        repo.expect_support_queue().never();
        let query = QueueQuery {
            status: crate::support::QueueStatus::Open,
            assignee: crate::support::AssigneeFilter::Any,
            persona: None,
            after: Some(QueueCursor::Activity(Utc::now(), ConversationId(3))),
            limit: 10,
        };
        assert!(matches!(support_queue(&mut repo, &ADMIN, &query), Err(AdminSupportError::CursorMismatch)));
    }

    #[test]
    fn auto_resolve_tells_each_resolved_conversations_user() {
        let mut repo = MockRepo::new();
        let before = Utc::now();
        repo.expect_resolve_idle_pending()
            .withf(move |idle_before, limit| *idle_before == before && *limit == 50)
            .returning(|_, _| Ok(vec![(ConversationId(3), UserId(7)), (ConversationId(4), UserId(8))]));
        let events = auto_resolve(&mut repo, before, 50).unwrap();
        assert_eq!(
            events,
            [
                ChatEvent::ConversationUpdated {
                    participants: Participants::Support { user: UserId(7) },
                    conversation: ConversationId(3)
                },
                ChatEvent::ConversationUpdated {
                    participants: Participants::Support { user: UserId(8) },
                    conversation: ConversationId(4)
                },
            ]
        );
    }
}
