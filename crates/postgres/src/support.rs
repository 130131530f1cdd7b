//! [`SupportRepository`] on `direct_messages` (support rows) and its joins.

use chat_domain::conversations::{PersonaSummary, SideState, UserSummary};
use chat_domain::support::{
    AssigneeFilter, QueueCursor, QueueQuery, QueueStatus, SupportConversation, SupportRepository, SupportState,
    SupportStatus,
};
use chat_domain::{ConversationId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz};

use crate::error::OrRepoError;
use crate::messages::{LAST_MESSAGE_COLUMNS, LAST_MESSAGE_JOINS, LastMessageRow};
use crate::schema::{chat_fake_users, direct_messages};
use crate::tx::PgTx;

/// A support conversation with its user, assignee, persona and last message.
fn support_view() -> String {
    // Names by subquery, not by join (see LAST_MESSAGE_JOINS).
    format!(
        "SELECT d.id, d.user1_id,
        (SELECT u.display_name FROM users u WHERE u.id = d.user1_id) AS user_name,
        (SELECT u.profile_photo_url FROM users u WHERE u.id = d.user1_id) AS user_photo,
        d.support_status, d.assignee_admin_id,
        (SELECT asg.display_name FROM users asg WHERE asg.id = d.assignee_admin_id) AS assignee_name,
        (SELECT asg.profile_photo_url FROM users asg WHERE asg.id = d.assignee_admin_id) AS assignee_photo,
        d.waiting_since, d.fake_user_id,
        (SELECT p.name FROM chat_fake_users p WHERE p.id = d.fake_user_id) AS persona_name,
        (SELECT p.avatar_url FROM chat_fake_users p WHERE p.id = d.fake_user_id) AS persona_avatar,
        d.user1_last_read_id, d.user1_unread, d.user2_last_read_id, d.user2_unread,
        d.last_message_at, d.created_at,
        {LAST_MESSAGE_COLUMNS}
    FROM direct_messages d
    {LAST_MESSAGE_JOINS}"
    )
}

/// Queue filters shared by both orders: $3 assignee id, $4 unassigned only, $5 persona
/// (bound by [`queue_query`], the only user of the queue's fragments).
const QUEUE_FILTERS: &str = "AND ($3::int IS NULL OR d.assignee_admin_id = $3)
    AND (NOT $4 OR d.assignee_admin_id IS NULL)
    AND ($5::int IS NULL OR d.fake_user_id = $5)";

/// The open queue: users waiting, longest first. Served by `direct_messages_support_waiting`.
const QUEUE_OPEN_SQL: &str = "WHERE d.conversation_type = 'support' AND d.support_status = 'open'
      AND d.waiting_since IS NOT NULL
      AND ($1::timestamptz IS NULL OR (d.waiting_since, d.id) > ($1, $2))";

/// Other statuses ($7, NULL for all), by last activity. Served by
/// `direct_messages_support_status_activity` or `direct_messages_support_activity`.
const QUEUE_ACTIVITY_SQL: &str = "WHERE d.conversation_type = 'support'
      AND ($7::text IS NULL OR d.support_status = $7)
      AND ($1::timestamptz IS NULL OR (d.last_message_at, d.id) < ($1, $2))";

#[derive(QueryableByName)]
struct SupportRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Int4)]
    user1_id: i32,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_photo: Option<String>,
    #[diesel(sql_type = Text)]
    support_status: String,
    #[diesel(sql_type = Nullable<Int4>)]
    assignee_admin_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    assignee_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    assignee_photo: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    waiting_since: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Int4>)]
    fake_user_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    persona_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    persona_avatar: Option<String>,
    #[diesel(sql_type = BigInt)]
    user1_last_read_id: i64,
    #[diesel(sql_type = Int4)]
    user1_unread: i32,
    #[diesel(sql_type = BigInt)]
    user2_last_read_id: i64,
    #[diesel(sql_type = Int4)]
    user2_unread: i32,
    #[diesel(sql_type = Timestamptz)]
    last_message_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(embed)]
    last: LastMessageRow,
}

