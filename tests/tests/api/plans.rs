//! The hot paths are served by indexes in their ORDER BY order, on realistic volumes:
//! no sort over a scan, no sequential scan of the message or conversation tables.

use chat_domain::direct_messages::{AdminDmQuery, DmCursor, DmKind, DmListQuery};
use chat_domain::support::SupportRepository;
use chat_domain::support::{AssigneeFilter, QueueCursor, QueueQuery, QueueStatus};
use chat_domain::{ConversationId, MessageId, PersonaId, UserId};
use chat_postgres::PgTx;
use chat_postgres::explain::{HotPath, explain, queue_planned_per_request};
use chat_tests::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

const SEED: &str = "
    INSERT INTO users (username, display_name) SELECT 'u' || g, 'User ' || g FROM generate_series(1, 20000) g;
    INSERT INTO chat_fake_users (name, is_support_agent) VALUES ('Sam', TRUE);
    -- A third of the queue unassigned, the rest spread over five admins.
    INSERT INTO direct_messages (conversation_type, user1_id, user2_type, fake_user_id, support_status,
                                 assignee_admin_id, waiting_since, last_message_at)
    SELECT 'support', g, 'support', 1,
           CASE g % 10 WHEN 0 THEN 'open' WHEN 1 THEN 'pending' ELSE 'resolved' END,
           CASE WHEN g % 3 <> 0 THEN 1 + g % 5 END,
           CASE WHEN g % 10 = 0 THEN now() - g * interval '1 second' END, now() - g * interval '1 second'
    FROM generate_series(1, 20000) g;
    INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type, content, client_message_id)
    SELECT 1 + g % 20000, 1 + g / 20000, 1 + g % 20000, 'real_user', 'message ' || g,
           CASE WHEN g % 2 = 0 THEN gen_random_uuid() END
    FROM generate_series(1, 200000) g;
    INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type, content)
    SELECT 7, 100 + g, 7, 'real_user', 'long thread ' || g FROM generate_series(1, 50000) g;
    -- 100,000 DMs: one user (20001) in 1,000 of them from either side, persona DMs too.
    INSERT INTO users (username, display_name) SELECT 'v' || g, 'Busy ' || g FROM generate_series(20001, 20002) g;
    INSERT INTO chat_fake_users (name, dm_enabled) VALUES ('Mia', TRUE);
    INSERT INTO direct_messages (conversation_type, user1_id, user2_id, user2_type, last_message_at)
    SELECT 'user_dm', LEAST(u, v), GREATEST(u, v), 'real_user', now() - g * interval '1 second'
    FROM (SELECT g, CASE WHEN g <= 1000 THEN 20001 ELSE 1 + g % 19999 END AS u,
                 1 + (g * 7919) % 20000 AS v FROM generate_series(1, 90000) g) pairs
    WHERE u <> v
    ON CONFLICT DO NOTHING;
    INSERT INTO direct_messages (conversation_type, user1_id, fake_user_id, user2_type, last_message_at)
    SELECT 'user_dm', g, 2, 'fake_user', now() - g * interval '1 second' FROM generate_series(1, 10000) g;
    ANALYZE;
";

fn assert_served_by(plan: &str, indexes: &[&str], table: &str) {
    assert!(indexes.iter().any(|index| plan.contains(index)), "expected one of {indexes:?}:\n{plan}");
    // A Sort node ("Sort  (cost=...", also "Incremental Sort"), not Merge Append's "Sort Key".
    assert!(!plan.contains("Sort  ("), "a sort means the index does not match the ORDER BY:\n{plan}");
    assert!(!plan.contains(&format!("Seq Scan on {table}")), "sequential scan of {table}:\n{plan}");
}

