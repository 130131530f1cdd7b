//! One chunk of users moved in one transaction, with set-based statements.
//!
//! A user is always moved whole, inside one chunk, so an interrupted run leaves each
//! user either untouched or done, and the next run picks up exactly the users left.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4};

use super::scope::{DEFAULT_PERSONA, Scope};

/// The chunk's rows to move, numbered per owner in old time order. Rows vanish at commit.
const CREATE_CHUNK_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS legacy_chunk (
        id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, sender_type TEXT NOT NULL, sender_id INTEGER NOT NULL,
        acting_admin_id INTEGER, content TEXT NOT NULL, message_type TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL, is_active BOOLEAN NOT NULL, hidden_reason TEXT, is_notice BOOLEAN NOT NULL,
        persona_eligible BOOLEAN NOT NULL, ord BIGINT NOT NULL
    ) ON COMMIT DELETE ROWS";

/// $1: the chunk's owners: their staged rows to move (see [`stage_sql`]), numbered per
/// owner in old time order.
const FILL_SQL: &str = "INSERT INTO legacy_chunk
    SELECT id, owner, sender_type, sender_id, acting_admin_id, content, message_type, created_at, is_active,
           hidden_reason, is_notice, persona_eligible, row_number() OVER (PARTITION BY owner ORDER BY created_at, id)
    FROM chat_support_migration_pending WHERE owner = ANY($1) AND reason IS NULL";

/// The staging table of a run, shared by its workers (each on its own connection).
pub(crate) const PENDING: &str = "chat_support_migration_pending";

/// Stages every row in scope of the run (`owners`: the cohort's filter) not moved yet,
/// classified (the unmovable ones with their reason), clustered by owner, once per run: reading the old table user by user would visit
/// most of its pages for every chunk (a shared group interleaves everyone's messages),
/// which made a 1M-row move several times slower than ten 100k ones. A team answer
/// keeps its admin as acting admin when that user still exists. An unlogged table, so
/// that the run's parallel workers see it; every run rebuilds it and drops it at the
/// end, so nothing depends on it surviving a crash.
pub(crate) fn stage_sql(scope: &Scope, owners: &str) -> String {
    let rows = scope.classified(owners);
    format!(
        "DROP TABLE IF EXISTS {PENDING};
         CREATE UNLOGGED TABLE {PENDING} AS
         SELECT c.id, c.owner, c.sender_type, c.sender_id, a.id AS acting_admin_id, c.content, c.message_type,
                c.created_at, c.is_active, c.hidden_reason, c.is_notice, c.persona_eligible, c.reason
         FROM ({rows}) c
         LEFT JOIN users a ON c.sender_type = 'admin' AND a.id = c.sender_id
         WHERE NOT EXISTS (SELECT 1 FROM dm_messages m WHERE m.legacy_message_id = c.id)
         ORDER BY c.owner;
         CREATE INDEX ON {PENDING} (owner);
         ANALYZE {PENDING};"
    )
}

/// $1: batch, $2: the age in days after which a thread arrives resolved. Creates
/// missing support conversations. A thread whose last visible message is the user's and
/// whose last message is younger than $2 days is `open`, waiting since their first
/// message after the last staff answer; any other is `resolved` (an old thread would
/// otherwise head the longest-waiting-first queue). The header shows the last persona
/// that answered if it is still an active support agent, else the default one.
fn create_conversations_sql() -> String {
    format!(
        "WITH plan AS (
            SELECT owner, min(created_at) AS first_at, max(created_at) AS last_at,
                   COALESCE(max(ord) FILTER (WHERE sender_type <> 'real_user' AND is_active), 0) AS last_staff,
                   max(ord) FILTER (WHERE sender_type = 'real_user' AND is_active) AS last_user,
                   (array_agg(sender_id ORDER BY ord DESC) FILTER (WHERE persona_eligible))[1] AS persona
            FROM legacy_chunk GROUP BY owner),
         waiting AS (
            SELECT p.*, p.last_user > p.last_staff AND p.last_at >= now() - make_interval(days => $2) AS open
            FROM plan p),
         ins AS (
            INSERT INTO direct_messages (conversation_type, user1_id, user2_type, fake_user_id, support_status,
                                         waiting_since, created_at, last_message_at)
            SELECT 'support', p.owner, 'support', COALESCE(p.persona, {DEFAULT_PERSONA}),
                   CASE WHEN p.open THEN 'open' ELSE 'resolved' END,
                   CASE WHEN p.open THEN
                       (SELECT min(w.created_at) FROM legacy_chunk w WHERE w.owner = p.owner
                          AND w.sender_type = 'real_user' AND w.is_active AND w.ord > p.last_staff) END,
                   p.first_at, p.last_at
            FROM waiting p ORDER BY p.owner
            ON CONFLICT (user1_id) WHERE conversation_type = 'support' DO NOTHING
            RETURNING id, user1_id)
         INSERT INTO chat_support_migration_conversations (batch_id, conversation_id, user_id, created)
         SELECT $1, id, user1_id, TRUE FROM ins"
    )
}

