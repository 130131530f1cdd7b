//! Group commit: sends waiting at the same moment share one transaction and one commit.
//!
//! A commit costs PostgreSQL a WAL flush; a send's statement costs far less. A writer
//! thread (`writers` of them), on a connection of its own, takes every send queued when
//! it is free (at most
//! `max_batch`; none of them waits for a batch to fill: an idle writer runs a lone send
//! at once, and `max_wait`, 0 by default, is the most a batch of two or more waits for
//! more), runs them in one transaction, commits, and only then answers each. Inside the
//! transaction a send that starts with its append (a user's support send) stops there,
//! the stopped appends run together (one statement per round, at most one send per
//! conversation per round, rows locked in id order), and each such send then goes on
//! with its answer; a send that reads first (DM and admin sends) runs through in arrival
//! order. Per-conversation order and gapless positions hold as without it: each append
//! takes its conversation's row lock, and a second send to one conversation waits for
//! the next round.
//!
//! A batch never commits part of a failed transaction, and never stalls the writer
//! for one send's sake: when one of its sends refuses (its use case returned an
//! error), fails a statement, panics, or was given up by its caller, the whole
//! transaction rolls back and every other send is handed back to its caller, which runs
//! it alone on the requests' pool (with the per-conversation writer bound), so the one
//! that failed fails alone and the others commit. The writer's connection waits at most
//! [`LOCK_WAIT`] for a row lock: a conversation locked by another transaction (a read
//! mark, a status change, or a session holding it) sends its batch down that path
//! instead of holding every other send behind it. Jobs are therefore [`SharedJob`]s:
//! functions of what they read, safe to run again.
//!
//! Each send carries its [`SendStages`]: queued at `submit`, picked when a writer takes
//! its batch, appended when its append statement returns (or, for a send that reads
//! first, when its first pass does), committed after the commit. They go back with its
//! answer, for the API's slow-send trace.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_domain::RepoError;
use chat_domain::conversations::{Append, Appended};
use chat_domain::store::{JobOutcome, SendStages, SharedJob};
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use tokio::sync::oneshot;

use super::{Abandoned, Deadline, PgPool, WriterGate, checkout, unavailable};
use crate::conversations::RowKey;
use crate::health::{self, DbHealth, Outcome};
use crate::tx::{FirstPass, PgTx};

/// How sends are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitConfig {
    /// The most sends in one transaction.
    pub max_batch: usize,
    /// How long a batch of two or more sends may wait for more to arrive (a lone send
    /// never waits). About a millisecond at most; 0 takes what is queued.
    pub max_wait: Duration,
    /// Writer threads, each with a connection of its own, taking batches from one queue:
    /// one writer runs its statements one after another on one backend, so on a
    /// machine where the database has more than one core several writers keep it busy.
    pub writers: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self { max_batch: 64, max_wait: Duration::ZERO, writers: 2 }
    }
}

/// The longest the writer's connection waits for a row lock (its `lock_timeout`).
pub(crate) const LOCK_WAIT: Duration = Duration::from_millis(100);

/// The writer's answer to one queued send.
enum Reply {
    /// Committed (its payload), or a storage error.
    Done(Result<Box<dyn Any + Send>, RepoError>, SendStages),
    /// The job panicked.
    Panicked(Box<dyn Any + Send>),
    /// The shared transaction rolled back: run the job alone.
    Alone(SharedJob, SendStages),
}

/// What became of a submitted send.
pub(crate) enum Submitted {
    /// Committed with others (its payload), or failed for good.
    Done(Result<Box<dyn Any + Send>, RepoError>, SendStages),
    /// Run it alone, on the requests' pool (`split` is set in its stages).
    Alone(SharedJob, SendStages),
}

/// A send waiting for the writer.
struct Pending {
    use_case: &'static str,
    job: SharedJob,
    reply: oneshot::Sender<Reply>,
    abandoned: Abandoned,
    queued: Instant,
    stages: SendStages,
}

