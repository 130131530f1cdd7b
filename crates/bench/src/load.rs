//! Load drivers: an open loop at a fixed rate, and a closed loop of K workers.
//!
//! Open loop: request `i` is due at `start + i / rate`, decided before the run. The driver
//! sleeps until then and spawns the request, never waiting for earlier ones; latency is
//! `completion - intended`, so queueing anywhere (server, network, even this driver
//! falling behind) is counted. When `max_in_flight` requests are outstanding the driver
//! sheds the request and counts it as an error instead of slowing down: a closed loop in
//! disguise would under-report exactly when the server struggles.
//!
//! Both drivers are bounded by a count and a deadline, and abort what is still running
//! after a drain timeout.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};

/// One finished request.
#[derive(Debug)]
pub struct Sample<T> {
    /// Its index in the schedule.
    pub index: u64,
    /// When it was due (open loop) or started (closed loop).
    pub intended: Instant,
    /// When it actually started.
    pub started: Instant,
    /// When it finished.
    pub done: Instant,
    /// What it produced, or why it failed.
    pub result: Result<T, String>,
}

impl<T> Sample<T> {
    /// Latency from the intended send time.
    pub fn latency(&self) -> Duration {
        self.done.saturating_duration_since(self.intended)
    }
}

/// A fixed-rate schedule.
#[derive(Debug, Clone, Copy)]
pub struct OpenLoop {
    /// Requests per second.
    pub rate: f64,
    /// Requests in total.
    pub count: u64,
    /// Longest time to keep issuing requests.
    pub duration: Duration,
    /// Most requests outstanding at once; more are shed.
    pub max_in_flight: usize,
    /// How long to wait for outstanding requests after the last one was issued.
    pub drain: Duration,
}

/// Counters of a driver run besides the samples.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunStats {
    /// Requests issued.
    pub issued: u64,
    /// Requests shed because `max_in_flight` was reached.
    pub shed: u64,
    /// Requests still running at the end of the drain, aborted.
    pub aborted: u64,
    /// Wall time from the first due time to the last completion.
    pub elapsed: Duration,
}

/// Runs `make(i)` on the open-loop schedule and hands every sample to `sink`.
pub async fn open_loop<T, F, Fut>(plan: OpenLoop, mut make: F, mut sink: impl FnMut(Sample<T>)) -> RunStats
where
    T: Send + 'static,
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + plan.duration;
    let mut set: JoinSet<Sample<T>> = JoinSet::new();
    let mut stats = RunStats::default();
    for i in 0..plan.count {
        let due = start + Duration::from_secs_f64(i as f64 / plan.rate);
        if due > end {
            break;
        }
        // Collect finished requests while waiting for the due time.
        loop {
            tokio::select! {
                biased;
                Some(joined) = set.join_next(), if !set.is_empty() => {
                    if let Ok(sample) = joined { sink(sample) }
                }
                () = sleep_until(due) => break,
            }
        }
        if set.len() >= plan.max_in_flight {
            stats.shed += 1;
            continue;
        }
        stats.issued += 1;
        let fut = make(i);
        set.spawn(async move {
            let started = Instant::now();
            let result = fut.await;
            Sample { index: i, intended: due, started, done: Instant::now(), result }
        });
    }
    let drain_end = Instant::now() + plan.drain;
    while let Ok(Some(joined)) = timeout_at(drain_end, set.join_next()).await {
        if let Ok(sample) = joined {
            sink(sample);
        }
    }
    stats.aborted = set.len() as u64;
    set.abort_all();
    stats.elapsed = start.elapsed();
    stats
}

/// Runs `workers` loops, each calling `make(i)` again as soon as the previous call
/// returned, until `count` calls were issued in total or `duration` passed.
pub async fn closed_loop<T, F, Fut>(
    workers: usize,
    count: u64,
    duration: Duration,
    make: F,
    mut sink: impl FnMut(Sample<T>),
) -> RunStats
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let start = Instant::now();
    let end = start + duration;
    let next = Arc::new(AtomicU64::new(0));
    let make = Arc::new(make);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Sample<T>>();
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let (next, make, tx) = (Arc::clone(&next), Arc::clone(&make), tx.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() >= end {
                    break;
                }
                let started = Instant::now();
                let result = match timeout_at(end + Duration::from_secs(10), make(i)).await {
                    Ok(r) => r,
                    Err(_) => Err("timeout".to_owned()),
                };
                if tx.send(Sample { index: i, intended: started, started, done: Instant::now(), result }).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    while let Some(sample) = rx.recv().await {
        sink(sample);
    }
    while set.join_next().await.is_some() {}
    let issued = next.load(Ordering::Relaxed).min(count);
    RunStats { issued, shed: 0, aborted: 0, elapsed: start.elapsed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_server_shows_as_latency_from_the_intended_time() {
        // 10 requests at 100/s; the third one stalls for 500 ms.
        let plan = OpenLoop {
            rate: 100.0,
            count: 10,
            duration: Duration::from_secs(1),
            max_in_flight: 100,
            drain: Duration::from_secs(2),
        };
        let mut lat = Vec::new();
        let stats = open_loop(
            plan,
            |i| async move {
                if i == 2 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok(i)
            },
            |s| lat.push((s.index, s.latency())),
        )
        .await;
        assert_eq!(stats.issued, 10);
        lat.sort();
        assert!(lat[2].1 >= Duration::from_millis(500));
        // Later requests were not delayed by the stalled one (open loop).
        assert!(lat[9].1 < Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_in_flight_cap_are_shed_not_delayed() {
        let plan = OpenLoop {
            rate: 1000.0,
            count: 50,
            duration: Duration::from_secs(1),
            max_in_flight: 5,
            drain: Duration::ZERO,
        };
        let mut done = 0;
        let stats = open_loop(
            plan,
            |_| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(())
            },
            |_| done += 1,
        )
        .await;
        assert_eq!((stats.issued, stats.shed, stats.aborted, done), (5, 45, 5, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_closed_loop_stops_at_its_count() {
        let mut n = 0;
        let stats = closed_loop(4, 20, Duration::from_secs(5), |i| async move { Ok(i) }, |_| n += 1).await;
        assert_eq!((stats.issued, n), (20, 20));
    }
}
