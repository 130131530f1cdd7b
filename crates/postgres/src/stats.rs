//! [`StatsRepository`]: the admin stats, computed by PostgreSQL bucket by bucket.
//!
//! Closed buckets ([`is_closed`]) are read from `chat_stats_support_buckets`,
//! `chat_stats_support_group_buckets` (per responder once settled, per assignee) and
//! `chat_stats_dm_buckets`, computed and stored first when missing; open buckets,
//! unsettled ones per responder and the notices are computed on each read
//! (docs/architecture.md, decisions 20 and 21). The statements are in [`sql`]; their plans
//! and timings over a year are in `docs/performance.md`.

mod sql;

use chat_domain::stats::{
    DmFigures, Durations, NoticeDelivery, NoticeFigures, Period, PersonaDmFigures, StatsRepository, SupportGroupKey,
    SupportGrouping, SupportRow, is_closed,
};
use chat_domain::support::SupportHours;
use chat_domain::{PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Int4, Nullable, Text};

use self::sql::{
    Clock, Query, backlog_query, dm_fill_queries, dm_live_query, dm_stored_query, grouped_stored_query,
    grouped_unstored_query, notice_query, record_deliveries_query, support_fill_query, support_group_fill_query,
    support_group_stored_query, support_live_query, support_stored_query, unstored_query,
};
use crate::error::OrRepoError;
use crate::tx::PgTx;

/// A 1-based bucket index from SQL as a 0-based one.
fn index(i: i64) -> Result<usize, RepoError> {
    usize::try_from(i - 1).map_err(|_| RepoError::internal(format!("bucket index {i}")))
}

fn key(kind: &str, id: i32) -> Result<SupportGroupKey, RepoError> {
    Ok(match kind {
        "all" => SupportGroupKey::All,
        "persona" => SupportGroupKey::Persona(PersonaId(id)),
        "team" => SupportGroupKey::Team,
        "unanswered" => SupportGroupKey::Unanswered,
        "assignee" => SupportGroupKey::Assignee(UserId(id)),
        "unassigned" => SupportGroupKey::Unassigned,
        other => return Err(RepoError::internal(format!("unknown stats group {other:?}"))),
    })
}

#[derive(QueryableByName)]
struct SupportSql {
    #[diesel(sql_type = BigInt)]
    i: i64,
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = Int4)]
    kid: i32,
    #[diesel(sql_type = BigInt)]
    opened: i64,
    #[diesel(sql_type = BigInt)]
    reopened: i64,
    #[diesel(sql_type = BigInt)]
    resolved: i64,
    #[diesel(sql_type = BigInt)]
    responded: i64,
    #[diesel(sql_type = Nullable<Double>)]
    fr50: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    fr90: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    res50: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    res90: Option<f64>,
    #[diesel(sql_type = BigInt)]
    moved_in: i64,
    #[diesel(sql_type = BigInt)]
    moved_out: i64,
}

/// A 1-based bucket index.
#[derive(QueryableByName)]
struct BucketIndex {
    #[diesel(sql_type = BigInt)]
    i: i64,
}

#[derive(QueryableByName)]
struct DmSql {
    #[diesel(sql_type = BigInt)]
    i: i64,
    #[diesel(sql_type = Int4)]
    persona_id: i32,
    #[diesel(sql_type = BigInt)]
    new_user_dms: i64,
    #[diesel(sql_type = BigInt)]
    new_persona_dms: i64,
    #[diesel(sql_type = BigInt)]
    active_users: i64,
    #[diesel(sql_type = BigInt)]
    user_to_user: i64,
    #[diesel(sql_type = BigInt)]
    user_to_persona: i64,
    #[diesel(sql_type = BigInt)]
    persona_to_user: i64,
}

/// Buckets with their index in the caller's list.
type Indexed = Vec<(usize, Period)>;

/// Which of `buckets` are closed at `now` (their figures can be stored for good), and
/// which are not; each with its index in `buckets`.
fn split(buckets: &[Period], now: DateTime<Utc>) -> (Indexed, Indexed) {
    buckets.iter().copied().enumerate().partition(|(_, p)| is_closed(p, now))
}

fn periods(part: &[(usize, Period)]) -> Vec<Period> {
    part.iter().map(|&(_, p)| p).collect()
}

