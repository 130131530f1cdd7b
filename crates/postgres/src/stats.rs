//! [`StatsRepository`]: the admin stats, computed by PostgreSQL bucket by bucket.
//!
//! The buckets arrive as two arrays (starts, ends) and are unnested with their index,
//! so every statement joins events to buckets by a range condition on an indexed time
//! (`chat_support_episodes_*`, `dm_messages_created_brin`, `direct_messages_dm_created`,
//! `chat_notifications_created`); `docs/performance.md` has the plans and timings.

use chat_domain::stats::{
    DmFigures, Durations, NoticeFigures, Period, PersonaDmFigures, StatsRepository, SupportGroupKey, SupportGrouping,
    SupportRow, is_closed,
};
use chat_domain::{PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Int4, Nullable, Text, Timestamptz};

use crate::error::OrRepoError;
use crate::tx::PgTx;

/// The buckets as a relation `b(i, s, e)`: 1-based index, start, end ($1, $2).
const BUCKETS: &str =
    "b AS (SELECT t.i, t.s, t.e FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i))";

/// [`BUCKETS`] without those whose figures are already stored in `cache` (the row of
/// `persona_id` 0 for the DM table).
fn missing_buckets(cache: &str) -> String {
    let persona = if cache == "chat_stats_dm_buckets" { " AND c.persona_id = 0" } else { "" };
    format!(
        "b AS (SELECT t.i, t.s, t.e FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
                WHERE NOT EXISTS (SELECT 1 FROM {cache} c
                                   WHERE c.bucket_start = t.s AND c.bucket_end = t.e{persona}))"
    )
}

/// The group key of an episode `e` (kind, id), per grouping.
const fn group_key(grouping: SupportGrouping) -> &'static str {
    match grouping {
        SupportGrouping::All => "'all'::text AS k, 0 AS kid",
        SupportGrouping::Responder => {
            "COALESCE(e.first_response_voice, 'unanswered')::text AS k, COALESCE(e.first_response_persona_id, 0) AS kid"
        }
        SupportGrouping::Assignee => {
            "(CASE WHEN e.assignee_admin_id IS NULL THEN 'unassigned' ELSE 'assignee' END)::text AS k,
             COALESCE(e.assignee_admin_id, 0) AS kid"
        }
    }
}

/// Support events per bucket and group, computed bucket by bucket (each bucket's rows
/// sorted on their own, in memory): one row per bucket and group with an event; under
/// [`SupportGrouping::All`] one row per bucket, zeros included. Columns: `i, s, e, k,
/// kid, opened, reopened, resolved, responded, fr50, fr90, res50, res90`.
pub(crate) fn support_live_sql(grouping: SupportGrouping, buckets: &str) -> String {
    let key = group_key(grouping);
    let group_by = if grouping == SupportGrouping::All { "" } else { "GROUP BY k, kid" };
    format!(
        "WITH {buckets}
         SELECT b.i, b.s, b.e, g.* FROM b CROSS JOIN LATERAL (
            SELECT {key},
                   count(*) FILTER (WHERE what = 'o') AS opened,
                   count(*) FILTER (WHERE what = 'o' AND reopened) AS reopened,
                   count(*) FILTER (WHERE what = 'r') AS resolved,
                   count(*) FILTER (WHERE what = 'f') AS responded,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'f') AS fr50,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'f') AS fr90,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'r') AS res50,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'r') AS res90
              FROM (
                SELECT e.reopened, e.first_response_voice, e.first_response_persona_id, e.assignee_admin_id, 'o' AS what, NULL::float8 AS secs
                  FROM chat_support_episodes e WHERE e.started_at >= b.s AND e.started_at < b.e
                UNION ALL
                SELECT false, e.first_response_voice, e.first_response_persona_id, e.assignee_admin_id, 'f', extract(epoch FROM e.first_response_at - e.started_at)::float8
                  FROM chat_support_episodes e WHERE e.first_response_at >= b.s AND e.first_response_at < b.e
                UNION ALL
                SELECT false, e.first_response_voice, e.first_response_persona_id, e.assignee_admin_id, 'r', extract(epoch FROM e.resolved_at - e.started_at)::float8
                  FROM chat_support_episodes e WHERE e.resolved_at >= b.s AND e.resolved_at < b.e
              ) e {group_by}) g"
    )
}

/// Stores the support figures of the closed buckets ($1, $2) not stored yet.
pub(crate) fn support_fill_sql() -> String {
    let live = support_live_sql(SupportGrouping::All, &missing_buckets("chat_stats_support_buckets"));
    format!(
        "INSERT INTO chat_stats_support_buckets (bucket_start, bucket_end, opened, reopened, resolved, responded,
                                                 fr50, fr90, res50, res90)
         SELECT s, e, opened, reopened, resolved, responded, fr50, fr90, res50, res90 FROM ({live}) x
         ON CONFLICT DO NOTHING"
    )
}

