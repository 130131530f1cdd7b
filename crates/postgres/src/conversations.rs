//! [`ConversationRepository`] on `direct_messages` and `dm_messages`.

use chat_domain::access::Participants;
use chat_domain::conversations::{
    Append, AppendTarget, Appended, ConversationRepository, ConversationState, HistoryQuery, Message, Side, SideState,
};
use chat_domain::support::{SupportState, SupportStatus};
use chat_domain::{ConversationId, MessageId, PersonaId, RepoError, UserId};
use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::OrRepoError;
use crate::messages::{LastMessageRow, MESSAGE_COLUMNS, MESSAGE_JOINS, MessageRow, author_columns, into_messages};
use crate::prepared::{Prepared, prepared};
use crate::schema::{direct_messages, dm_messages};
use crate::tx::PgTx;

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = direct_messages, check_for_backend(Pg))]
struct StateRow {
    id: i64,
    conversation_type: String,
    user1_id: i32,
    user2_id: Option<i32>,
    user2_type: String,
    fake_user_id: Option<i32>,
    support_status: Option<String>,
    assignee_admin_id: Option<i32>,
    waiting_since: Option<DateTime<Utc>>,
    user1_last_read_id: i64,
    user1_unread: i32,
    user2_last_read_id: i64,
    user2_unread: i32,
    last_message_id: Option<i64>,
    last_seq: i64,
    user1_archived_at: Option<DateTime<Utc>>,
    user2_archived_at: Option<DateTime<Utc>>,
    last_message_at: DateTime<Utc>,
}

impl TryFrom<StateRow> for ConversationState {
    type Error = RepoError;

    fn try_from(row: StateRow) -> Result<Self, RepoError> {
        let broken = || RepoError::internal(format!("direct_messages row {} has an impossible shape", row.id));
        let user = UserId(row.user1_id);
        let participants = match (row.conversation_type.as_str(), row.user2_type.as_str()) {
            ("support", "support") => Participants::Support { user },
            ("user_dm", "real_user") => Participants::UserDm { a: user, b: UserId(row.user2_id.ok_or_else(broken)?) },
            ("user_dm", "fake_user") => {
                Participants::PersonaDm { user, persona: PersonaId(row.fake_user_id.ok_or_else(broken)?) }
            }
            _ => return Err(broken()),
        };
        let support = match row.support_status.as_deref() {
            None => None,
            Some(raw) => Some(SupportState {
                status: SupportStatus::from_db(raw).ok_or_else(broken)?,
                assignee: row.assignee_admin_id.map(UserId),
                waiting_since: row.waiting_since,
            }),
        };
        Ok(Self {
            id: ConversationId(row.id),
            participants,
            persona: row.fake_user_id.map(PersonaId),
            support,
            side_one: SideState { last_read: MessageId(row.user1_last_read_id), unread: row.user1_unread },
            side_two: SideState { last_read: MessageId(row.user2_last_read_id), unread: row.user2_unread },
            last_message_id: row.last_message_id.map(MessageId),
            last_seq: row.last_seq,
            archived_one: row.user1_archived_at,
            archived_two: row.user2_archived_at,
            last_message_at: row.last_message_at,
        })
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = direct_messages, treat_none_as_null = true)]
struct StateChanges<'a> {
    support_status: Option<&'a str>,
    assignee_admin_id: Option<i32>,
    waiting_since: Option<DateTime<Utc>>,
    user1_last_read_id: i64,
    user1_unread: i32,
    user2_last_read_id: i64,
    user2_unread: i32,
    last_message_id: Option<i64>,
    last_seq: i64,
    user1_archived_at: Option<DateTime<Utc>>,
    user2_archived_at: Option<DateTime<Utc>>,
    last_message_at: DateTime<Utc>,
}

