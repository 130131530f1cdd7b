//! The statements of [`StatsRepository`](chat_domain::stats::StatsRepository), each
//! returned with its binds (docs/architecture.md, "Raw SQL"). Buckets are bound as two
//! arrays ($1 starts, $2 ends) and unnested with their 1-based index as `b(i, s, e)`;
//! every statement joins events to a bucket by a range condition on an indexed time.

use chat_domain::stats::{Period, SupportGrouping};
use chat_domain::support::SupportHours;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz};

/// A statement and its binds.
pub(super) type Query = BoxedSqlQuery<'static, Pg, SqlQuery>;

/// How support durations are counted: wall-clock, or inside a daily support-hours
/// window (`chat_support_seconds`). Written into the statements as literals: the key is
/// made of digits, `:` and `-` only, and the window's bounds are integers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock(pub(super) Option<SupportHours>);

impl Clock {
    /// The `hours_utc` of figures stored with this clock: '' or `HH:MM-HH:MM`.
    fn key(self) -> String {
        let key = self.0.map(|h| h.to_string()).unwrap_or_default();
        debug_assert!(key.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-'));
        format!("'{key}'")
    }

    /// The seconds from `a` to `b` (SQL expressions), as a float8.
    fn seconds(self, a: &str, b: &str) -> String {
        match self.0.map(|h| h.seconds()) {
            None => format!("extract(epoch FROM {b} - {a})::float8"),
            Some((start, end)) => format!("chat_support_seconds({a}, {b}, {start}, {end})"),
        }
    }
}

/// `sql` with the buckets bound as $1 (starts) and $2 (ends).
fn over(sql: String, buckets: &[Period]) -> Query {
    let (starts, ends): (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) = buckets.iter().map(|p| (p.start, p.end)).unzip();
    diesel::sql_query(sql).into_boxed().bind::<Array<Timestamptz>, _>(starts).bind::<Array<Timestamptz>, _>(ends)
}

/// Support events per bucket and group, computed (see [`support_live_sql`]).
pub(super) fn support_live_query(grouping: SupportGrouping, clock: Clock, buckets: &[Period]) -> Query {
    over(support_live_sql(grouping, clock, BUCKETS), buckets)
}

/// Stores the support figures of those of `buckets` (closed) not stored yet.
pub(super) fn support_fill_query(clock: Clock, buckets: &[Period]) -> Query {
    over(support_fill_sql(clock), buckets)
}

/// The stored support figures of `buckets`.
pub(super) fn support_stored_query(clock: Clock, buckets: &[Period]) -> Query {
    over(support_stored_sql(clock), buckets)
}

/// Stores the per-group support figures of those of `buckets` (closed) not stored yet
/// for `grouping` (per responder: settled ones only); returns how many it stored.
pub(super) fn support_group_fill_query(grouping: SupportGrouping, clock: Clock, buckets: &[Period]) -> Query {
    over(support_group_fill_sql(grouping, clock), buckets).bind::<Text, _>(grouped_by(grouping))
}

/// The stored per-group support figures of `buckets`.
pub(super) fn support_group_stored_query(grouping: SupportGrouping, clock: Clock, buckets: &[Period]) -> Query {
    over(group_stored_sql(clock), buckets).bind::<Text, _>(grouped_by(grouping))
}

/// The indexes (1-based) of the first `limit` of `buckets` whose per-group figures are
/// not stored and may be.
pub(super) fn grouped_unstored_query(
    grouping: SupportGrouping,
    clock: Clock,
    buckets: &[Period],
    limit: usize,
) -> Query {
    over(grouped_unstored_sql(clock), buckets)
        .bind::<Text, _>(grouped_by(grouping))
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
}

/// The indexes (1-based) of those of `buckets` whose per-group figures are stored.
pub(super) fn grouped_stored_query(grouping: SupportGrouping, clock: Clock, buckets: &[Period]) -> Query {
    over(grouped_stored_sql(clock), buckets).bind::<Text, _>(grouped_by(grouping))
}

/// Episodes in progress at `at`, per group.
pub(super) fn backlog_query(grouping: SupportGrouping, at: DateTime<Utc>) -> Query {
    diesel::sql_query(backlog_sql(grouping)).into_boxed().bind::<Timestamptz, _>(at)
}

/// DM figures per bucket, computed: every DM's (one row per bucket) or the personas'.
pub(super) fn dm_live_query(buckets: &[Period], personas: bool) -> Query {
    over(if personas { persona_dm_live_sql(BUCKETS) } else { dm_live_sql(BUCKETS) }, buckets)
}

/// Store the DM figures of those of `buckets` (closed) not stored yet, in this order.
pub(super) fn dm_fill_queries(buckets: &[Period]) -> [Query; 2] {
    dm_fill_sql().map(|sql| over(sql, buckets))
}

/// The stored DM rows of `buckets`: every DM's or the personas'.
pub(super) fn dm_stored_query(buckets: &[Period], personas: bool) -> Query {
    over(dm_stored_sql(), buckets).bind::<Bool, _>(personas)
}

/// Notice figures per bucket.
pub(super) fn notice_query(buckets: &[Period]) -> Query {
    over(notice_figures_sql(), buckets)
}

/// The indexes (1-based) of the first `limit` of `buckets` whose figures are not stored.
/// `clock`: the support figures of that clock, or `None` for the DM figures only.
pub(super) fn unstored_query(clock: Option<Clock>, buckets: &[Period], limit: usize) -> Query {
    over(unstored_sql(clock), buckets).bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
}

/// The buckets as a relation `b(i, s, e)`: 1-based index, start, end ($1, $2).
const BUCKETS: &str =
    "b AS (SELECT t.i, t.s, t.e FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i))";

/// [`BUCKETS`] without those whose figures are already stored in `cache` (the row of
/// `persona_id` 0 for the DM table; the clock's row for the support table).
fn missing_buckets(cache: &str, clock: Clock) -> String {
    let persona = if cache == "chat_stats_dm_buckets" {
        " AND c.persona_id = 0".to_owned()
    } else {
        format!(" AND c.hours_utc = {}", clock.key())
    };
    format!(
        "b AS (SELECT t.i, t.s, t.e FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
                WHERE NOT EXISTS (SELECT 1 FROM {cache} c
                                   WHERE c.bucket_start = t.s AND c.bucket_end = t.e{persona}))"
    )
}