/// The stored support figures of the buckets ($1, $2), with [`support_live_sql`]'s columns.
pub(crate) fn support_stored_sql() -> String {
    format!(
        "WITH {BUCKETS}
         SELECT b.i, b.s, b.e, 'all'::text AS k, 0 AS kid, c.opened, c.reopened, c.resolved, c.responded,
                c.fr50, c.fr90, c.res50, c.res90
           FROM b JOIN chat_stats_support_buckets c ON c.bucket_start = b.s AND c.bucket_end = b.e"
    )
}

/// Episodes in progress at $1, per group: unresolved ones started before it, and ones
/// started before it but resolved since (two index range scans, no `OR`).
pub(crate) fn backlog_sql(grouping: SupportGrouping) -> String {
    let key = group_key(grouping);
    format!(
        "SELECT k, kid, count(*) AS n FROM (
            SELECT {key} FROM chat_support_episodes e WHERE e.resolved_at IS NULL AND e.started_at < $1
            UNION ALL
            SELECT {key} FROM chat_support_episodes e WHERE e.resolved_at >= $1 AND e.started_at < $1
         ) x GROUP BY k, kid"
    )
}

/// The DM of message `m`, if it is in one, by primary key: a lateral lookup per message
/// (a bucket's few thousand), where a join let the planner hash every DM (116 ms a day).
/// (`LIMIT 1` keeps the planner from flattening it back into that join.)
const DM_OF_MESSAGE: &str = "SELECT d.user2_type, d.fake_user_id FROM direct_messages d
     WHERE d.id = m.conversation_id AND d.conversation_type = 'user_dm' LIMIT 1";

/// DM figures computed bucket by bucket, one row per bucket (`persona_id` 0), in the
/// columns of `chat_stats_dm_buckets`.
pub(crate) fn dm_live_sql(buckets: &str) -> String {
    format!(
        "WITH {buckets}
         SELECT b.i, b.s, b.e, 0 AS persona_id, nd.new_user_dms, nd.new_persona_dms, x.active_users,
                x.user_to_user, x.user_to_persona, x.persona_to_user
           FROM b
          CROSS JOIN LATERAL (
                SELECT count(DISTINCT m.sender_id) FILTER (WHERE m.sender_type = 'real_user') AS active_users,
                       count(*) FILTER (WHERE d.user2_type = 'real_user') AS user_to_user,
                       count(*) FILTER (WHERE d.user2_type = 'fake_user' AND m.sender_type = 'real_user')
                           AS user_to_persona,
                       count(*) FILTER (WHERE d.user2_type = 'fake_user' AND m.sender_type <> 'real_user')
                           AS persona_to_user
                  FROM dm_messages m
                 CROSS JOIN LATERAL ({DM_OF_MESSAGE}) d
                 WHERE m.created_at >= b.s AND m.created_at < b.e) x
          CROSS JOIN LATERAL (
                SELECT count(*) FILTER (WHERE d.user2_type = 'real_user') AS new_user_dms,
                       count(*) FILTER (WHERE d.user2_type = 'fake_user') AS new_persona_dms
                  FROM direct_messages d
                 WHERE d.conversation_type = 'user_dm' AND d.created_at >= b.s AND d.created_at < b.e) nd"
    )
}

/// Persona-DM figures computed bucket by bucket, one row per bucket and persona with
/// activity, in the columns of `chat_stats_dm_buckets`.
pub(crate) fn persona_dm_live_sql(buckets: &str) -> String {
    format!(
        "WITH {buckets}
         SELECT b.i, b.s, b.e, p.persona_id, 0::bigint AS new_user_dms, p.new_persona_dms, p.active_users,
                0::bigint AS user_to_user, p.user_to_persona, p.persona_to_user
           FROM b CROSS JOIN LATERAL (
                SELECT COALESCE(x.persona, nd.persona) AS persona_id, COALESCE(nd.n, 0) AS new_persona_dms,
                       COALESCE(x.active, 0) AS active_users, COALESCE(x.um, 0) AS user_to_persona,
                       COALESCE(x.pm, 0) AS persona_to_user
                  FROM (SELECT d.fake_user_id AS persona,
                               count(DISTINCT m.sender_id) FILTER (WHERE m.sender_type = 'real_user') AS active,
                               count(*) FILTER (WHERE m.sender_type = 'real_user') AS um,
                               count(*) FILTER (WHERE m.sender_type <> 'real_user') AS pm
                          FROM dm_messages m
                         CROSS JOIN LATERAL ({DM_OF_MESSAGE}) d
                         WHERE m.created_at >= b.s AND m.created_at < b.e AND d.user2_type = 'fake_user'
                         GROUP BY d.fake_user_id) x
                  FULL JOIN (
                        SELECT d.fake_user_id AS persona, count(*) AS n FROM direct_messages d
                         WHERE d.conversation_type = 'user_dm' AND d.user2_type = 'fake_user'
                           AND d.created_at >= b.s AND d.created_at < b.e
                         GROUP BY d.fake_user_id) nd ON nd.persona = x.persona) p"
    )
}