impl PgTx<'_> {
    /// Turns JIT compilation off for the rest of the transaction: these statements' cost
    /// estimates pass `jit_above_cost`, and compiling took 65-100 ms of a 20 ms query.
    fn without_jit(&mut self) -> Result<(), RepoError> {
        diesel::sql_query("SET LOCAL jit = off").execute(self.conn()).or_repo().map(drop)
    }

    /// Runs `query(part's periods)` and maps each row's bucket index back to the index
    /// in the caller's list.
    fn per_bucket<R: QueryableByName<diesel::pg::Pg> + 'static>(
        &mut self,
        query: impl FnOnce(&[Period]) -> Query,
        part: &[(usize, Period)],
        bucket_of: impl Fn(&R) -> i64,
    ) -> Result<Vec<(usize, R)>, RepoError> {
        if part.is_empty() {
            return Ok(Vec::new());
        }
        let rows = query(&periods(part)).load::<R>(self.conn()).or_repo()?;
        rows.into_iter()
            .map(|row| {
                let at = index(bucket_of(&row))?;
                let (original, _) = part.get(at).ok_or_else(|| RepoError::internal(format!("bucket {at}")))?;
                Ok((*original, row))
            })
            .collect()
    }

    /// The first `limit` buckets of `part`, in order, whose support or DM figures are
    /// not stored (a cheap check, so that reading stored buckets computes nothing).
    /// (`clock`: support figures counted with it, or `None` for DM figures only.)
    fn unstored(&mut self, clock: Option<Clock>, part: &[(usize, Period)], limit: usize) -> Result<Indexed, RepoError> {
        self.pick(|b| unstored_query(clock, b, limit), part)
    }

    /// The buckets of `part` that `query` names by their 1-based index in `part`.
    fn pick(&mut self, query: impl FnOnce(&[Period]) -> Query, part: &[(usize, Period)]) -> Result<Indexed, RepoError> {
        let rows = self.per_bucket(query, part, |u: &BucketIndex| u.i)?;
        Ok(rows
            .into_iter()
            .map(|(original, _)| original)
            .filter_map(|i| part.iter().find(|(j, _)| *j == i).copied())
            .collect())
    }

    /// Stores the per-group figures of up to `limit` buckets of `part` (closed) not
    /// stored yet for `grouping` (per responder: settled ones only); returns them.
    fn fill_grouped(
        &mut self,
        grouping: SupportGrouping,
        clock: Clock,
        part: &[(usize, Period)],
        limit: usize,
    ) -> Result<Indexed, RepoError> {
        let missing = self.pick(|b| grouped_unstored_query(grouping, clock, b, limit), part)?;
        if !missing.is_empty() {
            support_group_fill_query(grouping, clock, &periods(&missing)).execute(self.conn()).or_repo()?;
        }
        Ok(missing)
    }

    /// Support rows per group: closed buckets stored (computed and stored first when
    /// missing and storable), the others computed.
    fn grouped_rows(
        &mut self,
        buckets: &[Period],
        grouping: SupportGrouping,
        clock: Clock,
    ) -> Result<Vec<(usize, SupportSql)>, RepoError> {
        let (closed, mut live) = split(buckets, Utc::now());
        self.fill_grouped(grouping, clock, &closed, usize::MAX)?;
        let stored = self.pick(|b| grouped_stored_query(grouping, clock, b), &closed)?;
        live.extend(closed.iter().filter(|c| !stored.contains(c)));
        let mut rows =
            self.per_bucket(|b| support_group_stored_query(grouping, clock, b), &stored, |r: &SupportSql| r.i)?;
        rows.extend(self.per_bucket(|b| support_live_query(grouping, clock, b), &live, |r: &SupportSql| r.i)?);
        Ok(rows)
    }

    /// Stores the DM figures, and the support figures counted with `clock` when given,
    /// of `part` (closed buckets not stored yet).
    fn fill(&mut self, clock: Option<Clock>, part: &[(usize, Period)]) -> Result<(), RepoError> {
        if part.is_empty() {
            return Ok(());
        }
        let buckets = periods(part);
        if let Some(clock) = clock {
            support_fill_query(clock, &buckets).execute(self.conn()).or_repo()?;
        }
        for query in dm_fill_queries(&buckets) {
            query.execute(self.conn()).or_repo()?;
        }
        Ok(())
    }

    /// DM rows of every bucket: closed ones stored (computed and stored first when
    /// missing), open ones computed. `personas` picks the personas' rows.
    fn dm_rows(&mut self, buckets: &[Period], personas: bool) -> Result<Vec<(usize, DmSql)>, RepoError> {
        let (closed, open) = split(buckets, Utc::now());
        let unstored = self.unstored(None, &closed, usize::MAX)?;
        self.fill(None, &unstored)?;
        let mut rows = self.per_bucket(|b| dm_stored_query(b, personas), &closed, |r: &DmSql| r.i)?;
        rows.extend(self.per_bucket(|b| dm_live_query(b, personas), &open, |r: &DmSql| r.i)?);
        Ok(rows)
    }
}

