//! [`GroupMessageRepository`] on the existing app's groups and `chat_messages`, with
//! notices joined to `chat_notifications` and read marks in `chat_group_reads`.
//!
//! Every read applies one visibility condition ([`VISIBLE`]), so pages, previews and
//! unread counts never disagree about what a member can see.

use chat_domain::conversations::{HistoryQuery, MessageKind};
use chat_domain::group_messages::{
    GroupEntry, GroupInfo, GroupKind, GroupMessage, GroupMessageRepository, GroupReadState, GroupSender, GroupSummary,
    Notice, UNREAD_CAP,
};
use chat_domain::notifications::NotificationId;
use chat_domain::{GroupId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz};
use serde_json::Value;

use crate::error::OrRepoError;
use crate::notifications::style_from_json;
use crate::tx::PgTx;

/// What a member may see of `chat_messages m` (with `chat_notifications n` left-joined
/// on `m.notification_id`), `{reader}` being the member's id: active rows; notices only
/// while neither retracted nor expired; and nothing of another user's old support thread.
fn visible(reader: &str) -> String {
    format!(
        "m.is_active
         AND (m.notification_id IS NULL OR (n.retracted_at IS NULL AND (n.expires_at IS NULL OR n.expires_at > now())))
         AND (m.support_conversation_user_id IS NULL OR m.support_conversation_user_id = {reader})"
    )
}

/// Columns of a group message with its sender's name and its notice's metadata. Pair
/// with [`GROUP_MESSAGE_JOINS`].
const GROUP_MESSAGE_COLUMNS: &str = "m.id::bigint AS id, m.group_id, m.sender_id, m.sender_type::text AS sender_type,
    m.content, m.message_type::text AS message_type, m.created_at, m.notification_id, m.notification_style,
    n.template::text AS template, n.expires_at,
    CASE m.sender_type WHEN 'fake_user' THEN sp.name ELSE su.display_name::text END AS sender_name";

/// The joins [`GROUP_MESSAGE_COLUMNS`] and [`visible`] need.
const GROUP_MESSAGE_JOINS: &str = "LEFT JOIN chat_notifications n ON n.id = m.notification_id
    LEFT JOIN users su ON m.sender_type IN ('real_user', 'admin') AND su.id = m.sender_id
    LEFT JOIN chat_fake_users sp ON m.sender_type = 'fake_user' AND sp.id = m.sender_id";

#[derive(QueryableByName)]
struct GroupMessageRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Int4)]
    group_id: i32,
    #[diesel(sql_type = Nullable<Int4>)]
    sender_id: Option<i32>,
    #[diesel(sql_type = Text)]
    sender_type: String,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Text)]
    message_type: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<BigInt>)]
    notification_id: Option<i64>,
    #[diesel(sql_type = Jsonb)]
    notification_style: Value,
    #[diesel(sql_type = Nullable<Text>)]
    template: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    sender_name: Option<String>,
}

impl TryFrom<GroupMessageRow> for GroupMessage {
    type Error = RepoError;

    fn try_from(row: GroupMessageRow) -> Result<Self, RepoError> {
        let entry = match row.notification_id {
            Some(notification) => GroupEntry::Notice(Notice {
                notification: NotificationId(notification),
                style: style_from_json(row.template.as_deref(), &row.notification_style)?,
                expires_at: row.expires_at,
            }),
            None => GroupEntry::Message {
                sender: sender(&row.sender_type, row.sender_id, row.sender_name),
                // The existing app's table has no CHECK on the type: unknown ones read as text.
                kind: match MessageKind::from_db(&row.message_type) {
                    Some(MessageKind::Notification) | None => MessageKind::Text,
                    Some(kind) => kind,
                },
            },
        };
        Ok(Self {
            id: MessageId(row.id),
            group_id: GroupId(row.group_id),
            entry,
            content: row.content,
            created_at: row.created_at,
        })
    }
}

fn sender(sender_type: &str, id: Option<i32>, name: Option<String>) -> GroupSender {
    match (sender_type, id, name) {
        ("real_user", Some(id), Some(name)) => GroupSender::User { id: UserId(id), name },
        ("fake_user", Some(id), Some(name)) => GroupSender::Persona { id: PersonaId(id), name },
        ("admin", Some(id), Some(name)) => GroupSender::Admin { id: UserId(id), name },
        _ => GroupSender::Unknown,
    }
}

