//! When each notice reached its online recipients: the figure "time from send to last
//! online delivery" of the admin stats (docs/admin-guide.md, "Notices").
//!
//! The fan-out must not pay for it, so nothing here touches PostgreSQL or takes a lock
//! per recipient. The hub looks a notice's [`Tracker`] up once per notice (one short
//! lock), hands a clone to each frame it queues, and the session counts the frame and
//! notes the time with two atomic operations when it hands the frame to its socket.
//! The housekeeping loop [`takes`](NoticeDeliveries::take) what was counted every minute
//! and adds it to `chat_notice_deliveries`.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] notices are tracked at once (a tracker is
//! dropped by the first take after no queued frame holds it any more); past that, a
//! notice's deliveries are not recorded, and that is counted and logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chat_domain::notifications::NotificationId;
use chat_domain::stats::NoticeDelivery;
use chrono::{DateTime, Utc};

/// The most notices tracked at once (a few hundred bytes each).
pub const MAX_TRACKED: usize = 10_000;

/// One notice's live deliveries since the last take.
#[derive(Debug, Default)]
pub struct Tracker {
    handed: AtomicI64,
    /// Microseconds since the epoch of the latest hand-over (0: none yet).
    last_micros: AtomicI64,
}

impl Tracker {
    /// A frame of the notice is handed to a recipient's socket now.
    pub fn handed_now(&self) {
        self.handed.fetch_add(1, Ordering::Relaxed);
        self.last_micros.fetch_max(Utc::now().timestamp_micros(), Ordering::Relaxed);
    }
}

/// The trackers of the notices in flight on this instance (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct NoticeDeliveries {
    trackers: Arc<Mutex<HashMap<NotificationId, Arc<Tracker>>>>,
    untracked: Arc<AtomicU64>,
}

impl NoticeDeliveries {
    /// The tracker of `notice`, created on first use; `None` when [`MAX_TRACKED`]
    /// notices are tracked already.
    pub fn tracker(&self, notice: NotificationId) -> Option<Arc<Tracker>> {
        let mut trackers = self.trackers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tracker) = trackers.get(&notice) {
            return Some(Arc::clone(tracker));
        }
        if trackers.len() >= MAX_TRACKED {
            if self.untracked.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(limit = MAX_TRACKED, "too many notices in flight: some deliveries are not recorded");
            }
            return None;
        }
        Some(Arc::clone(trackers.entry(notice).or_default()))
    }

    /// Notices whose delivery was not recorded because too many were tracked.
    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// What was delivered since the last take, per notice; forgets the notices no
    /// queued frame holds any more (none can be delivered again).
    pub fn take(&self) -> Vec<NoticeDelivery> {
        let mut trackers = self.trackers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = Vec::new();
        trackers.retain(|&notification, tracker| {
            // Read before counting: with the map locked, nobody can take a new clone,
            // so a tracker held by no frame now cannot be handed a frame later.
            let done = Arc::strong_count(tracker) == 1;
            let handed = tracker.handed.swap(0, Ordering::Relaxed);
            let last = DateTime::<Utc>::from_timestamp_micros(tracker.last_micros.load(Ordering::Relaxed));
            if let (true, Some(last_at)) = (handed > 0, last) {
                taken.push(NoticeDelivery { notification, online_deliveries: handed, last_at });
            }
            !done
        });
        taken
    }

    /// Puts back deliveries that could not be written (they are taken again next time).
    pub fn restore(&self, deliveries: &[NoticeDelivery]) {
        for d in deliveries {
            if let Some(tracker) = self.tracker(d.notification) {
                tracker.handed.fetch_add(d.online_deliveries, Ordering::Relaxed);
                tracker.last_micros.fetch_max(d.last_at.timestamp_micros(), Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_reports_each_notice_once_and_forgets_finished_ones() {
        let deliveries = NoticeDeliveries::default();
        let (a, b) = (NotificationId(1), NotificationId(2));
        let held = deliveries.tracker(a).unwrap();
        held.handed_now();
        held.handed_now();
        let untouched = deliveries.tracker(b).unwrap();
        drop(untouched);

        let taken = deliveries.take();
        assert_eq!(taken.len(), 1);
        assert_eq!((taken[0].notification, taken[0].online_deliveries), (a, 2));
        // `a` is still held by a queued frame: kept; `b` is finished and forgotten.
        assert_eq!(deliveries.trackers.lock().unwrap().len(), 1);
        assert!(deliveries.take().is_empty(), "nothing new since");

        held.handed_now();
        drop(held);
        let taken = deliveries.take();
        assert_eq!((taken.len(), taken[0].online_deliveries), (1, 1));
        assert!(deliveries.trackers.lock().unwrap().is_empty());
    }

    #[test]
    fn restored_deliveries_are_taken_again() {
        let deliveries = NoticeDeliveries::default();
        let at = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
        deliveries.restore(&[NoticeDelivery { notification: NotificationId(3), online_deliveries: 4, last_at: at }]);
        let taken = deliveries.take();
        assert_eq!(taken, [NoticeDelivery { notification: NotificationId(3), online_deliveries: 4, last_at: at }]);
    }

    #[test]
    fn past_the_bound_nothing_more_is_tracked() {
        let deliveries = NoticeDeliveries::default();
        let held: Vec<_> = (0..MAX_TRACKED).map(|i| deliveries.tracker(NotificationId(i as i64)).unwrap()).collect();
        assert!(deliveries.tracker(NotificationId(-1)).is_none());
        assert!(deliveries.tracker(NotificationId(0)).is_some(), "a tracked notice still is");
        assert_eq!(deliveries.untracked(), 1);
        drop(held);
    }
}
