//! [`ConversationRepository`] on `direct_messages` and `dm_messages`.

use std::sync::LazyLock;

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
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text, Uuid as SqlUuid};
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
            .first(self.conn())
            .optional()
            .or_repo()?
            .map(ConversationState::try_from)
            .transpose()
    }

    fn conversation_state(&mut self, id: ConversationId) -> Result<Option<ConversationState>, RepoError> {
        direct_messages::table
            .find(id.get())
            .select(StateRow::as_select())
            .first(self.conn())
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
            .execute(self.conn())
            .or_repo()
            .map(drop)
    }

    fn find_by_client_id(&mut self, id: ConversationId, client_id: Uuid) -> Result<Option<Message>, RepoError> {
        let rows = diesel::sql_query(client_id_sql())
            .bind::<BigInt, _>(id.get())
            .bind::<SqlUuid, _>(client_id)
            .load::<MessageRow>(self.conn())
            .or_repo()?;
        Ok(into_messages(rows)?.pop())
    }

    fn append(&mut self, append: &Append) -> Result<Appended, RepoError> {
        if let Some(answer) = self.batched_append(append) {
            return answer;
        }
        let mut appended = self.append_together(std::slice::from_ref(append))?;
        appended.pop().ok_or_else(|| RepoError::internal("the append statement answered no send"))
    }

    fn message_position(&mut self, id: ConversationId, message: MessageId) -> Result<Option<i64>, RepoError> {
        dm_messages::table
            .filter(dm_messages::id.eq(message.get()).and(dm_messages::conversation_id.eq(id.get())))
            .select(dm_messages::seq)
            .first(self.conn())
            .optional()
            .or_repo()
    }

    fn list_messages(&mut self, id: ConversationId, query: &HistoryQuery) -> Result<Vec<Message>, RepoError> {
        let rows = history_query(id, query).load::<MessageRow>(self.conn()).or_repo()?;
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
            .get_result::<Count>(self.conn())
            .or_repo()?
            .n)
    }
}

impl PgTx<'_> {
    /// Appends `appends`, each to its own conversation, in one statement ([`APPEND_SQL`]),
    /// answering each as [`ConversationRepository::append`] would have: a send is this
    /// with one append, and group commit runs the sends of a batch that start with
    /// their append this way.
    ///
    /// # Errors
    /// An internal error when two appends name the same target (their effects would
    /// need two updates of one row in one statement: run them one after the other), and
    /// whatever the statement fails with (two targets that name one conversation, a
    /// conversation by id and as a user's support one, break its unique position).
    pub fn append_together(&mut self, appends: &[Append]) -> Result<Vec<Appended>, RepoError> {
        for (i, append) in appends.iter().enumerate() {
            let row = RowKey::of(&append.target);
            if appends[..i].iter().any(|earlier| RowKey::of(&earlier.target) == row) {
                return Err(RepoError::internal("two appends to one conversation in one statement"));
            }
            if let RowKey::Id(id) = row {
                self.enter_writer(id)?;
            }
        }
        let rows = append_query(appends).load::<AppendRow>(self.conn()).or_repo()?;
        let mut answers: Vec<Appended> = appends.iter().map(|_| Appended::Missing).collect();
        for row in rows {
            let answer = usize::try_from(row.ord - 1)
                .ok()
                .and_then(|i| answers.get_mut(i))
                .ok_or_else(|| RepoError::internal("the append statement answered a send it was not given"))?;
            let before = ConversationState::try_from(row.state)?;
            *answer = match row.message.into_message(before.id)? {
                None if row.blocked => Appended::Blocked,
                Some(message) => Appended::Stored { before, message },
                None => Appended::Duplicate { conversation: before },
            };
        }
        Ok(answers)
    }
}

/// The conversation row an append target names: two appends to one row cannot share a
/// statement (each would read the same `last_seq`), whichever targets name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKey {
    /// By id (a conversation, or a DM as one of its users).
    Id(ConversationId),
    /// The support conversation of a user.
    SupportOf(UserId),
}

impl RowKey {
    pub(crate) const fn of(target: &AppendTarget) -> Self {
        match *target {
            AppendTarget::Conversation(id, _) | AppendTarget::DmOf(id) => Self::Id(id),
            AppendTarget::SupportOf(user) => Self::SupportOf(user),
        }
    }
}