/// The handle requests queue their sends on; the writer thread stops when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queue: Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("use_case", &self.use_case).finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writers on `pool` (a pool of their own: one connection each).
    pub(crate) fn start(
        pool: PgPool,
        refusing: Arc<AtomicBool>,
        writers: Arc<WriterGate>,
        health: DbHealth,
        checkout_timeout: Duration,
        config: GroupCommitConfig,
    ) -> Self {
        let (queue, received) = mpsc::channel();
        let received = Arc::new(Mutex::new(received));
        for n in 0..config.writers.max(1) {
            let writer = Writer {
                pool: pool.clone(),
                refusing: Arc::clone(&refusing),
                writers: Arc::clone(&writers),
                health: health.clone(),
                checkout_timeout,
                config,
            };
            let received = Arc::clone(&received);
            std::thread::Builder::new()
                .name(format!("chat-group-commit-{n}"))
                .spawn(move || writer.run(&received))
                .expect("a group commit writer thread starts");
        }
        Self { queue }
    }

    /// Queues `job` and waits for its answer, at most until `finish_by` (then the job is
    /// marked given up: it is not committed if it has not been yet, and the caller gets
    /// 503).
    pub(crate) async fn submit(
        &self,
        use_case: &'static str,
        job: SharedJob,
        finish_by: Instant,
        transaction_timeout: Duration,
    ) -> Submitted {
        let (reply, answer) = oneshot::channel();
        let abandoned: Abandoned = Arc::new(AtomicBool::new(false));
        let queued = Instant::now();
        let stages = SendStages { queued: Some(queued), ..SendStages::default() };
        let pending = Pending { use_case, job, reply, abandoned: Arc::clone(&abandoned), queued, stages };
        if self.queue.send(pending).is_err() {
            return Submitted::Done(Err(RepoError::internal("the group commit writer has stopped")), stages);
        }
        match tokio::time::timeout_at(finish_by.into(), answer).await {
            Ok(Ok(Reply::Done(result, stages))) => Submitted::Done(result, stages),
            Ok(Ok(Reply::Alone(job, stages))) => Submitted::Alone(job, stages),
            Ok(Ok(Reply::Panicked(panic))) => std::panic::resume_unwind(panic),
            Ok(Err(_)) => Submitted::Done(Err(RepoError::internal("the group commit writer dropped a send")), stages),
            Err(_) => {
                abandoned.store(true, Ordering::Release);
                Submitted::Done(Err(unavailable(Deadline::Transaction(transaction_timeout))), stages)
            }
        }
    }
}

/// Why a shared transaction was rolled back.
enum SharedAbort {
    /// A job refused (or failed and said so): the others run again alone.
    Refused,
    /// A job panicked: its caller gets the panic, the others run again alone.
    Panicked(usize, Box<dyn Any + Send>),
    /// A caller gave up before the commit.
    Abandoned,
    /// A statement or the commit failed.
    Db(diesel::result::Error),
    /// The appends' statement failed.
    Repo(RepoError),
}

impl From<diesel::result::Error> for SharedAbort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

struct Writer {
    pool: PgPool,
    refusing: Arc<AtomicBool>,
    writers: Arc<WriterGate>,
    health: DbHealth,
    checkout_timeout: Duration,
    config: GroupCommitConfig,
}

impl Writer {
    /// Takes a batch from the shared queue (one writer at a time), then runs it while
    /// the next writer takes the next batch.
    fn run(self, queue: &Mutex<Receiver<Pending>>) {
        loop {
            let Some(batch) = self.take(queue) else { return };
            self.run_batch(batch);
        }
    }