/// Stores the DM figures (every DM, and per persona) of the closed buckets ($1, $2) not
/// stored yet: the personas' rows first, then the row that marks the bucket as stored.
pub(crate) fn dm_fill_sql() -> [String; 2] {
    let insert = |live: String| {
        format!(
            "INSERT INTO chat_stats_dm_buckets (bucket_start, bucket_end, persona_id, new_user_dms, new_persona_dms,
                                                active_users, user_to_user, user_to_persona, persona_to_user)
             SELECT s, e, persona_id, new_user_dms, new_persona_dms, active_users, user_to_user, user_to_persona,
                    persona_to_user FROM ({live}) x
             ON CONFLICT DO NOTHING"
        )
    };
    let missing = missing_buckets("chat_stats_dm_buckets");
    [insert(persona_dm_live_sql(&missing)), insert(dm_live_sql(&missing))]
}

/// The stored DM rows of the buckets ($1, $2): every DM's (`$3` false) or the personas'.
pub(crate) fn dm_stored_sql() -> String {
    format!(
        "WITH {BUCKETS}
         SELECT b.i, b.s, b.e, c.persona_id, c.new_user_dms, c.new_persona_dms, c.active_users, c.user_to_user,
                c.user_to_persona, c.persona_to_user
           FROM b JOIN chat_stats_dm_buckets c ON c.bucket_start = b.s AND c.bucket_end = b.e
          WHERE (c.persona_id <> 0) = $3"
    )
}

/// Notices sent per bucket, their reach, and how many of them were read ($1, $2). Reads
/// are counted from each notice's rows (`chat_messages_notification_idx`): driving from the
/// groups' history index instead scanned every notice of every group (1.1 s for a year).
pub(crate) fn notice_figures_sql() -> String {
    format!(
        "WITH {BUCKETS}
         SELECT b.i, count(n.id) AS sent, COALESCE(sum(n.recipient_count), 0)::bigint AS reach,
                COALESCE(sum(rc.n), 0)::bigint AS read
           FROM b
           LEFT JOIN chat_notifications n ON n.created_at >= b.s AND n.created_at < b.e
           LEFT JOIN LATERAL (
                SELECT count(*) AS n FROM chat_messages m
                 WHERE m.notification_id = n.id
                   AND EXISTS (SELECT 1 FROM chat_group_reads r
                                 JOIN chat_groups g ON g.id = r.group_id AND g.owner_user_id = r.user_id
                                WHERE r.group_id = m.group_id AND r.last_read_message_id >= m.id)) rc ON true
          GROUP BY b.i ORDER BY b.i"
    )
}

fn bounds(buckets: &[Period]) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    buckets.iter().map(|p| (p.start, p.end)).unzip()
}

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

/// Of the buckets ($1, $2), in their order, the first $3 whose support or DM figures
/// are not stored.
pub(crate) const UNSTORED_SQL: &str =
    "SELECT t.i FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
     WHERE NOT EXISTS (SELECT 1 FROM chat_stats_support_buckets c WHERE c.bucket_start = t.s AND c.bucket_end = t.e)
        OR NOT EXISTS (SELECT 1 FROM chat_stats_dm_buckets c
                        WHERE c.bucket_start = t.s AND c.bucket_end = t.e AND c.persona_id = 0)
     ORDER BY t.i LIMIT $3";

fn periods(part: &[(usize, Period)]) -> Vec<Period> {
    part.iter().map(|&(_, p)| p).collect()
}

