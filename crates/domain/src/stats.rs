//! Admin stats: the plan's success metrics, read from the service's own data.
//!
//! A report covers a range of whole UTC days cut into buckets (days, or ISO weeks from
//! Monday). Every event counts in the bucket that contains its time: an episode's
//! opening by its start, a first response by the response's time, a resolution by the
//! resolution's time. So a bucket's figures depend only on what happened inside it, and
//! a closed bucket never changes, per assignee too (each event counts for the assignee
//! at its time). The one exception is the per-responder view, which counts an episode's
//! opening under the voice of its first response, known later: its closed buckets are
//! final once *settled* (no episode started in them is unanswered and in progress).
//! The definitions are written out for admins in docs/admin-guide.md ("Reading the
//! stats").
//!
//! * [`range`]: the validated range and its buckets.
//! * [`model`]: the figures.
//! * [`ports`]: what the database computes.
//! * [`report`]: the use cases, which add the admin check, dense series (a bucket with
//!   nothing in it is a bucket of zeros) and the backlog's running sums.

mod model;
mod ports;
mod range;
mod report;

pub use self::model::{
    DmFigures, Durations, NoticeDelivery, NoticeFigures, OverviewBucket, PersonaDmFigures, ResponderBucket,
    SupportFigures, SupportGroupKey, SupportGrouping, SupportRow,
};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockStatsRepository;
pub use self::ports::StatsRepository;
pub use self::range::{BucketSize, Period, RangeError, SETTLE, StatsRange, closed_buckets_of_last_year, is_closed};
pub use self::report::{
    AssigneeSeries, Overview, ResponderSeries, StatsError, assignee_stats, overview_stats, record_notice_deliveries,
    responder_stats, store_closed_buckets,
};
