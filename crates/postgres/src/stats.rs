//! [`StatsRepository`]: the admin stats, computed by PostgreSQL bucket by bucket.
//!
//! The buckets arrive as two arrays (starts, ends) and are unnested with their index,
//! so every statement joins events to buckets by a range condition on an indexed time
//! (`chat_support_episodes_*`, `dm_messages_created_brin`, `direct_messages_dm_created`,
//! `chat_notifications_created`); `docs/performance.md` has the plans and timings.

use chat_domain::stats::{
    DmFigures, Durations, NoticeFigures, Period, PersonaDmFigures, StatsRepository, SupportGroupKey, SupportGrouping,
    SupportRow,
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

/// Support events per bucket and group ($1, $2 the buckets).
pub(crate) fn support_rows_sql(grouping: SupportGrouping) -> String {
    let key = group_key(grouping);
    format!(
        "WITH {BUCKETS},
         ev AS (
            SELECT b.i, {key}, 'o' AS what, e.reopened, NULL::float8 AS secs
              FROM b JOIN chat_support_episodes e ON e.started_at >= b.s AND e.started_at < b.e
            UNION ALL
            SELECT b.i, {key}, 'f', false, extract(epoch FROM e.first_response_at - e.started_at)::float8
              FROM b JOIN chat_support_episodes e ON e.first_response_at >= b.s AND e.first_response_at < b.e
            UNION ALL
            SELECT b.i, {key}, 'r', false, extract(epoch FROM e.resolved_at - e.started_at)::float8
              FROM b JOIN chat_support_episodes e ON e.resolved_at >= b.s AND e.resolved_at < b.e
         )
         SELECT i, k, kid,
                count(*) FILTER (WHERE what = 'o') AS opened,
                count(*) FILTER (WHERE what = 'o' AND reopened) AS reopened,
                count(*) FILTER (WHERE what = 'r') AS resolved,
                count(*) FILTER (WHERE what = 'f') AS responded,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'f') AS fr50,
                percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'f') AS fr90,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'r') AS res50,
                percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'r') AS res90
           FROM ev GROUP BY i, k, kid"
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

/// DM messages per bucket (with their conversation's kind and persona).
const DM_MESSAGES: &str = "m AS (
    SELECT b.i, d.user2_type, d.fake_user_id, m.sender_type, m.sender_id
      FROM b JOIN dm_messages m ON m.created_at >= b.s AND m.created_at < b.e
      JOIN direct_messages d ON d.id = m.conversation_id AND d.conversation_type = 'user_dm')";

/// DM figures per bucket ($1, $2 the buckets), every bucket, in order.
pub(crate) fn dm_figures_sql() -> String {
    format!(
        "WITH {BUCKETS}, {DM_MESSAGES},
         ms AS (
            SELECT i, count(DISTINCT sender_id) FILTER (WHERE sender_type = 'real_user') AS active,
                   count(*) FILTER (WHERE user2_type = 'real_user') AS uu,
                   count(*) FILTER (WHERE user2_type = 'fake_user' AND sender_type = 'real_user') AS up,
                   count(*) FILTER (WHERE user2_type = 'fake_user' AND sender_type <> 'real_user') AS pu
              FROM m GROUP BY i),
         nd AS (
            SELECT b.i, count(*) FILTER (WHERE d.user2_type = 'real_user') AS nu,
                   count(*) FILTER (WHERE d.user2_type = 'fake_user') AS np
              FROM b JOIN direct_messages d ON d.conversation_type = 'user_dm'
                    AND d.created_at >= b.s AND d.created_at < b.e
             GROUP BY b.i)
         SELECT b.i, COALESCE(nd.nu, 0) AS new_user_dms, COALESCE(nd.np, 0) AS new_persona_dms,
                COALESCE(ms.active, 0) AS active_users, COALESCE(ms.uu, 0) AS user_to_user,
                COALESCE(ms.up, 0) AS user_to_persona, COALESCE(ms.pu, 0) AS persona_to_user
           FROM b LEFT JOIN ms ON ms.i = b.i LEFT JOIN nd ON nd.i = b.i
          ORDER BY b.i"
    )
}

