//! The stats port: figures the database computes, bucket by bucket.
//!
//! Every method takes the buckets as a list of periods and answers per bucket index,
//! so that the domain alone decides what a bucket is. Implementations MUST count each
//! event in the bucket whose `[start, end)` holds its time, and MUST answer within the
//! store's statement deadline over a year of data (docs/performance.md).

use chrono::{DateTime, Utc};

use crate::error::RepoError;
use crate::ids::PersonaId;
use crate::stats::model::{
    DmFigures, NoticeDelivery, NoticeFigures, PersonaDmFigures, SupportGroupKey, SupportGrouping, SupportRow,
};
use crate::stats::range::Period;
use crate::support::SupportHours;

/// Reads the stats.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait StatsRepository {
    /// Support events per bucket and group, omitting rows with no event. An episode's
    /// opening counts by its start, its first response by the response's time (duration
    /// from the start), its resolution by the resolution's time (duration from the
    /// start); percentiles MUST be nearest-rank. Groups follow `grouping`: under
    /// [`SupportGrouping::Responder`] the keys are `Persona`, `Team` and `Unanswered`,
    /// under [`SupportGrouping::Assignee`] `Assignee` and `Unassigned`, else `All`.
    /// Under `Assignee` each event counts for the assignee at its time (the opening for
    /// the one at the start, the first response for the one when it was given, the
    /// resolution for the one at the resolution) and each reassignment of an episode in
    /// progress is a move out of one group and into another at its time; `moved_in`
    /// and `moved_out` are 0 under the other groupings.
    ///
    /// With `hours`, every duration counts only the time inside that daily UTC window
    /// (a response at 09:00 to a message sent at 17:00 the day before, with 08:00-18:00,
    /// took two hours); figures stored for one window MUST never be read for another.
    fn support_rows(
        &mut self,
        buckets: &[Period],
        grouping: SupportGrouping,
        hours: Option<SupportHours>,
    ) -> Result<Vec<SupportRow>, RepoError>;

    /// Per group, the episodes in progress at `at`: started before it and not resolved
    /// before it (under [`SupportGrouping::Assignee`], by their assignee at `at`).
    /// Groups with none may be omitted.
    fn support_backlog(
        &mut self,
        at: DateTime<Utc>,
        grouping: SupportGrouping,
    ) -> Result<Vec<(SupportGroupKey, i64)>, RepoError>;

    /// DM figures, one per bucket, in order.
    fn dm_figures(&mut self, buckets: &[Period]) -> Result<Vec<DmFigures>, RepoError>;

    /// Per bucket index and persona, the persona's DM figures, omitting rows of zeros.
    fn persona_dm_figures(
        &mut self,
        buckets: &[Period],
    ) -> Result<Vec<(usize, PersonaId, PersonaDmFigures)>, RepoError>;

    /// Stores the support (overall, per responder, per assignee) and DM figures of up to
    /// `limit` of `closed` (all closed, see [`is_closed`](crate::stats::range::is_closed))
    /// that are not stored yet, taken in the given order; returns the periods it stored.
    /// Reports then read them instead of computing them. Per-responder figures MUST be
    /// stored only for a bucket in which no episode started that is still unanswered
    /// and in progress (its responder is not known yet), and such a bucket does not
    /// count as not stored. Implementations MUST be safe to run from several instances
    /// at once (a period stored twice keeps its first figures, which are the same).
    /// Support durations are stored as counted with `hours` (see [`Self::support_rows`]).
    fn store_buckets(
        &mut self,
        closed: &[Period],
        limit: usize,
        hours: Option<SupportHours>,
    ) -> Result<Vec<Period>, RepoError>;

    /// Notice figures, one per bucket, in order: notifications sent in the bucket, with
    /// their reach, reads and recorded live deliveries as of now.
    fn notice_figures(&mut self, buckets: &[Period]) -> Result<Vec<NoticeFigures>, RepoError>;

    /// Adds live deliveries to those recorded per notice (several instances report the
    /// same notice: counts add up, the last delivery is the latest reported). A notice
    /// that no longer exists MUST be skipped, not fail the others.
    fn record_notice_deliveries(&mut self, deliveries: &[NoticeDelivery]) -> Result<(), RepoError>;
}
