//! The group message repository port.

use crate::conversations::HistoryQuery;
use crate::error::RepoError;
use crate::group_messages::model::{GroupInfo, GroupMessage, GroupSummary};
use crate::ids::{GroupId, MessageId, UserId};

/// Reading groups' messages and keeping members' read marks.
///
/// "Visible" below means: active (not soft-deleted by the existing app), not an expired
/// or retracted notice, and not a message of someone else's old support thread.
/// Implementations MUST apply it in every read, so that no view, preview or count shows
/// what another does not.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait GroupMessageRepository {
    /// The active group `group` if `user` is a member of it and it is not an old support
    /// group; `Ok(None)` otherwise (missing and foreign alike).
    fn member_group(&mut self, group: GroupId, user: UserId) -> Result<Option<GroupInfo>, RepoError>;

    /// Whether `message` is a message of `group` (visible or not: a cursor may name a
    /// notice that has since expired).
    fn message_in_group(&mut self, group: GroupId, message: MessageId) -> Result<bool, RepoError>;

    /// Up to `limit + 1` messages of `group` visible to `reader`, in the slice `query`
    /// names (newest first for `Older`, oldest first for `Newer`).
    fn list_group_messages(
        &mut self,
        group: GroupId,
        reader: UserId,
        query: &HistoryQuery,
    ) -> Result<Vec<GroupMessage>, RepoError>;

    /// `user`'s read mark in `group` (`MessageId(0)` before any).
    fn group_last_read(&mut self, group: GroupId, user: UserId) -> Result<MessageId, RepoError>;

    /// Moves `user`'s read mark in `group` to `upto`, never backwards (a concurrent
    /// newer mark wins).
    fn save_group_read(&mut self, group: GroupId, user: UserId, upto: MessageId) -> Result<(), RepoError>;

    /// Visible messages of `group` after `after` not written by `user`, counted up to
    /// [`UNREAD_CAP`](crate::group_messages::UNREAD_CAP).
    fn count_group_unread(&mut self, group: GroupId, user: UserId, after: MessageId) -> Result<i64, RepoError>;

    /// Every group `user` is a member of (as [`Self::member_group`] would return it),
    /// with its newest visible message and `user`'s read state, by last activity (newest
    /// first).
    fn group_summaries(&mut self, user: UserId) -> Result<Vec<GroupSummary>, RepoError>;
}
