//! `legacy preflight`: reads the old database as it is (before or after `migrate`) and
//! names, with row ids, everything that would stop or distort the move: old notices
//! migration 000201 would refuse, rows the new schema has no place for (and what their
//! policy does with them), rows of other tables pointing at what the cleanup removes,
//! and `timestamp without time zone` columns with the zone they are read in.
//!
//! Every other legacy command runs it first and refuses while a finding blocks.

use std::fmt;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use super::scope::{Policies, RowPolicy, Scope};
use super::{LegacyError, connect, require_legacy_column};

/// At most this many ids are listed per finding (the count is always complete).
const LISTED: i64 = 100;

/// One kind of problem row, with its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// A stable name (`old_notice`, `no_content`, `system_message`, `foreign_key`...).
    pub kind: String,
    /// How many rows.
    pub count: i64,
    /// The first ids (`chat_messages.id`, or `table.column` for a foreign key).
    pub ids: Vec<String>,
    /// Whether the migration cannot go on until the operator acts.
    pub blocking: bool,
    /// What the move does with these rows under the current policies.
    pub outcome: String,
    /// What the operator can do.
    pub remedy: String,
}

/// The zone local times are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneUse {
    /// The zone (`--time-zone`, else the database's `TimeZone`).
    pub zone: String,
    /// Whether it was given explicitly.
    pub explicit: bool,
    /// Every `table.column` of type `timestamp without time zone` in the schema.
    pub local_columns: Vec<String>,
}

/// What preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// The zone and the local-time columns.
    pub time_zone: TimeZoneUse,
    /// Problems by kind (blocking first).
    pub findings: Vec<Finding>,
}

impl Preflight {
    /// The findings that stop the migration.
    pub fn blocking(&self) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.blocking).collect()
    }
}

impl fmt::Display for Preflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let z = &self.time_zone;
        writeln!(
            f,
            "time zone: {} ({}); timestamp without time zone columns, read as local time in it: {}",
            z.zone,
            if z.explicit { "--time-zone" } else { "the database's TimeZone; change with --time-zone" },
            if z.local_columns.is_empty() { "none".to_owned() } else { z.local_columns.join(", ") }
        )?;
        for finding in &self.findings {
            let more = finding.count - finding.ids.len() as i64;
            writeln!(
                f,
                "{} {} ({}): {}{}",
                if finding.blocking { "BLOCKING" } else { "handled" },
                finding.kind,
                finding.count,
                finding.ids.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            )?;
            writeln!(f, "  outcome: {}", finding.outcome)?;
            writeln!(f, "  remedy: {}", finding.remedy)?;
        }
        let blocking = self.blocking().len();
        if blocking == 0 {
            writeln!(
                f,
                "preflight passed: nothing blocks the migration ({} kinds handled by policy)",
                self.findings.len()
            )
        } else {
            writeln!(f, "preflight FAILED: {blocking} kinds of rows block the migration (see the remedies above)")
        }
    }
}

#[derive(QueryableByName)]
struct Kind {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Text>)]
    ids: Option<String>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// A foreign key onto the old rows (see [`FOREIGN_KEYS`]).
#[derive(QueryableByName)]
pub(crate) struct ForeignKey {
    #[diesel(sql_type = Text)]
    pub tbl: String,
    #[diesel(sql_type = Text)]
    pub col: String,
    #[diesel(sql_type = Text)]
    pub target: String,
    #[diesel(sql_type = Bool)]
    pub archivable: bool,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Runs preflight in one read-only snapshot.
pub fn preflight(database_url: &str, policies: &Policies) -> Result<Preflight, LegacyError> {
    let mut conn = connect(database_url)?;
    require_legacy_column(&mut conn)?;
    conn.build_transaction().read_only().repeatable_read().run(|conn| Ok(inspect(conn, policies, Depth::Full)?.0))
}

/// How much preflight reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Everything, for the report.
    Full,
    /// Only what can block (old notices, foreign keys the cleanup cannot restore): the
    /// row kinds a policy handles never block, and the command reports them itself.
    Blocking,
}

/// Preflight as the first step of a command: refuses with the list while anything
/// blocks, and returns the scope the command works with.
pub(crate) fn require_clean(conn: &mut PgConnection, policies: &Policies) -> Result<Scope, LegacyError> {
    let (found, scope) = inspect(conn, policies, Depth::Blocking)?;
    if found.blocking().is_empty() {
        Ok(scope)
    } else {
        Err(LegacyError::Refused(format!("preflight found problems (chat-server legacy preflight):\n{found}")))
    }
}

