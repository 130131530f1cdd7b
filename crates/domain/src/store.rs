//! The unit-of-work port: how a use case runs in one transaction, on one blocking trip.
//!
//! Use cases are plain synchronous functions over repository traits
//! (`fn create_persona(repo: &mut (impl PersonaRepository + ?Sized), ...)`), so they are
//! unit-tested with mockall mocks and no runtime. In production the API hands the whole
//! use case to [`Store::run`]: the adapter takes one pooled connection on a blocking
//! thread, opens one transaction, passes itself as a [`Tx`], and commits when the use
//! case returns `Ok` or rolls back when it returns `Err`. A use case that makes three
//! repository calls therefore costs one thread hop and one transaction, and rules that
//! read before they write (an idempotency check, a limit) see a consistent state.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use crate::conversations::{ConversationRepository, ReplayRepository};
use crate::direct_messages::DirectMessageRepository;
use crate::error::RepoError;
use crate::group_members::GroupMemberRepository;
use crate::group_messages::GroupMessageRepository;
use crate::moderation::ModerationRepository;
use crate::notes::NoteRepository;
use crate::notifications::NotificationRepository;
use crate::personas::PersonaRepository;
use crate::search::SearchRepository;
use crate::stats::StatsRepository;
use crate::support::SupportRepository;
use crate::users::UserDirectory;
use crate::webhooks::WebhookRepository;

/// Everything a use case may touch inside one transaction.
///
/// A supertrait of every repository port; adapters implement the ports on their
/// transaction handle and get this trait for free.
pub trait Tx:
    UserDirectory
    + PersonaRepository
    + ConversationRepository
    + SupportRepository
    + DirectMessageRepository
    + GroupMemberRepository
    + ModerationRepository
    + SearchRepository
    + ReplayRepository
    + NotificationRepository
    + GroupMessageRepository
    + NoteRepository
    + WebhookRepository
    + StatsRepository
{
}

impl<T> Tx for T where
    T: UserDirectory
        + PersonaRepository
        + ConversationRepository
        + SupportRepository
        + DirectMessageRepository
        + GroupMemberRepository
        + ModerationRepository
        + SearchRepository
        + ReplayRepository
        + NotificationRepository
        + GroupMessageRepository
        + NoteRepository
        + WebhookRepository
        + StatsRepository
        + ?Sized
{
}

/// The result of a type-erased job: commit or roll back, carrying the use case's result.
#[derive(Debug)]
pub enum JobOutcome {
    /// The use case succeeded: commit, then hand the payload back.
    Commit(Box<dyn Any + Send>),
    /// The use case refused or failed: roll back, then hand the payload back.
    Rollback(Box<dyn Any + Send>),
}

/// A use case with its result type erased, so that [`Store`] stays object-safe.
pub type Job = Box<dyn FnOnce(&mut dyn Tx) -> JobOutcome + Send>;

/// A use case that may share its transaction with others ([`Store::execute_shared`]).
///
/// It may run more than once: when the shared transaction rolls back for another job's
/// sake (a refusal, a failed statement), each job runs again in a transaction of its
/// own, so the job must be a function of what it reads (every use case is).
pub type SharedJob = Box<dyn FnMut(&mut dyn Tx) -> JobOutcome + Send>;

/// A boxed future, as returned by [`Store::execute`].
pub type StoreFuture = Pin<Box<dyn Future<Output = Result<Box<dyn Any + Send>, RepoError>> + Send>>;

/// A boxed future, as returned by [`Store::execute_shared`]: the job's payload, and when
/// it passed each of the store's stages.
pub type SharedFuture = Pin<Box<dyn Future<Output = (Result<Box<dyn Any + Send>, RepoError>, SendStages)> + Send>>;

