//! The transaction handle that implements every repository port.

use std::sync::Arc;

use chat_domain::conversations::{Append, Appended};
use chat_domain::{ConversationId, RepoError};
use diesel::PgConnection;

use crate::store::{WriterGate, WriterSlot};

/// A connection inside the transaction opened by [`PgStore`](crate::PgStore).
///
/// Repository methods run their SQL on it; the store commits or rolls back.
pub struct PgTx<'c> {
    conn: &'c mut PgConnection,
    writers: Option<&'c Arc<WriterGate>>,
    /// The conversations whose row lock this transaction holds or waits for; released
    /// when the transaction's work is done.
    slots: Vec<WriterSlot>,
    appending: Appending,
}

/// How [`ConversationRepository::append`](chat_domain::conversations::ConversationRepository::append)
/// runs on a handle: at once, or in group commit's statement for many sends.
#[derive(Debug)]
enum Appending {
    /// Each append is its own statement.
    Direct,
    /// Group commit's first pass: a job whose first statement would be its append
    /// stops there, and the append waits for the statement that runs the batch's
    /// appends together. A job that reads first runs on, appending at once.
    Deferring { touched: bool, deferred: Option<Append>, touched_after: bool },
    /// Group commit's second pass: the batch's statement ran this job's append; the
    /// job's first append gets its answer.
    Answered(Option<Box<(Append, Appended)>>),
}

impl std::fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgTx")
    }
}

/// What group commit's first pass left of a job.
#[derive(Debug)]
pub(crate) enum FirstPass {
    /// The job ran through: its outcome stands.
    Ran,
    /// The job stopped at its first statement, this append.
    Deferred(Append),
    /// The job went on after its append was deferred (a use case that swallowed the
    /// deferral): the batch cannot trust its first pass.
    Diverged,
}

impl<'c> PgTx<'c> {
    /// Wraps a connection on which a transaction is open.
    pub fn new(conn: &'c mut PgConnection) -> Self {
        Self { conn, writers: None, slots: Vec::new(), appending: Appending::Direct }
    }

    /// Like [`Self::new`], bounding the writers at each conversation's row lock.
    pub(crate) fn with_writer_gate(conn: &'c mut PgConnection, writers: &'c Arc<WriterGate>) -> Self {
        Self { conn, writers: Some(writers), slots: Vec::new(), appending: Appending::Direct }
    }

    /// Group commit's first pass: an append that would be the job's first statement
    /// is deferred ([`Self::first_pass`] tells).
    pub(crate) fn deferring(conn: &'c mut PgConnection, writers: &'c Arc<WriterGate>) -> Self {
        let appending = Appending::Deferring { touched: false, deferred: None, touched_after: false };
        Self { appending, ..Self::with_writer_gate(conn, writers) }
    }

    /// Group commit's second pass: the job's first append, `append`, was run by the
    /// batch's statement and answered `answer`.
    pub(crate) fn answered(
        conn: &'c mut PgConnection,
        writers: &'c Arc<WriterGate>,
        append: Append,
        answer: Appended,
    ) -> Self {
        Self {
            appending: Appending::Answered(Some(Box::new((append, answer)))),
            ..Self::with_writer_gate(conn, writers)
        }
    }

    /// What the first pass left of the job run on this handle.
    pub(crate) fn first_pass(self) -> FirstPass {
        self.appending.first_pass()
    }

    /// Whether the job run on this handle took the answer it was given (it asked for
    /// the same append again).
    pub(crate) fn answer_taken(&self) -> bool {
        self.appending.answer_taken()
    }

