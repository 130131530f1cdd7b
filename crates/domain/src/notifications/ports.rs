//! The notification repository port.
//!
//! Its methods are shaped for set-based delivery: the use case never loops over
//! recipients, so an adapter can create every missing personal group in one statement
//! and store every recipient's notice in another, inside the use case's transaction.

use uuid::Uuid;

use crate::error::RepoError;
use crate::ids::UserId;
use crate::notifications::audience::Audience;
use crate::notifications::model::{NewNotification, NotificationId, NotificationQuery, NotificationRecord};

/// Storage of notifications and their delivery into personal groups.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait NotificationRepository {
    /// The notification stored earlier with this idempotency key, with its reach.
    fn find_by_client_id(&mut self, key: Uuid) -> Result<Option<(NotificationId, i64)>, RepoError>;

    /// The ids among `users` that name no existing user, in ascending order.
    fn missing_users(&mut self, users: &[UserId]) -> Result<Vec<UserId>, RepoError>;

    /// Stores the notification row (not yet delivered) sent by `admin`. Returns `Ok(None)`
    /// when another request stored one with the same idempotency key first: the
    /// implementation MUST NOT fail with a unique violation in that case (it waits for
    /// the other transaction and then reports the conflict).
    fn insert_notification(
        &mut self,
        admin: UserId,
        new: &NewNotification,
    ) -> Result<Option<NotificationId>, RepoError>;

    /// Creates the personal group (and the owner's membership) of every user of
    /// `audience` who has none; returns how many groups it created. MUST be race-free:
    /// concurrent calls for one user leave exactly one personal group. MUST be
    /// set-based (a bounded number of statements whatever the audience's size).
    fn ensure_personal_groups(&mut self, audience: &Audience) -> Result<i64, RepoError>;

    /// Stores notification `id` in the active personal group of every user of `audience`,
    /// records the count as its reach, and returns it. MUST be set-based.
    fn deliver(&mut self, id: NotificationId, audience: &Audience, new: &NewNotification) -> Result<i64, RepoError>;

    /// Up to `limit + 1` notifications matching `query`, newest first.
    fn list_notifications(&mut self, query: &NotificationQuery) -> Result<Vec<NotificationRecord>, RepoError>;

    /// Marks notification `id` retracted by `admin`. Returns `Ok(None)` when it does not
    /// exist, `Ok(Some(false))` when it was already retracted (nothing changes).
    fn retract(&mut self, id: NotificationId, admin: UserId) -> Result<Option<bool>, RepoError>;

    /// Who received notification `id`: the owners of the personal groups it was stored
    /// in, or `Ok(None)` when it went to all users.
    fn recipients(&mut self, id: NotificationId) -> Result<Option<Vec<UserId>>, RepoError>;
}