/// What the append statement returns for each send that found its conversation: which
/// send (`ord`, from 1), the row before (locked), whether a block refused it, and the
/// message when one was stored (all its columns NULL when the key was taken or a block
/// refused it).
#[derive(QueryableByName)]
struct AppendRow {
    #[diesel(sql_type = BigInt)]
    ord: i64,
    #[diesel(sql_type = Bool)]
    blocked: bool,
    #[diesel(embed)]
    state: StateRow,
    #[diesel(embed)]
    message: LastMessageRow,
}

/// The statement of a send, for one send or for many (each to its own conversation),
/// in four steps that share one snapshot:
///
/// 1. `i` lists the sends, numbered (`ord`), from arrays bound one element per send;
/// 2. `c` locks their conversation rows, in the order of their ids (so that two
///    writers locking overlapping sets cannot deadlock; a concurrent append waits here,
///    and then reads the row as that append left it), found by id (`$1`) or as the
///    support conversation of a user (`$2`, the partial unique index on its owner);
///    `t` pairs each send with its row. A send without a side (`$9` NULL: a user's own
///    DM send, `AppendTarget::DmOf`) pairs only with a DM whose users include its sender
///    (a user DM's two users, a persona DM's user: the participant rule of
///    `direct_messages::user`), takes the sender's side there (side one is `user1_id`,
///    as `ConversationState::side_of`), and is `blocked` in a user-to-user DM while a
///    `chat_user_blocks` row stands between its users, either way;
/// 3. `m` inserts each message that is not blocked at its row's `last_seq + 1`;
///    `ON CONFLICT ... DO NOTHING` on the idempotency index inserts nothing when the key
///    is taken (the index sees a key committed while this statement waited for the
///    lock, which the snapshot does not);
/// 4. `u` applies each inserted message's effect to its row, as
///    `ConversationState::apply_message` does: the next position, the sender's side has
///    read up to the message, the other side one more unread (saturating), the last
///    message, both archive marks cleared, and for support conversations the lifecycle
///    (a user message: `open`, the wait starts if none; a staff message: `pending`, no
///    wait).
///
/// The final `SELECT` returns, for each send whose conversation exists, its `ord`, the
/// row as `c` read it, `blocked`, and the message (NULLs when none was inserted). Binds,
/// one array element per send: $1 conversation id (or NULL), $2 support user (or NULL),
/// $3 sender type, $4 sender id, $5 acting admin, $6 content, $7 message type, $8 client
/// id, $9 side (1 or 2; NULL for a user's own DM send).
pub(crate) const APPEND_SQL: &str = "WITH i AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[],
                         $8::uuid[], $9::int[])
        WITH ORDINALITY AS i(conversation_id, support_user, sender_type, sender_id, acting_admin_id, content,
                             message_type, client_message_id, side, ord)
), c AS (
    SELECT d.id, d.conversation_type, d.user1_id, d.user2_id, d.user2_type, d.fake_user_id, d.support_status,
           d.assignee_admin_id, d.waiting_since, d.user1_last_read_id, d.user1_unread, d.user2_last_read_id,
           d.user2_unread, d.last_message_id, d.last_seq, d.user1_archived_at, d.user2_archived_at, d.last_message_at
    FROM direct_messages d
    WHERE d.id = ANY($1::bigint[]) OR (d.conversation_type = 'support' AND d.user1_id = ANY($2::int[]))
    ORDER BY d.id
    FOR UPDATE
), t AS (
    SELECT c.*, i.sender_type, i.sender_id, i.acting_admin_id, i.content, i.message_type, i.client_message_id,
           COALESCE(i.side, CASE WHEN c.user1_id = i.sender_id THEN 1 ELSE 2 END) AS side, i.ord,
           (i.side IS NULL AND c.user2_type = 'real_user' AND EXISTS (
               SELECT 1 FROM chat_user_blocks b
               WHERE (b.blocker_id = c.user1_id AND b.blocked_id = c.user2_id)
                  OR (b.blocker_id = c.user2_id AND b.blocked_id = c.user1_id))) AS blocked
    FROM i JOIN c ON c.id = i.conversation_id OR (c.conversation_type = 'support' AND c.user1_id = i.support_user)
    WHERE i.side IS NOT NULL
       OR (c.conversation_type = 'user_dm' AND i.sender_type = 'real_user'
           AND (c.user1_id = i.sender_id OR (c.user2_type = 'real_user' AND c.user2_id = i.sender_id)))
), m AS (
    INSERT INTO dm_messages
        (conversation_id, sender_type, sender_id, acting_admin_id, content, message_type, client_message_id, seq)
    SELECT t.id, t.sender_type, t.sender_id, t.acting_admin_id, t.content, t.message_type, t.client_message_id,
           t.last_seq + 1
    FROM t WHERE NOT t.blocked ORDER BY t.ord
    ON CONFLICT (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
    RETURNING *
), u AS (
    UPDATE direct_messages d SET
        last_seq = m.seq,
        last_message_id = m.id,
        last_message_at = GREATEST(t.last_message_at, m.created_at),
        user1_last_read_id = CASE WHEN t.side = 1 THEN m.id ELSE t.user1_last_read_id END,
        user1_unread = CASE WHEN t.side = 1 THEN 0 ELSE LEAST(t.user1_unread::bigint + 1, 2147483647)::int END,
        user2_last_read_id = CASE WHEN t.side = 2 THEN m.id ELSE t.user2_last_read_id END,
        user2_unread = CASE WHEN t.side = 2 THEN 0 ELSE LEAST(t.user2_unread::bigint + 1, 2147483647)::int END,
        user1_archived_at = NULL,
        user2_archived_at = NULL,
        support_status = CASE WHEN t.support_status IS NULL THEN NULL
                              WHEN t.side = 1 THEN 'open' ELSE 'pending' END,
        waiting_since = CASE WHEN t.support_status IS NULL THEN t.waiting_since
                             WHEN t.side = 1 THEN COALESCE(t.waiting_since, m.created_at) END,
        updated_at = now()
    FROM t JOIN m ON m.conversation_id = t.id
    WHERE d.id = t.id
    RETURNING d.id
)
SELECT t.*, lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, lm.sender_type AS lm_sender_type,
       lm.acting_admin_id AS lm_acting_admin_id, lm.content AS lm_content, lm.message_type AS lm_message_type,
       lm.client_message_id AS lm_client_id, lm.created_at AS lm_created_at, (lm.hidden_at IS NOT NULL) AS lm_hidden,
       CASE lm.sender_type WHEN 'real_user' THEN lmu.display_name WHEN 'fake_user' THEN lmp.name END AS lm_sender_name,
       lma.display_name AS lm_acting_admin_name
FROM t
LEFT JOIN m lm ON lm.conversation_id = t.id
LEFT JOIN users lmu ON lm.sender_type = 'real_user' AND lmu.id = lm.sender_id
LEFT JOIN chat_fake_users lmp ON lm.sender_type = 'fake_user' AND lmp.id = lm.sender_id
LEFT JOIN users lma ON lma.id = lm.acting_admin_id";

/// The send statement for `appends` with its binds, as a prepared statement (its text
/// a constant, so diesel caches it).
fn append_query(appends: &[Append]) -> Prepared<BoxedSqlQuery<'static, Pg, SqlQuery>> {
    prepared(APPEND_SQL, |q| bind_appends(q.into_boxed(), appends))
}