/// The group key of an event `e` (kind, id), per grouping: from its `voice`, `persona`
/// and `admin` columns.
const fn group_key(grouping: SupportGrouping) -> &'static str {
    match grouping {
        SupportGrouping::All => "'all'::text AS k, 0 AS kid",
        SupportGrouping::Responder => "COALESCE(e.voice, 'unanswered')::text AS k, COALESCE(e.persona, 0) AS kid",
        SupportGrouping::Assignee => {
            "(CASE WHEN e.admin IS NULL THEN 'unassigned' ELSE 'assignee' END)::text AS k, COALESCE(e.admin, 0) AS kid"
        }
    }
}

/// The name of a grouping in `chat_stats_support_group_buckets.grouped_by`.
pub(super) const fn grouped_by(grouping: SupportGrouping) -> &'static str {
    match grouping {
        SupportGrouping::All => "all",
        SupportGrouping::Responder => "responder",
        SupportGrouping::Assignee => "assignee",
    }
}

/// Support events per bucket and group, computed: `WITH {buckets}` then
/// [`support_live_body`].
fn support_live_sql(grouping: SupportGrouping, clock: Clock, buckets: &str) -> String {
    format!("WITH {buckets} {}", support_live_body(grouping, clock))
}

/// Support events per bucket (the relation `b`) and group, computed bucket by bucket
/// (each bucket's rows sorted on their own, in memory): one row per bucket and group
/// with an event; under [`SupportGrouping::All`] one row per bucket, zeros included.
/// Columns: `i, s, e, k, kid, opened, reopened, resolved, responded, fr50, fr90, res50,
/// res90, moved_in, moved_out`.
///
/// Each event carries the admin it counts for under [`SupportGrouping::Assignee`]: the
/// assignee at the start, at the first response, at the resolution; reassignments are
/// events of their own (`i` in, `x` out), read only for that grouping.
fn support_live_body(grouping: SupportGrouping, clock: Clock) -> String {
    let key = group_key(grouping);
    let response = clock.seconds("e.started_at", "e.first_response_at");
    let resolution = clock.seconds("e.started_at", "e.resolved_at");
    let group_by = if grouping == SupportGrouping::All { "" } else { "GROUP BY k, kid" };
    let moves = if grouping == SupportGrouping::Assignee {
        "UNION ALL
                SELECT false, NULL, NULL, r.to_admin_id, 'i', NULL
                  FROM chat_support_reassignments r WHERE r.moved_at >= b.s AND r.moved_at < b.e
                UNION ALL
                SELECT false, NULL, NULL, r.from_admin_id, 'x', NULL
                  FROM chat_support_reassignments r WHERE r.moved_at >= b.s AND r.moved_at < b.e"
    } else {
        ""
    };
    format!(
        "SELECT b.i, b.s, b.e, g.* FROM b CROSS JOIN LATERAL (
            SELECT {key},
                   count(*) FILTER (WHERE what = 'o') AS opened,
                   count(*) FILTER (WHERE what = 'o' AND reopened) AS reopened,
                   count(*) FILTER (WHERE what = 'r') AS resolved,
                   count(*) FILTER (WHERE what = 'f') AS responded,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'f') AS fr50,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'f') AS fr90,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'r') AS res50,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) FILTER (WHERE what = 'r') AS res90,
                   count(*) FILTER (WHERE what = 'i') AS moved_in,
                   count(*) FILTER (WHERE what = 'x') AS moved_out
              FROM (
                SELECT e.reopened, e.first_response_voice AS voice, e.first_response_persona_id AS persona,
                       e.opened_assignee_id AS admin, 'o' AS what, NULL::float8 AS secs
                  FROM chat_support_episodes e WHERE e.started_at >= b.s AND e.started_at < b.e
                UNION ALL
                SELECT false, e.first_response_voice, e.first_response_persona_id, e.responded_assignee_id, 'f',
                       {response}
                  FROM chat_support_episodes e WHERE e.first_response_at >= b.s AND e.first_response_at < b.e
                UNION ALL
                SELECT false, e.first_response_voice, e.first_response_persona_id, e.assignee_admin_id, 'r',
                       {resolution}
                  FROM chat_support_episodes e WHERE e.resolved_at >= b.s AND e.resolved_at < b.e
                {moves}
              ) e {group_by}) g"
    )
}

