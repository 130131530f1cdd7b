//! Direct messages: user to user, and user to persona (voiced by admins).
//!
//! Starting a DM is get-or-create: an unordered pair of users, or a (user, persona)
//! pair, always gets the same conversation. A user may DM a real user who shares a
//! group with them (the main group, say) and who has not blocked them, and any active
//! persona with DMs enabled, up to a configurable number of active DMs. Admins read
//! every DM (each read is written to an access log), answer persona DMs as that
//! persona only, and never post in user-to-user DMs.

mod admin;
mod blocks;
mod model;
mod ports;
mod start;
mod user;

pub use self::admin::{
    AdminDmError, DmPostError, READ_MESSAGES, admin_dm_history, admin_get_dm, admin_list_dms, archive_idle_dms,
    list_access_log, mark_team_dm_read, record_live_read, reply_in_persona_dm, send_in_dm, watch_dm,
};
pub use self::blocks::{BlockError, block_user, list_blocks, unblock_user};
pub use self::model::{
    AccessLogEntry, AccessLogQuery, AdminDmQuery, BlockedUser, DmCursor, DmKind, DmListQuery, DmParty, DmSettings,
    DmSummary, DmTarget,
};
pub use self::ports::DirectMessageRepository;
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockDirectMessageRepository;
pub use self::start::{DmProspect, Reach, Room, StartDmError, may_start_user_dm, start_dm};
pub use self::user::{UserDmError, dm_history, get_dm, list_dms, mark_dm_read, send_dm_message, set_dm_archived};

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::Utc;

    use super::model::{DmParty, DmSummary};

    use crate::access::{Author, Participants};
    use crate::conversations::{ConversationState, Message, SideState, UserSummary};

    use crate::ids::{ConversationId, MessageId, PersonaId, UserId};

    pub(crate) use crate::test_repo::MockRepo;

    fn state(id: ConversationId, participants: Participants) -> ConversationState {
        ConversationState {
            id,
            participants,
            persona: None,
            support: None,
            side_one: SideState::default(),
            side_two: SideState::default(),
            last_message_id: None,
            last_seq: 0,
            archived_one: None,
            archived_two: None,
            last_message_at: Utc::now(),
        }
    }

    /// A DM between two users.
    pub(crate) fn dm_state(id: ConversationId, a: UserId, b: UserId) -> ConversationState {
        state(id, Participants::UserDm { a, b })
    }

    /// A DM between a user and a persona.
    pub(crate) fn persona_dm_state(id: ConversationId, user: UserId, persona: PersonaId) -> ConversationState {
        let mut s = state(id, Participants::PersonaDm { user, persona });
        s.persona = Some(persona);
        s
    }

    fn user(id: i32) -> UserSummary {
        UserSummary { id: UserId(id), display_name: format!("User {id}"), profile_photo_url: None }
    }

    /// A DM summary between users 1 and 2.
    pub(crate) fn summary(id: ConversationId) -> DmSummary {
        DmSummary {
            id,
            user_one: user(1),
            other: DmParty::User(user(2)),
            side_one: SideState::default(),
            side_two: SideState::default(),
            archived_one: false,
            archived_two: false,
            last_message: None,
            last_message_at: Utc::now(),
            created_at: Utc::now(),
        }
    }

    /// A stored text message at `seq` from `author`.
    pub(crate) fn message(seq: i64, author: Author) -> Message {
        Message {
            id: MessageId(seq),
            conversation_id: ConversationId(1),
            seq,
            author,
            sender_name: None,
            acting_admin_name: None,
            kind: crate::conversations::MessageKind::Text,
            content: "hi".into(),
            client_message_id: None,
            created_at: Utc::now(),
            hidden: false,
        }
    }
}