/// A group page, as `reader` may see it: the SQL and its binds ($1 group, $2 reader,
/// $3 cursor message id, $4 rows to fetch: a page plus one), built together so that a
/// numbered parameter can never receive another's value. Served by the `(group_id, id)`
/// index in either direction.
pub(crate) fn group_history_query(
    group: GroupId,
    reader: UserId,
    query: &HistoryQuery,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (bound, order, cursor) = match *query {
        HistoryQuery::Older { before, .. } => ("<", "DESC", before.map_or(i64::MAX, MessageId::get)),
        HistoryQuery::Newer { after, .. } => (">", "ASC", after.get()),
    };
    diesel::sql_query(format!(
        "SELECT {GROUP_MESSAGE_COLUMNS} FROM chat_messages m {GROUP_MESSAGE_JOINS}
         WHERE m.group_id = $1 AND m.id {bound} $3 AND {}
         ORDER BY m.id {order} LIMIT $4",
        visible("$2")
    ))
    .into_boxed()
    .bind::<Int4, _>(group.get())
    .bind::<Int4, _>(reader.get())
    .bind::<BigInt, _>(cursor)
    .bind::<BigInt, _>(i64::from(query.limit()) + 1)
}

#[derive(QueryableByName)]
struct GroupRow {
    #[diesel(sql_type = Int4)]
    g_id: i32,
    #[diesel(sql_type = Text)]
    g_name: String,
    #[diesel(sql_type = Text)]
    g_kind: String,
    #[diesel(sql_type = Nullable<Int4>)]
    g_owner: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    g_avatar: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    g_created_at: DateTime<Utc>,
}

impl TryFrom<GroupRow> for GroupInfo {
    type Error = RepoError;

    fn try_from(row: GroupRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: GroupId(row.g_id),
            name: row.g_name,
            kind: GroupKind::from_db(&row.g_kind)
                .ok_or_else(|| RepoError::internal(format!("group of kind {:?} was served", row.g_kind)))?,
            owner: row.g_owner.map(UserId),
            avatar_url: row.g_avatar,
            created_at: row.g_created_at,
        })
    }
}

/// Columns of a group, for [`GroupRow`].
const GROUP_COLUMNS: &str = "g.id AS g_id, g.name::text AS g_name, g.kind::text AS g_kind, g.owner_user_id AS g_owner,
    g.avatar_url AS g_avatar, g.created_at AS g_created_at";

/// The groups a member is served: active, not old support groups.
const SERVED_GROUP: &str = "g.is_active AND g.kind IN ('main', 'personal', 'other')";

/// Unread count of `{group}` for `{user}` after `{after}`, capped.
fn unread_sql(group: &str, user: &str, after: &str) -> String {
    format!(
        "(SELECT count(*) FROM (
            SELECT 1 FROM chat_messages m LEFT JOIN chat_notifications n ON n.id = m.notification_id
            WHERE m.group_id = {group} AND m.id > {after} AND {}
              AND NOT (m.sender_type IN ('real_user', 'admin') AND m.sender_id IS NOT DISTINCT FROM {user})
            LIMIT {UNREAD_CAP}) unread)",
        visible(user)
    )
}

/// Every group of a member with its newest visible message and read state ($1 user),
/// with its bind.
fn summaries_query(user: UserId) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let last = format!(
        "SELECT {GROUP_MESSAGE_COLUMNS} FROM chat_messages m {GROUP_MESSAGE_JOINS}
         WHERE m.group_id = g.id AND {}
         ORDER BY m.id DESC LIMIT 1",
        visible("$1")
    );
    diesel::sql_query(format!(
        "SELECT {GROUP_COLUMNS}, COALESCE(r.last_read_message_id, 0) AS last_read,
            {} AS unread,
            lm.id, lm.group_id, lm.sender_id, lm.sender_type, lm.content, lm.message_type, lm.created_at,
            lm.notification_id, lm.notification_style, lm.template, lm.expires_at, lm.sender_name
         FROM chat_group_members gm
         JOIN chat_groups g ON g.id = gm.group_id
         LEFT JOIN chat_group_reads r ON r.group_id = g.id AND r.user_id = gm.user_id
         LEFT JOIN LATERAL ({last}) lm ON TRUE
         WHERE gm.user_id = $1 AND {SERVED_GROUP}
         ORDER BY COALESCE(lm.created_at, g.created_at) DESC, g.id DESC",
        unread_sql("g.id", "$1", "COALESCE(r.last_read_message_id, 0)")
    ))
    .into_boxed()
    .bind::<Int4, _>(user.get())
}

#[derive(QueryableByName)]
struct SummaryRow {
    #[diesel(embed)]
    group: GroupRow,
    #[diesel(sql_type = BigInt)]
    last_read: i64,
    #[diesel(sql_type = BigInt)]
    unread: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<Int4>)]
    group_id: Option<i32>,
    #[diesel(sql_type = Nullable<Int4>)]
    sender_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    sender_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    message_type: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    notification_id: Option<i64>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    notification_style: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    template: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    sender_name: Option<String>,
}

