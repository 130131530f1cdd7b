//! The range of a report: whole UTC days, cut into buckets.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};

/// How a range is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketSize {
    /// UTC calendar days.
    Day,
    /// ISO weeks: Monday 00:00 UTC to the next Monday.
    Week,
}

impl BucketSize {
    const fn days(self) -> u64 {
        match self {
            Self::Day => 1,
            Self::Week => 7,
        }
    }
}

/// A half-open interval of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// Why a range was refused; each names the request field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `to` is not after `from`.
    #[error("`to` must be after `from`")]
    Empty,
    /// The range is longer than [`StatsRange::MAX_DAYS`].
    #[error("the range is longer than {} days", StatsRange::MAX_DAYS)]
    TooLong,
    /// With weekly buckets, `from` is not a Monday.
    #[error("`from` must be a Monday for weekly buckets")]
    FromNotMonday,
    /// With weekly buckets, `to` is not a Monday.
    #[error("`to` must be a Monday for weekly buckets")]
    ToNotMonday,
}

impl RangeError {
    /// The request field this error is about.
    pub const fn field(self) -> &'static str {
        match self {
            Self::FromNotMonday => "from",
            Self::Empty | Self::TooLong | Self::ToNotMonday => "to",
        }
    }
}

/// A validated report range: `from` (inclusive) to `to` (exclusive), whole UTC days, at
/// most [`StatsRange::MAX_DAYS`] long, and whole buckets (weekly ranges run Monday to
/// Monday, so no bucket is cut short and every bucket's figures mean the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsRange {
    from: NaiveDate,
    to: NaiveDate,
    bucket: BucketSize,
}

impl StatsRange {
    /// The longest range, in days: a year, leap years included (53 weeks fit in 371, so
    /// a weekly range is at most 52 weeks).
    pub const MAX_DAYS: i64 = 366;

    /// Validates a range; every problem found is returned, each naming its field.
    pub fn new(from: NaiveDate, to: NaiveDate, bucket: BucketSize) -> Result<Self, Vec<RangeError>> {
        let mut errors = Vec::new();
        if bucket == BucketSize::Week {
            if from.weekday() != Weekday::Mon {
                errors.push(RangeError::FromNotMonday);
            }
            if to.weekday() != Weekday::Mon {
                errors.push(RangeError::ToNotMonday);
            }
        }
        let days = (to - from).num_days();
        if days <= 0 {
            errors.push(RangeError::Empty);
        } else if days > Self::MAX_DAYS {
            errors.push(RangeError::TooLong);
        }
        if errors.is_empty() { Ok(Self { from, to, bucket }) } else { Err(errors) }
    }

    /// The first day.
    pub const fn from(&self) -> NaiveDate {
        self.from
    }

    /// The day after the last.
    pub const fn to(&self) -> NaiveDate {
        self.to
    }

    /// The bucket size.
    pub const fn bucket(&self) -> BucketSize {
        self.bucket
    }

    /// The whole range as one period.
    pub fn period(&self) -> Period {
        Period { start: midnight(self.from), end: midnight(self.to) }
    }

    /// The buckets, in order; they tile the range exactly.
    pub fn buckets(&self) -> Vec<Period> {
        let step = Days::new(self.bucket.days());
        let mut out = Vec::new();
        let mut day = self.from;
        while day < self.to {
            let next = day.checked_add_days(step).unwrap_or(self.to).min(self.to);
            out.push(Period { start: midnight(day), end: midnight(next) });
            day = next;
        }
        out
    }
}

/// How long after its end a bucket is *closed*: every transaction that stamped a row
/// with a time inside it (`now()` at its start) has ended by then, since the store's
/// transaction deadline is seconds. A closed bucket's figures never change again, so
/// they may be stored for good.
pub const SETTLE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Whether `period` is closed at `now` (see [`SETTLE`]).
pub fn is_closed(period: &Period, now: DateTime<Utc>) -> bool {
    period.end <= now - SETTLE
}

