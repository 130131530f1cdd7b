//! Errors shared by every port.
//!
//! Each use case has its own `thiserror` enum naming the outcomes a caller must handle;
//! they all carry [`RepoError`] transparently for what no rule can prevent: the database
//! being unreachable, or failing in a way that is a bug. Admin-only requests about one
//! record, which can only be refused or miss, share [`AdminError`].

use std::error::Error as StdError;

use crate::principal::Principal;

/// A failure of the storage behind a port, never caused by the caller's input.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The database could not be reached in time (pool exhausted, connection refused).
    /// Callers should retry later; the API answers 503 with `Retry-After`.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// Anything else: a bug or a broken invariant. Logged, answered with an opaque 500.
    #[error("unexpected storage error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl RepoError {
    /// Wraps an unexpected error.
    pub fn internal(e: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }
}

/// Why an admin-only request about one record (a notice to retract, a message to hide,
/// a parked webhook to retry...) failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// No such record.
    #[error("not found")]
    NotFound,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl AdminError {
    /// `Ok` for an admin, [`AdminError::Forbidden`] for anyone else.
    pub const fn require_admin(caller: &Principal) -> Result<(), Self> {
        if caller.is_admin() { Ok(()) } else { Err(Self::Forbidden) }
    }
}