fn inspect(conn: &mut PgConnection, policies: &Policies, depth: Depth) -> Result<(Preflight, Scope), LegacyError> {
    let scope = Scope::load(conn, policies)?;
    let local_columns = diesel::sql_query(
        "SELECT table_name || '.' || column_name AS name FROM information_schema.columns
         WHERE table_schema = current_schema() AND data_type = 'timestamp without time zone'
           AND table_name NOT LIKE '\\_\\_diesel%' ORDER BY 1",
    )
    .load::<Name>(conn)?
    .into_iter()
    .map(|n| n.name)
    .collect();
    let time_zone = TimeZoneUse { zone: scope.zone.clone(), explicit: policies.time_zone.is_some(), local_columns };
    let mut findings = old_notices(conn, &scope)?;
    if depth == Depth::Full {
        findings.extend(rows(conn, &scope)?);
    }
    findings.extend(foreign_keys(conn, depth)?);
    findings.sort_by_key(|f| !f.blocking);
    Ok((Preflight { time_zone, findings }, scope))
}

fn ids_sql(select_ids: &str) -> String {
    format!("(SELECT string_agg(x::text, ', ') FROM ({select_ids} LIMIT {LISTED}) s(x))")
}

/// Notices the existing app wrote: before migration 000201, they stop it; after it
/// (kept with `--old-notices keep`), they are listed for information.
fn old_notices(conn: &mut PgConnection, scope: &Scope) -> Result<Vec<Finding>, LegacyError> {
    if !scope.has_notices {
        return Ok(Vec::new());
    }
    let migrated = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                AND table_name = 'chat_messages' AND column_name = 'notification_id') AS flag",
    )
    .get_result::<Flag>(conn)?
    .flag;
    let own = if migrated { "is_notification AND notification_id IS NULL" } else { "is_notification" };
    let found = diesel::sql_query(format!(
        "SELECT 'old_notice' AS kind, count(*) AS n,
                {} AS ids
         FROM chat_messages WHERE {own}",
        ids_sql(&format!("SELECT id FROM chat_messages WHERE {own} ORDER BY id"))
    ))
    .get_result::<Kind>(conn)?;
    if found.n == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Finding {
        kind: found.kind,
        count: found.n,
        ids: split(found.ids),
        blocking: !migrated,
        outcome: if migrated {
            "kept as the existing app wrote them (--old-notices keep); shown as ordinary group messages by the new \
             service; those in support threads move as the support_notices policy says"
                .to_owned()
        } else {
            "chat_messages rows are notices the existing app wrote (is_notification = TRUE) that belong to no \
             notification: migration 000201 refuses them"
                .to_owned()
        },
        remedy: "keep them as they are with `chat-server migrate --old-notices keep`, or clear or delete them in the \
                 existing app first"
            .to_owned(),
    }])
}

/// The old support rows without an exact place in the new schema, by kind.
fn rows(conn: &mut PgConnection, scope: &Scope) -> Result<Vec<Finding>, LegacyError> {
    let rows = scope.classified("");
    let notice = if scope.has_notices { "COALESCE(cm.is_notification, FALSE)" } else { "FALSE" };
    // Kinds a policy moves (listed for information) next to the reasons a row stays.
    let kinds = format!(
        "SELECT c.id, CASE
                WHEN c.reason IS NOT NULL THEN c.reason
                WHEN cm.sender_type = 'system' THEN 'system_message'
                WHEN {notice} THEN 'support_notice'
                WHEN cm.is_active IS NULL THEN 'null_is_active'
                WHEN cm.message_type IS NULL THEN 'null_message_type'
            END AS kind
         FROM ({rows}) c JOIN chat_messages cm ON cm.id = c.id"
    );
    let found = diesel::sql_query(format!(
        "WITH k AS ({kinds})
         SELECT kind, count(*) AS n, (SELECT string_agg(id::text, ', ') FROM
                (SELECT i.id FROM k i WHERE i.kind = k.kind ORDER BY i.id LIMIT {LISTED}) s) AS ids
         FROM k WHERE kind IS NOT NULL GROUP BY kind ORDER BY kind"
    ))
    .load::<Kind>(conn)?;
    Ok(found
        .into_iter()
        .map(|k| {
            let (outcome, remedy) = explain(&k.kind, &scope.policies);
            Finding { kind: k.kind, count: k.n, ids: split(k.ids), blocking: false, outcome, remedy }
        })
        .collect())
}

fn moved(policy: RowPolicy) -> &'static str {
    match policy {
        RowPolicy::Notice => "moved as a notice from the support team",
        RowPolicy::Hidden => "moved hidden (kept for audit, not shown to the user)",
        RowPolicy::Skip => "skipped: left in place and reported, archived by the cleanup",
    }
}

