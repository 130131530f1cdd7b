//! The support repository port.

use chrono::{DateTime, Utc};

use crate::error::RepoError;
use crate::ids::{ConversationId, PersonaId, UserId};
use crate::support::model::{QueueQuery, SupportConversation};

/// Storage of support conversations (their messages go through
/// [`ConversationRepository`](crate::conversations::ConversationRepository)).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SupportRepository {
    /// The user's support conversation, if it exists.
    fn support_id_for_user(&mut self, user: UserId) -> Result<Option<ConversationId>, RepoError>;

    /// Creates the user's support conversation showing `persona`, or finds the existing
    /// one; returns its id and whether it was created. Implementations MUST be race-free:
    /// concurrent calls for one user yield one conversation.
    fn create_support(&mut self, user: UserId, persona: Option<PersonaId>)
    -> Result<(ConversationId, bool), RepoError>;

    /// The first active support-agent persona, by id.
    fn default_support_persona(&mut self) -> Result<Option<PersonaId>, RepoError>;

    /// Whether `persona` exists and is active (it may voice staff messages).
    fn persona_is_active(&mut self, persona: PersonaId) -> Result<bool, RepoError>;

    /// The support conversation `id`, or `Ok(None)` when `id` is not a support conversation.
    fn support_conversation(&mut self, id: ConversationId) -> Result<Option<SupportConversation>, RepoError>;

    /// Up to `limit + 1` queue rows matching `query`, in its order.
    fn support_queue(&mut self, query: &QueueQuery) -> Result<Vec<SupportConversation>, RepoError>;

    /// Resolves pending conversations with no activity since `idle_before`; returns each
    /// one's id and user (to tell them).
    fn resolve_idle_pending(
        &mut self,
        idle_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(ConversationId, UserId)>, RepoError>;
}
