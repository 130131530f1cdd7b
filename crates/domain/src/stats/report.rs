//! The stats use cases: admin check, dense series, backlog running sums.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::error::RepoError;
use crate::ids::{PersonaId, UserId};
use crate::principal::Principal;
use crate::stats::model::{
    NoticeDelivery, OverviewBucket, PersonaDmFigures, ResponderBucket, SupportFigures, SupportGroupKey,
    SupportGrouping, SupportRow,
};
use crate::stats::ports::StatsRepository;
use crate::stats::range::{Period, StatsRange, closed_buckets_of_last_year};
use crate::support::SupportHours;

/// Why a stats request failed.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The caller is not an admin.
    #[error("admins only")]
    Forbidden,
    /// Storage failure.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The overview: every figure, bucket by bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// The range.
    pub range: StatsRange,
    /// One entry per bucket, in order.
    pub buckets: Vec<OverviewBucket>,
}

/// One responder's series (a persona, the team, or nobody yet).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponderSeries {
    /// `Persona`, `Team` or `Unanswered`.
    pub key: SupportGroupKey,
    /// One entry per bucket, in order.
    pub buckets: Vec<ResponderBucket>,
}

/// One assignee's series.
#[derive(Debug, Clone, PartialEq)]
pub struct AssigneeSeries {
    /// The admin, or `None` for unassigned episodes.
    pub assignee: Option<UserId>,
    /// One entry per bucket, in order: the bucket and its support figures.
    pub buckets: Vec<(Period, SupportFigures)>,
}

fn require_admin(caller: &Principal) -> Result<(), StatsError> {
    if caller.is_admin() { Ok(()) } else { Err(StatsError::Forbidden) }
}

/// Support figures per group, dense over `buckets`, with the backlog at each bucket's
/// end: the backlog at the range's start, plus the episodes opened and moved in, minus
/// those resolved and moved out, so far.
fn support_series(
    repo: &mut (impl StatsRepository + ?Sized),
    range: &StatsRange,
    buckets: &[Period],
    grouping: SupportGrouping,
    hours: Option<SupportHours>,
) -> Result<BTreeMap<SupportGroupKey, Vec<SupportFigures>>, RepoError> {
    let rows = repo.support_rows(buckets, grouping, hours)?;
    let start = repo.support_backlog(range.period().start, grouping)?;
    let mut series: BTreeMap<SupportGroupKey, Vec<SupportFigures>> = BTreeMap::new();
    let mut empty = |key| series.entry(key).or_insert_with(|| vec![SupportFigures::default(); buckets.len()]).len();
    for &(key, _) in &start {
        empty(key);
    }
    for row in &rows {
        empty(row.key);
    }
    if grouping == SupportGrouping::All {
        empty(SupportGroupKey::All);
    }
    let mut moves: BTreeMap<SupportGroupKey, Vec<i64>> = BTreeMap::new();
    for SupportRow { bucket, key, opened, reopened, resolved, first_response, resolution, moved_in, moved_out } in rows
    {
        if let Some(figures) = series.get_mut(&key).and_then(|s| s.get_mut(bucket)) {
            *figures = SupportFigures { opened, reopened, resolved, backlog: 0, first_response, resolution };
        }
        if let Some(net) = moves.entry(key).or_insert_with(|| vec![0; buckets.len()]).get_mut(bucket) {
            *net = moved_in - moved_out;
        }
    }
    for (key, figures) in &mut series {
        let mut backlog = start.iter().find(|(k, _)| k == key).map_or(0, |&(_, n)| n);
        let moved = moves.get(key);
        for (i, f) in figures.iter_mut().enumerate() {
            backlog += f.opened - f.resolved + moved.and_then(|m| m.get(i)).copied().unwrap_or(0);
            f.backlog = backlog;
        }
    }
    Ok(series)
}

