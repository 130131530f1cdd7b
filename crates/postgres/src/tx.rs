//! The transaction handle that implements every repository port.

use diesel::PgConnection;

/// A connection inside the transaction opened by [`PgStore`](crate::PgStore).
///
/// Repository methods run their SQL on it; the store commits or rolls back.
pub struct PgTx<'c> {
    pub(crate) conn: &'c mut PgConnection,
}

impl std::fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTx")
    }
}

impl<'c> PgTx<'c> {
    /// Wraps a connection on which a transaction is open.
    pub fn new(conn: &'c mut PgConnection) -> Self {
        Self { conn }
    }
}