impl ConversationRepository for PgTx<'_> {
    fn lock_conversation(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError> {
        self.enter_writer(id)?;
        direct_messages::table
            .find(id.get())
            .select(StateRow::as_select())
            .for_update()
            .first(self.conn)
            .optional()
            .or_repo()?
            .map(ConversationState::try_from)
            .transpose()
    }

    fn conversation_state(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError> {
        direct_messages::table
            .find(id.get())
            .select(StateRow::as_select())
            .first(self.conn)
            .optional()
            .or_repo()?
            .map(ConversationState::try_from)
            .transpose()
    }

    fn save_conversation(&mut self, state: &ConversationState) -> Result<(), RepoError> {
        let support = state.support.as_ref();
        let changes = StateChanges {
            support_status: support.map(|s| s.status.as_str()),
            assignee_admin_id: support.and_then(|s| s.assignee).map(UserId::get),
            waiting_since: support.and_then(|s| s.waiting_since),
            user1_last_read_id: state.side_one.last_read.get(),
            user1_unread: state.side_one.unread,
            user2_last_read_id: state.side_two.last_read.get(),
            user2_unread: state.side_two.unread,
            last_message_id: state.last_message_id.map(MessageId::get),
            last_seq: state.last_seq,
            user1_archived_at: state.archived_one,
            user2_archived_at: state.archived_two,
            last_message_at: state.last_message_at,
        };
        diesel::update(direct_messages::table.find(state.id.get()))
            .set((&changes, direct_messages::updated_at.eq(now)))
            .execute(self.conn)
            .or_repo()
            .map(drop)
    }

    fn find_by_client_id(&mut self, id: ConversationId, client_id: Uuid) -> Result<Option<Message>, RepoError> {
        let rows = diesel::sql_query(client_id_sql())
            .bind::<BigInt, _>(id.get())
            .bind::<SqlUuid, _>(client_id)
            .load::<MessageRow>(self.conn)
            .or_repo()?;
        Ok(into_messages(rows)?.pop())
    }

    fn append(&mut self, append: &Append) -> Result<Appended, RepoError> {
        if let AppendTarget::Conversation(id) = append.target {
            self.enter_writer(id)?;
        }
        let row = append_query(append).get_result::<AppendRow>(self.conn).optional().or_repo()?;
        let Some(row) = row else { return Ok(Appended::Missing) };
        let before = ConversationState::try_from(row.state)?;
        Ok(match row.message.into_message(before.id)? {
            Some(message) => Appended::Stored { before, message },
            None => Appended::Duplicate { conversation: before },
        })
    }

    fn message_position(&mut self, id: ConversationId, message: MessageId) -> Result<Option<i64>, RepoError> {
        dm_messages::table
            .filter(dm_messages::id.eq(message.get()).and(dm_messages::conversation_id.eq(id.get())))
            .select(dm_messages::seq)
            .first(self.conn)
            .optional()
            .or_repo()
    }

    fn list_messages(&mut self, id: ConversationId, query: &HistoryQuery) -> Result<Vec<Message>, RepoError> {
        let rows = history_query("", id, query).load::<MessageRow>(self.conn).or_repo()?;
        into_messages(rows)
    }

    fn count_unread(&mut self, id: ConversationId, reader: Side, after: MessageId) -> Result<i64, RepoError> {
        // Side one is the conversation's user1; everything else is side two.
        let from_user_one = "m.sender_type = 'real_user' AND m.sender_id = d.user1_id";
        let condition = match reader {
            Side::One => format!("NOT ({from_user_one})"),
            Side::Two => from_user_one.to_owned(),
        };
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let sql = format!(
            "SELECT count(*) AS n FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id
             WHERE m.conversation_id = $1 AND {condition}
               AND m.seq > COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = $2 AND c.conversation_id = $1), 0)"
        );
        Ok(diesel::sql_query(sql)
            .bind::<BigInt, _>(id.get())
            .bind::<BigInt, _>(after.get())
            .get_result::<Count>(self.conn)
            .or_repo()?
            .n)
    }
}

/// What the append statement returns: the row before (locked), and the message when
/// one was stored (all its columns NULL when the key was taken).
#[derive(QueryableByName)]
struct AppendRow {
    #[diesel(embed)]
    state: StateRow,
    #[diesel(embed)]
    message: LastMessageRow,
}

