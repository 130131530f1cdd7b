//! The existing app's users, which this service only reads.

use crate::error::RepoError;
use crate::ids::UserId;

/// Read access to the existing app's `users` table.
///
/// The table belongs to the existing app: implementations MUST NOT write to it.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait UserDirectory {
    /// Whether a user with this id exists. A token whose user does not exist is refused.
    fn user_exists(&mut self, id: UserId) -> Result<bool, RepoError>;
}

/// Whether user `id` exists (a verified token names a user the app must still know).
pub fn is_known_user(repo: &mut (impl UserDirectory + ?Sized), id: UserId) -> Result<bool, RepoError> {
    repo.user_exists(id)
}
