//! Errors shared by every port.
//!
//! Each use case has its own `thiserror` enum naming the outcomes a caller must handle;
//! they all carry [`RepoError`] transparently for what no rule can prevent: the database
//! being unreachable, or failing in a way that is a bug.

use std::error::Error as StdError;

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
