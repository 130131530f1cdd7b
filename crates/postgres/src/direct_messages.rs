//! [`DirectMessageRepository`] on `direct_messages` (DM rows), blocks and the access log.

use std::sync::LazyLock;

use chat_domain::conversations::{PersonaSummary, Side, SideState, UserSummary};
use chat_domain::direct_messages::{
    AccessLogEntry, AccessLogQuery, AdminDmQuery, BlockedUser, DirectMessageRepository, DmKind, DmListQuery, DmParty,
    DmProspect, DmSummary, DmTarget, Reach,
};
use chat_domain::{ConversationId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::dsl::exists;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text, Timestamptz};

use crate::error::OrRepoError;
use crate::messages::{LAST_MESSAGE_COLUMNS, LAST_MESSAGE_JOINS, LastMessageRow};
use crate::prepared::{Prepared, Shapes, literal_or_null, prepared};
use crate::schema::{chat_fake_users, chat_user_blocks, users};
use crate::tx::PgTx;

/// Namespace of the per-user advisory lock serializing DM starts.
const DM_START_LOCK: i32 = 0x646d;

/// A DM with both sides, read state and last message.
fn dm_view() -> String {
    // Names by subquery, not by join: a join of every one of them would make the
    // planner's search for these per-request statements the larger part of the read
    // (see LAST_MESSAGE_JOINS).
    format!(
        "SELECT d.id, d.user1_id,
            (SELECT u1.display_name FROM users u1 WHERE u1.id = d.user1_id) AS user1_name,
            (SELECT u1.profile_photo_url FROM users u1 WHERE u1.id = d.user1_id) AS user1_photo,
            d.user2_id,
            (SELECT u2.display_name FROM users u2 WHERE u2.id = d.user2_id) AS user2_name,
            (SELECT u2.profile_photo_url FROM users u2 WHERE u2.id = d.user2_id) AS user2_photo,
            d.fake_user_id,
            (SELECT p.name FROM chat_fake_users p WHERE p.id = d.fake_user_id) AS persona_name,
            (SELECT p.avatar_url FROM chat_fake_users p WHERE p.id = d.fake_user_id) AS persona_avatar,
            d.user1_last_read_id, d.user1_unread, d.user2_last_read_id, d.user2_unread,
            (d.user1_archived_at IS NOT NULL) AS archived_one, (d.user2_archived_at IS NOT NULL) AS archived_two,
            d.last_message_at, d.created_at, {LAST_MESSAGE_COLUMNS}
         FROM direct_messages d
         {LAST_MESSAGE_JOINS}"
    )
}

#[derive(QueryableByName)]
struct DmRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Int4)]
    user1_id: i32,
    #[diesel(sql_type = Text)]
    user1_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user1_photo: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    user2_id: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    user2_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user2_photo: Option<String>,
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
    #[diesel(sql_type = Bool)]
    archived_one: bool,
    #[diesel(sql_type = Bool)]
    archived_two: bool,
    #[diesel(sql_type = Timestamptz)]
    last_message_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(embed)]
    last: LastMessageRow,
}

impl TryFrom<DmRow> for DmSummary {
    type Error = RepoError;

    fn try_from(row: DmRow) -> Result<Self, RepoError> {
        let id = ConversationId(row.id);
        let other = match (row.user2_id, row.user2_name, row.fake_user_id, row.persona_name) {
            (Some(uid), Some(display_name), _, _) => {
                DmParty::User(UserSummary { id: UserId(uid), display_name, profile_photo_url: row.user2_photo })
            }
            (None, _, Some(pid), Some(name)) => {
                DmParty::Persona(PersonaSummary { id: PersonaId(pid), name, avatar_url: row.persona_avatar })
            }
            _ => return Err(RepoError::internal(format!("DM {} has no second side", row.id))),
        };
        Ok(Self {
            id,
            user_one: UserSummary {
                id: UserId(row.user1_id),
                display_name: row.user1_name,
                profile_photo_url: row.user1_photo,
            },
            other,
            side_one: SideState { last_read: MessageId(row.user1_last_read_id), unread: row.user1_unread },
            side_two: SideState { last_read: MessageId(row.user2_last_read_id), unread: row.user2_unread },
            archived_one: row.archived_one,
            archived_two: row.archived_two,
            last_message: row.last.into_message(id)?,
            last_message_at: row.last_message_at,
            created_at: row.created_at,
        })
    }
}

fn into_summaries(rows: Vec<DmRow>) -> Result<Vec<DmSummary>, RepoError> {
    rows.into_iter().map(DmSummary::try_from).collect()
}