/// Stores the support figures of the closed buckets ($1, $2) not stored yet.
fn support_fill_sql(clock: Clock) -> String {
    let live = support_live_sql(SupportGrouping::All, clock, &missing_buckets("chat_stats_support_buckets", clock));
    let key = clock.key();
    format!(
        "INSERT INTO chat_stats_support_buckets (bucket_start, bucket_end, hours_utc, opened, reopened, resolved,
                                                 responded, fr50, fr90, res50, res90)
         SELECT s, e, {key}, opened, reopened, resolved, responded, fr50, fr90, res50, res90 FROM ({live}) x
         ON CONFLICT DO NOTHING"
    )
}

/// The stored support figures of the buckets ($1, $2), with [`support_live_sql`]'s columns.
fn support_stored_sql(clock: Clock) -> String {
    let key = clock.key();
    format!(
        "WITH {BUCKETS}
         SELECT b.i, b.s, b.e, 'all'::text AS k, 0 AS kid, c.opened, c.reopened, c.resolved, c.responded,
                c.fr50, c.fr90, c.res50, c.res90, 0::bigint AS moved_in, 0::bigint AS moved_out
           FROM b JOIN chat_stats_support_buckets c
             ON c.bucket_start = b.s AND c.bucket_end = b.e AND c.hours_utc = {key}"
    )
}

/// Of the buckets `t` ($1, $2), those whose figures per `grouped_by` ($3) are not stored
/// and may be: per responder, only once *settled* (no episode started in the bucket is
/// still unanswered and in progress, read from `chat_support_episodes_unresolved`), for
/// the clock's window.
fn grouped_missing(clock: Clock) -> String {
    let key = clock.key();
    format!(
        "NOT EXISTS (SELECT 1 FROM chat_stats_support_grouped c
                      WHERE c.bucket_start = t.s AND c.bucket_end = t.e AND c.grouped_by = $3 AND c.hours_utc = {key})
         AND ($3 <> 'responder' OR NOT EXISTS (
              SELECT 1 FROM chat_support_episodes u
               WHERE u.resolved_at IS NULL AND u.first_response_voice IS NULL
                 AND u.started_at >= t.s AND u.started_at < t.e))"
    )
}

