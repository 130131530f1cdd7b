//! Use cases of admins: oversee every DM (each read is logged), answer persona DMs as
//! their persona, archive idle DMs, read the access log.

use chrono::{DateTime, Utc};

use crate::access::{self, Denied, Participants, Voice};
use crate::conversations::{
    AppendError, AppendTarget, ConversationRepository, HistoryQuery, Message, NewMessage, Page, ReadMark, Sent, Side,
    append_message, history, mark_read,
};
use crate::direct_messages::model::{AccessLogEntry, AccessLogQuery, AdminDmQuery, DmCursor, DmSummary};
use crate::direct_messages::ports::DirectMessageRepository;
use crate::direct_messages::user::{UserDmError, send_dm_message};
use crate::error::RepoError;
use crate::events::Done;
use crate::ids::{ConversationId, MessageId};
use crate::principal::Principal;

/// The access-log action for reading a DM's messages.
pub const READ_MESSAGES: &str = "read_messages";

/// Why an admin DM request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminDmError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// No DM has this id.
    #[error("not found")]
    NotFound,
    /// Admins never post in user-to-user DMs.
    #[error("admins cannot post in conversations between users")]
    UserDmReadOnly,
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

impl From<AppendError> for AdminDmError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::ClientIdReused => Self::ClientIdReused,
            AppendError::KeyReused => Self::KeyReused,
            AppendError::Repo(e) => Self::Repo(e),
            // Only a user's own DM send can meet a block; staff write by id.
            AppendError::Blocked => Self::Repo(RepoError::internal("a block answered a staff send")),
        }
    }
}

fn require_admin(caller: &Principal) -> Result<(), AdminDmError> {
    if caller.is_admin() { Ok(()) } else { Err(AdminDmError::Forbidden) }
}

/// A page of every DM, most recent activity first, and the next cursor.
pub fn admin_list_dms(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    query: &AdminDmQuery,
) -> Result<(Vec<DmSummary>, Option<DmCursor>), AdminDmError> {
    require_admin(caller)?;
    let mut rows = repo.list_all_dms(query)?;
    let has_more = rows.len() > usize::from(query.limit);
    rows.truncate(usize::from(query.limit));
    let next = if has_more { rows.last().map(|r| DmCursor(r.last_message_at, r.id)) } else { None };
    Ok((rows, next))
}

/// One DM (its header data; reading its messages is logged separately).
pub fn admin_get_dm(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
) -> Result<DmSummary, AdminDmError> {
    require_admin(caller)?;
    repo.dm_summary(id)?.ok_or(AdminDmError::NotFound)
}

/// A page of a DM's messages; writes an access-log row in the same transaction, so no
/// read happens without its record.
pub fn admin_dm_history(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    query: &HistoryQuery,
) -> Result<Page<Message>, AdminDmError> {
    require_admin(caller)?;
    let is_dm = repo
        .conversation_state(id)?
        .is_some_and(|s| matches!(s.participants, Participants::UserDm { .. } | Participants::PersonaDm { .. }));
    if !is_dm {
        return Err(AdminDmError::NotFound);
    }
    let page = history(repo, id, query)?.ok_or(AdminDmError::NotFound)?;
    repo.record_access(caller.user_id, id, READ_MESSAGES)?;
    Ok(page)
}

/// Starts watching a DM's live events (a WebSocket join); recorded like a read.
pub fn watch_dm(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
) -> Result<DmSummary, AdminDmError> {
    let dm = admin_get_dm(repo, caller, id)?;
    repo.record_access(caller.user_id, id, READ_MESSAGES)?;
    Ok(dm)
}

/// An admin's socket received a DM's message content live (the support queue carries
/// persona DMs): recorded like a read of its messages.
pub fn record_live_read(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
) -> Result<(), AdminDmError> {
    require_admin(caller)?;
    repo.record_access(caller.user_id, id, READ_MESSAGES)?;
    Ok(())
}

/// Answers in a persona DM, always as that conversation's persona.
pub fn reply_in_persona_dm(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    new: &NewMessage,
) -> Result<Done<Sent>, AdminDmError> {
    require_admin(caller)?;
    let state = repo
        .conversation_state(id)?
        .filter(|s| matches!(s.participants, Participants::UserDm { .. } | Participants::PersonaDm { .. }))
        .ok_or(AdminDmError::NotFound)?;
    let author = access::authorize_post(caller, &state.participants, Voice::Own).map_err(|denied| match denied {
        Denied::NotVisible => AdminDmError::NotFound,
        Denied::ReadOnly | Denied::VoiceNotAllowed => AdminDmError::UserDmReadOnly,
    })?;
    if !author.is_staff() {
        // An admin who is a participant of a user DM writes through the user routes.
        return Err(AdminDmError::UserDmReadOnly);
    }
    let sent = append_message(repo, AppendTarget::Conversation(id, state.side_of(&author)), author, new)?
        .ok_or(AdminDmError::NotFound)?;
    Ok(Done::sent(sent))
}