/// One user's DMs, as the union of the two sides, each served by its
/// `(userN_id, last_message_at DESC, id DESC)` index; `extra(side)` filters a branch.
fn user_dms_sql(extra: impl Fn(u8) -> String) -> String {
    let view = dm_view();
    let branch = |side: u8| {
        format!(
            "({view} WHERE d.conversation_type = 'user_dm' AND d.user{side}_id = $1 {}
              ORDER BY d.last_message_at DESC, d.id DESC LIMIT $7)",
            extra(side)
        )
    };
    format!("SELECT * FROM ({} UNION ALL {}) x ORDER BY last_message_at DESC, id DESC LIMIT $7", branch(1), branch(2))
}

#[derive(QueryableByName)]
struct Id64 {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The `user2_type` of a DM kind.
const fn user2_type(kind: DmKind) -> &'static str {
    match kind {
        DmKind::UserDm => "real_user",
        DmKind::PersonaDm => "fake_user",
    }
}

fn cursor_parts(cursor: Option<chat_domain::direct_messages::DmCursor>) -> (Option<DateTime<Utc>>, i64) {
    cursor.map_or((None, 0), |c| (Some(c.0), c.1.get()))
}

impl DirectMessageRepository for PgTx<'_> {
    fn lock_dm_starts(&mut self, user: UserId) -> Result<(), RepoError> {
        // This lock serializes one user's DM starts by design: a burst of them queues
        // here for longer than the pool's `lock_timeout` (meant for stuck row locks), so
        // only `statement_timeout` bounds this wait (for this transaction only).
        diesel::sql_query("SET LOCAL lock_timeout = 0").execute(self.conn()).or_repo()?;
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind::<Int4, _>(DM_START_LOCK)
            .bind::<Int4, _>(user.get())
            .execute(self.conn())
            .or_repo()
            .map(drop)
    }

    fn count_active_dms(&mut self, user: UserId) -> Result<i64, RepoError> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        Ok(diesel::sql_query(
            "SELECT (SELECT count(*) FROM direct_messages
                     WHERE conversation_type = 'user_dm' AND user1_id = $1 AND user1_archived_at IS NULL)
                  + (SELECT count(*) FROM direct_messages
                     WHERE conversation_type = 'user_dm' AND user2_id = $1 AND user2_archived_at IS NULL) AS n",
        )
        .bind::<Int4, _>(user.get())
        .get_result::<N>(self.conn())
        .or_repo()?
        .n)
    }

    fn share_a_group(&mut self, a: UserId, b: UserId) -> Result<bool, RepoError> {
        #[derive(QueryableByName)]
        struct Shared {
            #[diesel(sql_type = Bool)]
            shared: bool,
        }
        Ok(diesel::sql_query(
            "SELECT EXISTS (
                SELECT 1 FROM chat_group_members ma
                JOIN chat_group_members mb ON mb.group_id = ma.group_id AND mb.user_id = $2
                JOIN chat_groups g ON g.id = ma.group_id AND g.is_active AND g.kind IN ('main', 'other')
                WHERE ma.user_id = $1) AS shared",
        )
        .bind::<Int4, _>(a.get())
        .bind::<Int4, _>(b.get())
        .get_result::<Shared>(self.conn())
        .or_repo()?
        .shared)
    }

    fn is_blocked(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError> {
        diesel::select(exists(chat_user_blocks::table.find((blocker.get(), blocked.get()))))
            .get_result(self.conn())
            .or_repo()
    }

    fn dm_prospects(&mut self, user: UserId, others: &[UserId]) -> Result<Vec<DmProspect>, RepoError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Int4)]
            other: i32,
            #[diesel(sql_type = Bool)]
            known: bool,
            #[diesel(sql_type = Bool)]
            you_blocked: bool,
            #[diesel(sql_type = Bool)]
            they_blocked: bool,
            #[diesel(sql_type = Bool)]
            share_group: bool,
            #[diesel(sql_type = Nullable<Bool>)]
            archived: Option<bool>,
            #[diesel(sql_type = BigInt)]
            active: i64,
        }
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let others: Vec<i32> = others.iter().map(|u| u.get()).collect();
        // Each column is the query of the single-target method it stands for
        // (`user_is_known`, `is_blocked`, `share_a_group`, `find_dm`, `count_active_dms`),
        // per member, each from its own index.
        let rows = diesel::sql_query(
            "SELECT o.id AS other,
                    EXISTS (SELECT 1 FROM users u WHERE u.id = o.id) AS known,
                    EXISTS (SELECT 1 FROM chat_user_blocks WHERE blocker_id = $1 AND blocked_id = o.id) AS you_blocked,
                    EXISTS (SELECT 1 FROM chat_user_blocks WHERE blocker_id = o.id AND blocked_id = $1) AS they_blocked,
                    EXISTS (SELECT 1 FROM chat_group_members ma
                            JOIN chat_group_members mb ON mb.group_id = ma.group_id AND mb.user_id = o.id
                            JOIN chat_groups g ON g.id = ma.group_id AND g.is_active AND g.kind IN ('main', 'other')
                            WHERE ma.user_id = $1) AS share_group,
                    CASE WHEN d.id IS NULL THEN NULL
                         WHEN d.user1_id = $1 THEN d.user1_archived_at IS NOT NULL
                         ELSE d.user2_archived_at IS NOT NULL END AS archived,
                    (SELECT count(*) FROM direct_messages
                     WHERE conversation_type = 'user_dm' AND user1_id = o.id AND user1_archived_at IS NULL)
                  + (SELECT count(*) FROM direct_messages
                     WHERE conversation_type = 'user_dm' AND user2_id = o.id AND user2_archived_at IS NULL) AS active
             FROM unnest($2::int[]) AS o(id)
             LEFT JOIN direct_messages d ON d.user2_type = 'real_user'
                  AND d.user1_id = LEAST($1, o.id) AND d.user2_id = GREATEST($1, o.id)",
        )
        .bind::<Int4, _>(user.get())
        .bind::<Array<Int4>, _>(others)
        .load::<Row>(self.conn())
        .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|r| DmProspect {
                user: UserId(r.other),
                reach: Reach {
                    is_self: false,
                    known: r.known,
                    you_blocked: r.you_blocked,
                    they_blocked: r.they_blocked,
                    share_group: r.share_group,
                },
                existing: r.archived,
                active: r.active,
            })
            .collect())
    }

    fn user_is_known(&mut self, user: UserId) -> Result<bool, RepoError> {
        diesel::select(exists(users::table.find(user.get()))).get_result(self.conn()).or_repo()
    }

    fn persona_dm_enabled(&mut self, persona: PersonaId) -> Result<Option<bool>, RepoError> {
        chat_fake_users::table
            .filter(chat_fake_users::id.eq(persona.get()).and(chat_fake_users::is_active))
            .select(chat_fake_users::dm_enabled)
            .first(self.conn())
            .optional()
            .or_repo()
    }

    fn find_dm(&mut self, user: UserId, other: DmTarget) -> Result<Option<ConversationId>, RepoError> {
        let (sql, first, second) = match other {
            DmTarget::User(other) => (
                "SELECT id FROM direct_messages WHERE user2_type = 'real_user' AND user1_id = $1 AND user2_id = $2",
                user.get().min(other.get()),
                user.get().max(other.get()),
            ),
            DmTarget::Persona(persona) => (
                "SELECT id FROM direct_messages WHERE user2_type = 'fake_user' AND user1_id = $1 AND fake_user_id = $2",
                user.get(),
                persona.get(),
            ),
        };
        Ok(diesel::sql_query(sql)
            .bind::<Int4, _>(first)
            .bind::<Int4, _>(second)
            .get_result::<Id64>(self.conn())
            .optional()
            .or_repo()?
            .map(|row| ConversationId(row.id)))
    }

    fn create_dm(&mut self, user: UserId, other: DmTarget) -> Result<(ConversationId, bool), RepoError> {
        let (sql, first, second) = match other {
            DmTarget::User(other) => (
                "INSERT INTO direct_messages (conversation_type, user1_id, user2_id, user2_type)
                 VALUES ('user_dm', $1, $2, 'real_user')
                 ON CONFLICT (user1_id, user2_id) WHERE user2_type = 'real_user' DO NOTHING RETURNING id",
                user.get().min(other.get()),
                user.get().max(other.get()),
            ),
            DmTarget::Persona(persona) => (
                "INSERT INTO direct_messages (conversation_type, user1_id, fake_user_id, user2_type)
                 VALUES ('user_dm', $1, $2, 'fake_user')
                 ON CONFLICT (user1_id, fake_user_id) WHERE user2_type = 'fake_user' DO NOTHING RETURNING id",
                user.get(),
                persona.get(),
            ),
        };
        let created = diesel::sql_query(sql)
            .bind::<Int4, _>(first)
            .bind::<Int4, _>(second)
            .get_result::<Id64>(self.conn())
            .optional()
            .or_repo()?;
        match created {
            Some(row) => Ok((ConversationId(row.id), true)),
            None => self
                .find_dm(user, other)?
                .map(|id| (id, false))
                .ok_or_else(|| RepoError::internal("DM neither created nor found")),
        }
    }

    fn dm_summary(&mut self, id: ConversationId) -> Result<Option<DmSummary>, RepoError> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("{} WHERE d.id = $1 AND d.conversation_type = 'user_dm'", dm_view()));
        let rows = prepared(&SQL, |q| q.bind::<BigInt, _>(id.get())).load::<DmRow>(self.conn()).or_repo()?;
        Ok(into_summaries(rows)?.pop())
    }

    fn list_user_dms(&mut self, user: UserId, query: &DmListQuery) -> Result<Vec<DmSummary>, RepoError> {
        let rows = dm_list_query(&DmListFilter::of_user(user, query)).load::<DmRow>(self.conn()).or_repo()?;
        into_summaries(rows)
    }

    fn total_dm_unread(&mut self, user: UserId) -> Result<i64, RepoError> {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        Ok(prepared(
            "SELECT (SELECT COALESCE(sum(user1_unread), 0) FROM direct_messages
                     WHERE conversation_type = 'user_dm' AND user1_id = $1 AND user1_archived_at IS NULL)
                  + (SELECT COALESCE(sum(user2_unread), 0) FROM direct_messages
                     WHERE conversation_type = 'user_dm' AND user2_id = $1 AND user2_archived_at IS NULL) AS n",
            |q| q.bind::<Int4, _>(user.get()),
        )
        .get_result::<N>(self.conn())
        .or_repo()?
        .n)
    }

    fn list_all_dms(&mut self, query: &AdminDmQuery) -> Result<Vec<DmSummary>, RepoError> {
        let rows = dm_list_query(&DmListFilter::of_admin(query)).load::<DmRow>(self.conn()).or_repo()?;
        into_summaries(rows)
    }

    fn archive_idle_dms(&mut self, idle_before: DateTime<Utc>, limit: i64) -> Result<Vec<ConversationId>, RepoError> {
        // A side is due when it is active and was not brought back since the cutoff.
        let due = |side: u8| {
            format!(
                "(user{side}_archived_at IS NULL AND (user{side}_unarchived_at IS NULL OR user{side}_unarchived_at < $1))"
            )
        };
        let sql = format!(
            "UPDATE direct_messages
             SET user1_archived_at = CASE WHEN {one} THEN now() ELSE user1_archived_at END,
                 user2_archived_at = CASE WHEN {two} THEN now() ELSE user2_archived_at END,
                 updated_at = now()
             WHERE id IN (
                SELECT id FROM direct_messages
                WHERE conversation_type = 'user_dm' AND last_message_at < $1 AND ({one} OR {two})
                ORDER BY last_message_at LIMIT $2
                FOR UPDATE SKIP LOCKED)
             RETURNING id",
            one = due(1),
            two = due(2),
        );
        let rows = diesel::sql_query(sql)
            .bind::<Timestamptz, _>(idle_before)
            .bind::<BigInt, _>(limit)
            .load::<Id64>(self.conn())
            .or_repo()?;
        Ok(rows.into_iter().map(|r| ConversationId(r.id)).collect())
    }

    fn note_brought_back(&mut self, id: ConversationId, side: Side, at: DateTime<Utc>) -> Result<(), RepoError> {
        let sql = match side {
            Side::One => "UPDATE direct_messages SET user1_unarchived_at = $2 WHERE id = $1",
            Side::Two => "UPDATE direct_messages SET user2_unarchived_at = $2 WHERE id = $1",
        };
        diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<Timestamptz, _>(at)
            .execute(self.conn())
            .or_repo()
            .map(drop)
    }

    fn block(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError> {
        let inserted = diesel::insert_into(chat_user_blocks::table)
            .values((chat_user_blocks::blocker_id.eq(blocker.get()), chat_user_blocks::blocked_id.eq(blocked.get())))
            .on_conflict_do_nothing()
            .execute(self.conn())
            .or_repo()?;
        Ok(inserted == 1)
    }

    fn unblock(&mut self, blocker: UserId, blocked: UserId) -> Result<bool, RepoError> {
        let deleted = diesel::delete(chat_user_blocks::table.find((blocker.get(), blocked.get())))
            .execute(self.conn())
            .or_repo()?;
        Ok(deleted == 1)
    }

    fn list_blocks(&mut self, blocker: UserId) -> Result<Vec<BlockedUser>, RepoError> {
        let rows: Vec<(i32, String, Option<String>, DateTime<Utc>)> = chat_user_blocks::table
            .inner_join(users::table.on(users::id.eq(chat_user_blocks::blocked_id)))
            .filter(chat_user_blocks::blocker_id.eq(blocker.get()))
            .order((chat_user_blocks::created_at.desc(), users::id.desc()))
            .select((users::id, users::display_name, users::profile_photo_url, chat_user_blocks::created_at))
            .load(self.conn())
            .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|(id, display_name, profile_photo_url, blocked_at)| BlockedUser {
                user: UserSummary { id: UserId(id), display_name, profile_photo_url },
                blocked_at,
            })
            .collect())
    }

    fn record_access(&mut self, admin: UserId, conversation: ConversationId, action: &str) -> Result<(), RepoError> {
        diesel::sql_query("INSERT INTO chat_admin_access_log (admin_id, conversation_id, action) VALUES ($1, $2, $3)")
            .bind::<Int4, _>(admin.get())
            .bind::<BigInt, _>(conversation.get())
            .bind::<Text, _>(action)
            .execute(self.conn())
            .or_repo()
            .map(drop)
    }

    fn list_access(&mut self, query: &AccessLogQuery) -> Result<Vec<AccessLogEntry>, RepoError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Int4)]
            admin_id: i32,
            #[diesel(sql_type = Text)]
            admin_name: String,
            #[diesel(sql_type = Nullable<Text>)]
            admin_photo: Option<String>,
            #[diesel(sql_type = BigInt)]
            conversation_id: i64,
            #[diesel(sql_type = Text)]
            action: String,
            #[diesel(sql_type = Timestamptz)]
            accessed_at: DateTime<Utc>,
        }
        let rows = diesel::sql_query(
            "SELECT l.id, l.admin_id, u.display_name AS admin_name, u.profile_photo_url AS admin_photo,
                    l.conversation_id, l.action, l.accessed_at
             FROM chat_admin_access_log l JOIN users u ON u.id = l.admin_id
             WHERE ($1::int IS NULL OR l.admin_id = $1) AND ($2::bigint IS NULL OR l.conversation_id = $2)
               AND ($3::bigint IS NULL OR l.id < $3)
             ORDER BY l.id DESC LIMIT $4",
        )
        .bind::<Nullable<Int4>, _>(query.admin.map(UserId::get))
        .bind::<Nullable<BigInt>, _>(query.conversation.map(ConversationId::get))
        .bind::<Nullable<BigInt>, _>(query.before)
        .bind::<BigInt, _>(i64::from(query.limit) + 1)
        .load::<Row>(self.conn())
        .or_repo()?;
        Ok(rows
            .into_iter()
            .map(|r| AccessLogEntry {
                id: r.id,
                admin: UserSummary {
                    id: UserId(r.admin_id),
                    display_name: r.admin_name,
                    profile_photo_url: r.admin_photo,
                },
                conversation_id: ConversationId(r.conversation_id),
                action: r.action,
                accessed_at: r.accessed_at,
            })
            .collect())
    }
}

