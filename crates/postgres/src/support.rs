//! [`SupportRepository`] on `direct_messages` (support rows) and its joins.

use std::sync::LazyLock;

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
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};

use crate::error::OrRepoError;
use crate::messages::{LAST_MESSAGE_COLUMNS, LAST_MESSAGE_JOINS, LastMessageRow};
use crate::prepared::{Prepared, Shapes, literal_or_null, prepared};
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
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("{} WHERE d.id = $1 AND d.conversation_type = 'support'", support_view()));
        let rows = prepared(&SQL, |q| q.bind::<BigInt, _>(id.get())).load::<SupportRow>(self.conn()).or_repo()?;
        Ok(into_views(rows)?.pop())
    }

    fn support_queue(&mut self, query: &QueueQuery) -> Result<Vec<SupportConversation>, RepoError> {
        let rows = if planned_per_request(query) {
            QueueParameters::of(query)
                .bind(diesel::sql_query(queue_sql(query)).into_boxed())
                .load::<SupportRow>(self.conn())
        } else {
            queue_query(query).load::<SupportRow>(self.conn())
        };
        let rows = rows.or_repo()?;
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

/// Whether a queue page is planned per request rather than prepared: a status, an
/// assignee, a persona and a cursor, each estimated selective without its value, multiply
/// to "one row" in the generic plan, which then sorts a bitmap scan of the whole status
/// past the cursor; PostgreSQL picks that plan over the custom ones all the same (the
/// plans test shows both). The one shape of the 48 where the generic plan misjudges.
pub(crate) fn planned_per_request(query: &QueueQuery) -> bool {
    matches!(query.status, QueueStatus::Pending | QueueStatus::Resolved)
        && matches!(query.assignee, AssigneeFilter::Admin(_))
        && query.persona.is_some()
        && query.after.is_some()
}

/// A page of the queue, prepared: the statement of the page's shape ([`queue_sql`]) and
/// its binds, built together so that a numbered parameter can never receive another's
/// value.
pub(crate) fn queue_query(query: &QueueQuery) -> Prepared<BoxedSqlQuery<'static, Pg, SqlQuery>> {
    prepared(queue_sql(query), |q| QueueParameters::of(query).bind(q.into_boxed()))
}

/// The values of a queue page's parameters, bound whether the page's shape uses them or
/// not (a parameter the text does not name is typed by its bind and ignored).
pub(crate) struct QueueParameters {
    /// `$1`, `$2`: after this row.
    cursor: (Option<DateTime<Utc>>, i64),
    /// `$3`: only this admin's conversations.
    assignee: Option<i32>,
    /// `$4`: only this persona's.
    persona: Option<i32>,
    /// `$5`: rows to fetch (a page plus one).
    fetch: i64,
    /// `$6`: only this status.
    status: Option<&'static str>,
}

impl QueueParameters {
    /// Their types, for `PREPARE` (the plans test).
    pub(crate) const TYPES: &str = "timestamptz, bigint, int, int, bigint, text";

    pub(crate) fn of(query: &QueueQuery) -> Self {
        let cursor = match query.after {
            Some(QueueCursor::Waiting(at, id) | QueueCursor::Activity(at, id)) => (Some(at), id.get()),
            None => (None, 0),
        };
        let assignee = match query.assignee {
            AssigneeFilter::Admin(admin) => Some(admin.get()),
            AssigneeFilter::Any | AssigneeFilter::Nobody => None,
        };
        Self {
            cursor,
            assignee,
            persona: query.persona.map(PersonaId::get),
            fetch: i64::from(query.limit) + 1,
            status: queue_status(query.status).map(SupportStatus::as_str),
        }
    }

    pub(crate) fn bind(self, q: BoxedSqlQuery<'static, Pg, SqlQuery>) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        q.bind::<Nullable<Timestamptz>, _>(self.cursor.0)
            .bind::<BigInt, _>(self.cursor.1)
            .bind::<Nullable<Int4>, _>(self.assignee)
            .bind::<Nullable<Int4>, _>(self.persona)
            .bind::<BigInt, _>(self.fetch)
            .bind::<Nullable<Text>, _>(self.status)
    }

    /// The same values as SQL literals, for `EXECUTE` (which takes no bound parameters).
    pub(crate) fn literals(&self) -> String {
        format!(
            "{}, {}, {}, {}, {}, {}",
            literal_or_null(self.cursor.0.map(|at| format!("'{}'", at.to_rfc3339()))),
            self.cursor.1,
            literal_or_null(self.assignee.map(|id| id.to_string())),
            literal_or_null(self.persona.map(|id| id.to_string())),
            self.fetch,
            literal_or_null(self.status.map(|status| format!("'{status}'"))),
        )
    }
}

/// The one status a queue page filters on, if any (`open` has an order of its own).
const fn queue_status(status: QueueStatus) -> Option<SupportStatus> {
    match status {
        QueueStatus::Open | QueueStatus::All => None,
        QueueStatus::Pending => Some(SupportStatus::Pending),
        QueueStatus::Resolved => Some(SupportStatus::Resolved),
    }
}

/// The statement of a queue page, holding exactly the filters the page asks for
/// ([`Shapes`]). The open queue (users waiting, longest first) is served by
/// `direct_messages_support_waiting`; the others, by last activity, by
/// `direct_messages_support_status_activity` or `direct_messages_support_activity`.
pub(crate) fn queue_sql(query: &QueueQuery) -> &'static str {
    static TEXTS: Shapes<48> = Shapes::new();
    let open = query.status == QueueStatus::Open;
    let status = queue_status(query.status).is_some();
    let cursor = query.after.is_some();
    let persona = query.persona.is_some();
    let assignee = match query.assignee {
        AssigneeFilter::Any => 0,
        AssigneeFilter::Nobody => 1,
        AssigneeFilter::Admin(_) => 2,
    };
    let shape = usize::from(open)
        | usize::from(status) << 1
        | usize::from(cursor) << 2
        | usize::from(persona) << 3
        | assignee << 4;
    TEXTS.text(shape, || {
        let mut sql = support_view();
        sql.push_str(" WHERE d.conversation_type = 'support'");
        let order = if open {
            sql.push_str(" AND d.support_status = 'open' AND d.waiting_since IS NOT NULL");
            if cursor {
                sql.push_str(" AND (d.waiting_since, d.id) > ($1, $2)");
            }
            "d.waiting_since, d.id"
        } else {
            if status {
                sql.push_str(" AND d.support_status = $6");
            }
            if cursor {
                sql.push_str(" AND (d.last_message_at, d.id) < ($1, $2)");
            }
            "d.last_message_at DESC, d.id DESC"
        };
        match assignee {
            1 => sql.push_str(" AND d.assignee_admin_id IS NULL"),
            2 => sql.push_str(" AND d.assignee_admin_id = $3"),
            _ => {}
        }
        if persona {
            sql.push_str(" AND d.fake_user_id = $4");
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT $5"));
        sql
    })
}
