//! Mapping database errors onto the domain's [`RepoError`].

use chat_domain::RepoError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Classifies a diesel error: a lost connection is an outage (503, retry), anything
/// else is a bug or a broken invariant (500, logged).
pub(crate) fn repo_error(e: DieselError) -> RepoError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | DieselError::BrokenTransactionManager => {
            RepoError::Unavailable(Box::new(e))
        }
        other => RepoError::internal(other),
    }
}

/// `?`-friendly conversion for repository methods.
pub(crate) trait OrRepoError<T> {
    fn or_repo(self) -> Result<T, RepoError>;
}

impl<T> OrRepoError<T> for Result<T, DieselError> {
    fn or_repo(self) -> Result<T, RepoError> {
        self.map_err(repo_error)
    }
}