impl StatsRepository for PgTx<'_> {
    fn support_rows(
        &mut self,
        buckets: &[Period],
        grouping: SupportGrouping,
        hours: Option<SupportHours>,
    ) -> Result<Vec<SupportRow>, RepoError> {
        self.without_jit()?;
        let clock = Clock(hours);
        let rows = if grouping == SupportGrouping::All {
            let (closed, open) = split(buckets, Utc::now());
            let unstored = self.unstored(Some(clock), &closed, usize::MAX)?;
            self.fill(Some(clock), &unstored)?;
            let mut rows = self.per_bucket(|b| support_stored_query(clock, b), &closed, |r: &SupportSql| r.i)?;
            rows.extend(self.per_bucket(|b| support_live_query(grouping, clock, b), &open, |r: &SupportSql| r.i)?);
            rows
        } else {
            self.grouped_rows(buckets, grouping, clock)?
        };
        rows.into_iter()
            .map(|(bucket, r)| {
                Ok(SupportRow {
                    bucket,
                    key: key(&r.k, r.kid)?,
                    opened: r.opened,
                    reopened: r.reopened,
                    resolved: r.resolved,
                    first_response: Durations { count: r.responded, p50_seconds: r.fr50, p90_seconds: r.fr90 },
                    resolution: Durations { count: r.resolved, p50_seconds: r.res50, p90_seconds: r.res90 },
                    moved_in: r.moved_in,
                    moved_out: r.moved_out,
                })
            })
            .collect()
    }

    fn support_backlog(
        &mut self,
        at: DateTime<Utc>,
        grouping: SupportGrouping,
    ) -> Result<Vec<(SupportGroupKey, i64)>, RepoError> {
        self.without_jit()?;
        #[derive(QueryableByName)]
        struct Backlog {
            #[diesel(sql_type = Text)]
            k: String,
            #[diesel(sql_type = Int4)]
            kid: i32,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let rows = backlog_query(grouping, at).load::<Backlog>(self.conn()).or_repo()?;
        rows.into_iter().map(|r| Ok((key(&r.k, r.kid)?, r.n))).collect()
    }

    fn dm_figures(&mut self, buckets: &[Period]) -> Result<Vec<DmFigures>, RepoError> {
        self.without_jit()?;
        let mut figures = vec![DmFigures::default(); buckets.len()];
        for (i, r) in self.dm_rows(buckets, false)? {
            if let Some(slot) = figures.get_mut(i) {
                *slot = DmFigures {
                    new_user_dms: r.new_user_dms,
                    new_persona_dms: r.new_persona_dms,
                    active_users: r.active_users,
                    user_to_user_messages: r.user_to_user,
                    user_to_persona_messages: r.user_to_persona,
                    persona_to_user_messages: r.persona_to_user,
                };
            }
        }
        Ok(figures)
    }

    fn persona_dm_figures(
        &mut self,
        buckets: &[Period],
    ) -> Result<Vec<(usize, PersonaId, PersonaDmFigures)>, RepoError> {
        self.without_jit()?;
        Ok(self
            .dm_rows(buckets, true)?
            .into_iter()
            .map(|(i, r)| {
                let figures = PersonaDmFigures {
                    new_dms: r.new_persona_dms,
                    active_users: r.active_users,
                    user_messages: r.user_to_persona,
                    persona_messages: r.persona_to_user,
                };
                (i, PersonaId(r.persona_id), figures)
            })
            .collect())
    }

    fn store_buckets(
        &mut self,
        closed: &[Period],
        limit: usize,
        hours: Option<SupportHours>,
    ) -> Result<Vec<Period>, RepoError> {
        self.without_jit()?;
        let clock = Clock(hours);
        let all: Indexed = closed.iter().copied().enumerate().collect();
        let mut part = self.unstored(Some(clock), &all, limit)?;
        self.fill(Some(clock), &part)?;
        for grouping in [SupportGrouping::Responder, SupportGrouping::Assignee] {
            part.extend(self.fill_grouped(grouping, clock, &all, limit)?);
        }
        part.sort_by_key(|&(i, _)| i);
        part.dedup_by_key(|&mut (i, _)| i);
        Ok(periods(&part))
    }

    fn notice_figures(&mut self, buckets: &[Period]) -> Result<Vec<NoticeFigures>, RepoError> {
        self.without_jit()?;
        #[derive(QueryableByName)]
        struct Notices {
            #[diesel(sql_type = BigInt)]
            sent: i64,
            #[diesel(sql_type = BigInt)]
            reach: i64,
            #[diesel(sql_type = BigInt)]
            read: i64,
            #[diesel(sql_type = BigInt)]
            online: i64,
            #[diesel(sql_type = BigInt)]
            delivered: i64,
            #[diesel(sql_type = Nullable<Double>)]
            d50: Option<f64>,
            #[diesel(sql_type = Nullable<Double>)]
            d90: Option<f64>,
        }
        let rows = notice_query(buckets).load::<Notices>(self.conn()).or_repo()?;
        Ok(rows
            .into_iter()
            .map(|r| NoticeFigures {
                sent: r.sent,
                reach: r.reach,
                read: r.read,
                online_deliveries: r.online,
                last_online_delivery: Durations { count: r.delivered, p50_seconds: r.d50, p90_seconds: r.d90 },
            })
            .collect())
    }

    fn record_notice_deliveries(&mut self, deliveries: &[NoticeDelivery]) -> Result<(), RepoError> {
        let ids = deliveries.iter().map(|d| d.notification.0).collect();
        let counts = deliveries.iter().map(|d| d.online_deliveries).collect();
        let at = deliveries.iter().map(|d| d.last_at).collect();
        record_deliveries_query(ids, counts, at).execute(self.conn()).or_repo().map(drop)
    }
}