    fn take(&self, queue: &Mutex<Receiver<Pending>>) -> Option<Vec<Pending>> {
        let queue = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = queue.recv().ok()?;
        let mut batch = vec![first];
        while batch.len() < self.config.max_batch
            && let Ok(next) = queue.try_recv()
        {
            batch.push(next);
        }
        if batch.len() > 1 && !self.config.max_wait.is_zero() {
            let until = Instant::now() + self.config.max_wait;
            while batch.len() < self.config.max_batch {
                match queue.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    Ok(next) => batch.push(next),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        let picked = Instant::now();
        for pending in &mut batch {
            pending.stages.picked = Some(picked);
        }
        Some(batch)
    }

    /// Runs the batch's jobs in the transaction open on `conn`: first each up to its
    /// append (a job that reads first runs through), then the deferred appends together,
    /// then each deferred job on with its answer. The payloads, in the batch's order.
    fn run_together(
        &self,
        conn: &mut PgConnection,
        live: &mut [Pending],
    ) -> Result<Vec<Box<dyn Any + Send>>, SharedAbort> {
        let mut payloads: Vec<Option<Box<dyn Any + Send>>> = live.iter().map(|_| None).collect();
        // First pass, in arrival order: a job that starts with its append leaves it
        // for the statements below; one that reads first runs through here.
        let mut deferred = Vec::new();
        for (i, pending) in live.iter_mut().enumerate() {
            let mut tx = PgTx::deferring(conn, &self.writers);
            let ran = catch_unwind(AssertUnwindSafe(|| (pending.job)(&mut tx)));
            match (tx.first_pass(), ran) {
                (_, Err(panic)) => return Err(SharedAbort::Panicked(i, panic)),
                (FirstPass::Deferred(append), Ok(_)) => deferred.push((i, append)),
                (FirstPass::Diverged, Ok(_)) => return Err(SharedAbort::Refused),
                (FirstPass::Ran, Ok(outcome)) => {
                    pending.stages.appended = Some(Instant::now());
                    payloads[i] = Some(committed(outcome)?);
                }
            }
        }
        // The deferred appends, together: one statement per round, a round taking at
        // most one send per conversation (the next send to the same one goes in the
        // next round, after it).
        let mut answers: Vec<Option<Appended>> = deferred.iter().map(|_| None).collect();
        for round in rounds(deferred.iter().map(|(_, append)| RowKey::of(&append.target))) {
            let appends: Vec<Append> = round.iter().map(|&d| deferred[d].1.clone()).collect();
            health::group_commit_appends(appends.len());
            let mut tx = PgTx::with_writer_gate(conn, &self.writers);
            let appended = tx.append_together(&appends).map_err(SharedAbort::Repo)?;
            let done = Instant::now();
            for (d, answer) in round.into_iter().zip(appended) {
                live[deferred[d].0].stages.appended = Some(done);
                answers[d] = Some(answer);
            }
        }
        // Second pass: each deferred job again, its append answered.
        for ((i, append), answer) in deferred.into_iter().zip(answers) {
            let answer = answer.ok_or(SharedAbort::Refused)?;
            let mut tx = PgTx::answered(conn, &self.writers, append, answer);
            let ran = catch_unwind(AssertUnwindSafe(|| (live[i].job)(&mut tx)));
            let outcome = ran.map_err(|panic| SharedAbort::Panicked(i, panic))?;
            if !tx.answer_taken() {
                // The job asked for another append than the first time: not a
                // function of what it reads, so it runs alone.
                return Err(SharedAbort::Refused);
            }
            payloads[i] = Some(committed(outcome)?);
        }
        if live.iter().any(|p| p.abandoned.load(Ordering::Acquire)) {
            return Err(SharedAbort::Abandoned);
        }
        // Every job ran in one of the passes.
        payloads.into_iter().collect::<Option<Vec<_>>>().ok_or(SharedAbort::Refused)
    }

    fn run_batch(&self, batch: Vec<Pending>) {
        // What waited past the checkout bound is shed (503), as a request that got no
        // connection in time; what its caller gave up on is dropped.
        let mut live = Vec::with_capacity(batch.len());
        for pending in batch {
            let waited = pending.queued.elapsed();
            if pending.abandoned.load(Ordering::Acquire) {
                continue;
            }
            if waited > self.checkout_timeout {
                health::checkout_timed_out();
                let shed = unavailable(Deadline::Checkout(self.checkout_timeout));
                let _ = pending.reply.send(Reply::Done(Err(shed), pending.stages));
                continue;
            }
            health::checkout_waited(waited);
            live.push(pending);
        }
        if live.is_empty() {
            return;
        }
        let deadline = Instant::now() + self.checkout_timeout;
        let mut conn = match checkout(&self.pool, &self.refusing, deadline, self.checkout_timeout) {
            Ok(conn) => conn,
            Err(e) => {
                health::checkout_timed_out();
                let reason = e.to_string();
                for pending in live {
                    let unavailable = RepoError::Unavailable(reason.clone().into());
                    let _ = pending.reply.send(Reply::Done(Err(unavailable), pending.stages));
                }
                return;
            }
        };
        health::group_commit_batch(live.len());
        let began = Instant::now();
        let attempt = conn.transaction(|conn| self.run_together(conn, &mut live));
        let committed = Instant::now();
        let took = committed - began;
        let batch = live.len();
        let mut panicked = None;
        match attempt {
            Ok(payloads) => {
                self.health.up();
                for (pending, payload) in live.into_iter().zip(payloads) {
                    health::use_case_ran(pending.use_case, Outcome::Commit, took);
                    let stages = SendStages { committed: Some(committed), batch, ..pending.stages };
                    let _ = pending.reply.send(Reply::Done(Ok(payload), stages));
                }
                return;
            }
            Err(SharedAbort::Db(e)) if conn.is_broken() => self.health.down(&e),
            Err(SharedAbort::Repo(e)) if conn.is_broken() => self.health.down(&e),
            Err(SharedAbort::Panicked(i, panic)) => panicked = Some((i, panic)),
            Err(SharedAbort::Refused | SharedAbort::Abandoned | SharedAbort::Db(_) | SharedAbort::Repo(_)) => {}
        }
        // Rolled back: each send goes back to its caller to run alone (and is measured
        // there, once).
        health::group_commit_split();
        for (i, pending) in live.into_iter().enumerate() {
            let reply = match panicked.take_if(|(at, _)| *at == i) {
                Some((_, panic)) => Reply::Panicked(panic),
                None => Reply::Alone(pending.job, SendStages { batch, split: true, ..pending.stages }),
            };
            let _ = pending.reply.send(reply);
        }
    }
}

/// A job's payload when it asked to commit; a refusal rolls the batch back.
fn committed(outcome: JobOutcome) -> Result<Box<dyn Any + Send>, SharedAbort> {
    match outcome {
        JobOutcome::Commit(payload) => Ok(payload),
        JobOutcome::Rollback(_) => Err(SharedAbort::Refused),
    }
}

/// Splits appends (by the rows their targets name, in arrival order) into rounds that
/// name each row at most once, keeping the order of the appends to one row: the indices
/// of each round, in order.
fn rounds(rows: impl Iterator<Item = RowKey>) -> Vec<Vec<usize>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut next_round: Vec<(RowKey, usize)> = Vec::new();
    for (i, row) in rows.enumerate() {
        let round = match next_round.iter_mut().find(|(r, _)| *r == row) {
            Some((_, next)) => {
                *next += 1;
                *next - 1
            }
            None => {
                next_round.push((row, 1));
                0
            }
        };
        if round == rounds.len() {
            rounds.push(Vec::new());
        }
        rounds[round].push(i);
    }
    rounds
}

#[cfg(test)]
mod tests {
    use chat_domain::conversations::{AppendTarget, Side};
    use chat_domain::{ConversationId, UserId};