/// Persona DM figures per bucket and persona ($1, $2 the buckets).
pub(crate) fn persona_dm_figures_sql() -> String {
    format!(
        "WITH {BUCKETS}, {DM_MESSAGES},
         ms AS (
            SELECT i, fake_user_id AS persona,
                   count(DISTINCT sender_id) FILTER (WHERE sender_type = 'real_user') AS active,
                   count(*) FILTER (WHERE sender_type = 'real_user') AS um,
                   count(*) FILTER (WHERE sender_type <> 'real_user') AS pm
              FROM m WHERE user2_type = 'fake_user' GROUP BY i, fake_user_id),
         nd AS (
            SELECT b.i, d.fake_user_id AS persona, count(*) AS n
              FROM b JOIN direct_messages d ON d.conversation_type = 'user_dm' AND d.user2_type = 'fake_user'
                    AND d.created_at >= b.s AND d.created_at < b.e
             GROUP BY b.i, d.fake_user_id)
         SELECT COALESCE(ms.i, nd.i) AS i, COALESCE(ms.persona, nd.persona) AS persona,
                COALESCE(nd.n, 0) AS new_dms, COALESCE(ms.active, 0) AS active_users,
                COALESCE(ms.um, 0) AS user_messages, COALESCE(ms.pm, 0) AS persona_messages
           FROM ms FULL JOIN nd ON nd.i = ms.i AND nd.persona = ms.persona"
    )
}

/// Notices sent per bucket, their reach, and how many of them were read ($1, $2).
pub(crate) fn notice_figures_sql() -> String {
    format!(
        "WITH {BUCKETS}
         SELECT b.i, count(n.id) AS sent, COALESCE(sum(n.recipient_count), 0)::bigint AS reach,
                COALESCE(sum(rc.n), 0)::bigint AS read
           FROM b
           LEFT JOIN chat_notifications n ON n.created_at >= b.s AND n.created_at < b.e
           LEFT JOIN LATERAL (
                SELECT count(*) AS n FROM chat_messages m
                  JOIN chat_groups g ON g.id = m.group_id
                  JOIN chat_group_reads r ON r.group_id = m.group_id AND r.user_id = g.owner_user_id
                 WHERE m.notification_id = n.id AND r.last_read_message_id >= m.id) rc ON true
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

impl StatsRepository for PgTx<'_> {
    fn support_rows(&mut self, buckets: &[Period], grouping: SupportGrouping) -> Result<Vec<SupportRow>, RepoError> {
        let (starts, ends) = bounds(buckets);
        let rows = diesel::sql_query(support_rows_sql(grouping))
            .bind::<Array<Timestamptz>, _>(starts)
            .bind::<Array<Timestamptz>, _>(ends)
            .load::<SupportSql>(self.conn)
            .or_repo()?;
        rows.into_iter()
            .map(|r| {
                Ok(SupportRow {
                    bucket: index(r.i)?,
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
        #[derive(QueryableByName)]
        struct Dm {
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
        let (starts, ends) = bounds(buckets);
        let rows = diesel::sql_query(dm_figures_sql())
            .bind::<Array<Timestamptz>, _>(starts)
            .bind::<Array<Timestamptz>, _>(ends)
            .load::<Dm>(self.conn)
            .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|r| DmFigures {
                new_user_dms: r.new_user_dms,
                new_persona_dms: r.new_persona_dms,
                active_users: r.active_users,
                user_to_user_messages: r.user_to_user,
                user_to_persona_messages: r.user_to_persona,
                persona_to_user_messages: r.persona_to_user,
            })
            .collect())
    }

    fn persona_dm_figures(
        &mut self,
        buckets: &[Period],
    ) -> Result<Vec<(usize, PersonaId, PersonaDmFigures)>, RepoError> {
        #[derive(QueryableByName)]
        struct PersonaDm {
            #[diesel(sql_type = BigInt)]
            i: i64,
            #[diesel(sql_type = Int4)]
            persona: i32,
            #[diesel(sql_type = BigInt)]
            new_dms: i64,
            #[diesel(sql_type = BigInt)]
            active_users: i64,
            #[diesel(sql_type = BigInt)]
            user_messages: i64,
            #[diesel(sql_type = BigInt)]
            persona_messages: i64,
        }
        let (starts, ends) = bounds(buckets);
        let rows = diesel::sql_query(persona_dm_figures_sql())
            .bind::<Array<Timestamptz>, _>(starts)
            .bind::<Array<Timestamptz>, _>(ends)
            .load::<PersonaDm>(self.conn)
            .or_repo()?;
        rows.into_iter()
            .map(|r| {
                let figures = PersonaDmFigures {
                    new_dms: r.new_dms,
                    active_users: r.active_users,
                    user_messages: r.user_messages,
                    persona_messages: r.persona_messages,
                };
                Ok((index(r.i)?, PersonaId(r.persona), figures))
            })
            .collect()
    }

    fn notice_figures(&mut self, buckets: &[Period]) -> Result<Vec<NoticeFigures>, RepoError> {
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
