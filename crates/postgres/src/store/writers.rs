//! A bound on the writers at one conversation's row lock while that lock is stuck.
//!
//! Every change to a conversation takes its row lock (`FOR UPDATE`), normally for a few
//! milliseconds. When the lock is held for long (a stuck session, a long migration),
//! each writer to the conversation holds a pooled connection while it waits, up to
//! `lock_timeout`; a burst of sends to one conversation could then take the whole pool
//! again and again and starve reads of every other one.
//!
//! So a conversation is *congested* while one of its writers has been at its lock for
//! longer than `congested_after` (half the lock timeout), or the last writer to leave
//! had been (until a writer gets through quickly again). While congested, at most
//! `limit` writers are let in; the others fail at once (503 with `Retry-After`) and
//! give their connection back. Uncongested, nobody is turned away: a burst of sends to
//! a healthy conversation just queues on its lock, as PostgreSQL serializes them anyway.
//!
//! The first writers to find a stuck lock still hold their connections for up to one
//! lock timeout; requests queued meanwhile wait (they are not failed) as long as the
//! lock timeout is shorter than the checkout timeout, as it is by default.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chat_domain::RepoError;

/// Why a writer was turned away.
#[derive(Debug, thiserror::Error)]
#[error("conversation {conversation} is congested: {waiting} writers already hold or wait for its lock")]
pub(crate) struct Congested {
    conversation: i64,
    waiting: usize,
}

/// The writers at one conversation's lock.
#[derive(Debug, Default)]
struct Writers {
    /// Each writer's slot id and when it came.
    present: Vec<(u64, Instant)>,
    /// Set when a writer left after `congested_after` or more; cleared by a quick one.
    slow_exit: Option<Instant>,
}

/// Counts the transactions holding or waiting for each conversation's lock.
#[derive(Debug)]
pub(crate) struct WriterGate {
    limit: usize,
    congested_after: Duration,
    next_id: AtomicU64,
    conversations: Mutex<HashMap<i64, Writers>>,
}

/// How long a slow exit keeps an idle conversation congested (then it is forgotten).
const MEMORY: Duration = Duration::from_secs(30);

impl WriterGate {
    /// A gate letting `limit` writers (at least one) at a congested conversation, where
    /// congested means a writer has been at the lock for `congested_after`.
    pub(crate) fn new(limit: usize, congested_after: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            congested_after,
            next_id: AtomicU64::new(0),
            conversations: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Writers>> {
        self.conversations.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for one more writer to `conversation`, given back on drop, or
    /// `RepoError::Unavailable` when the conversation is congested and `limit` writers
    /// are already there.
    pub(crate) fn enter(self: &Arc<Self>, conversation: i64) -> Result<WriterSlot, RepoError> {
        let now = Instant::now();
        let mut conversations = self.lock();
        let writers = conversations.entry(conversation).or_default();
        let stuck = writers.present.iter().any(|(_, since)| now.duration_since(*since) >= self.congested_after);
        let slow_exit = writers.slow_exit.is_some_and(|at| now.duration_since(at) < MEMORY);
        if writers.present.len() >= self.limit && (stuck || slow_exit) {
            return Err(RepoError::Unavailable(Box::new(Congested { conversation, waiting: writers.present.len() })));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        writers.present.push((id, now));
        Ok(WriterSlot { gate: Arc::clone(self), conversation, id, entered: now })
    }

    fn leave(&self, slot: &WriterSlot) {
        let mut conversations = self.lock();
        let Some(writers) = conversations.get_mut(&slot.conversation) else { return };
        writers.present.retain(|(id, _)| *id != slot.id);
        writers.slow_exit = (slot.entered.elapsed() >= self.congested_after).then(Instant::now);
        if writers.present.is_empty() && writers.slow_exit.is_none() {
            conversations.remove(&slot.conversation);
        }
        // Forget idle conversations whose congestion is old news.
        if conversations.len() > 1024 {
            conversations.retain(|_, w| !w.present.is_empty() || w.slow_exit.is_some_and(|at| at.elapsed() < MEMORY));
        }
    }
}

/// One writer's place at a conversation; leaving it (drop) lets the next one in.
#[derive(Debug)]
pub(crate) struct WriterSlot {
    gate: Arc<WriterGate>,
    conversation: i64,
    id: u64,
    entered: Instant,
}

impl WriterSlot {
    /// The conversation this slot is at.
    pub(crate) const fn conversation(&self) -> i64 {
        self.conversation
    }
}

impl Drop for WriterSlot {
    fn drop(&mut self) {
        self.gate.leave(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_millis(50);

    #[test]
    fn a_healthy_conversation_turns_nobody_away() {
        let gate = WriterGate::new(2, Duration::from_secs(60));
        let burst: Vec<_> = (0..20).map(|_| gate.enter(7).expect("no writer is stuck")).collect();
        drop(burst);
        assert!(gate.lock().is_empty(), "nothing is left behind");
    }

    #[test]
    fn a_stuck_lock_admits_at_most_limit_writers_and_a_quick_writer_clears_it() {
        let gate = WriterGate::new(2, AFTER);
        let first = gate.enter(7).unwrap();
        let second = gate.enter(7).unwrap();
        std::thread::sleep(AFTER);
        assert!(matches!(gate.enter(7), Err(RepoError::Unavailable(_))), "a third writer is turned away");
        let other = gate.enter(8).expect("another conversation is not affected");
        drop(first);
        // The slow exit keeps the conversation congested: one place is free, one taken.
        let third = gate.enter(7).expect("a freed place is taken");
        assert!(matches!(gate.enter(7), Err(RepoError::Unavailable(_))), "still congested");
        drop((second, other));
        drop(third);
        // The last exit was slow too; a quick writer gets through and clears it.
        let quick = gate.enter(7).expect("below the limit");
        drop(quick);
        assert!(gate.lock().is_empty(), "a quick exit forgets the congestion");
    }
}