/// Every figure of `range`, bucket by bucket (admins only); with `hours`, support
/// durations count only the time inside support hours.
pub fn overview_stats(
    repo: &mut (impl StatsRepository + ?Sized),
    caller: &Principal,
    range: StatsRange,
    hours: Option<SupportHours>,
) -> Result<Overview, StatsError> {
    require_admin(caller)?;
    let buckets = range.buckets();
    let support = support_series(repo, &range, &buckets, SupportGrouping::All, hours)?.remove(&SupportGroupKey::All);
    let dms = repo.dm_figures(&buckets)?;
    let notices = repo.notice_figures(&buckets)?;
    let buckets = buckets
        .iter()
        .enumerate()
        .map(|(i, &period)| OverviewBucket {
            period,
            support: support.as_ref().and_then(|s| s.get(i).copied()).unwrap_or_default(),
            dms: dms.get(i).copied().unwrap_or_default(),
            notices: notices.get(i).copied().unwrap_or_default(),
        })
        .collect();
    Ok(Overview { range, buckets })
}

/// Support figures per responder (each persona, the team, unanswered), with each
/// persona's DM figures (admins only). Personas first, by id; then the team; then
/// unanswered episodes. `hours` as in [`overview_stats`].
pub fn responder_stats(
    repo: &mut (impl StatsRepository + ?Sized),
    caller: &Principal,
    range: StatsRange,
    hours: Option<SupportHours>,
) -> Result<Vec<ResponderSeries>, StatsError> {
    require_admin(caller)?;
    let buckets = range.buckets();
    let mut support = support_series(repo, &range, &buckets, SupportGrouping::Responder, hours)?;
    let mut dms: BTreeMap<PersonaId, Vec<PersonaDmFigures>> = BTreeMap::new();
    for (i, persona, figures) in repo.persona_dm_figures(&buckets)? {
        if let Some(slot) =
            dms.entry(persona).or_insert_with(|| vec![PersonaDmFigures::default(); buckets.len()]).get_mut(i)
        {
            *slot = figures;
        }
    }
    let keys: BTreeSet<SupportGroupKey> =
        support.keys().copied().chain(dms.keys().map(|&p| SupportGroupKey::Persona(p))).collect();
    Ok(keys
        .into_iter()
        .map(|key| {
            let figures = support.remove(&key).unwrap_or_default();
            let persona_dms = match key {
                SupportGroupKey::Persona(p) => Some(dms.remove(&p).unwrap_or_default()),
                _ => None,
            };
            let buckets = buckets
                .iter()
                .enumerate()
                .map(|(i, &period)| ResponderBucket {
                    period,
                    support: figures.get(i).copied().unwrap_or_default(),
                    persona_dms: persona_dms.as_ref().map(|d| d.get(i).copied().unwrap_or_default()),
                })
                .collect();
            ResponderSeries { key, buckets }
        })
        .collect())
}

/// Support figures per assignee, unassigned last (admins only). `hours` as in
/// [`overview_stats`].
pub fn assignee_stats(
    repo: &mut (impl StatsRepository + ?Sized),
    caller: &Principal,
    range: StatsRange,
    hours: Option<SupportHours>,
) -> Result<Vec<AssigneeSeries>, StatsError> {
    require_admin(caller)?;
    let buckets = range.buckets();
    let series = support_series(repo, &range, &buckets, SupportGrouping::Assignee, hours)?;
    Ok(series
        .into_iter()
        .filter_map(|(key, figures)| {
            let assignee = match key {
                SupportGroupKey::Assignee(admin) => Some(admin),
                SupportGroupKey::Unassigned => None,
                _ => return None,
            };
            Some(AssigneeSeries { assignee, buckets: buckets.iter().copied().zip(figures).collect() })
        })
        .collect())
}

/// Stores the figures of up to `limit` closed buckets of the last year not stored yet
/// (days and weeks, most recent first), so that reports read them instead of computing
/// them. Run by the housekeeping loop until it stores nothing; returns what it stored.
/// Support durations are stored as counted with `hours` (the reports' setting).
pub fn store_closed_buckets(
    repo: &mut (impl StatsRepository + ?Sized),
    now: DateTime<Utc>,
    limit: usize,
    hours: Option<SupportHours>,
) -> Result<Vec<Period>, RepoError> {
    repo.store_buckets(&closed_buckets_of_last_year(now), limit, hours)
}