/// Prepares (and, on the writers' `force_generic_plan` connections, plans) the send
/// statement on `conn` by running it for no sends: it changes nothing.
pub(crate) fn prepare_append(conn: &mut PgConnection) -> QueryResult<()> {
    append_query(&[]).load::<AppendRow>(conn).map(drop)
}

/// `EXPLAIN` of the very statement [`append_query`] runs, with the same binds.
pub(crate) fn explain_append_query(append: &Append) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    bind_appends(diesel::sql_query(format!("EXPLAIN {APPEND_SQL}")).into_boxed(), std::slice::from_ref(append))
}

/// The one place the send statement's parameters are bound: one array per column,
/// one element per send.
fn bind_appends(q: BoxedSqlQuery<'static, Pg, SqlQuery>, appends: &[Append]) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let n = appends.len();
    let (mut conversations, mut support_users) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut sender_types, mut sender_ids, mut acting_admins) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut contents, mut kinds, mut client_ids, mut sides) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for append in appends {
        let (conversation, support_user) = match append.target {
            AppendTarget::Conversation(id, _) | AppendTarget::DmOf(id) => (Some(id.get()), None),
            AppendTarget::SupportOf(user) => (None, Some(user.get())),
        };
        let (sender_type, sender_id, acting_admin) = author_columns(&append.author);
        conversations.push(conversation);
        support_users.push(support_user);
        sender_types.push(sender_type);
        sender_ids.push(sender_id);
        acting_admins.push(acting_admin);
        contents.push(append.body.content().to_owned());
        kinds.push(append.body.kind().as_str());
        client_ids.push(append.client_id);
        sides.push(append.target.side().map(|side| match side {
            Side::One => 1,
            Side::Two => 2,
        }));
    }
    q.bind::<Array<Nullable<BigInt>>, _>(conversations)
        .bind::<Array<Nullable<Int4>>, _>(support_users)
        .bind::<Array<Text>, _>(sender_types)
        .bind::<Array<Int4>, _>(sender_ids)
        .bind::<Array<Nullable<Int4>>, _>(acting_admins)
        .bind::<Array<Text>, _>(contents)
        .bind::<Array<Text>, _>(kinds)
        .bind::<Array<Nullable<SqlUuid>>, _>(client_ids)
        .bind::<Array<Nullable<Int4>>, _>(sides)
}