/// Stores the per-group support figures of the closed buckets ($1, $2) not stored yet
/// for the grouping $3, and marks them stored, in one statement (one snapshot: a bucket
/// is marked with the rows computed in the same snapshot that found it settled).
fn support_group_fill_sql(grouping: SupportGrouping, clock: Clock) -> String {
    let body = support_live_body(grouping, clock);
    let (missing, key) = (grouped_missing(clock), clock.key());
    format!(
        "WITH b AS (SELECT t.i, t.s, t.e FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
                     WHERE {missing}),
              rows AS (
                INSERT INTO chat_stats_support_group_buckets (bucket_start, bucket_end, grouped_by, hours_utc,
                    group_kind, group_id, opened, reopened, resolved, responded, fr50, fr90, res50, res90, moved_in,
                    moved_out)
                SELECT s, e, $3, {key}, k, kid, opened, reopened, resolved, responded, fr50, fr90, res50, res90,
                       moved_in, moved_out
                  FROM ({body}) x
                ON CONFLICT DO NOTHING),
              marks AS (
                INSERT INTO chat_stats_support_grouped (bucket_start, bucket_end, grouped_by, hours_utc)
                SELECT s, e, $3, {key} FROM b ON CONFLICT DO NOTHING)
         SELECT count(*) AS n FROM b"
    )
}

/// The stored per-group support figures ($3) of the buckets ($1, $2), with
/// [`support_live_sql`]'s columns.
fn group_stored_sql(clock: Clock) -> String {
    let key = clock.key();
    format!(
        "WITH b AS (SELECT t.i, t.s, t.e
                     FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i))
         SELECT b.i, b.s, b.e, c.group_kind::text AS k, c.group_id AS kid, c.opened, c.reopened, c.resolved,
                c.responded, c.fr50, c.fr90, c.res50, c.res90, c.moved_in, c.moved_out
           FROM b JOIN chat_stats_support_group_buckets c
             ON c.bucket_start = b.s AND c.bucket_end = b.e AND c.grouped_by = $3 AND c.hours_utc = {key}"
    )
}

/// Of the buckets ($1, $2), in their order, the first $4 whose per-group figures ($3)
/// are not stored and may be (see [`grouped_missing`]).
fn grouped_unstored_sql(clock: Clock) -> String {
    let missing = grouped_missing(clock);
    format!(
        "SELECT t.i FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
          WHERE {missing} ORDER BY t.i LIMIT $4"
    )
}

/// Of the buckets ($1, $2), the indexes of those whose per-group figures ($3) are stored.
fn grouped_stored_sql(clock: Clock) -> String {
    let key = clock.key();
    format!(
        "SELECT t.i FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
          WHERE EXISTS (SELECT 1 FROM chat_stats_support_grouped c
                         WHERE c.bucket_start = t.s AND c.bucket_end = t.e AND c.grouped_by = $3
                           AND c.hours_utc = {key})"
    )
}