impl TryFrom<SupportRow> for SupportConversation {
    type Error = RepoError;

    fn try_from(row: SupportRow) -> Result<Self, RepoError> {
        let last_message = row.last.into_message(ConversationId(row.id))?;
        let status = SupportStatus::from_db(&row.support_status)
            .ok_or_else(|| RepoError::internal(format!("unknown support_status {:?}", row.support_status)))?;
        Ok(Self {
            id: ConversationId(row.id),
            user: UserSummary {
                id: UserId(row.user1_id),
                display_name: row.user_name,
                profile_photo_url: row.user_photo,
            },
            state: SupportState {
                status,
                assignee: row.assignee_admin_id.map(UserId),
                waiting_since: row.waiting_since,
            },
            assignee: match (row.assignee_admin_id, row.assignee_name) {
                (Some(id), Some(display_name)) => {
                    Some(UserSummary { id: UserId(id), display_name, profile_photo_url: row.assignee_photo })
                }
                _ => None,
            },
            persona: match (row.fake_user_id, row.persona_name) {
                (Some(id), Some(name)) => {
                    Some(PersonaSummary { id: PersonaId(id), name, avatar_url: row.persona_avatar })
                }
                _ => None,
            },
            user_side: SideState { last_read: MessageId(row.user1_last_read_id), unread: row.user1_unread },
            team_side: SideState { last_read: MessageId(row.user2_last_read_id), unread: row.user2_unread },
            last_message,
            last_message_at: row.last_message_at,
            created_at: row.created_at,
        })
    }
}

fn into_views(rows: Vec<SupportRow>) -> Result<Vec<SupportConversation>, RepoError> {
    rows.into_iter().map(SupportConversation::try_from).collect()
}

impl SupportRepository for PgTx<'_> {
    fn support_id_for_user(&mut self, user: UserId) -> Result<Option<ConversationId>, RepoError> {
        direct_messages::table
            .filter(direct_messages::conversation_type.eq("support").and(direct_messages::user1_id.eq(user.get())))
            .select(direct_messages::id)
            .first::<i64>(self.conn())
            .optional()
            .map(|id| id.map(ConversationId))
            .or_repo()
    }

    fn create_support(
        &mut self,
        user: UserId,
        persona: Option<PersonaId>,
    ) -> Result<(ConversationId, bool), RepoError> {
        #[derive(QueryableByName)]
        struct Created {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        // A concurrent creator makes this INSERT wait on the unique index, then do nothing.
        let created = diesel::sql_query(
            "INSERT INTO direct_messages (conversation_type, user1_id, user2_type, fake_user_id, support_status)
             VALUES ('support', $1, 'support', $2, 'open')
             ON CONFLICT (user1_id) WHERE conversation_type = 'support' DO NOTHING
             RETURNING id",
        )
        .bind::<Int4, _>(user.get())
        .bind::<Nullable<Int4>, _>(persona.map(PersonaId::get))
        .get_result::<Created>(self.conn())
        .optional()
        .or_repo()?;
        match created {
            Some(row) => Ok((ConversationId(row.id), true)),
            None => self
                .support_id_for_user(user)?
                .map(|id| (id, false))
                .ok_or_else(|| RepoError::internal("support conversation neither created nor found")),
        }
    }

    fn default_support_persona(&mut self) -> Result<Option<PersonaId>, RepoError> {
        chat_fake_users::table
            .filter(chat_fake_users::is_active.and(chat_fake_users::is_support_agent))
            .order(chat_fake_users::id)
            .select(chat_fake_users::id)
            .first::<i32>(self.conn())
            .optional()
            .map(|id| id.map(PersonaId))
            .or_repo()
    }

    fn persona_is_active(&mut self, persona: PersonaId) -> Result<bool, RepoError> {
        diesel::select(exists(
            chat_fake_users::table.filter(chat_fake_users::id.eq(persona.get()).and(chat_fake_users::is_active)),
        ))
        .get_result(self.conn())
        .or_repo()
    }

    fn support_conversation(&mut self, id: ConversationId) -> Result<Option<SupportConversation>, RepoError> {
        let sql = format!("{} WHERE d.id = $1 AND d.conversation_type = 'support'", support_view());
        let rows = diesel::sql_query(sql).bind::<BigInt, _>(id.get()).load::<SupportRow>(self.conn()).or_repo()?;
        Ok(into_views(rows)?.pop())
    }

    fn support_queue(&mut self, query: &QueueQuery) -> Result<Vec<SupportConversation>, RepoError> {
        let rows = queue_query("", query).load::<SupportRow>(self.conn()).or_repo()?;
        into_views(rows)
    }

    fn resolve_idle_pending(
        &mut self,
        idle_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(ConversationId, UserId)>, RepoError> {
        #[derive(QueryableByName)]
        struct Resolved {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Int4)]
            user1_id: i32,
        }
        let rows = diesel::sql_query(
            "UPDATE direct_messages SET support_status = 'resolved', waiting_since = NULL, updated_at = now()
             WHERE id IN (
                SELECT id FROM direct_messages
                WHERE conversation_type = 'support' AND support_status = 'pending' AND last_message_at < $1
                ORDER BY last_message_at LIMIT $2
                FOR UPDATE SKIP LOCKED)
             RETURNING id, user1_id",
        )
        .bind::<Timestamptz, _>(idle_before)
        .bind::<BigInt, _>(limit)
        .load::<Resolved>(self.conn())
        .or_repo()?;
        Ok(rows.into_iter().map(|r| (ConversationId(r.id), UserId(r.user1_id))).collect())
    }
}