/// A history page, prepared: the SQL and its binds ($1 conversation, $2 cursor message
/// id, $3 rows to fetch: a page plus one), built together so that a numbered parameter
/// can never receive another's value. Served by `dm_messages_conversation_seq
/// (conversation_id, seq)` in either direction, by its generic plan too (checked by the
/// plans test), so the statement is planned once per connection rather than per page.
///
/// Pages order by `seq`, the position within the conversation, not by `id`: ordering by
/// `id` lets the planner walk the primary key backwards and filter by conversation,
/// which on a busy conversation's deep page scans most of the table (found by the plans
/// test). No index but the composite one yields `seq` order.
pub(crate) fn history_query(
    id: ConversationId,
    query: &HistoryQuery,
) -> Prepared<BoxedSqlQuery<'static, Pg, SqlQuery>> {
    prepared(history_sql(query), |q| bind_history(q.into_boxed(), id, query))
}

/// `EXPLAIN` of [`history_query`], with the same binds.
pub(crate) fn explain_history_query(id: ConversationId, query: &HistoryQuery) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    bind_history(diesel::sql_query(format!("EXPLAIN {}", history_sql(query))).into_boxed(), id, query)
}

/// The page statement of each direction, built once.
pub(crate) fn history_sql(query: &HistoryQuery) -> &'static str {
    fn page(bound: &str, order: &str, missing: i64) -> String {
        format!(
            "SELECT {MESSAGE_COLUMNS} FROM dm_messages m {MESSAGE_JOINS}
             WHERE m.conversation_id = $1
               AND m.seq {bound} COALESCE((SELECT c.seq FROM dm_messages c WHERE c.id = $2 AND c.conversation_id = $1), {missing})
             ORDER BY m.seq {order} LIMIT $3"
        )
    }
    static OLDER: LazyLock<String> = LazyLock::new(|| page("<", "DESC", i64::MAX));
    static NEWER: LazyLock<String> = LazyLock::new(|| page(">", "ASC", 0));
    match query {
        HistoryQuery::Older { .. } => &OLDER,
        HistoryQuery::Newer { .. } => &NEWER,
    }
}

fn bind_history(
    q: BoxedSqlQuery<'static, Pg, SqlQuery>,
    id: ConversationId,
    query: &HistoryQuery,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    let cursor = match *query {
        HistoryQuery::Older { before, .. } => before.map_or(0, MessageId::get),
        HistoryQuery::Newer { after, .. } => after.get(),
    };
    q.bind::<BigInt, _>(id.get()).bind::<BigInt, _>(cursor).bind::<BigInt, _>(i64::from(query.limit()) + 1)
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
