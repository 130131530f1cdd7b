//! Support hours: when the team is shown as online (until presence is real time), and
//! the only time the stats count in support durations when set.

use chrono::{DateTime, NaiveTime, Timelike, Utc};

use crate::values::ValueError;

/// A daily window in UTC, e.g. `08:00-18:00`; a window that ends before it starts wraps
/// past midnight (`22:00-06:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl SupportHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::new("invalid_hours", "must look like HH:MM-HH:MM (UTC)");
        let (start, end) = raw.trim().split_once('-').ok_or_else(bad)?;
        let time = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
        Ok(Self { start: time(start)?, end: time(end)? })
    }

    /// The window's start and end, in seconds of the UTC day (an end before the start
    /// wraps past midnight; an end equal to the start is an empty window).
    pub fn seconds(&self) -> (u32, u32) {
        (self.start.num_seconds_from_midnight(), self.end.num_seconds_from_midnight())
    }

    /// Whether `now` falls inside the window.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let t = now.time();
        if self.start <= self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }
}

impl std::fmt::Display for SupportHours {
    /// `HH:MM-HH:MM`, as parsed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap()
    }

    #[test]
    fn daytime_and_overnight_windows() {
        let day = SupportHours::parse("08:00-18:00").unwrap();
        assert!(day.contains(at(8, 0)) && day.contains(at(17, 59)));
        assert!(!day.contains(at(18, 0)) && !day.contains(at(7, 59)));
        let night = SupportHours::parse("22:00 - 06:00").unwrap();
        assert!(night.contains(at(23, 0)) && night.contains(at(5, 0)));
        assert!(!night.contains(at(12, 0)));
    }

    #[test]
    fn a_window_shows_and_counts_as_parsed() {
        let night = SupportHours::parse(" 22:00 - 06:30").unwrap();
        assert_eq!(night.to_string(), "22:00-06:30");
        assert_eq!(night.seconds(), (79_200, 23_400));
    }

    #[test]
    fn malformed_windows_are_refused() {
        for raw in ["", "8-18", "08:00", "25:00-26:00", "08:00-18:00-20:00"] {
            assert!(SupportHours::parse(raw).is_err(), "{raw}");
        }
    }
}
