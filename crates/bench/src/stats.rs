//! Latency histograms (microseconds) and their JSON summaries.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// A latency histogram from 1 µs to 10 minutes at 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Self {
        #[expect(clippy::unwrap_used, reason = "constant, valid bounds")]
        Self(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap())
    }

    /// Records one latency (saturating at the upper bound, never dropped).
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, 600_000_000);
        self.0.saturating_record(us);
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency at quantile `q` (0..=1), in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q) as f64 / 1000.0
    }

    /// `{count, p50_ms, p99_ms, p999_ms, max_ms}`.
    pub fn summary(&self) -> Value {
        json!({
            "count": self.count(),
            "p50_ms": round3(self.ms(0.5)),
            "p99_ms": round3(self.ms(0.99)),
            "p999_ms": round3(self.ms(0.999)),
            "max_ms": round3(if self.0.is_empty() { 0.0 } else { self.0.max() as f64 / 1000.0 }),
        })
    }
}

/// Rounds to three decimals for readable JSON.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_recorded_values() {
        let mut h = Latency::new();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.count(), 100);
        assert!((h.ms(0.5) - 50.0).abs() < 0.1);
        assert!((h.ms(0.99) - 99.0).abs() < 0.1);
        let mut other = Latency::new();
        other.record(Duration::from_secs(3600));
        h.merge(&other);
        assert_eq!(h.count(), 101);
        assert!(h.ms(1.0) >= 599_000.0, "saturates at the bound instead of dropping");
    }
}