/// Why a message could not be posted in a DM by whoever the caller is.
#[derive(Debug, thiserror::Error)]
pub enum DmPostError {
    /// Refused to the caller as a participant (a user, or an admin in their own DM).
    #[error(transparent)]
    AsParticipant(#[from] UserDmError),
    /// Refused to the caller as staff (an admin outside the DM).
    #[error(transparent)]
    AsStaff(#[from] AdminDmError),
}

impl From<RepoError> for DmPostError {
    fn from(e: RepoError) -> Self {
        Self::AsParticipant(UserDmError::Repo(e))
    }
}

/// Posts in a DM for whoever the caller is, in one transaction: a participant (an admin
/// in their own DM too) writes as themselves, as [`send_dm_message`]; an admin outside
/// the DM answers as its persona, as [`reply_in_persona_dm`] (and is refused in
/// user-to-user DMs). The socket's `dm-message`, whose frame does not say which.
pub fn send_in_dm(
    repo: &mut (impl DirectMessageRepository + ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    new: &NewMessage,
) -> Result<Done<Sent>, DmPostError> {
    match send_dm_message(repo, caller, id, new) {
        Err(UserDmError::NotFound) if caller.is_admin() => Ok(reply_in_persona_dm(repo, caller, id, new)?),
        own => Ok(own?),
    }
}

/// Moves the team's read mark (side two, shared by all admins) in a persona DM to
/// `upto`: what clears `otherUnreadCount` in the admin list. User-to-user DMs have no
/// team side (an admin who is one of the users reads through the user routes).
pub fn mark_team_dm_read(
    repo: &mut (impl ConversationRepository + ?Sized),
    caller: &Principal,
    id: ConversationId,
    upto: MessageId,
) -> Result<Done<ReadMark>, AdminDmError> {
    require_admin(caller)?;
    let mut state = repo
        .lock_conversation(id)?
        .filter(|s| matches!(s.participants, Participants::PersonaDm { .. }))
        .ok_or(AdminDmError::NotFound)?;
    mark_read(repo, &mut state, Side::Two, upto)?.ok_or(AdminDmError::NotFound)?;
    Ok(Done::read(ReadMark::of(&state, Side::Two), caller.user_id))
}

/// Archives DMs idle since before `idle_before`, for both sides.
pub fn archive_idle_dms(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    idle_before: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<ConversationId>, RepoError> {
    repo.archive_idle_dms(idle_before, batch)
}

/// A page of the staff access log, newest first, and the next cursor.
pub fn list_access_log(
    repo: &mut (impl DirectMessageRepository + ?Sized),
    caller: &Principal,
    query: &AccessLogQuery,
) -> Result<(Vec<AccessLogEntry>, Option<i64>), AdminDmError> {
    require_admin(caller)?;
    let mut rows = repo.list_access(query)?;
    let has_more = rows.len() > usize::from(query.limit);
    rows.truncate(usize::from(query.limit));
    let next = if has_more { rows.last().map(|r| r.id) } else { None };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Author;
    use crate::conversations::{Appended, MessageBody, MessageKind};
    use crate::direct_messages::test_support::{MockRepo, dm_state, persona_dm_state};
    use crate::ids::{PersonaId, UserId};

    const ADMIN: Principal = Principal::admin(UserId(9));

    fn text() -> NewMessage {
        NewMessage { body: MessageBody::parse(MessageKind::Text, "hi").unwrap(), client_message_id: None }
    }

    #[test]
    fn admins_answer_persona_dms_as_that_persona() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|id| Ok(Some(persona_dm_state(id, UserId(1), PersonaId(4)))));
        repo.expect_append()
            .withf(|a| {
                a.author == Author::Persona { persona: PersonaId(4), admin: UserId(9) }
                    && a.target.side() == Some(Side::Two)
            })
            .times(1)
            .returning(|a| {
                let before = persona_dm_state(ConversationId(1), UserId(1), PersonaId(4));
                Ok(Appended::Stored { before, message: crate::support::test_support::message(5, a.author) })
            });
        let _done = reply_in_persona_dm(&mut repo, &ADMIN, ConversationId(1), &text()).unwrap();
    }

    #[test]
    fn admins_cannot_post_in_user_dms() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_append().never();
        let err = reply_in_persona_dm(&mut repo, &ADMIN, ConversationId(1), &text());
        assert!(matches!(err, Err(AdminDmError::UserDmReadOnly)));
    }

    #[test]
    fn every_admin_read_of_messages_is_logged() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_list_messages().returning(|_, _| Ok(Vec::new()));
        repo.expect_record_access()
            .withf(|admin, id, action| *admin == UserId(9) && *id == ConversationId(1) && action == READ_MESSAGES)
            .times(1)
            .returning(|_, _, _| Ok(()));
        let query = HistoryQuery::Older { before: None, limit: 10 };
        admin_dm_history(&mut repo, &ADMIN, ConversationId(1), &query).unwrap();
    }