/// Records the live deliveries of notices the real-time layer reported (run by the
/// housekeeping loop, which flushes them from memory).
pub fn record_notice_deliveries(
    repo: &mut (impl StatsRepository + ?Sized),
    deliveries: &[NoticeDelivery],
) -> Result<(), RepoError> {
    if deliveries.is_empty() { Ok(()) } else { repo.record_notice_deliveries(deliveries) }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use mockall::predicate::eq;

    use super::*;
    use crate::stats::model::{DmFigures, Durations, NoticeFigures};
    use crate::stats::ports::MockStatsRepository;
    use crate::stats::range::BucketSize;

    fn range() -> StatsRange {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        StatsRange::new(day("2026-03-02"), day("2026-03-05"), BucketSize::Day).unwrap()
    }

    fn row(bucket: usize, key: SupportGroupKey, opened: i64, resolved: i64) -> SupportRow {
        SupportRow {
            bucket,
            key,
            opened,
            reopened: 0,
            resolved,
            first_response: Durations::default(),
            resolution: Durations::default(),
            moved_in: 0,
            moved_out: 0,
        }
    }

    #[test]
    fn a_user_is_refused_before_anything_is_read() {
        let mut repo = MockStatsRepository::new();
        let user = Principal::user(UserId(5));
        assert!(matches!(overview_stats(&mut repo, &user, range(), None), Err(StatsError::Forbidden)));
        assert!(matches!(responder_stats(&mut repo, &user, range(), None), Err(StatsError::Forbidden)));
        assert!(matches!(assignee_stats(&mut repo, &user, range(), None), Err(StatsError::Forbidden)));
    }

    #[test]
    fn the_overview_is_dense_and_the_backlog_runs_from_the_start() {
        let mut repo = MockStatsRepository::new();
        let r = range();
        let buckets = r.buckets();
        let fr = Durations { count: 1, p50_seconds: Some(60.0), p90_seconds: Some(60.0) };
        let hours = SupportHours::parse("08:00-18:00").ok();
        repo.expect_support_rows().with(eq(buckets.clone()), eq(SupportGrouping::All), eq(hours)).returning(
            move |_, _, _| {
                Ok(vec![
                    SupportRow { first_response: fr, ..row(0, SupportGroupKey::All, 3, 1) },
                    row(2, SupportGroupKey::All, 0, 2),
                ])
            },
        );
        repo.expect_support_backlog()
            .with(eq(r.period().start), eq(SupportGrouping::All))
            .returning(|_, _| Ok(vec![(SupportGroupKey::All, 4)]));
        repo.expect_dm_figures().returning(|b| {
            Ok(b.iter().map(|_| DmFigures { user_to_user_messages: 2, ..DmFigures::default() }).collect())
        });
        repo.expect_notice_figures().returning(|b| Ok(vec![NoticeFigures::default(); b.len()]));

        let overview = overview_stats(&mut repo, &Principal::admin(UserId(1)), r, hours).unwrap();
        let backlog: Vec<i64> = overview.buckets.iter().map(|b| b.support.backlog).collect();
        assert_eq!(backlog, [6, 6, 4]);
        assert_eq!(overview.buckets[0].support.first_response, fr);
        assert_eq!(overview.buckets[1].support.opened, 0, "a bucket with nothing is zeros");
        assert!(overview.buckets.iter().all(|b| b.dms.user_to_user_messages == 2));
        assert_eq!(overview.buckets.iter().map(|b| b.period).collect::<Vec<_>>(), buckets);
    }

    #[test]
    fn responders_list_personas_then_the_team_then_unanswered() {
        let mut repo = MockStatsRepository::new();
        repo.expect_support_rows().returning(|_, _, _| {
            Ok(vec![
                row(0, SupportGroupKey::Unanswered, 1, 0),
                row(1, SupportGroupKey::Team, 1, 1),
                row(1, SupportGroupKey::Persona(PersonaId(3)), 2, 0),
            ])
        });
        repo.expect_support_backlog().returning(|_, _| Ok(vec![(SupportGroupKey::Persona(PersonaId(3)), 1)]));
        repo.expect_persona_dm_figures().returning(|_| {
            Ok(vec![(
                2,
                PersonaId(2),
                PersonaDmFigures { new_dms: 1, active_users: 1, user_messages: 4, persona_messages: 0 },
            )])
        });

        let series = responder_stats(&mut repo, &Principal::admin(UserId(1)), range(), None).unwrap();
        let keys: Vec<_> = series.iter().map(|s| s.key).collect();
        assert_eq!(
            keys,
            [
                SupportGroupKey::Persona(PersonaId(2)),
                SupportGroupKey::Persona(PersonaId(3)),
                SupportGroupKey::Team,
                SupportGroupKey::Unanswered
            ]
        );
        // A persona with DMs but no support episode still has its series.
        assert_eq!(series[0].buckets[2].persona_dms.unwrap().user_messages, 4);
        assert_eq!(series[0].buckets[0].support, SupportFigures::default());
        // Backlog per responder: 1 at the start, +2 on the second day.
        assert_eq!(series[1].buckets.iter().map(|b| b.support.backlog).collect::<Vec<_>>(), [1, 3, 3]);
        assert!(series[2].buckets.iter().all(|b| b.persona_dms.is_none()));
    }

    #[test]
    fn assignees_come_before_unassigned() {
        let mut repo = MockStatsRepository::new();
        repo.expect_support_rows()
            .with(mockall::predicate::always(), eq(SupportGrouping::Assignee), eq(None))
            .returning(|_, _, _| {
                Ok(vec![row(0, SupportGroupKey::Unassigned, 1, 0), row(0, SupportGroupKey::Assignee(UserId(7)), 1, 1)])
            });
        repo.expect_support_backlog().returning(|_, _| Ok(vec![]));
        let series = assignee_stats(&mut repo, &Principal::admin(UserId(1)), range(), None).unwrap();
        assert_eq!(series.iter().map(|s| s.assignee).collect::<Vec<_>>(), [Some(UserId(7)), None]);
        assert_eq!(series[0].buckets[2].1.backlog, 0);
        assert_eq!(series[1].buckets[2].1.backlog, 1);
    }

    #[test]
    fn a_reassignment_moves_the_backlog_from_one_assignee_to_the_other() {
        let mut repo = MockStatsRepository::new();
        repo.expect_support_rows().returning(|_, _, _| {
            Ok(vec![
                row(0, SupportGroupKey::Unassigned, 2, 0),
                SupportRow { moved_out: 1, ..row(1, SupportGroupKey::Unassigned, 0, 0) },
                SupportRow { moved_in: 1, ..row(1, SupportGroupKey::Assignee(UserId(7)), 0, 0) },
                row(2, SupportGroupKey::Assignee(UserId(7)), 0, 1),
            ])
        });
        repo.expect_support_backlog().returning(|_, _| Ok(vec![(SupportGroupKey::Unassigned, 1)]));
        let series = assignee_stats(&mut repo, &Principal::admin(UserId(1)), range(), None).unwrap();
        let backlog = |s: &AssigneeSeries| s.buckets.iter().map(|(_, f)| f.backlog).collect::<Vec<_>>();
        assert_eq!(backlog(&series[0]), [0, 1, 0]);
        assert_eq!(backlog(&series[1]), [3, 2, 2]);
    }

    #[test]
    fn storing_asks_for_the_closed_buckets_of_the_last_year() {
        let now = "2026-03-04T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let mut repo = MockStatsRepository::new();
        repo.expect_store_buckets()
            .withf(move |closed, limit, hours| {
                *limit == 7 && closed == closed_buckets_of_last_year(now).as_slice() && hours.is_none()
            })
            .returning(|closed, limit, _| Ok(closed.iter().take(limit).copied().collect()));
        assert_eq!(store_closed_buckets(&mut repo, now, 7, None).unwrap().len(), 7);
    }

    #[test]
    fn read_rate_is_reads_over_reach() {
        assert_eq!(NoticeFigures { sent: 1, reach: 4, read: 1, ..NoticeFigures::default() }.read_rate(), Some(0.25));
        assert_eq!(NoticeFigures::default().read_rate(), None);
    }
}
