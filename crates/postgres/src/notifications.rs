//! [`NotificationRepository`] on `chat_notifications`, personal `chat_groups` and
//! `chat_messages`.
//!
//! Delivery is set-based whatever the audience: one statement creates every missing
//! personal group, one adds the owners' memberships, one stores every recipient's
//! notice and records the reach. Statements insert in ascending user/group order, so
//! two concurrent broadcasts wait on each other's unique-index entries in the same
//! order instead of deadlocking.

use chat_domain::conversations::UserSummary;
use chat_domain::notifications::{
    Audience, AudienceKind, Colours, HexColour, NewNotification, NotificationId, NotificationQuery, NotificationRecord,
    NotificationRepository, NotificationStyle, Template,
};
use chat_domain::{RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::OrRepoError;
use crate::tx::PgTx;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The stored form of a style's colours (`chat_is_notification_style` checks it).
pub(crate) fn style_json(colours: &Colours) -> Value {
    json!({
        "backgroundColor": colours.background.as_str(),
        "textColor": colours.text.as_str(),
        "borderColor": colours.border.as_str(),
    })
}

/// Reads a stored style back; the database's CHECK makes a failure a broken invariant.
pub(crate) fn style_from_json(template: Option<&str>, style: &Value) -> Result<NotificationStyle, RepoError> {
    let colour = |key: &str| {
        style
            .get(key)
            .and_then(Value::as_str)
            .and_then(|raw| HexColour::parse(raw).ok())
            .ok_or_else(|| RepoError::internal(format!("stored notification style has no valid {key}")))
    };
    let colours =
        Colours { background: colour("backgroundColor")?, text: colour("textColor")?, border: colour("borderColor")? };
    let template = match template {
        None => None,
        Some(raw) => {
            Some(Template::from_db(raw).ok_or_else(|| RepoError::internal(format!("unknown template {raw:?}")))?)
        }
    };
    Ok(NotificationStyle { template, colours })
}

/// Which users' personal groups an audience covers, as a condition on `{owner}`
/// (`$1` = the named user ids, bound as an array; unused for everyone).
fn owner_filter(audience: &Audience, owner: &str) -> String {
    match audience {
        Audience::AllUsers => format!("{owner} IS NOT NULL"),
        Audience::User(_) | Audience::Users(_) => format!("{owner} = ANY($1)"),
    }
}

fn named_ids(audience: &Audience) -> Vec<i32> {
    audience.named_users().unwrap_or_default().iter().map(|u| u.get()).collect()
}

/// Creates the missing personal groups of an audience ($1 user ids), with its bind.
fn create_groups_query(audience: &Audience) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let users = match audience {
        Audience::AllUsers => "SELECT u.id FROM users u".to_owned(),
        Audience::User(_) | Audience::Users(_) => "SELECT u.id FROM users u WHERE u.id = ANY($1)".to_owned(),
    };
    diesel::sql_query(format!(
        "WITH created AS (
            INSERT INTO chat_groups (name, kind, owner_user_id)
            SELECT 'Personal', 'personal', a.id FROM ({users}) a
            WHERE NOT EXISTS (SELECT 1 FROM chat_groups g WHERE g.kind = 'personal' AND g.owner_user_id = a.id)
            ORDER BY a.id
            ON CONFLICT (owner_user_id) WHERE kind = 'personal' DO NOTHING
            RETURNING 1)
         SELECT count(*) AS n FROM created"
    ))
    .into_boxed()
    .bind::<Array<Int4>, _>(named_ids(audience))
}

/// Adds each personal group's owner as its member where missing ($1 user ids), with its
/// bind.
fn add_owners_query(audience: &Audience) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(format!(
        "INSERT INTO chat_group_members (group_id, user_id)
         SELECT g.id, g.owner_user_id FROM chat_groups g
         WHERE g.kind = 'personal' AND {}
           AND NOT EXISTS (SELECT 1 FROM chat_group_members m WHERE m.group_id = g.id AND m.user_id = g.owner_user_id)
         ORDER BY g.id
         ON CONFLICT DO NOTHING",
        owner_filter(audience, "g.owner_user_id")
    ))
    .into_boxed()
    .bind::<Array<Int4>, _>(named_ids(audience))
}