#[test]
fn queue_history_and_send_lookups_use_their_indexes() {
    let db = TestDb::migrated();
    db.conn().batch_execute(SEED).unwrap();
    let conversation = ConversationId(7);
    let cases = [
        (HotPath::SupportQueue(queue_page(QueueStatus::Open)), QUEUE_OPEN, "direct_messages"),
        (HotPath::SupportQueue(queue_page(QueueStatus::Pending)), QUEUE_BY_ACTIVITY, "direct_messages"),
        (
            HotPath::SupportQueue(queue_page(QueueStatus::All)),
            &["direct_messages_support_activity"][..],
            "direct_messages",
        ),
        (HotPath::HistoryOlder(conversation, MessageId(200_000)), &["dm_messages_conversation_seq"][..], "dm_messages"),
        (HotPath::HistoryNewer(conversation, MessageId(100)), &["dm_messages_conversation_seq"][..], "dm_messages"),
        (
            HotPath::HistoryOlderGeneric(conversation, MessageId(100)),
            &["dm_messages_conversation_seq"][..],
            "dm_messages",
        ),
        (HotPath::SendClientIdLookup(conversation), &["dm_messages_client_id_idx"][..], "dm_messages"),
        (
            HotPath::UserDmList(UserId(20001), DmListQuery { archived: false, after: None, limit: 50 }),
            USER_DMS,
            "direct_messages",
        ),
        (HotPath::AdminDmList(admin_dm_page(None)), &["direct_messages_dm_activity"][..], "direct_messages"),
        (HotPath::AdminDmList(admin_dm_page(Some(PersonaId(2)))), PERSONA_DMS, "direct_messages"),
    ];
    for (path, index, table) in cases {
        let plan = explain(&db.url, path).unwrap();
        println!("{path:?}\n{plan}\n");
        assert_served_by(&plan, index, table);
    }
}

const USER_DMS: &[&str] = &["direct_messages_user1_activity", "direct_messages_user2_activity"];
const PERSONA_DMS: &[&str] = &["direct_messages_persona_dm_activity"];

fn admin_dm_page(persona: Option<PersonaId>) -> AdminDmQuery {
    AdminDmQuery { user: None, persona, kind: None, waiting: false, after: None, limit: 50 }
}

/// Every shape of a DM list page (a user's own, active or archived; the admins' with any
/// of their filters), with or without a cursor, has a prepared statement of its own whose
/// generic plan reads an index in ORDER BY order. Not the admins' `waiting` filter: it
/// is on each DM's last message, which no index orders (its plans are what they were
/// before the shapes, planned with or without values alike).
#[test]
fn every_shape_of_the_dm_lists_has_a_generic_plan_served_by_its_index() {
    let db = TestDb::migrated();
    db.conn().batch_execute(SEED).unwrap();
    let after = Some(DmCursor(chrono::Utc::now(), ConversationId(10)));
    for archived in [false, true] {
        for after in [None, after] {
            let page = DmListQuery { archived, after, limit: 50 };
            let plan = explain(&db.url, HotPath::UserDmListGeneric(UserId(20001), page)).unwrap();
            assert_served_by(&plan, USER_DMS, "direct_messages");
        }
    }
    for user in [None, Some(UserId(20001))] {
        for persona in [None, Some(PersonaId(2))] {
            for kind in [None, Some(DmKind::UserDm), Some(DmKind::PersonaDm)] {
                for after in [None, after] {
                    {
                        let page = AdminDmQuery { user, persona, kind, waiting: false, after, limit: 50 };
                        let plan = explain(&db.url, HotPath::AdminDmListGeneric(page)).unwrap();
                        let indexes = match (user, persona) {
                            (Some(_), Some(_)) => {
                                // At most one row, the user's DM with that persona: found by
                                // its unique index, then "sorted".
                                assert!(plan.contains("direct_messages_one_dm_per_persona"), "{plan}");
                                assert!(!plan.contains("Seq Scan on direct_messages"), "{plan}");
                                continue;
                            }
                            (Some(_), None) => USER_DMS,
                            (None, Some(_)) => PERSONA_DMS,
                            (None, None) => &["direct_messages_dm_activity", "direct_messages_persona_dm_activity"][..],
                        };
                        assert_served_by(&plan, indexes, "direct_messages");
                    }
                }
            }
        }
    }
}

const QUEUE_OPEN: &[&str] = &["direct_messages_support_waiting"];
// Either index reads one status's rows in ORDER BY order; the planner picks by selectivity.
const QUEUE_BY_ACTIVITY: &[&str] = &["direct_messages_support_status_activity", "direct_messages_support_activity"];

fn queue_page(status: QueueStatus) -> QueueQuery {
    QueueQuery { status, assignee: AssigneeFilter::Any, persona: None, after: None, limit: 50 }
}

