//! The direct-message repository port.

use chrono::{DateTime, Utc};

use crate::conversations::Side;
use crate::direct_messages::DmProspect;
use crate::direct_messages::model::{
    AccessLogEntry, AccessLogQuery, AdminDmQuery, BlockedUser, DmListQuery, DmSummary,
};
use crate::error::RepoError;
use crate::ids::{ConversationId, PersonaId, UserId};

/// Storage of DMs, blocks and the staff access log (messages go through
/// [`ConversationRepository`](crate::conversations::ConversationRepository)).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait DirectMessageRepository {
    /// Serializes DM starts by `user` until the transaction ends, so that counting
    /// active DMs and creating one cannot race past the limit.
    fn lock_dm_starts(&mut self, user: UserId) -> Result<(), RepoError>;

    /// How many DMs `user` is in and has not archived.
    fn count_active_dms(&mut self, user: UserId) -> Result<i64, RepoError>;

    /// Whether the two users are members of a common active group (main or other;
    /// personal and old support groups do not count).
    fn share_a_group(&mut self, a: UserId, b: UserId) -> Result<bool, RepoError>;

    /// Whether `blocker` has blocked `blocked`.
    fn is_blocked(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;

    /// For each of `others` (never `user` itself), the facts [`start_dm`] checks about
    /// them, in one query for a page of group members: whether they exist, blocks either
    /// way, a common main or other group (as [`Self::share_a_group`]), their DM with
    /// `user` and whether `user` archived it, and their active DMs (as
    /// [`Self::count_active_dms`]). One row per id of `others`, in any order.
    ///
    /// [`start_dm`]: crate::direct_messages::start_dm
    fn dm_prospects(&mut self, user: UserId, others: &[UserId]) -> Result<Vec<DmProspect>, RepoError>;

    /// Whether the user exists.
    fn user_is_known(&mut self, user: UserId) -> Result<bool, RepoError>;

    /// `Some(dm_enabled)` for an active persona, `None` when it is missing or inactive.
    fn persona_dm_enabled(&mut self, persona: PersonaId) -> Result<Option<bool>, RepoError>;

    /// The DM between two users, or between a user and a persona, if it exists.
    fn find_dm(
        &mut self,
        user: UserId,
        other: crate::direct_messages::DmTarget,
    ) -> Result<Option<ConversationId>, RepoError>;

    /// Creates the DM or finds the existing one; `true` when created. Implementations
    /// MUST be race-free: concurrent calls for one pair, from either side, yield one DM.
    fn create_dm(
        &mut self,
        user: UserId,
        other: crate::direct_messages::DmTarget,
    ) -> Result<(ConversationId, bool), RepoError>;

    /// The DM `id` (user-to-user or persona), or `Ok(None)` when `id` is not a DM.
    fn dm_summary(&mut self, id: ConversationId) -> Result<Option<DmSummary>, RepoError>;

    /// Up to `limit + 1` of `user`'s DMs, most recent activity first.
    fn list_user_dms(&mut self, user: UserId, query: &DmListQuery) -> Result<Vec<DmSummary>, RepoError>;

    /// The sum of `user`'s unread counts over their active (not archived) DMs.
    fn total_dm_unread(&mut self, user: UserId) -> Result<i64, RepoError>;

    /// Up to `limit + 1` DMs matching `query`, most recent activity first.
    fn list_all_dms(&mut self, query: &AdminDmQuery) -> Result<Vec<DmSummary>, RepoError>;

    /// Archives, per side, DMs idle since before `idle_before`; returns their ids.
    ///
    /// A side is archived only if it is active and was not brought back at or after
    /// `idle_before` (see [`Self::note_brought_back`]): implementations MUST leave such a
    /// side alone, or the task would undo a user's unarchive on its next run.
    fn archive_idle_dms(&mut self, idle_before: DateTime<Utc>, limit: i64) -> Result<Vec<ConversationId>, RepoError>;

    /// Records that `side` brought DM `id` back from the archive at `at` (unarchived it,
    /// or reopened it by starting it again). The idle-archive task spares that side until
    /// it has been idle for a whole period after `at`.
    fn note_brought_back(&mut self, id: ConversationId, side: Side, at: DateTime<Utc>) -> Result<(), RepoError>;

    /// Records a block; `false` when it already existed.
    fn block(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;

    /// Removes a block; `false` when there was none.
    fn unblock(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError>;

    /// The users `blocker` has blocked, most recent first.
    fn list_blocks(&mut self, blocker: UserId) -> Result<Vec<BlockedUser>, RepoError>;

    /// Writes a staff access-log row.
    fn record_access(&mut self, admin: UserId, conversation: ConversationId, action: &str) -> Result<(), RepoError>;

    /// Up to `limit + 1` access-log entries, newest first.
    fn list_access(&mut self, query: &AccessLogQuery) -> Result<Vec<AccessLogEntry>, RepoError>;
}