/// A page of the queue: the SQL and its binds, built together so that a numbered
/// parameter can never receive another's value: $1/$2 cursor, $3 assignee, $4 unassigned
/// only, $5 persona, $6 rows to fetch (a page plus one), $7 status (activity order only).
/// `prefix` goes before the statement (`EXPLAIN ` for the plans test).
pub(crate) fn queue_query(prefix: &str, query: &QueueQuery) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (filter, order) = match query.status {
        QueueStatus::Open => (QUEUE_OPEN_SQL, "d.waiting_since, d.id"),
        QueueStatus::Pending | QueueStatus::Resolved | QueueStatus::All => {
            (QUEUE_ACTIVITY_SQL, "d.last_message_at DESC, d.id DESC")
        }
    };
    let (cursor_at, cursor_id) = match query.after {
        Some(QueueCursor::Waiting(at, id) | QueueCursor::Activity(at, id)) => (Some(at), id.get()),
        None => (None, 0),
    };
    let (assignee, unassigned) = match query.assignee {
        AssigneeFilter::Any => (None, false),
        AssigneeFilter::Nobody => (None, true),
        AssigneeFilter::Admin(admin) => (Some(admin.get()), false),
    };
    let status = match query.status {
        QueueStatus::Open | QueueStatus::All => None,
        QueueStatus::Pending => Some(SupportStatus::Pending.as_str()),
        QueueStatus::Resolved => Some(SupportStatus::Resolved.as_str()),
    };
    diesel::sql_query(format!("{prefix}{} {filter} {QUEUE_FILTERS} ORDER BY {order} LIMIT $6", support_view()))
        .into_boxed()
        .bind::<Nullable<Timestamptz>, _>(cursor_at)
        .bind::<BigInt, _>(cursor_id)
        .bind::<Nullable<Int4>, _>(assignee)
        .bind::<Bool, _>(unassigned)
        .bind::<Nullable<Int4>, _>(query.persona.map(PersonaId::get))
        .bind::<BigInt, _>(i64::from(query.limit) + 1)
        .bind::<Nullable<Text>, _>(status)
}
