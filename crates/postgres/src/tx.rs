//! The transaction handle that implements every repository port.

use std::sync::Arc;

use chat_domain::{ConversationId, RepoError};
use diesel::PgConnection;

use crate::store::{WriterGate, WriterSlot};

/// A connection inside the transaction opened by [`PgStore`](crate::PgStore).
///
/// Repository methods run their SQL on it; the store commits or rolls back.
pub struct PgTx<'c> {
    pub(crate) conn: &'c mut PgConnection,
    writers: Option<&'c Arc<WriterGate>>,
    /// The conversations whose row lock this transaction holds or waits for; released
    /// when the transaction's work is done.
    slots: Vec<WriterSlot>,
}

impl std::fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTx")
    }
}

impl<'c> PgTx<'c> {
    /// Wraps a connection on which a transaction is open.
    pub fn new(conn: &'c mut PgConnection) -> Self {
        Self { conn, writers: None, slots: Vec::new() }
    }

    /// Like [`Self::new`], bounding the writers at each conversation's row lock.
    pub(crate) fn with_writer_gate(conn: &'c mut PgConnection, writers: &'c Arc<WriterGate>) -> Self {
        Self { conn, writers: Some(writers), slots: Vec::new() }
    }

    /// Takes a writer's place at `conversation` before waiting for its row lock
    /// (`RepoError::Unavailable` when too many writers are there already).
    pub(crate) fn enter_writer(&mut self, conversation: ConversationId) -> Result<(), RepoError> {
        let id = conversation.get();
        if let Some(gate) = self.writers
            && !self.slots.iter().any(|slot| slot.conversation() == id)
        {
            self.slots.push(gate.enter(id)?);
        }
        Ok(())
    }
}