/// When a send passed each stage inside the store (monotonic instants), for the API's
/// slow-send trace. A stage an implementation does not know stays `None`.
///
/// Plain `Copy` data, filled by whoever runs the send (a group-commit writer, or the
/// requests' pool for a send that runs alone): taking it costs a few clock reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendStages {
    /// Queued for a writer (group commit), or, alone, for a pooled connection.
    pub queued: Option<Instant>,
    /// Taken by a writer with its batch, or, alone, given its connection.
    pub picked: Option<Instant>,
    /// Its append statement done (the batch's statement, or its own): what remains is
    /// the rest of its use case and the commit.
    pub appended: Option<Instant>,
    /// Committed.
    pub committed: Option<Instant>,
    /// Sends in the group-commit transaction that carried it (0: it ran alone).
    pub batch: usize,
    /// A batch it was in rolled back for another send's sake, and it ran alone after:
    /// `queued` is its arrival at the writers, the later stages are its lone run.
    pub split: bool,
}

/// Runs jobs transactionally. Implemented by the database adapter.
pub trait Store: Send + Sync + 'static {
    /// Runs `job` in one transaction and returns its payload. `use_case` names the job
    /// for measurements (a bounded set of static names, see [`use_case_name`]).
    ///
    /// Implementations MUST commit exactly when the job returns [`JobOutcome::Commit`],
    /// roll back otherwise, and return [`RepoError::Unavailable`] (without running the
    /// job) when no connection can be had within their bounded wait. A panic in the job
    /// MUST be propagated, not swallowed.
    fn execute(&self, use_case: &'static str, job: Job) -> StoreFuture;

    /// Runs `job` like [`Store::execute`] for a use case that reads (history pages,
    /// lists, the support queue), on connections that writes do not use, so that reads
    /// never wait behind commits. Implementations may run it outside a transaction (each
    /// statement then commits on its own: what a read writes, such as an access-log row,
    /// must stand alone). The default runs it like any job.
    fn execute_read(&self, use_case: &'static str, job: Job) -> StoreFuture {
        self.execute(use_case, job)
    }

    /// Runs `job` like [`Store::execute`], possibly in one transaction with other jobs
    /// waiting at the same moment (group commit: one commit for many sends).
    ///
    /// Implementations MUST keep [`Store::execute`]'s contract for each job: its work is
    /// committed exactly when it returned [`JobOutcome::Commit`], its payload is handed
    /// back only after that commit, and a job that refuses or fails never takes the
    /// others' work with it (run them again, each alone, rather than commit part of a
    /// failed transaction). Jobs of one transaction run in the order they arrived.
    /// Implementations SHOULD say when the job passed each stage ([`SendStages`]); a
    /// stage they do not observe stays `None`.
    /// The default runs `job` alone, and observes no stage.
    fn execute_shared(&self, use_case: &'static str, mut job: SharedJob) -> SharedFuture {
        let run = self.execute(use_case, Box::new(move |tx| job(tx)));
        Box::pin(async move { (run.await, SendStages::default()) })
    }

    /// Whether the database answers a trivial query (for readiness probes), and how busy
    /// the store is.
    ///
    /// Implementations MUST answer from a path of their own, not from behind the queue
    /// of requests waiting for a connection, so that a saturated store still reports
    /// the database as up; and MUST return [`RepoError::Unavailable`] within their own
    /// short deadline when the database does not answer.
    fn ping(&self) -> Pin<Box<dyn Future<Output = Result<StoreLoad, RepoError>> + Send>>;
}

/// How busy a [`Store`] is, reported by [`Store::ping`]: saturation is not an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLoad {
    /// Units of work that may run at once (the pool's size).
    pub capacity: usize,
    /// Units of work running now.
    pub in_use: usize,
    /// Requests waiting for a turn.
    pub waiting: usize,
}

impl StoreLoad {
    /// Whether every unit is taken: new requests wait (and may get 503 after the
    /// checkout timeout), though the database itself is up.
    pub const fn saturated(&self) -> bool {
        self.in_use >= self.capacity
    }
}

