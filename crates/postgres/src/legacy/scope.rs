//! Which old rows are support history, whose they are, how each one moves, and which
//! cannot move.
//!
//! In scope: every `chat_messages` row that names a support thread owner
//! (`support_conversation_user_id`) or sits in a support group (`kind = 'support'`).
//! A row moves into its owner's support conversation unless one of the reasons below
//! holds; such a row is reported with its id and stays where it is (never guessed,
//! never truncated, never dropped). The one classification below is used by the dry
//! run, execute, verify and preflight alike, so "dry run clean" means "execute succeeds":
//! every row it calls movable fits every constraint of `dm_messages`.

use diesel::prelude::*;
use diesel::sql_types::{Int4, Nullable, Text};
use serde::{Deserialize, Serialize};

use super::LegacyError;

/// What happens to a kind of old row that has no exact place in the new schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowPolicy {
    /// Moved as a notice (`message_type = 'notification'`, `is_notification`), by the
    /// support team (`sender_type = 'admin'`, the old sender id).
    #[default]
    Notice,
    /// Moved hidden by moderation (kept for audit, not shown to the user).
    Hidden,
    /// Not moved: reported with its id, left in place, archived by the cleanup.
    Skip,
}

impl RowPolicy {
    /// The word used on the command line and in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notice => "notice",
            Self::Hidden => "hidden",
            Self::Skip => "skip",
        }
    }
}

/// The operator's choices for the rows the new schema has no exact place for, and for
/// time. Recorded on each batch: later runs and verification use the batch's choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policies {
    /// Rows with `sender_type = 'system'` (the new schema has no such sender).
    pub system_messages: RowPolicy,
    /// Old notices (`is_notification = TRUE`) inside a support thread.
    pub support_notices: RowPolicy,
    /// The zone `timestamp without time zone` columns are read in; `None`: the
    /// database's `TimeZone` setting (what the existing app's sessions use).
    pub time_zone: Option<String>,
    /// A created conversation whose last old message is older than this many days
    /// arrives `resolved` even when the user had the last word.
    pub resolve_after_days: u32,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            system_messages: RowPolicy::Notice,
            support_notices: RowPolicy::Notice,
            time_zone: None,
            resolve_after_days: 30,
        }
    }
}

/// The old database as found, with the policies applied: what every statement built
/// here needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The policies.
    pub policies: Policies,
    /// The zone local times are read in (validated).
    pub zone: String,
    /// Whether `chat_messages.created_at` is `timestamp without time zone`.
    pub local_time: bool,
    /// Whether `chat_messages.is_notification` exists (it does after `migrate`).
    pub has_notices: bool,
    /// The relation the old rows are read from: `chat_messages`, or for verification
    /// [`OLD_ROWS`] (with the rows a cohort cleanup archived).
    pub messages: &'static str,
}

/// `chat_messages` with the rows `cleanup-support --cohort` archived: the old side as
/// it was moved. A temporary view, created by [`Scope::with_cleaned_rows`].
pub(crate) const OLD_ROWS: &str = "legacy_old_rows";

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Nullable<Text>)]
    created_type: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    has_notices: bool,
    #[diesel(sql_type = Text)]
    database_zone: String,
}