/// $1: the chunk's owners. Locks their support conversations (a concurrent send waits)
/// and returns them with their last position.
const LOCK_SQL: &str = "SELECT id, last_seq FROM direct_messages
    WHERE conversation_type = 'support' AND user1_id = ANY($1) ORDER BY id FOR UPDATE";

/// $1: batch, $2: the chunk's conversations. Keeps each existing one's row as it was,
/// for an exact rollback (the ones just created are recorded already).
const SNAPSHOT_SQL: &str = "INSERT INTO chat_support_migration_conversations
        (batch_id, conversation_id, user_id, created, previous)
    SELECT $1, d.id, d.user1_id, FALSE, to_jsonb(d) FROM direct_messages d WHERE d.id = ANY($2)
    ON CONFLICT (batch_id, conversation_id) DO NOTHING";

/// $1: conversations that already hold messages. The old history goes in front of their
/// messages: these are parked on negative positions first, so renumbering never
/// collides with the unique `(conversation_id, seq)`.
const PARK_SQL: &str = "UPDATE dm_messages SET seq = -seq WHERE conversation_id = ANY($1)";

/// $1: batch, $2: the chunk's conversations. Copies the rows: final positions directly
/// into empty conversations, parked ones into the others. A row deleted in the old app
/// (or hidden by a policy) moves hidden, a notice as a notice.
const INSERT_MESSAGES_SQL: &str = "INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type,
        acting_admin_id, content, message_type, is_notification, created_at, is_active, hidden_at, hidden_reason,
        legacy_message_id, legacy_batch_id)
    SELECT d.id, CASE WHEN d.last_seq = 0 THEN c.ord ELSE -(1000000000000 + c.ord) END,
           c.sender_id, c.sender_type, c.acting_admin_id, c.content, c.message_type, c.is_notice, c.created_at,
           c.is_active, CASE WHEN NOT c.is_active THEN c.created_at END, c.hidden_reason,
           c.id, $1
    FROM legacy_chunk c
    JOIN direct_messages d ON d.user1_id = c.owner AND d.conversation_type = 'support'
    WHERE d.id = ANY($2)
    ORDER BY d.id, c.ord";

/// $1: parked conversations. Renumbers them 1..n: old history first (old time order,
/// then old id), then the conversation's own messages in their previous order.
const RENUMBER_SQL: &str = "UPDATE dm_messages m SET seq = r.rn FROM (
        SELECT x.id, row_number() OVER (PARTITION BY x.conversation_id
                   ORDER BY x.legacy_message_id IS NULL,
                            CASE WHEN x.legacy_message_id IS NOT NULL THEN x.created_at END,
                            x.legacy_message_id, x.seq DESC) AS rn
        FROM dm_messages x WHERE x.conversation_id = ANY($1)) r
    WHERE m.conversation_id = ANY($1) AND m.id = r.id";

