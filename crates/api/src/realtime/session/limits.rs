//! How fast a client may send frames: a token bucket per socket, and how many refusals
//! it may collect before the socket is closed.

use std::time::Instant;

/// Frames per second a client may send on average, and the burst it may use.
pub(super) const RATE_PER_SEC: f64 = 20.0;
pub(super) const BURST: f64 = 40.0;
/// Rate-limit violations tolerated before the connection is closed.
pub(super) const MAX_STRIKES: u32 = 20;

/// A token bucket: [`RATE_PER_SEC`] frames per second on average, bursts of [`BURST`].
pub(super) struct TokenBucket {
    pub(super) tokens: f64,
    pub(super) last: Instant,
}

impl TokenBucket {
    /// Takes a token for one frame; `false` when the client is over its rate.
    pub(super) fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SEC).min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