/// Every shape of a queue page (status, assignee, persona, cursor) has a prepared
/// statement of its own; whatever its binds, its generic plan reads the queue's index in
/// ORDER BY order (but for the shape the queue plans per request), so PostgreSQL may plan it once
/// per connection.
#[test]
fn every_shape_of_the_queue_has_a_generic_plan_served_by_its_index() {
    let db = TestDb::migrated();
    db.conn().batch_execute(SEED).unwrap();
    let at = chrono::Utc::now();
    for status in [QueueStatus::Open, QueueStatus::Pending, QueueStatus::Resolved, QueueStatus::All] {
        for assignee in [AssigneeFilter::Any, AssigneeFilter::Nobody, AssigneeFilter::Admin(UserId(3))] {
            for persona in [None, Some(PersonaId(1))] {
                for cursor in [false, true] {
                    let after = cursor.then_some(match status {
                        QueueStatus::Open => QueueCursor::Waiting(at, ConversationId(10)),
                        _ => QueueCursor::Activity(at, ConversationId(10)),
                    });
                    let page = QueueQuery { status, assignee, persona, after, limit: 50 };
                    let plan = explain(&db.url, HotPath::SupportQueueGeneric(page)).unwrap();
                    let indexes = match status {
                        QueueStatus::Open => QUEUE_OPEN,
                        QueueStatus::All => &["direct_messages_support_activity"][..],
                        QueueStatus::Pending | QueueStatus::Resolved => QUEUE_BY_ACTIVITY,
                    };
                    if queue_planned_per_request(&page) {
                        continue;
                    }
                    assert_served_by(&plan, indexes, "direct_messages");
                }
            }
        }
    }
}

/// PostgreSQL settles on the generic plan of a queue page after its first custom plans;
/// the shape whose generic plan is wrong is not prepared (PostgreSQL would pick that
/// plan: tried), so each execution of it is planned with its values.
#[test]
fn the_queue_is_planned_once_per_connection_where_its_generic_plan_serves() {
    let db = TestDb::migrated();
    db.conn().batch_execute(SEED).unwrap();
    let mut conn = db.conn();
    let misjudged = QueueQuery {
        status: QueueStatus::Resolved,
        assignee: AssigneeFilter::Admin(UserId(3)),
        persona: Some(PersonaId(1)),
        after: Some(QueueCursor::Activity(chrono::Utc::now(), ConversationId(10))),
        limit: 50,
    };
    assert!(queue_planned_per_request(&misjudged));
    for _ in 0..10 {
        for page in [queue_page(QueueStatus::Open), misjudged] {
            let rows = PgTx::new(&mut conn).support_queue(&page).unwrap();
            assert!(!rows.is_empty(), "{page:?} finds rows");
        }
    }
    let mut plans = |filter: &str| {
        diesel::sql_query(format!(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'SELECT d.id%' AND {filter}"
        ))
        .get_result::<Plans>(&mut conn)
        .unwrap()
    };
    let open = plans("statement LIKE '%support_status = ''open''%' AND statement NOT LIKE '%$3%'");
    assert_eq!(open.generic_plans + open.custom_plans, 10, "one statement, prepared once");
    assert!(open.generic_plans >= 5, "the open queue settles on its generic plan: {open:?}");
    let misjudged = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%fake_user_id = $4%'",
    )
    .get_result::<Count>(&mut conn)
    .unwrap();
    assert_eq!(misjudged.n, 0, "the misjudged shape is not prepared");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(Debug, QueryableByName)]
struct Plans {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    custom_plans: i64,
}

#[test]
fn the_send_statement_finds_its_row_and_checks_its_key_by_index() {
    let db = TestDb::migrated();
    db.conn().batch_execute(SEED).unwrap();
    let cases = [
        (HotPath::SendAppend(ConversationId(7)), &["direct_messages_pkey"][..]),
        (HotPath::SendAppendToSupport(UserId(7)), &["direct_messages_one_support_per_user"][..]),
        (HotPath::SendAppendToSupportGeneric(UserId(7)), &["direct_messages_one_support_per_user"][..]),
        // The first user DM of the seed, between users 7920 and 20001, sent to by 20001.
        (HotPath::SendAppendToDm(ConversationId(20001), UserId(20001)), &["direct_messages_pkey"][..]),
        (HotPath::SendAppendToDmGeneric(ConversationId(20001), UserId(20001)), &["direct_messages_pkey"][..]),
    ];
    for (path, index) in cases {
        let plan = explain(&db.url, path).unwrap();
        println!("{path:?}\n{plan}\n");
        // The statement sorts its own few sends (the rows it locks, by id, so that
        // writers lock in one order), never a table.
        assert!(index.iter().any(|index| plan.contains(index)), "expected one of {index:?}:\n{plan}");
        assert!(!plan.contains("Seq Scan on direct_messages"), "sequential scan of direct_messages:\n{plan}");
        assert!(!plan.contains("Seq Scan on dm_messages"), "sequential scan of dm_messages:\n{plan}");
        assert!(plan.contains("Conflict Arbiter Indexes: dm_messages_client_id_idx"), "idempotency by index:\n{plan}");
    }
}
