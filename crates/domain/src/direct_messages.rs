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
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::model::{
        AccessLogEntry, AccessLogQuery, AdminDmQuery, BlockedUser, DmListQuery, DmParty, DmSummary, DmTarget,
    };
    use super::ports::DirectMessageRepository;
    use crate::access::{Author, Participants};
    use crate::conversations::{
        Append, Appended, ConversationRepository, ConversationState, HistoryQuery, Message, ReplayRepository, Side,
        SideState, UserSummary,
    };
    use crate::error::RepoError;
    use crate::group_members::GroupMemberRepository;
    use crate::ids::{ConversationId, GroupId, MessageId, PersonaId, UserId};

    mockall::mock! {
        pub Repo {}
        impl DirectMessageRepository for Repo {
            fn lock_dm_starts(&mut self, user: UserId) -> Result<(), RepoError>;
            fn count_active_dms(&mut self, user: UserId) -> Result<i64, RepoError>;
            fn share_a_group(&mut self, a: UserId, b: UserId) -> Result<bool, RepoError>;
            fn is_blocked(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;
            fn dm_prospects<'a>(&mut self, user: UserId, others: &'a [UserId]) -> Result<Vec<super::DmProspect>, RepoError>;
            fn user_is_known(&mut self, user: UserId) -> Result<bool, RepoError>;
            fn persona_dm_enabled(&mut self, persona: PersonaId) -> Result<Option<bool>, RepoError>;
            fn find_dm(&mut self, user: UserId, other: DmTarget) -> Result<Option<ConversationId>, RepoError>;
            fn create_dm(&mut self, user: UserId, other: DmTarget) -> Result<(ConversationId, bool), RepoError>;
            fn dm_summary(&mut self, id: ConversationId) -> Result<Option<DmSummary>, RepoError>;
            fn list_user_dms(&mut self, user: UserId, query: &DmListQuery) -> Result<Vec<DmSummary>, RepoError>;
            fn total_dm_unread(&mut self, user: UserId) -> Result<i64, RepoError>;
            fn list_all_dms(&mut self, query: &AdminDmQuery) -> Result<Vec<DmSummary>, RepoError>;
            fn archive_idle_dms(&mut self, idle_before: DateTime<Utc>, limit: i64) -> Result<Vec<ConversationId>, RepoError>;
            fn note_brought_back(&mut self, id: ConversationId, side: Side, at: DateTime<Utc>) -> Result<(), RepoError>;
            fn block(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;
            fn unblock(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;
            fn list_blocks(&mut self, blocker: UserId) -> Result<Vec<BlockedUser>, RepoError>;
            fn record_access(&mut self, admin: UserId, conversation: ConversationId, action: &str) -> Result<(), RepoError>;
            fn list_access(&mut self, query: &AccessLogQuery) -> Result<Vec<AccessLogEntry>, RepoError>;
        }
        impl ReplayRepository for Repo {
            fn conversation_positions(&mut self, user: UserId) -> Result<Vec<(ConversationId, Participants, i64)>, RepoError>;
            fn conversation_position(&mut self, id: ConversationId) -> Result<Option<(Participants, i64)>, RepoError>;
            fn messages_after(&mut self, id: ConversationId, after: i64, limit: i64) -> Result<Vec<Message>, RepoError>;
        }
        impl GroupMemberRepository for Repo {
            fn member_group_kind(&mut self, group: GroupId, user: UserId) -> Result<Option<String>, RepoError>;
            fn list_members(&mut self, group: GroupId, after: Option<UserId>, limit: u16) -> Result<Vec<UserSummary>, RepoError>;
        }
        impl ConversationRepository for Repo {
            fn lock_conversation(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError>;
            fn conversation_state(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError>;
            fn save_conversation(&mut self, state: &ConversationState) -> Result<(), RepoError>;
            fn find_by_client_id(&mut self, id: ConversationId, client_id: Uuid) -> Result<Option<Message>, RepoError>;
            fn append(&mut self, append: &Append) -> Result<Appended, RepoError>;
            fn message_position(&mut self, id: ConversationId, message: MessageId) -> Result<Option<i64>, RepoError>;
            fn list_messages(&mut self, id: ConversationId, query: &HistoryQuery) -> Result<Vec<Message>, RepoError>;
            fn count_unread(&mut self, id: ConversationId, reader: Side, after: MessageId) -> Result<i64, RepoError>;
        }
    }

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