/// Stores one notice per active personal group of the audience and records the reach
/// ($1 user ids, $2 notification, $3 content, $4 style), with its binds.
fn deliver_query(
    id: NotificationId,
    audience: &Audience,
    new: &NewNotification,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(format!(
        "WITH delivered AS (
            INSERT INTO chat_messages (group_id, sender_id, sender_type, content, message_type,
                                       is_notification, notification_style, notification_id)
            SELECT g.id, NULL, 'admin', $3, 'notification', TRUE, $4, $2
            FROM chat_groups g
            WHERE g.kind = 'personal' AND g.is_active AND {}
            ORDER BY g.id
            RETURNING 1)
         UPDATE chat_notifications SET recipient_count = (SELECT count(*) FROM delivered)
         WHERE id = $2
         RETURNING recipient_count::bigint AS n",
        owner_filter(audience, "g.owner_user_id")
    ))
    .into_boxed()
    .bind::<Array<Int4>, _>(named_ids(audience))
    .bind::<BigInt, _>(id.get())
    .bind::<Text, _>(new.content.as_str().to_owned())
    .bind::<Jsonb, _>(style_json(&new.style.colours))
}

#[derive(QueryableByName)]
struct RecordRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    audience: String,
    #[diesel(sql_type = Nullable<Int4>)]
    target_user_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    target_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    target_photo: Option<String>,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Nullable<Text>)]
    template: Option<String>,
    #[diesel(sql_type = Jsonb)]
    style: Value,
    #[diesel(sql_type = Int4)]
    created_by_admin_id: i32,
    #[diesel(sql_type = Text)]
    admin_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    admin_photo: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    retracted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Int4)]
    recipient_count: i32,
    #[diesel(sql_type = BigInt)]
    read_count: i64,
}

impl TryFrom<RecordRow> for NotificationRecord {
    type Error = RepoError;

    fn try_from(row: RecordRow) -> Result<Self, RepoError> {
        Ok(Self {
            id: NotificationId(row.id),
            audience: AudienceKind::from_db(&row.audience)
                .ok_or_else(|| RepoError::internal(format!("unknown audience {:?}", row.audience)))?,
            target_user: match (row.target_user_id, row.target_name) {
                (Some(id), Some(display_name)) => {
                    Some(UserSummary { id: UserId(id), display_name, profile_photo_url: row.target_photo })
                }
                _ => None,
            },
            content: row.content,
            style: style_from_json(row.template.as_deref(), &row.style)?,
            sent_by: UserSummary {
                id: UserId(row.created_by_admin_id),
                display_name: row.admin_name,
                profile_photo_url: row.admin_photo,
            },
            created_at: row.created_at,
            expires_at: row.expires_at,
            retracted_at: row.retracted_at,
            reach: i64::from(row.recipient_count),
            read_count: row.read_count,
        })
    }
}

/// The admin history ($1 before, $2 recipient filter, $3 rows to fetch), bound only by
/// [`history_query`]. Reads count, per notice, the recipients whose read mark in their
/// personal group is at or past it.
const HISTORY_SQL: &str = "SELECT n.id, n.audience, n.target_user_id, t.display_name AS target_name,
        t.profile_photo_url AS target_photo, n.content, n.template, n.style, n.created_by_admin_id,
        a.display_name AS admin_name, a.profile_photo_url AS admin_photo, n.created_at, n.expires_at,
        n.retracted_at, n.recipient_count,
        (SELECT count(*) FROM chat_messages m
           JOIN chat_groups g ON g.id = m.group_id
           JOIN chat_group_reads r ON r.group_id = m.group_id AND r.user_id = g.owner_user_id
          WHERE m.notification_id = n.id AND r.last_read_message_id >= m.id) AS read_count
    FROM chat_notifications n
    JOIN users a ON a.id = n.created_by_admin_id
    LEFT JOIN users t ON t.id = n.target_user_id
    WHERE ($1::bigint IS NULL OR n.id < $1)
      AND ($2::int IS NULL OR n.id IN (
            SELECT m.notification_id FROM chat_groups g
            JOIN chat_messages m ON m.group_id = g.id
            WHERE g.kind = 'personal' AND g.owner_user_id = $2 AND m.notification_id IS NOT NULL))
    ORDER BY n.id DESC
    LIMIT $3";

/// A page of the admin history: [`HISTORY_SQL`] and its binds, built together so that a
/// numbered parameter can never receive another's value.
fn history_query(query: &NotificationQuery) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(HISTORY_SQL)
        .into_boxed()
        .bind::<Nullable<BigInt>, _>(query.before.map(NotificationId::get))
        .bind::<Nullable<Int4>, _>(query.user.map(UserId::get))
        .bind::<BigInt, _>(i64::from(query.limit) + 1)
}