/// What happens to a kind of row, and what the operator can do.
fn explain(kind: &str, policies: &Policies) -> (String, String) {
    let stays = "skipped: left in place and reported, archived by the cleanup (restored by its --revert)".to_owned();
    let (outcome, remedy) = match kind {
        "system_message" => (moved(policies.system_messages).to_owned(), "--system-messages notice|hidden|skip"),
        "support_notice" => (moved(policies.support_notices).to_owned(), "--support-notices notice|hidden|skip"),
        "null_is_active" => (
            "moved as active (the existing app's column default)".to_owned(),
            "set is_active in the old table first to decide otherwise",
        ),
        "null_message_type" => (
            "moved as text (the existing app's column default)".to_owned(),
            "set message_type in the old table first to decide otherwise",
        ),
        "no_owner" => {
            (stays, "set support_conversation_user_id in the old table if the thread is known, then execute again")
        }
        "unknown_owner" => {
            (stays, "the owner was deleted: nothing to move it to; accept, or point it at an existing user")
        }
        "no_time" => {
            (stays, "set created_at in the old table (the position in the thread depends on it), then execute again")
        }
        "no_content" => (stays, "set content in the old table, then execute again"),
        "unknown_sender_type" => {
            (stays, "set sender_type to real_user, fake_user, admin or system, then execute again")
        }
        "no_sender" => (stays, "set sender_id in the old table, then execute again"),
        "sender_not_owner" => (stays, "another user wrote in this thread: fix support_conversation_user_id or accept"),
        "unknown_persona" => (stays, "the persona was deleted: restore it in chat_fake_users or accept"),
        "content_length" => (stays, "empty or over 4000 characters: edit the content in the old table or accept"),
        "unsupported_type" => {
            (stays, "a message_type other than text, image or link: change it in the old table or accept")
        }
        _ => (stays, "see docs/migration.md"),
    };
    (outcome, remedy.to_owned())
}

/// Foreign keys of other tables onto the rows the cleanup removes (old support
/// messages and groups). Single-column keys onto `id` of a table nothing else points
/// at are archived by the cleanup and restored by `--revert`; any other stops it.
fn foreign_keys(conn: &mut PgConnection, depth: Depth) -> Result<Vec<Finding>, LegacyError> {
    let keys = diesel::sql_query(FOREIGN_KEYS).load::<ForeignKey>(conn)?;
    let mut findings = Vec::new();
    for key in keys {
        if key.archivable && depth == Depth::Blocking {
            continue;
        }
        let n = if key.archivable {
            let removed = if key.target == "chat_messages" { REMOVED_MESSAGES } else { REMOVED_GROUPS };
            diesel::sql_query(format!(
                "SELECT 'x' AS kind, count(*) AS n, NULL::text AS ids FROM {} t WHERE t.{} IN ({removed})",
                key.tbl, key.col
            ))
            .get_result::<Kind>(conn)?
            .n
        } else {
            0
        };
        if n == 0 && key.archivable {
            continue;
        }
        findings.push(Finding {
            kind: "foreign_key".to_owned(),
            count: n,
            ids: vec![format!("{}.{} -> {}", key.tbl, key.col, key.target)],
            blocking: !key.archivable,
            outcome: if key.archivable {
                "rows pointing at old support messages or groups are archived with them by the cleanup and restored \
                 by its --revert"
                    .to_owned()
            } else {
                "the cleanup cannot archive these rows (a key of several columns, or another table points at this \
                 one) and refuses"
                    .to_owned()
            },
            remedy: "nothing to do when archived; otherwise remove or re-point those rows before the cleanup"
                .to_owned(),
        });
    }
    Ok(findings)
}

/// The old support messages the cleanup deletes.
pub(crate) const REMOVED_MESSAGES: &str =
    "SELECT cm.id FROM chat_messages cm JOIN chat_groups g ON g.id = cm.group_id WHERE g.kind = 'support'";
/// The old support groups the cleanup deletes.
pub(crate) const REMOVED_GROUPS: &str = "SELECT id FROM chat_groups WHERE kind = 'support'";

/// Every foreign key onto `chat_messages`, `chat_groups` or `chat_group_members` from
/// another table than the old model's own (a key onto a membership has two columns: the
/// archive cannot restore it, so it blocks) (`tbl` and `col` quoted for SQL), and whether the cleanup can
/// archive and restore the rows it covers. The cleanup migration's `legacy_cleanup_keys`
/// is the same query on purpose: its guard must hold however that migration is run,
/// and preflight must work before the schema exists; keep the two in step.
pub(crate) const FOREIGN_KEYS: &str = "
    SELECT c.conrelid::regclass::text AS tbl, quote_ident(a.attname) AS col, c.confrelid::regclass::text AS target,
           array_length(c.conkey, 1) = 1 AND fa.attname = 'id'
               AND NOT EXISTS (SELECT 1 FROM pg_constraint d WHERE d.contype = 'f' AND d.confrelid = c.conrelid
                               AND d.conrelid <> c.conrelid) AS archivable
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
    WHERE c.contype = 'f' AND c.confrelid IN ('chat_messages'::regclass, 'chat_groups'::regclass, 'chat_group_members'::regclass)
      AND c.conrelid NOT IN ('chat_messages'::regclass, 'chat_group_members'::regclass)
    ORDER BY 1, 2";

fn split(ids: Option<String>) -> Vec<String> {
    ids.map(|s| s.split(", ").map(str::to_owned).collect()).unwrap_or_default()
}