    #[test]
    fn the_idle_archive_task_asks_storage_for_dms_idle_since_the_cutoff() {
        let mut repo = MockRepo::new();
        let cutoff = Utc::now() - chrono::Duration::days(30);
        repo.expect_archive_idle_dms()
            .withf(move |before, batch| *before == cutoff && *batch == 500)
            .times(1)
            .returning(|_, _| Ok(vec![ConversationId(3)]));
        assert_eq!(archive_idle_dms(&mut repo, cutoff, 500).unwrap(), [ConversationId(3)]);
    }

    #[test]
    fn a_failed_read_logs_nothing_and_users_are_refused() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_message_position().returning(|_, _| Ok(None));
        repo.expect_record_access().never();
        let query = HistoryQuery::Older { before: Some(MessageId(3)), limit: 10 };
        assert!(matches!(admin_dm_history(&mut repo, &ADMIN, ConversationId(1), &query), Err(AdminDmError::NotFound)));
        let user = Principal::user(UserId(1));
        assert!(matches!(admin_dm_history(&mut repo, &user, ConversationId(1), &query), Err(AdminDmError::Forbidden)));
    }

    #[test]
    fn live_reads_are_logged_for_admins_only() {
        let mut repo = MockRepo::new();
        repo.expect_record_access()
            .withf(|admin, id, action| *admin == UserId(9) && *id == ConversationId(4) && action == READ_MESSAGES)
            .times(1)
            .returning(|_, _, _| Ok(()));
        record_live_read(&mut repo, &ADMIN, ConversationId(4)).unwrap();
        let user = Principal::user(UserId(1));
        assert!(matches!(record_live_read(&mut repo, &user, ConversationId(4)), Err(AdminDmError::Forbidden)));
    }

    #[test]
    fn the_team_reads_persona_dms_on_side_two() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(persona_dm_state(id, UserId(1), PersonaId(3)))));
        repo.expect_message_position().returning(|_, _| Ok(Some(2)));
        repo.expect_count_unread().withf(|_, side, _| *side == Side::Two).returning(|_, _, _| Ok(0));
        repo.expect_save_conversation().times(1).returning(|_| Ok(()));
        let mark = mark_team_dm_read(&mut repo, &ADMIN, ConversationId(4), MessageId(7)).unwrap().value;
        assert_eq!((mark.side, mark.state.last_read, mark.state.unread), (Side::Two, MessageId(7), 0));
    }

    #[test]
    fn the_team_has_no_side_in_user_dms_and_users_no_team_read() {
        let mut repo = MockRepo::new();
        repo.expect_lock_conversation().returning(|id| Ok(Some(dm_state(id, UserId(1), UserId(2)))));
        repo.expect_save_conversation().never();
        let err = mark_team_dm_read(&mut repo, &ADMIN, ConversationId(4), MessageId(7)).unwrap_err();
        assert!(matches!(err, AdminDmError::NotFound));
        let user = Principal::user(UserId(1));
        let err = mark_team_dm_read(&mut repo, &user, ConversationId(4), MessageId(7)).unwrap_err();
        assert!(matches!(err, AdminDmError::Forbidden));
    }

    #[test]
    fn an_admin_posts_as_themselves_in_their_own_dm_and_as_the_persona_elsewhere() {
        let mut repo = MockRepo::new();
        let state_of = |id| {
            if id == ConversationId(1) {
                dm_state(id, UserId(9), UserId(2))
            } else {
                persona_dm_state(id, UserId(2), PersonaId(3))
            }
        };
        repo.expect_conversation_state().returning(move |id| Ok(Some(state_of(id))));
        repo.expect_append().returning(move |a| {
            // As the adapter answers: a user's own DM send finds only a DM they are in.
            let id = match (a.target, a.author) {
                (AppendTarget::DmOf(id), Author::User(user))
                    if access::is_participant(user, &state_of(id).participants) =>
                {
                    id
                }
                (AppendTarget::DmOf(_), _) => return Ok(Appended::Missing),
                (AppendTarget::Conversation(id, _), _) => id,
                (AppendTarget::SupportOf(_), _) => panic!("a DM is named by its id"),
            };
            let mut message = crate::direct_messages::test_support::message(1, a.author);
            message.conversation_id = id;
            Ok(Appended::Stored { before: state_of(id), message })
        });
        let own = send_in_dm(&mut repo, &ADMIN, ConversationId(1), &text()).unwrap().value;
        assert_eq!(own.message.author, Author::User(UserId(9)));
        let persona = send_in_dm(&mut repo, &ADMIN, ConversationId(2), &text()).unwrap().value;
        assert_eq!(persona.message.author, Author::Persona { persona: PersonaId(3), admin: UserId(9) });
    }

    #[test]
    fn users_outside_a_dm_get_not_found_never_the_staff_path() {
        let mut repo = MockRepo::new();
        // The user's own send finds no DM they are in; nothing else is tried.
        repo.expect_conversation_state().never();
        repo.expect_append()
            .withf(|a| a.target == AppendTarget::DmOf(ConversationId(2)))
            .times(1)
            .returning(|_| Ok(Appended::Missing));
        let err = send_in_dm(&mut repo, &Principal::user(UserId(5)), ConversationId(2), &text()).unwrap_err();
        assert!(matches!(err, DmPostError::AsParticipant(UserDmError::NotFound)));
    }
}