#[derive(QueryableByName)]
struct ZoneName {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

impl Scope {
    /// Reads the old table's shape and the database's zone; refuses an unknown zone.
    pub(crate) fn load(conn: &mut PgConnection, policies: &Policies) -> Result<Self, LegacyError> {
        // `reset_val` is the session's zone before this client changed it: the
        // database's (or role's, or server's) `TimeZone`, which the existing app reads.
        let found = diesel::sql_query(
            "SELECT (SELECT data_type::text FROM information_schema.columns WHERE table_schema = current_schema()
                       AND table_name = 'chat_messages' AND column_name = 'created_at') AS created_type,
                    EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
                       AND table_name = 'chat_messages' AND column_name = 'is_notification') AS has_notices,
                    (SELECT reset_val FROM pg_settings WHERE name = 'TimeZone') AS database_zone",
        )
        .get_result::<Found>(conn)?;
        let wanted = policies.time_zone.clone().unwrap_or(found.database_zone);
        let zone = diesel::sql_query(
            "SELECT (SELECT name FROM pg_timezone_names WHERE lower(name) = lower($1) LIMIT 1) AS name",
        )
        .bind::<Text, _>(&wanted)
        .get_result::<ZoneName>(conn)?
        .name
        .ok_or_else(|| LegacyError::Refused(format!("unknown time zone {wanted:?} (see pg_timezone_names)")))?;
        Ok(Self {
            policies: policies.clone(),
            zone,
            local_time: found.created_type.as_deref() == Some("timestamp without time zone"),
            has_notices: found.has_notices,
            messages: "chat_messages",
        })
    }

    /// Reads the old rows with those a cohort cleanup archived (creates [`OLD_ROWS`] for
    /// this session, when there are any).
    pub(crate) fn with_cleaned_rows(self, conn: &mut PgConnection) -> QueryResult<Self> {
        diesel::sql_query(format!(
            "CREATE OR REPLACE TEMP VIEW {OLD_ROWS} AS
             SELECT * FROM chat_messages
             UNION ALL
             SELECT (jsonb_populate_record(NULL::chat_messages, row_data)).* FROM chat_legacy_support_cohort_archive
             WHERE source = 'chat_messages'"
        ))
        .execute(conn)?;
        Ok(Self { messages: OLD_ROWS, ..self })
    }

    /// The choices as recorded on a batch (the zone resolved).
    pub(crate) fn recorded(&self) -> serde_json::Value {
        let policies = Policies { time_zone: Some(self.zone.clone()), ..self.policies.clone() };
        serde_json::to_value(policies).unwrap_or_default()
    }

    /// The choices a live batch recorded, if any (verification classifies with them).
    pub(crate) fn recorded_policies(conn: &mut PgConnection) -> Result<Option<Policies>, LegacyError> {
        #[derive(QueryableByName)]
        struct Recorded {
            #[diesel(sql_type = diesel::sql_types::Jsonb)]
            options: serde_json::Value,
        }
        let recorded = diesel::sql_query(
            "SELECT options FROM chat_support_migration_batches WHERE rolled_back_at IS NULL AND options <> '{}'
             ORDER BY id DESC LIMIT 1",
        )
        .get_result::<Recorded>(conn)
        .optional()?;
        recorded
            .map(|r| serde_json::from_value(r.options))
            .transpose()
            .map_err(|e| LegacyError::Refused(format!("a batch's recorded options cannot be read: {e}")))
    }

    /// `chat_messages.created_at` of `cm` as an instant.
    pub(crate) fn instant(&self) -> String {
        if self.local_time {
            // A validated zone name: letters, digits, '/', '_', '+', '-' only.
            format!("timezone('{}', cm.created_at)", self.zone.replace('\'', "''"))
        } else {
            "cm.created_at".to_owned()
        }
    }

    fn notice(&self) -> &'static str {
        if self.has_notices { "COALESCE(cm.is_notification, FALSE)" } else { "FALSE" }
    }

    /// Rows of a kind the policy sends a given way.
    fn kinds(&self, policy: RowPolicy) -> String {
        let mut parts = Vec::new();
        if self.policies.system_messages == policy {
            parts.push("cm.sender_type = 'system'".to_owned());
        }
        if self.policies.support_notices == policy {
            parts.push(self.notice().to_owned());
        }
        if parts.is_empty() { "FALSE".to_owned() } else { format!("({})", parts.join(" OR ")) }
    }

    /// The reasons a row cannot move, in the order they are checked.
    fn reasons(&self) -> String {
        format!(
            "CASE
                WHEN cm.support_conversation_user_id IS NULL THEN 'no_owner'
                WHEN o.id IS NULL THEN 'unknown_owner'
                WHEN cm.created_at IS NULL THEN 'no_time'
                WHEN cm.content IS NULL THEN 'no_content'
                WHEN cm.sender_type IS NULL OR cm.sender_type NOT IN ('real_user', 'fake_user', 'admin', 'system')
                    THEN 'unknown_sender_type'
                WHEN cm.sender_id IS NULL THEN 'no_sender'
                WHEN cm.sender_type = 'system' AND {skip_system} THEN 'system_message'
                WHEN {notice} AND {skip_notice} THEN 'support_notice'
                WHEN cm.sender_type = 'real_user' AND cm.sender_id <> cm.support_conversation_user_id
                    THEN 'sender_not_owner'
                WHEN cm.sender_type = 'fake_user' AND p.id IS NULL THEN 'unknown_persona'
                WHEN char_length(cm.content) NOT BETWEEN 1 AND 4000 THEN 'content_length'
                WHEN NOT {as_notice} AND COALESCE(cm.message_type, 'text') NOT IN ('text', 'image', 'link')
                    THEN 'unsupported_type'
            END",
            skip_system = self.policies.system_messages == RowPolicy::Skip,
            notice = self.notice(),
            skip_notice = self.policies.support_notices == RowPolicy::Skip,
            as_notice = self.kinds(RowPolicy::Notice),
        )
    }

    /// The support-history rows with their owner, reason (NULL when movable) and the
    /// values they move with, as `SELECT`-able rows; `filter` is appended to the WHERE
    /// clause. A NULL `is_active` is active and a NULL `message_type` is `text` (the
    /// existing app's column defaults); a system row moves as sent by the team.
    pub(crate) fn classified(&self, filter: &str) -> String {
        let (as_notice, as_hidden) = (self.kinds(RowPolicy::Notice), self.kinds(RowPolicy::Hidden));
        format!(
            "SELECT cm.id, cm.support_conversation_user_id AS owner,
                    CASE WHEN cm.sender_type = 'system' THEN 'admin' ELSE cm.sender_type END AS sender_type,
                    cm.sender_id, cm.content,
                    CASE WHEN {as_notice} THEN 'notification' ELSE COALESCE(cm.message_type, 'text') END AS message_type,
                    {instant} AS created_at,
                    COALESCE(cm.is_active, TRUE) AND NOT {as_hidden} AS is_active,
                    CASE WHEN NOT COALESCE(cm.is_active, TRUE) THEN 'deleted in the group-based support before the move'
                         WHEN {as_hidden} THEN 'a system row or notice of the group-based support, moved hidden'
                    END AS hidden_reason,
                    {as_notice} AS is_notice,
                    COALESCE(p.is_active AND p.is_support_agent, FALSE) AS persona_eligible,
                    {reasons} AS reason
             FROM {messages} cm
             LEFT JOIN chat_groups g ON g.id = cm.group_id
             LEFT JOIN users o ON o.id = cm.support_conversation_user_id
             LEFT JOIN chat_fake_users p ON cm.sender_type = 'fake_user' AND p.id = cm.sender_id
             WHERE (cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support') {filter}",
            instant = self.instant(),
            reasons = self.reasons(),
            messages = self.messages,
        )
    }
}