/// What a page of a DM list asks for: its shape ([`dm_list_sql`]) and the values of its
/// numbered parameters, which [`dm_list_query`] binds together with the SQL that uses
/// them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DmListFilter {
    /// `$1`: one user's DMs (the union of both sides), or every DM.
    pub(crate) user: Option<UserId>,
    /// `$2`: only this persona's DMs.
    pub(crate) persona: Option<PersonaId>,
    /// `$3`: only user-to-user (`real_user`) or persona (`fake_user`) DMs.
    pub(crate) kind: Option<DmKind>,
    /// `$4`: only persona DMs whose last message is the user's.
    pub(crate) waiting: bool,
    /// `$5`, `$6`: after this row.
    pub(crate) after: Option<chat_domain::direct_messages::DmCursor>,
    /// `$7`: rows to fetch (a page plus one).
    pub(crate) fetch: i64,
    /// For a user's own list: their archived DMs (`Some(true)`) or active ones.
    pub(crate) archived: Option<bool>,
}

impl DmListFilter {
    /// The types of its parameters, for `PREPARE` (the plans test).
    pub(crate) const TYPES: &str = "int, int, text, bool, timestamptz, bigint, bigint";

    /// Binds every parameter, whether the page's shape names it or not (a parameter the
    /// text does not name is typed by its bind and ignored).
    pub(crate) fn bind(&self, q: BoxedSqlQuery<'static, Pg, SqlQuery>) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let (at, id) = cursor_parts(self.after);
        q.bind::<Nullable<Int4>, _>(self.user.map(UserId::get))
            .bind::<Nullable<Int4>, _>(self.persona.map(PersonaId::get))
            .bind::<Nullable<Text>, _>(self.kind.map(user2_type))
            .bind::<Bool, _>(self.waiting)
            .bind::<Nullable<Timestamptz>, _>(at)
            .bind::<BigInt, _>(id)
            .bind::<BigInt, _>(self.fetch)
    }