/// The one statement of a send, in three steps that share one snapshot:
///
/// 1. `c` locks the conversation row (`FOR UPDATE`: a concurrent append waits here, and
///    then reads the row as that append left it);
/// 2. `m` inserts the message at `last_seq + 1`; `ON CONFLICT ... DO NOTHING` on the
///    idempotency index inserts nothing when the key is taken (the index sees a key
///    committed while this statement waited for the lock, which the snapshot does not);
/// 3. `u` applies the message's effect to the row, only when `m` inserted one, as
///    `ConversationState::apply_message` does: the next position, the sender's side has
///    read up to the message, the other side one more unread (saturating), the last
///    message, both archive marks cleared, and for support conversations the lifecycle
///    (a user message: `open`, the wait starts if none; a staff message: `pending`, no
///    wait).
///
/// The final `SELECT` returns the row as `c` read it and the message (NULLs when none
/// was inserted); no row when there is no such conversation. `{TARGET}` names the row:
/// by id (`$1`) or as the support conversation of user `$2`. Binds: $3 sender type,
/// $4 sender id, $5 acting admin, $6 content, $7 message type, $8 client id, $9 side
/// (1 or 2).
macro_rules! append_sql {
    ($target:literal) => {
        concat!(
            "WITH c AS (
    SELECT d.id, d.conversation_type, d.user1_id, d.user2_id, d.user2_type, d.fake_user_id, d.support_status,
           d.assignee_admin_id, d.waiting_since, d.user1_last_read_id, d.user1_unread, d.user2_last_read_id,
           d.user2_unread, d.last_message_id, d.last_seq, d.user1_archived_at, d.user2_archived_at, d.last_message_at
    FROM direct_messages d WHERE ",
            $target,
            "
    FOR UPDATE
), m AS (
    INSERT INTO dm_messages
        (conversation_id, sender_type, sender_id, acting_admin_id, content, message_type, client_message_id, seq)
    SELECT c.id, $3, $4, $5, $6, $7, $8, c.last_seq + 1 FROM c
    ON CONFLICT (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
    RETURNING *
), u AS (
    UPDATE direct_messages d SET
        last_seq = m.seq,
        last_message_id = m.id,
        last_message_at = GREATEST(c.last_message_at, m.created_at),
        user1_last_read_id = CASE WHEN $9::int = 1 THEN m.id ELSE c.user1_last_read_id END,
        user1_unread = CASE WHEN $9::int = 1 THEN 0 ELSE LEAST(c.user1_unread::bigint + 1, 2147483647)::int END,
        user2_last_read_id = CASE WHEN $9::int = 2 THEN m.id ELSE c.user2_last_read_id END,
        user2_unread = CASE WHEN $9::int = 2 THEN 0 ELSE LEAST(c.user2_unread::bigint + 1, 2147483647)::int END,
        user1_archived_at = NULL,
        user2_archived_at = NULL,
        support_status = CASE WHEN c.support_status IS NULL THEN NULL
                              WHEN $9::int = 1 THEN 'open' ELSE 'pending' END,
        waiting_since = CASE WHEN c.support_status IS NULL THEN c.waiting_since
                             WHEN $9::int = 1 THEN COALESCE(c.waiting_since, m.created_at) END,
        updated_at = now()
    FROM c, m
    WHERE d.id = c.id
    RETURNING d.id
)
SELECT c.*, lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, lm.sender_type AS lm_sender_type,
       lm.acting_admin_id AS lm_acting_admin_id, lm.content AS lm_content, lm.message_type AS lm_message_type,
       lm.client_message_id AS lm_client_id, lm.created_at AS lm_created_at, (lm.hidden_at IS NOT NULL) AS lm_hidden,
       CASE lm.sender_type WHEN 'real_user' THEN lmu.display_name WHEN 'fake_user' THEN lmp.name END AS lm_sender_name,
       lma.display_name AS lm_acting_admin_name
FROM c
LEFT JOIN m lm ON true
LEFT JOIN users lmu ON lm.sender_type = 'real_user' AND lmu.id = lm.sender_id
LEFT JOIN chat_fake_users lmp ON lm.sender_type = 'fake_user' AND lmp.id = lm.sender_id
LEFT JOIN users lma ON lma.id = lm.acting_admin_id"
        )
    };
}

/// [`append_sql`] on the conversation with id `$1`.
const APPEND_TO_CONVERSATION_SQL: &str = append_sql!("d.id = $1");
/// [`append_sql`] on the support conversation of user `$2` (its partial unique index).
const APPEND_TO_SUPPORT_SQL: &str = append_sql!("d.conversation_type = 'support' AND d.user1_id = $2");