impl TryFrom<SummaryRow> for GroupSummary {
    type Error = RepoError;

    fn try_from(row: SummaryRow) -> Result<Self, RepoError> {
        let last_message = match (row.id, row.group_id, row.sender_type, row.content, row.message_type, row.created_at)
        {
            (Some(id), Some(group_id), Some(sender_type), Some(content), Some(message_type), Some(created_at)) => {
                Some(GroupMessage::try_from(GroupMessageRow {
                    id,
                    group_id,
                    sender_id: row.sender_id,
                    sender_type,
                    content,
                    message_type,
                    created_at,
                    notification_id: row.notification_id,
                    notification_style: row.notification_style.unwrap_or(Value::Null),
                    template: row.template,
                    expires_at: row.expires_at,
                    sender_name: row.sender_name,
                })?)
            }
            _ => None,
        };
        Ok(Self {
            group: GroupInfo::try_from(row.group)?,
            last_message,
            read: GroupReadState { last_read: MessageId(row.last_read), unread: row.unread },
        })
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl GroupMessageRepository for PgTx<'_> {
    fn member_group(&mut self, group: GroupId, user: UserId) -> Result<Option<GroupInfo>, RepoError> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM chat_groups g
             JOIN chat_group_members gm ON gm.group_id = g.id AND gm.user_id = $2
             WHERE g.id = $1 AND {SERVED_GROUP}"
        );
        diesel::sql_query(sql)
            .bind::<Int4, _>(group.get())
            .bind::<Int4, _>(user.get())
            .get_result::<GroupRow>(self.conn())
            .optional()
            .or_repo()?
            .map(GroupInfo::try_from)
            .transpose()
    }

    fn message_in_group(&mut self, group: GroupId, message: MessageId) -> Result<bool, RepoError> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = Bool)]
            found: bool,
        }
        // Ids beyond the INTEGER column's range name no message.
        let Ok(message) = i32::try_from(message.get()) else {
            return Ok(false);
        };
        Ok(diesel::sql_query("SELECT EXISTS (SELECT 1 FROM chat_messages WHERE id = $2 AND group_id = $1) AS found")
            .bind::<Int4, _>(group.get())
            .bind::<Int4, _>(message)
            .get_result::<Found>(self.conn())
            .or_repo()?
            .found)
    }

    fn list_group_messages(
        &mut self,
        group: GroupId,
        reader: UserId,
        query: &HistoryQuery,
    ) -> Result<Vec<GroupMessage>, RepoError> {
        group_history_query(group, reader, query)
            .load::<GroupMessageRow>(self.conn())
            .or_repo()?
            .into_iter()
            .map(GroupMessage::try_from)
            .collect()
    }

    fn group_last_read(&mut self, group: GroupId, user: UserId) -> Result<MessageId, RepoError> {
        Ok(MessageId(
            diesel::sql_query(
                "SELECT COALESCE(max(last_read_message_id), 0) AS n FROM chat_group_reads
                 WHERE group_id = $1 AND user_id = $2",
            )
            .bind::<Int4, _>(group.get())
            .bind::<Int4, _>(user.get())
            .get_result::<Count>(self.conn())
            .or_repo()?
            .n,
        ))
    }

    fn save_group_read(&mut self, group: GroupId, user: UserId, upto: MessageId) -> Result<(), RepoError> {
        diesel::sql_query(
            "INSERT INTO chat_group_reads (group_id, user_id, last_read_message_id) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, user_id) DO UPDATE
             SET last_read_message_id = GREATEST(chat_group_reads.last_read_message_id, EXCLUDED.last_read_message_id),
                 updated_at = now()",
        )
        .bind::<Int4, _>(group.get())
        .bind::<Int4, _>(user.get())
        .bind::<BigInt, _>(upto.get())
        .execute(self.conn())
        .or_repo()
        .map(drop)
    }

    fn count_group_unread(&mut self, group: GroupId, user: UserId, after: MessageId) -> Result<i64, RepoError> {
        let sql = format!("SELECT {} AS n", unread_sql("$1", "$2", "$3"));
        Ok(diesel::sql_query(sql)
            .bind::<Int4, _>(group.get())
            .bind::<Int4, _>(user.get())
            .bind::<BigInt, _>(after.get())
            .get_result::<Count>(self.conn())
            .or_repo()?
            .n)
    }

    fn group_summaries(&mut self, user: UserId) -> Result<Vec<GroupSummary>, RepoError> {
        summaries_query(user)
            .load::<SummaryRow>(self.conn())
            .or_repo()?
            .into_iter()
            .map(GroupSummary::try_from)
            .collect()
    }
}