impl NotificationRepository for PgTx<'_> {
    fn find_by_client_id(&mut self, key: Uuid) -> Result<Option<(NotificationId, i64)>, RepoError> {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let found = diesel::sql_query(
            "SELECT id, recipient_count::bigint AS n FROM chat_notifications WHERE client_notification_id = $1",
        )
        .bind::<SqlUuid, _>(key)
        .get_result::<Found>(self.conn())
        .optional()
        .or_repo()?;
        Ok(found.map(|f| (NotificationId(f.id), f.n)))
    }

    fn missing_users(&mut self, users: &[UserId]) -> Result<Vec<UserId>, RepoError> {
        #[derive(QueryableByName)]
        struct Missing {
            #[diesel(sql_type = Int4)]
            id: i32,
        }
        let ids: Vec<i32> = users.iter().map(|u| u.get()).collect();
        let rows = diesel::sql_query(
            "SELECT t.id FROM unnest($1::int[]) AS t(id)
             WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.id) ORDER BY t.id",
        )
        .bind::<Array<Int4>, _>(&ids)
        .load::<Missing>(self.conn())
        .or_repo()?;
        Ok(rows.into_iter().map(|r| UserId(r.id)).collect())
    }

    fn insert_notification(
        &mut self,
        admin: UserId,
        new: &NewNotification,
    ) -> Result<Option<NotificationId>, RepoError> {
        let target = match new.audience {
            Audience::User(user) => Some(user.get()),
            Audience::Users(_) | Audience::AllUsers => None,
        };
        // A concurrent send with the same key makes this wait for it, then do nothing.
        let row = diesel::sql_query(
            "INSERT INTO chat_notifications
                (created_by_admin_id, audience, target_user_id, content, template, style, expires_at,
                 client_notification_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (client_notification_id) DO NOTHING
             RETURNING id",
        )
        .bind::<Int4, _>(admin.get())
        .bind::<Text, _>(new.audience.kind().as_str())
        .bind::<Nullable<Int4>, _>(target)
        .bind::<Text, _>(new.content.as_str())
        .bind::<Nullable<Text>, _>(new.style.template.map(Template::as_str))
        .bind::<Jsonb, _>(style_json(&new.style.colours))
        .bind::<Nullable<Timestamptz>, _>(new.expires_at)
        .bind::<Nullable<SqlUuid>, _>(new.client_id)
        .get_result::<Id>(self.conn())
        .optional()
        .or_repo()?;
        Ok(row.map(|r| NotificationId(r.id)))
    }

    fn ensure_personal_groups(&mut self, audience: &Audience) -> Result<i64, RepoError> {
        let created = create_groups_query(audience).get_result::<Count>(self.conn()).or_repo()?.n;
        add_owners_query(audience).execute(self.conn()).or_repo()?;
        Ok(created)
    }

    fn deliver(&mut self, id: NotificationId, audience: &Audience, new: &NewNotification) -> Result<i64, RepoError> {
        Ok(deliver_query(id, audience, new).get_result::<Count>(self.conn()).or_repo()?.n)
    }

    fn list_notifications(&mut self, query: &NotificationQuery) -> Result<Vec<NotificationRecord>, RepoError> {
        let rows = history_query(query).load::<RecordRow>(self.conn()).or_repo()?;
        rows.into_iter().map(NotificationRecord::try_from).collect()
    }

    fn retract(&mut self, id: NotificationId, admin: UserId) -> Result<Option<bool>, RepoError> {
        let retracted = diesel::sql_query(
            "UPDATE chat_notifications SET retracted_at = now(), retracted_by_admin_id = $2
             WHERE id = $1 AND retracted_at IS NULL RETURNING id",
        )
        .bind::<BigInt, _>(id.get())
        .bind::<Int4, _>(admin.get())
        .get_result::<Id>(self.conn())
        .optional()
        .or_repo()?;
        if retracted.is_some() {
            return Ok(Some(true));
        }
        let exists = diesel::sql_query("SELECT id FROM chat_notifications WHERE id = $1")
            .bind::<BigInt, _>(id.get())
            .get_result::<Id>(self.conn())
            .optional()
            .or_repo()?;
        Ok(exists.map(|_| false))
    }

    fn recipients(&mut self, id: NotificationId) -> Result<Option<Vec<UserId>>, RepoError> {
        #[derive(QueryableByName)]
        struct Owner {
            #[diesel(sql_type = Int4)]
            owner: i32,
        }
        let to_all = diesel::sql_query("SELECT id FROM chat_notifications WHERE id = $1 AND audience = 'all'")
            .bind::<BigInt, _>(id.get())
            .get_result::<Id>(self.conn())
            .optional()
            .or_repo()?;
        if to_all.is_some() {
            return Ok(None);
        }
        let owners = diesel::sql_query(
            "SELECT g.owner_user_id AS owner FROM chat_messages m JOIN chat_groups g ON g.id = m.group_id
             WHERE m.notification_id = $1 AND g.owner_user_id IS NOT NULL",
        )
        .bind::<BigInt, _>(id.get())
        .load::<Owner>(self.conn())
        .or_repo()?;
        Ok(Some(owners.into_iter().map(|o| UserId(o.owner)).collect()))
    }
}