impl PgTx<'_> {
    /// Turns JIT compilation off for the rest of the transaction: these statements' cost
    /// estimates pass `jit_above_cost`, and compiling took 65-100 ms of a 20 ms query.
    fn without_jit(&mut self) -> Result<(), RepoError> {
        diesel::sql_query("SET LOCAL jit = off").execute(self.conn).or_repo().map(drop)
    }

    /// Runs `sql` over `part`'s buckets ($1, $2, then `flag` as $3 when given) and maps
    /// each row's bucket index back to the index in the caller's list.
    fn per_bucket<R: QueryableByName<diesel::pg::Pg> + 'static>(
        &mut self,
        sql: &str,
        part: &[(usize, Period)],
        flag: Option<bool>,
        bucket_of: impl Fn(&R) -> i64,
    ) -> Result<Vec<(usize, R)>, RepoError> {
        if part.is_empty() {
            return Ok(Vec::new());
        }
        let (starts, ends) = bounds(&periods(part));
        let query = diesel::sql_query(sql).bind::<Array<Timestamptz>, _>(starts).bind::<Array<Timestamptz>, _>(ends);
        let rows = match flag {
            Some(flag) => query.bind::<diesel::sql_types::Bool, _>(flag).load::<R>(self.conn),
            None => query.load::<R>(self.conn),
        }
        .or_repo()?;
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
    fn unstored(&mut self, part: &[(usize, Period)], limit: usize) -> Result<Indexed, RepoError> {
        #[derive(QueryableByName)]
        struct Unstored {
            #[diesel(sql_type = BigInt)]
            i: i64,
        }
        if part.is_empty() {
            return Ok(Vec::new());
        }
        let (starts, ends) = bounds(&periods(part));
        let rows = diesel::sql_query(UNSTORED_SQL)
            .bind::<Array<Timestamptz>, _>(starts)
            .bind::<Array<Timestamptz>, _>(ends)
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .load::<Unstored>(self.conn)
            .or_repo()?;
        rows.into_iter()
            .map(|u| {
                let at = index(u.i)?;
                part.get(at).copied().ok_or_else(|| RepoError::internal(format!("bucket {at}")))
            })
            .collect()
    }

    /// Runs `sql` (a statement over $1, $2) for the buckets of `part`.
    fn fill(&mut self, sql: &str, part: &[(usize, Period)]) -> Result<(), RepoError> {
        if part.is_empty() {
            return Ok(());
        }
        let (starts, ends) = bounds(&periods(part));
        diesel::sql_query(sql)
            .bind::<Array<Timestamptz>, _>(starts)
            .bind::<Array<Timestamptz>, _>(ends)
            .execute(self.conn)
            .or_repo()
            .map(drop)
    }

    /// DM rows of every bucket: closed ones stored (computed and stored first when
    /// missing), open ones computed. `personas` picks the personas' rows.
    fn dm_rows(&mut self, buckets: &[Period], personas: bool) -> Result<Vec<(usize, DmSql)>, RepoError> {
        let (closed, open) = split(buckets, Utc::now());
        let unstored = self.unstored(&closed, usize::MAX)?;
        for sql in dm_fill_sql() {
            self.fill(&sql, &unstored)?;
        }
        let mut rows = self.per_bucket(&dm_stored_sql(), &closed, Some(personas), |r: &DmSql| r.i)?;
        let live = if personas { persona_dm_live_sql(BUCKETS) } else { dm_live_sql(BUCKETS) };
        rows.extend(self.per_bucket(&live, &open, None, |r: &DmSql| r.i)?);
        Ok(rows)
    }
}

impl StatsRepository for PgTx<'_> {
    fn support_rows(&mut self, buckets: &[Period], grouping: SupportGrouping) -> Result<Vec<SupportRow>, RepoError> {
        self.without_jit()?;
        let rows = if grouping == SupportGrouping::All {
            let (closed, open) = split(buckets, Utc::now());
            let unstored = self.unstored(&closed, usize::MAX)?;
            self.fill(&support_fill_sql(), &unstored)?;
            let mut rows = self.per_bucket(&support_stored_sql(), &closed, None, |r: &SupportSql| r.i)?;
            rows.extend(self.per_bucket(&support_live_sql(grouping, BUCKETS), &open, None, |r: &SupportSql| r.i)?);
            rows
        } else {
            let all: Vec<(usize, Period)> = buckets.iter().copied().enumerate().collect();
            self.per_bucket(&support_live_sql(grouping, BUCKETS), &all, None, |r: &SupportSql| r.i)?
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
        let rows =
            diesel::sql_query(backlog_sql(grouping)).bind::<Timestamptz, _>(at).load::<Backlog>(self.conn).or_repo()?;
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

    fn store_buckets(&mut self, closed: &[Period], limit: usize) -> Result<Vec<Period>, RepoError> {
        self.without_jit()?;
        let all: Indexed = closed.iter().copied().enumerate().collect();
        let part = self.unstored(&all, limit)?;
        self.fill(&support_fill_sql(), &part)?;
        for sql in dm_fill_sql() {
            self.fill(&sql, &part)?;
        }
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
        }
        let (starts, ends) = bounds(buckets);
        let rows = diesel::sql_query(notice_figures_sql())
            .bind::<Array<Timestamptz>, _>(starts)
            .bind::<Array<Timestamptz>, _>(ends)
            .load::<Notices>(self.conn)
            .or_repo()?;
        Ok(rows.into_iter().map(|r| NoticeFigures { sent: r.sent, reach: r.reach, read: r.read }).collect())
    }
}