/// Episodes in progress at $1, per group: unresolved ones started before it, and ones
/// started before it but resolved since (two index-only range scans, no `OR`). Per
/// assignee, an episode counts for its assignee at $1: the last reassignment before it
/// (looked up by episode), else the assignee at its start.
fn backlog_sql(grouping: SupportGrouping) -> String {
    let key = group_key(grouping);
    let episode = |filter: &str| {
        if grouping == SupportGrouping::Assignee {
            format!(
                "SELECT CASE WHEN m.moved THEN m.to_admin_id ELSE e.opened_assignee_id END AS admin
                   FROM chat_support_episodes e
                   LEFT JOIN LATERAL (
                        SELECT true AS moved, r.to_admin_id FROM chat_support_reassignments r
                         WHERE r.episode_id = e.id AND r.moved_at < $1
                         ORDER BY r.moved_at DESC, r.id DESC LIMIT 1) m ON true
                  WHERE {filter} AND e.started_at < $1"
            )
        } else {
            format!(
                "SELECT e.first_response_voice AS voice, e.first_response_persona_id AS persona
                   FROM chat_support_episodes e WHERE {filter} AND e.started_at < $1"
            )
        }
    };
    let (unresolved, since) = (episode("e.resolved_at IS NULL"), episode("e.resolved_at >= $1"));
    format!(
        "SELECT k, kid, count(*) AS n FROM (
            SELECT {key} FROM ({unresolved}) e
            UNION ALL
            SELECT {key} FROM ({since}) e
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
fn dm_live_sql(buckets: &str) -> String {
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
fn persona_dm_live_sql(buckets: &str) -> String {
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
fn dm_fill_sql() -> [String; 2] {
    let insert = |live: String| {
        format!(
            "INSERT INTO chat_stats_dm_buckets (bucket_start, bucket_end, persona_id, new_user_dms, new_persona_dms,
                                                active_users, user_to_user, user_to_persona, persona_to_user)
             SELECT s, e, persona_id, new_user_dms, new_persona_dms, active_users, user_to_user, user_to_persona,
                    persona_to_user FROM ({live}) x
             ON CONFLICT DO NOTHING"
        )
    };
    let missing = missing_buckets("chat_stats_dm_buckets", Clock(None));
    [insert(persona_dm_live_sql(&missing)), insert(dm_live_sql(&missing))]
}

/// The stored DM rows of the buckets ($1, $2): every DM's (`$3` false) or the personas'.
fn dm_stored_sql() -> String {
    format!(
        "WITH {BUCKETS}
         SELECT b.i, b.s, b.e, c.persona_id, c.new_user_dms, c.new_persona_dms, c.active_users, c.user_to_user,
                c.user_to_persona, c.persona_to_user
           FROM b JOIN chat_stats_dm_buckets c ON c.bucket_start = b.s AND c.bucket_end = b.e
          WHERE (c.persona_id <> 0) = $3"
    )
}

/// Notices sent per bucket, their reach, how many of them were read, and their live
/// deliveries ($1, $2). Reads are counted from each notice's rows
/// (`chat_messages_notification_idx`): driving from the groups' history index instead
/// scanned every notice of every group (1.1 s for a year).
fn notice_figures_sql() -> String {
    format!(
        "WITH {BUCKETS}
         SELECT b.i, count(n.id) AS sent, COALESCE(sum(n.recipient_count), 0)::bigint AS reach,
                COALESCE(sum(rc.n), 0)::bigint AS read,
                COALESCE(sum(d.online_deliveries), 0)::bigint AS online,
                count(d.notification_id) AS delivered,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.last_online_delivery_at - n.created_at)::float8) AS d50,
                percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM d.last_online_delivery_at - n.created_at)::float8) AS d90
           FROM b
           LEFT JOIN chat_notifications n ON n.created_at >= b.s AND n.created_at < b.e
           LEFT JOIN chat_notice_deliveries d ON d.notification_id = n.id
           LEFT JOIN LATERAL (
                SELECT count(*) AS n FROM chat_messages m
                 WHERE m.notification_id = n.id
                   AND EXISTS (SELECT 1 FROM chat_group_reads r
                                 JOIN chat_groups g ON g.id = r.group_id AND g.owner_user_id = r.user_id
                                WHERE r.group_id = m.group_id AND r.last_read_message_id >= m.id)) rc ON true
          GROUP BY b.i ORDER BY b.i"
    )
}

/// Adds live deliveries per notice ($1 ids, $2 counts, $3 times), skipping notices that
/// no longer exist.
pub(super) fn record_deliveries_query(ids: Vec<i64>, counts: Vec<i64>, at: Vec<DateTime<Utc>>) -> Query {
    diesel::sql_query(
        "INSERT INTO chat_notice_deliveries (notification_id, online_deliveries, last_online_delivery_at)
         SELECT t.id, t.n, t.at FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS t(id, n, at)
          WHERE EXISTS (SELECT 1 FROM chat_notifications n WHERE n.id = t.id)
         ON CONFLICT (notification_id) DO UPDATE
            SET online_deliveries = chat_notice_deliveries.online_deliveries + EXCLUDED.online_deliveries,
                last_online_delivery_at = GREATEST(chat_notice_deliveries.last_online_delivery_at,
                                                   EXCLUDED.last_online_delivery_at)",
    )
    .into_boxed()
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<BigInt>, _>(counts)
    .bind::<Array<Timestamptz>, _>(at)
}

/// Of the buckets ($1, $2), in their order, the first $3 whose DM figures, or support
/// figures counted with `clock`, are not stored.
fn unstored_sql(clock: Option<Clock>) -> String {
    let support = clock.map_or(String::new(), |clock| {
        format!(
            "NOT EXISTS (SELECT 1 FROM chat_stats_support_buckets c
                          WHERE c.bucket_start = t.s AND c.bucket_end = t.e AND c.hours_utc = {}) OR",
            clock.key()
        )
    });
    format!(
        "SELECT t.i FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS t(s, e, i)
          WHERE {support} NOT EXISTS (SELECT 1 FROM chat_stats_dm_buckets c
                             WHERE c.bucket_start = t.s AND c.bucket_end = t.e AND c.persona_id = 0)
          ORDER BY t.i LIMIT $3"
    )
}