    /// The same values as SQL literals, for `EXECUTE` (which takes no bound parameters).
    pub(crate) fn literals(&self) -> String {
        let (at, id) = cursor_parts(self.after);
        format!(
            "{}, {}, {}, {}, {}, {id}, {}",
            literal_or_null(self.user.map(|u| u.get().to_string())),
            literal_or_null(self.persona.map(|p| p.get().to_string())),
            literal_or_null(self.kind.map(|k| format!("'{}'", user2_type(k)))),
            self.waiting,
            literal_or_null(at.map(|at| format!("'{}'", at.to_rfc3339()))),
            self.fetch,
        )
    }

    /// A user's own list (`GET /api/user/chat/direct-messages`).
    pub(crate) fn of_user(user: UserId, query: &DmListQuery) -> Self {
        Self {
            user: Some(user),
            persona: None,
            kind: None,
            waiting: false,
            after: query.after,
            fetch: i64::from(query.limit) + 1,
            archived: Some(query.archived),
        }
    }

    /// The admin list, with its filters.
    pub(crate) fn of_admin(query: &AdminDmQuery) -> Self {
        Self {
            user: query.user,
            persona: query.persona,
            kind: query.kind,
            waiting: query.waiting,
            after: query.after,
            fetch: i64::from(query.limit) + 1,
            archived: None,
        }
    }
}

