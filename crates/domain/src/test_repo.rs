//! One mock of the repository ports the conversation use cases take together (support,
//! direct messages, notes), for their unit tests: an expectation a test does not set
//! fails the test if the use case calls it, whichever module the mock serves.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::Participants;
use crate::conversations::{
    Append, Appended, ConversationRepository, ConversationState, HistoryQuery, Message, ReplayRepository, Side,
    UserSummary,
};
use crate::direct_messages::{
    AccessLogEntry, AccessLogQuery, AdminDmQuery, BlockedUser, DirectMessageRepository, DmListQuery, DmProspect,
    DmSummary, DmTarget,
};
use crate::error::RepoError;
use crate::group_members::GroupMemberRepository;
use crate::ids::{ConversationId, GroupId, MessageId, PersonaId, UserId};
use crate::notes::{Note, NoteRepository};
use crate::support::{QueueQuery, SupportConversation, SupportRepository};
use crate::users::UserDirectory;

mockall::mock! {
    pub Repo {}
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
    impl SupportRepository for Repo {
        fn support_id_for_user(&mut self, user: UserId) -> Result<Option<ConversationId>, RepoError>;
        fn create_support(&mut self, user: UserId, persona: Option<PersonaId>) -> Result<(ConversationId, bool), RepoError>;
        fn default_support_persona(&mut self) -> Result<Option<PersonaId>, RepoError>;
        fn persona_is_active(&mut self, persona: PersonaId) -> Result<bool, RepoError>;
        fn support_conversation(&mut self, id: ConversationId) -> Result<Option<SupportConversation>, RepoError>;
        fn support_queue(&mut self, query: &QueueQuery) -> Result<Vec<SupportConversation>, RepoError>;
        fn resolve_idle_pending(&mut self, idle_before: DateTime<Utc>, limit: i64) -> Result<Vec<(ConversationId, UserId)>, RepoError>;
    }
    impl UserDirectory for Repo {
        fn user_exists(&mut self, id: UserId) -> Result<bool, RepoError>;
    }
    impl DirectMessageRepository for Repo {
        fn lock_dm_starts(&mut self, user: UserId) -> Result<(), RepoError>;
        fn count_active_dms(&mut self, user: UserId) -> Result<i64, RepoError>;
        fn share_a_group(&mut self, a: UserId, b: UserId) -> Result<bool, RepoError>;
        fn is_blocked(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;
        fn dm_prospects<'a>(&mut self, user: UserId, others: &'a [UserId]) -> Result<Vec<DmProspect>, RepoError>;
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
    impl NoteRepository for Repo {
        fn find_note_by_client_id(&mut self, author: UserId, client_id: Uuid) -> Result<Option<Note>, RepoError>;
        fn insert_note(&mut self, conversation: ConversationId, author: UserId, content: &str, client_id: Option<Uuid>, after_seq: i64) -> Result<Option<Note>, RepoError>;
        fn notes_between(&mut self, conversation: ConversationId, from: i64, to: i64) -> Result<Vec<Note>, RepoError>;
    }
}