/// Brings each conversation's row up to date. Moved history counts as read by both
/// sides: unread counters are left as they were (they count only the conversation's own
/// messages after each side's mark). A side that had read nothing gets the last moved
/// message as its mark, but only where that is the last message: read marks are compared
/// by id, and in a conversation that already had messages the moved ones come first
/// while their ids are larger (docs/migration.md, "Positions and ids").
const UPDATE_CONVERSATIONS_SQL: &str = "WITH s AS (
        SELECT x.conversation_id, max(x.seq) AS last_seq,
               (array_agg(x.id ORDER BY x.seq DESC))[1] AS last_id,
               (array_agg(x.created_at ORDER BY x.seq DESC))[1] AS last_at,
               (array_agg(x.id ORDER BY x.seq DESC) FILTER (WHERE x.legacy_message_id IS NOT NULL))[1] AS moved_id
        FROM dm_messages x WHERE x.conversation_id = ANY($1)
        GROUP BY x.conversation_id)
    UPDATE direct_messages d SET last_seq = s.last_seq, last_message_id = s.last_id, last_message_at = s.last_at,
        user1_last_read_id = CASE WHEN d.user1_last_read_id = 0 AND s.last_id = s.moved_id
                                  THEN s.moved_id ELSE d.user1_last_read_id END,
        user2_last_read_id = CASE WHEN d.user2_last_read_id = 0 AND s.last_id = s.moved_id
                                  THEN s.moved_id ELSE d.user2_last_read_id END,
        updated_at = now()
    FROM s WHERE d.id = ANY($1) AND d.id = s.conversation_id";

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = Int4)]
    owner: i32,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
}

/// Moves the chunk's users inside the caller's transaction; returns the rows moved.
///
/// Conversations are addressed by id arrays rather than joins on the chunk table: the
/// planner's statistics on the growing tables are stale during a run, and a join it
/// thinks small would scan every support conversation for each chunk.
pub(crate) fn move_chunk(
    conn: &mut PgConnection,
    batch: i64,
    owners: &[i32],
    resolve_after_days: u32,
) -> QueryResult<usize> {
    conn.batch_execute(CREATE_CHUNK_TABLE)?;
    let filled = diesel::sql_query(FILL_SQL).bind::<Array<Int4>, _>(owners).execute(conn)?;
    if filled == 0 {
        return Ok(0);
    }
    // Row counts for the planner, so the statements below go through the indexes.
    conn.batch_execute("ANALYZE legacy_chunk")?;
    let owners: Vec<i32> = diesel::sql_query("SELECT DISTINCT owner FROM legacy_chunk ORDER BY owner")
        .load::<Owner>(conn)?
        .into_iter()
        .map(|o| o.owner)
        .collect();
    let days = i32::try_from(resolve_after_days).unwrap_or(i32::MAX);
    diesel::sql_query(create_conversations_sql()).bind::<BigInt, _>(batch).bind::<Int4, _>(days).execute(conn)?;
    let locked = diesel::sql_query(LOCK_SQL).bind::<Array<Int4>, _>(&owners).load::<Locked>(conn)?;
    let all: Vec<i64> = locked.iter().map(|c| c.id).collect();
    let parked: Vec<i64> = locked.iter().filter(|c| c.last_seq > 0).map(|c| c.id).collect();
    diesel::sql_query(SNAPSHOT_SQL).bind::<BigInt, _>(batch).bind::<Array<BigInt>, _>(&all).execute(conn)?;
    if !parked.is_empty() {
        diesel::sql_query(PARK_SQL).bind::<Array<BigInt>, _>(&parked).execute(conn)?;
    }
    let moved =
        diesel::sql_query(INSERT_MESSAGES_SQL).bind::<BigInt, _>(batch).bind::<Array<BigInt>, _>(&all).execute(conn)?;
    if !parked.is_empty() {
        diesel::sql_query(RENUMBER_SQL).bind::<Array<BigInt>, _>(&parked).execute(conn)?;
    }
    diesel::sql_query(UPDATE_CONVERSATIONS_SQL).bind::<Array<BigInt>, _>(&all).execute(conn)?;
    Ok(moved)
}