    use super::*;

    #[test]
    fn a_round_names_each_conversation_once_and_keeps_their_order() {
        let (a, b, s) = (
            AppendTarget::Conversation(ConversationId(1), Side::Two),
            AppendTarget::Conversation(ConversationId(2), Side::Two),
            AppendTarget::SupportOf(UserId(3)),
        );
        let rows = |targets: &[AppendTarget]| rounds(targets.iter().map(RowKey::of));
        assert_eq!(rows(&[a, b, a, s, a, b]), vec![vec![0, 1, 3], vec![2, 5], vec![4]]);
        assert_eq!(rows(&[s, s]), vec![vec![0], vec![1]]);
        assert!(rows(&[]).is_empty());
    }

    #[test]
    fn sends_from_both_users_of_a_dm_go_in_separate_rounds() {
        // One DM named three ways (each user's own send, a staff reply by id): one row,
        // so one send per round, in arrival order.
        let dm = ConversationId(7);
        let (own, staff) = (AppendTarget::DmOf(dm), AppendTarget::Conversation(dm, Side::Two));
        let other = AppendTarget::DmOf(ConversationId(8));
        let rows = [own, other, own, staff].map(|target| RowKey::of(&target));
        assert_eq!(rounds(rows.into_iter()), vec![vec![0, 1], vec![2], vec![3]]);
    }
}