/// A page of a DM list, prepared: the statement of the page's shape ([`dm_list_sql`]) and
/// its binds, built together so that a numbered parameter can never receive another's
/// value.
pub(crate) fn dm_list_query(f: &DmListFilter) -> Prepared<BoxedSqlQuery<'static, Pg, SqlQuery>> {
    prepared(dm_list_sql(f), |q| f.bind(q.into_boxed()))
}

/// The statement of a DM list page, holding exactly the filters the page asks for
/// ([`Shapes`]). Served by the `(userN_id, last_message_at DESC, id DESC)` indexes for
/// one user's DMs, else by `direct_messages_dm_activity` (or
/// `direct_messages_persona_dm_activity` with a persona filter).
pub(crate) fn dm_list_sql(f: &DmListFilter) -> &'static str {
    static TEXTS: Shapes<96> = Shapes::new();
    let scope = match (f.user, f.archived) {
        (None, _) => 0,
        (Some(_), None) => 1,
        (Some(_), Some(false)) => 2,
        (Some(_), Some(true)) => 3,
    };
    let kind = match f.kind {
        None => 0,
        Some(DmKind::UserDm) => 1,
        Some(DmKind::PersonaDm) => 2,
    };
    let shape = scope
        | usize::from(f.persona.is_some()) << 2
        | usize::from(f.waiting) << 3
        | usize::from(f.after.is_some()) << 4
        | kind << 5;
    TEXTS.text(shape, || {
        let mut filters = String::new();
        if f.persona.is_some() {
            filters.push_str(" AND d.fake_user_id = $2 AND d.user2_type = 'fake_user'");
        }
        if kind != 0 {
            filters.push_str(" AND d.user2_type = $3");
        }
        if f.waiting {
            filters.push_str(" AND d.user2_type = 'fake_user' AND lm.sender_type = 'real_user'");
        }
        if f.after.is_some() {
            filters.push_str(" AND (d.last_message_at, d.id) < ($5, $6)");
        }
        match scope {
            0 => format!(
                "{} WHERE d.conversation_type = 'user_dm' {filters} ORDER BY d.last_message_at DESC, d.id DESC LIMIT $7",
                dm_view()
            ),
            1 => user_dms_sql(|_| filters.clone()),
            _ => {
                let state = if scope == 3 { "IS NOT NULL" } else { "IS NULL" };
                user_dms_sql(|side| format!("{filters} AND d.user{side}_archived_at {state}"))
            }
        }
    })
}