/// The send statement for `append` with its binds, as a prepared statement (its text a
/// constant, so diesel caches it).
fn append_query(append: &Append) -> Prepared<BoxedSqlQuery<'_, Pg, SqlQuery>> {
    let sql = match append.target {
        AppendTarget::Conversation(_) => APPEND_TO_CONVERSATION_SQL,
        AppendTarget::SupportOf(_) => APPEND_TO_SUPPORT_SQL,
    };
    prepared(sql, |q| bind_append(q.into_boxed(), append))
}

/// `EXPLAIN` of the very statement [`append_query`] runs, with the same binds.
pub(crate) fn explain_append_query(append: &Append) -> BoxedSqlQuery<'_, Pg, SqlQuery> {
    let sql = match append.target {
        AppendTarget::Conversation(_) => APPEND_TO_CONVERSATION_SQL,
        AppendTarget::SupportOf(_) => APPEND_TO_SUPPORT_SQL,
    };
    bind_append(diesel::sql_query(format!("EXPLAIN {sql}")).into_boxed(), append)
}

/// The one place the send statement's parameters are bound.
fn bind_append<'a>(q: BoxedSqlQuery<'a, Pg, SqlQuery>, append: &'a Append) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    let (conversation, support_user) = match append.target {
        AppendTarget::Conversation(id) => (Some(id.get()), None),
        AppendTarget::SupportOf(user) => (None, Some(user.get())),
    };
    let (sender_type, sender_id, acting_admin) = author_columns(&append.author);
    let side = match append.side {
        Side::One => 1,
        Side::Two => 2,
    };
    q.bind::<Nullable<BigInt>, _>(conversation)
        .bind::<Nullable<Int4>, _>(support_user)
        .bind::<Text, _>(sender_type)
        .bind::<Int4, _>(sender_id)
        .bind::<Nullable<Int4>, _>(acting_admin)
        .bind::<Text, _>(append.body.content())
        .bind::<Text, _>(append.body.kind().as_str())
        .bind::<Nullable<SqlUuid>, _>(append.client_id)
        .bind::<Int4, _>(side)
}

/// A history page: the SQL and its binds ($1 conversation, $2 cursor message id, $3 rows
/// to fetch: a page plus one), built together so that a numbered parameter can never
/// receive another's value. `prefix` goes before the statement (`EXPLAIN ` for the
/// plans test). Served by `dm_messages_conversation_seq (conversation_id, seq)` in
/// either direction.
///
/// Pages order by `seq`, the position within the conversation, not by `id`: ordering by
/// `id` lets the planner walk the primary key backwards and filter by conversation,
/// which on a busy conversation's deep page scans most of the table (found by the plans
/// test). No index but the composite one yields `seq` order.
pub(crate) fn history_query(
    prefix: &str,
    id: ConversationId,
    query: &HistoryQuery,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let (bound, order, missing, cursor) = match *query {
        HistoryQuery::Older { before, .. } => ("<", "DESC", i64::MAX, before.map_or(0, MessageId::get)),
        HistoryQuery::Newer { after, .. } => (">", "ASC", 0, after.get()),
    };
    diesel::sql_query(format!(
        "{prefix}SELECT {MESSAGE_COLUMNS} FROM dm_messages m {MESSAGE_JOINS}
         WHERE m.conversation_id = $1
           AND m.seq {bound} COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = $2 AND c.conversation_id = $1), {missing})
         ORDER BY m.seq {order} LIMIT $3"
    ))
    .into_boxed()
    .bind::<BigInt, _>(id.get())
    .bind::<BigInt, _>(cursor)
    .bind::<BigInt, _>(i64::from(query.limit()) + 1)
}

/// The idempotency lookup ($1 conversation, $2 client id), served by
/// `dm_messages_client_id_idx`.
pub(crate) fn client_id_sql() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM dm_messages m {MESSAGE_JOINS}
         WHERE m.conversation_id = $1 AND m.client_message_id = $2"
    )
}

/// The states of every conversation `user` is in (support and DMs), in one query.
pub(crate) fn states_of_user(conn: &mut PgConnection, user: UserId) -> Result<Vec<ConversationState>, RepoError> {
    direct_messages::table
        .filter(direct_messages::user1_id.eq(user.get()).or(direct_messages::user2_id.eq(user.get())))
        .select(StateRow::as_select())
        .load(conn)
        .or_repo()?
        .into_iter()
        .map(ConversationState::try_from)
        .collect()
}
