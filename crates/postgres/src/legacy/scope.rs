//! Which old rows are support history, whose they are, and which cannot move.
//!
//! In scope: every `chat_messages` row that names a support thread owner
//! (`support_conversation_user_id`) or sits in a support group (`kind = 'support'`).
//! A row moves into its owner's support conversation unless one of the reasons below
//! holds; such a row is reported with its id and stays where it is (never guessed,
//! never truncated, never dropped).

use diesel::prelude::*;
use diesel::sql_types::{Int4, Nullable, Text};

/// The reasons a row cannot move, in the order they are checked.
pub(crate) const REASONS: &str = "CASE
        WHEN cm.support_conversation_user_id IS NULL THEN 'no_owner'
        WHEN o.id IS NULL THEN 'unknown_owner'
        WHEN cm.sender_id IS NULL THEN 'no_sender'
        WHEN cm.sender_type = 'real_user' AND cm.sender_id <> cm.support_conversation_user_id
            THEN 'sender_not_owner'
        WHEN cm.sender_type = 'fake_user' AND p.id IS NULL THEN 'unknown_persona'
        WHEN char_length(cm.content) NOT BETWEEN 1 AND 4000 THEN 'content_length'
        WHEN cm.message_type NOT IN ('text', 'image', 'link') THEN 'unsupported_type'
    END";

/// The support-history rows with their owner, reason (NULL when movable) and the facts
/// the move needs, as `SELECT`-able rows; `filter` is appended to the WHERE clause.
pub(crate) fn classified(filter: &str) -> String {
    format!(
        "SELECT cm.id, cm.support_conversation_user_id AS owner, cm.sender_type, cm.sender_id,
                cm.content, cm.message_type, cm.created_at, cm.is_active,
                COALESCE(p.is_active AND p.is_support_agent, FALSE) AS persona_eligible,
                {REASONS} AS reason
         FROM chat_messages cm
         LEFT JOIN chat_groups g ON g.id = cm.group_id
         LEFT JOIN users o ON o.id = cm.support_conversation_user_id
         LEFT JOIN chat_fake_users p ON cm.sender_type = 'fake_user' AND p.id = cm.sender_id
         WHERE (cm.support_conversation_user_id IS NOT NULL OR g.kind = 'support') {filter}"
    )
}

/// The scope alone, for the cleanup guard and the verification high-water mark.
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
    /// `no_owner` (NULL owner), `unknown_owner` (no such user), `no_sender`,
    /// `sender_not_owner` (another real user wrote in this user's thread),
    /// `unknown_persona`, `content_length` (empty or over 4000 characters) or
    /// `unsupported_type` (not text, image or link).
    #[diesel(sql_type = Text)]
    pub reason: String,
}

/// Every row in scope that cannot move, by reason then id.
pub(crate) fn unmovable(conn: &mut PgConnection) -> QueryResult<Vec<Unmovable>> {
    diesel::sql_query(format!(
        "SELECT id, owner, reason FROM ({}) c WHERE reason IS NOT NULL ORDER BY reason, id",
        classified("")
    ))
    .load(conn)
}