/// The scope alone.
pub(crate) const IN_SCOPE: &str = "FROM chat_messages cm LEFT JOIN chat_groups g ON g.id = cm.group_id
     WHERE (cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support')";

/// The per-message hash both sides are compared with: sender, time (microseconds) and
/// content. `t` must have `sender_type`, `sender_id`, `created_at` and `content`.
pub(crate) fn row_hash(t: &str) -> String {
    format!(
        "md5({t}.sender_type || ':' || {t}.sender_id || ':' \
         || (extract(epoch FROM {t}.created_at) * 1000000)::bigint || ':' || {t}.content)"
    )
}

/// The persona a new support conversation shows when its history names none that is
/// still an active support agent: the default one, as the API would pick.
pub(crate) const DEFAULT_PERSONA: &str =
    "(SELECT id FROM chat_fake_users WHERE is_active AND is_support_agent ORDER BY id LIMIT 1)";

/// An old row that will not move, and why.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Unmovable {
    /// Its `chat_messages.id`.
    #[diesel(sql_type = Int4)]
    pub id: i32,
    /// Its `support_conversation_user_id`, if any.
    #[diesel(sql_type = Nullable<Int4>)]
    pub owner: Option<i32>,
    /// `no_owner` (NULL owner), `unknown_owner` (no such user), `no_time` (NULL
    /// `created_at`), `no_content` (NULL content), `unknown_sender_type` (NULL or not
    /// one the old app knew), `no_sender`, `system_message` and `support_notice` (when
    /// their policy is `skip`), `sender_not_owner` (another real user wrote in this
    /// user's thread), `unknown_persona`, `content_length` (empty or over 4000
    /// characters) or `unsupported_type` (not text, image or link).
    #[diesel(sql_type = Text)]
    pub reason: String,
}

/// Every row in scope that cannot move, by reason then id.
pub(crate) fn unmovable(conn: &mut PgConnection, scope: &Scope, filter: &str) -> QueryResult<Vec<Unmovable>> {
    diesel::sql_query(format!(
        "SELECT id, owner, reason FROM ({}) c WHERE reason IS NOT NULL ORDER BY reason, id",
        scope.classified(filter)
    ))
    .load(conn)
}