/// Every closed day and week (Monday to Monday) of the year before `now`, most recent
/// first: what the reports of the last year read, so what is worth storing ahead.
pub fn closed_buckets_of_last_year(now: DateTime<Utc>) -> Vec<Period> {
    let today = (now - SETTLE).date_naive();
    let year_ago = today - chrono::Duration::days(StatsRange::MAX_DAYS);
    let days = StatsRange { from: year_ago, to: today, bucket: BucketSize::Day }.buckets();
    let monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first_monday = monday - chrono::Duration::weeks(52);
    let weeks = StatsRange { from: first_monday, to: monday, bucket: BucketSize::Week }.buckets();
    let mut all: Vec<Period> = days.into_iter().rev().chain(weeks.into_iter().rev()).collect();
    all.retain(|p| is_closed(p, now));
    all
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn daily_buckets_tile_the_range() {
        let range = StatsRange::new(day("2026-02-27"), day("2026-03-02"), BucketSize::Day).unwrap();
        let starts: Vec<String> = range.buckets().iter().map(|p| p.start.to_rfc3339()).collect();
        assert_eq!(starts, ["2026-02-27T00:00:00+00:00", "2026-02-28T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]);
        assert_eq!(range.buckets().last().unwrap().end, range.period().end);
    }

    #[test]
    fn weekly_buckets_run_monday_to_monday() {
        let range = StatsRange::new(day("2026-11-02"), day("2026-11-23"), BucketSize::Week).unwrap();
        let buckets = range.buckets();
        assert_eq!(buckets.len(), 3);
        assert!(buckets.iter().all(|p| (p.end - p.start).num_days() == 7 && p.start.weekday() == Weekday::Mon));
    }

    #[test]
    fn a_year_is_the_longest_range() {
        assert!(StatsRange::new(day("2024-01-01"), day("2025-01-01"), BucketSize::Day).is_ok());
        assert_eq!(
            StatsRange::new(day("2025-01-01"), day("2026-01-03"), BucketSize::Day),
            Err(vec![RangeError::TooLong])
        );
        // 52 weeks fit, 53 do not.
        assert!(StatsRange::new(day("2025-01-06"), day("2026-01-05"), BucketSize::Week).is_ok());
        assert_eq!(
            StatsRange::new(day("2025-01-06"), day("2026-01-12"), BucketSize::Week),
            Err(vec![RangeError::TooLong])
        );
    }

    #[test]
    fn the_last_year_is_closed_days_and_weeks_most_recent_first() {
        // Wednesday 2026-03-04, 00:05: Tuesday is not closed until 00:10.
        let now = "2026-03-04T00:05:00Z".parse::<DateTime<Utc>>().unwrap();
        let all = closed_buckets_of_last_year(now);
        let days: Vec<_> = all.iter().filter(|p| (p.end - p.start).num_days() == 1).collect();
        let weeks: Vec<_> = all.iter().filter(|p| (p.end - p.start).num_days() == 7).collect();
        assert_eq!(days.len(), 366);
        assert_eq!(days[0].start.date_naive(), day("2026-03-02"));
        assert_eq!(weeks.len(), 52);
        assert_eq!((weeks[0].start.date_naive(), weeks[0].end.date_naive()), (day("2026-02-23"), day("2026-03-02")));
        assert!(all.iter().all(|p| is_closed(p, now)));
        let later = "2026-03-04T00:10:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(closed_buckets_of_last_year(later)[0].start.date_naive(), day("2026-03-03"));
    }

    #[test]
    fn bad_ranges_name_their_field() {
        let err = StatsRange::new(day("2026-11-04"), day("2026-11-04"), BucketSize::Week).unwrap_err();
        assert_eq!(err, vec![RangeError::FromNotMonday, RangeError::ToNotMonday, RangeError::Empty]);
        let fields: Vec<_> = err.iter().map(|e| e.field()).collect();
        assert_eq!(fields, ["from", "to", "to"]);
        assert_eq!(
            StatsRange::new(day("2026-11-05"), day("2026-11-04"), BucketSize::Day),
            Err(vec![RangeError::Empty])
        );
    }
}