    /// The connection, for a repository method's statement.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        self.appending.statement();
        self.conn
    }

    /// The handle's own answer to `append`, when group commit decides it: `Some(Err)`
    /// defers it (first pass), `Some(Ok)` is the batch statement's answer (second
    /// pass), `None` runs it now.
    pub(crate) fn batched_append(&mut self, append: &Append) -> Option<Result<Appended, RepoError>> {
        self.appending.append(append)
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

impl Appending {
    /// A statement other than an append is about to run.
    fn statement(&mut self) {
        if let Self::Deferring { touched, deferred, touched_after } = self {
            *touched = true;
            *touched_after |= deferred.is_some();
        }
    }

    /// See [`PgTx::batched_append`].
    fn append(&mut self, append: &Append) -> Option<Result<Appended, RepoError>> {
        match self {
            Self::Deferring { touched: false, deferred: deferred @ None, .. } => {
                *deferred = Some(append.clone());
                Some(Err(RepoError::internal("deferred to the group's statement")))
            }
            Self::Deferring { deferred: Some(_), touched_after, .. } => {
                *touched_after = true;
                Some(Err(RepoError::internal("deferred to the group's statement")))
            }
            Self::Answered(answer) if answer.as_ref().is_some_and(|answered| answered.0 == *append) => {
                answer.take().map(|answered| Ok(answered.1))
            }
            Self::Direct | Self::Deferring { .. } | Self::Answered(_) => None,
        }
    }

    fn first_pass(self) -> FirstPass {
        match self {
            Self::Deferring { deferred: Some(_), touched_after: true, .. } => FirstPass::Diverged,
            Self::Deferring { deferred: Some(append), .. } => FirstPass::Deferred(append),
            Self::Deferring { deferred: None, .. } | Self::Direct | Self::Answered(_) => FirstPass::Ran,
        }
    }

    fn answer_taken(&self) -> bool {
        !matches!(self, Self::Answered(Some(_)))
    }
}

#[cfg(test)]
mod tests {
    use chat_domain::access::Author;
    use chat_domain::conversations::{AppendTarget, MessageBody, MessageKind, Side};
    use chat_domain::{ConversationId, UserId};

    use super::*;

    fn append(to: i64) -> Append {
        Append {
            target: AppendTarget::Conversation(ConversationId(to), Side::One),
            author: Author::User(UserId(1)),
            body: MessageBody::parse(MessageKind::Text, "hi").unwrap(),
            client_id: None,
        }
    }

    fn deferring() -> Appending {
        Appending::Deferring { touched: false, deferred: None, touched_after: false }
    }

    #[test]
    fn an_append_that_is_the_first_statement_is_deferred() {
        let mut appending = deferring();
        assert!(matches!(appending.append(&append(1)), Some(Err(_))), "the job stops at its append");
        assert!(matches!(appending.first_pass(), FirstPass::Deferred(a) if a == append(1)));
    }

    #[test]
    fn a_job_that_reads_first_runs_through() {
        let mut appending = deferring();
        appending.statement();
        assert!(appending.append(&append(1)).is_none(), "appended at once");
        assert!(matches!(appending.first_pass(), FirstPass::Ran));
    }

    #[test]
    fn a_job_that_goes_on_after_its_deferral_is_not_trusted() {
        let mut after_read = deferring();
        let _ = after_read.append(&append(1));
        after_read.statement();
        assert!(matches!(after_read.first_pass(), FirstPass::Diverged));

        let mut after_append = deferring();
        let _ = after_append.append(&append(1));
        assert!(after_append.append(&append(2)).is_some_and(|r| r.is_err()), "no second append runs");
        assert!(matches!(after_append.first_pass(), FirstPass::Diverged));
    }

    #[test]
    fn the_answer_goes_to_the_same_append_once() {
        let answer = Appended::Missing;
        let mut other = Appending::Answered(Some(Box::new((append(1), answer.clone()))));
        assert!(other.append(&append(2)).is_none(), "another append runs for real");
        assert!(!other.answer_taken());

        let mut same = Appending::Answered(Some(Box::new((append(1), answer))));
        assert!(matches!(same.append(&append(1)), Some(Ok(Appended::Missing))));
        assert!(same.answer_taken());
        assert!(same.append(&append(1)).is_none(), "a second append runs for real");
    }
}