impl dyn Store {
    /// Runs a use case in one transaction: commit on `Ok`, roll back on `Err`. The
    /// transaction is measured under the name of the function that asked for it (see
    /// [`use_case_name`]).
    ///
    /// # Panics
    /// Only if a [`Store`] implementation hands back a payload that its job did not
    /// produce, which would be a bug in that implementation.
    pub async fn run<T, E, F>(&self, use_case: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<RepoError> + Send + 'static,
    {
        let job: Job = Box::new(move |tx| outcome(use_case(tx)));
        result_of(self.execute(use_case_name::<F>(), job).await?)
    }

    /// [`Self::run`] for a use case that reads ([`Store::execute_read`]).
    ///
    /// # Panics
    /// As [`Self::run`].
    pub async fn read<T, E, F>(&self, use_case: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Tx) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<RepoError> + Send + 'static,
    {
        let job: Job = Box::new(move |tx| outcome(use_case(tx)));
        result_of(self.execute_read(use_case_name::<F>(), job).await?)
    }

    /// [`Self::run`] for a use case that may share its transaction with concurrent ones
    /// ([`Store::execute_shared`]): the send path. The use case may run more than once
    /// (hence `FnMut`), and its result is handed back only after its commit, with when
    /// it passed the store's stages.
    ///
    /// # Panics
    /// As [`Self::run`].
    pub async fn run_shared<T, E, F>(&self, mut use_case: F) -> (Result<T, E>, SendStages)
    where
        F: FnMut(&mut dyn Tx) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<RepoError> + Send + 'static,
    {
        let job: SharedJob = Box::new(move |tx| outcome(use_case(tx)));
        let (payload, stages) = self.execute_shared(use_case_name::<F>(), job).await;
        (payload.map_err(E::from).and_then(result_of), stages)
    }
}

/// A use case's result as a job's outcome: commit on `Ok`, roll back on `Err`.
fn outcome<T: Send + 'static, E: Send + 'static>(result: Result<T, E>) -> JobOutcome {
    match result {
        ok @ Ok(_) => JobOutcome::Commit(Box::new(ok)),
        err @ Err(_) => JobOutcome::Rollback(Box::new(err)),
    }
}

/// The use case's result back from its job's payload.
fn result_of<T: 'static, E: 'static>(payload: Box<dyn Any + Send>) -> Result<T, E> {
    *payload.downcast::<Result<T, E>>().expect("a Store returns the payload of the job it was given")
}

/// The measurement name of a use case passed as closure `F`: the path of the function
/// the closure was written in, e.g. `chat_api::routes::support::send_message` or
/// `chat_api::realtime::session::Connection::dm_message`.
///
/// Derived from the closure's type, so no call site has to name itself and the set of
/// names is fixed at compile time (one per `store.run` call site): a bounded, static
/// label. actix-web's route macros nest a handler in a trait impl on a unit struct of
/// the same name (`<path::handler as HttpServiceFactory>::register::handler`); that is
/// named `path::handler`.
pub fn use_case_name<F>() -> &'static str {
    let full = std::any::type_name::<F>();
    // Everything from the first closure on is the closure's own nesting.
    let function = full.find("::{{closure}}").map_or(full, |end| &full[..end]);
    if let Some(qualified) = function.strip_prefix('<')
        && let Some(end) = qualified.find(" as ")
    {
        return &qualified[..end];
    }
    function
}

#[cfg(test)]
mod tests {
    use super::use_case_name;

    fn name_of<F: FnOnce()>(_: F) -> &'static str {
        use_case_name::<F>()
    }

    fn plain_function() -> &'static str {
        name_of(|| {})
    }

    /// What actix-web's `#[post("...")] async fn send_message` expands to.
    #[expect(non_camel_case_types, reason = "the shape of actix-web's generated handler type")]
    struct send_message;

    trait HttpServiceFactory {
        fn register(self) -> &'static str;
    }

    impl HttpServiceFactory for send_message {
        fn register(self) -> &'static str {
            fn send_message() -> &'static str {
                name_of(|| {})
            }
            send_message()
        }
    }

    #[test]
    fn a_use_case_is_named_after_the_function_that_runs_it() {
        assert_eq!(plain_function(), "chat_domain::store::tests::plain_function");
        assert_eq!(send_message.register(), "chat_domain::store::tests::send_message");
    }
}
