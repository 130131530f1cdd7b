//! The dry run: what `execute` would do, computed from the data and changing nothing.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text};

use super::cohort::Cohort;
use super::preflight::require_clean;
use super::scope::{DEFAULT_PERSONA, Policies, Scope, Unmovable, unmovable};
use super::{LegacyError, connect, require_legacy_column};

/// One user's old support thread and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct UserPlan {
    /// The owner (`support_conversation_user_id`), an existing user.
    #[diesel(sql_type = Int4)]
    pub user_id: i32,
    /// Their display name.
    #[diesel(sql_type = Text)]
    pub display_name: String,
    /// Old rows naming them.
    #[diesel(sql_type = BigInt)]
    pub messages: i64,
    /// Of those, rows that can move.
    #[diesel(sql_type = BigInt)]
    pub movable: i64,
    /// Of those, rows already moved (by an earlier or interrupted run).
    #[diesel(sql_type = BigInt)]
    pub moved: i64,
    /// Their existing support conversation, which is reused; `None`: one is created.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub conversation_id: Option<i64>,
    /// The persona the conversation shows: the existing conversation's; for a new one,
    /// the last persona that answered them if still an active support agent, else the
    /// default support persona.
    #[diesel(sql_type = Nullable<Int4>)]
    pub persona_id: Option<i32>,
    /// That persona's name.
    #[diesel(sql_type = Nullable<Text>)]
    pub persona_name: Option<String>,
}

impl UserPlan {
    /// Rows still to move.
    pub const fn pending(&self) -> i64 {
        self.movable - self.moved
    }
}

/// The dry-run report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every old row in scope (support groups, or naming an owner).
    pub in_scope: i64,
    /// Users whose threads are found, by id.
    pub users: Vec<UserPlan>,
    /// Rows that cannot move, with why.
    pub unmovable: Vec<Unmovable>,
    /// Active old support groups, which `execute` deactivates at the end (once no user
    /// with old rows is left outside the migrated cohorts).
    pub active_support_groups: Vec<i32>,
    /// The zone `timestamp without time zone` times are read in, and whether the old
    /// table's `created_at` is such a column.
    pub time_zone: String,
    /// Whether `chat_messages.created_at` is `timestamp without time zone`.
    pub local_time: bool,
}

impl Report {
    /// Conversations `execute` would create.
    pub fn conversations_to_create(&self) -> usize {
        self.users.iter().filter(|u| u.conversation_id.is_none() && u.pending() > 0).count()
    }

    /// Rows `execute` would move.
    pub fn messages_to_move(&self) -> i64 {
        self.users.iter().map(UserPlan::pending).sum()
    }

    /// Rows moved already.
    pub fn messages_moved(&self) -> i64 {
        self.users.iter().map(|u| u.moved).sum()
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct GroupId {
    #[diesel(sql_type = Int4)]
    id: i32,
}

/// Builds the dry-run report with the default policies, for everyone.
pub fn report(database_url: &str) -> Result<Report, LegacyError> {
    report_with(database_url, &Policies::default(), &Cohort::All)
}

/// Builds the dry-run report in one read-only transaction (one consistent snapshot),
/// after preflight: the rows it calls unmovable are exactly those execute leaves.
pub fn report_with(database_url: &str, policies: &Policies, cohort: &Cohort) -> Result<Report, LegacyError> {
    let mut conn = connect(database_url)?;
    require_legacy_column(&mut conn)?;
    conn.build_transaction().read_only().repeatable_read().run(|conn| {
        let scope = require_clean(conn, policies)?;
        let filter = cohort.owner_filter();
        let in_scope = diesel::sql_query(format!("SELECT count(*) AS n FROM ({}) c", scope.classified(&filter)))
            .get_result::<Count>(conn)?
            .n;
        let users = diesel::sql_query(users_sql(&scope, &filter)).load::<UserPlan>(conn)?;
        let unmovable = unmovable(conn, &scope, &filter)?;
        let active_support_groups =
            diesel::sql_query("SELECT id FROM chat_groups WHERE kind = 'support' AND is_active ORDER BY id")
                .load::<GroupId>(conn)?
                .into_iter()
                .map(|g| g.id)
                .collect();
        Ok(Report {
            in_scope,
            users,
            unmovable,
            active_support_groups,
            time_zone: scope.zone.clone(),
            local_time: scope.local_time,
        })
    })
}

fn users_sql(scope: &Scope, filter: &str) -> String {
    let rows = scope.classified(&format!("AND cm.support_conversation_user_id IS NOT NULL {filter}"));
    format!(
        "WITH c AS ({rows}),
         per AS (
            SELECT c.owner, count(*) AS messages,
                   count(*) FILTER (WHERE c.reason IS NULL) AS movable,
                   count(m.id) FILTER (WHERE c.reason IS NULL) AS moved,
                   (array_agg(c.sender_id ORDER BY c.created_at DESC, c.id DESC)
                        FILTER (WHERE c.reason IS NULL AND c.persona_eligible))[1] AS last_persona
            FROM c LEFT JOIN dm_messages m ON m.legacy_message_id = c.id
            GROUP BY c.owner),
         planned AS (
            SELECT per.*, d.id AS conversation_id,
                   CASE WHEN d.id IS NOT NULL THEN d.fake_user_id
                        ELSE COALESCE(per.last_persona, {DEFAULT_PERSONA}) END AS persona_id
            FROM per
            LEFT JOIN direct_messages d ON d.conversation_type = 'support' AND d.user1_id = per.owner)
         SELECT pl.owner AS user_id, u.display_name::text AS display_name, pl.messages, pl.movable, pl.moved,
                pl.conversation_id, pl.persona_id, p.name::text AS persona_name
         FROM planned pl
         JOIN users u ON u.id = pl.owner
         LEFT JOIN chat_fake_users p ON p.id = pl.persona_id
         ORDER BY pl.owner"
    )
}
