//! The hot paths are served by indexes in their ORDER BY order, on realistic volumes:
//! no sort over a scan, no sequential scan of the message or conversation tables.

use chat_domain::{ConversationId, MessageId, PersonaId, UserId};
use chat_postgres::explain::{HotPath, explain};
use chat_tests::TestDb;
use diesel::connection::SimpleConnection;

const SEED: &str = "
    INSERT INTO users (username, display_name) SELECT 'u' || g, 'User ' || g FROM generate_series(1, 20000) g;
    INSERT INTO chat_fake_users (name, is_support_agent) VALUES ('Sam', TRUE);
    INSERT INTO direct_messages (conversation_type, user1_id, user2_type, fake_user_id, support_status,
                                 waiting_since, last_message_at)
    SELECT 'support', g, 'support', 1,
           CASE g % 10 WHEN 0 THEN 'open' WHEN 1 THEN 'pending' ELSE 'resolved' END,
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
        (HotPath::SupportQueueOpen, &["direct_messages_support_waiting"][..], "direct_messages"),
        // Either index reads pending rows in ORDER BY order; the planner picks by selectivity.
        (
            HotPath::SupportQueuePending,
            &["direct_messages_support_status_activity", "direct_messages_support_activity"][..],
            "direct_messages",
        ),
        (HotPath::SupportQueueAll, &["direct_messages_support_activity"][..], "direct_messages"),
        (HotPath::HistoryOlder(conversation, MessageId(200_000)), &["dm_messages_conversation_seq"][..], "dm_messages"),
        (HotPath::HistoryNewer(conversation, MessageId(100)), &["dm_messages_conversation_seq"][..], "dm_messages"),
        (
            HotPath::HistoryOlderGeneric(conversation, MessageId(100)),
            &["dm_messages_conversation_seq"][..],
            "dm_messages",
        ),
        (HotPath::SendClientIdLookup(conversation), &["dm_messages_client_id_idx"][..], "dm_messages"),
        (
            HotPath::UserDmList(UserId(20001)),
            &["direct_messages_user1_activity", "direct_messages_user2_activity"][..],
            "direct_messages",
        ),
        (HotPath::AdminDmList, &["direct_messages_dm_activity"][..], "direct_messages"),
        (HotPath::AdminDmListByPersona(PersonaId(2)), &["direct_messages_persona_dm_activity"][..], "direct_messages"),
    ];
    for (path, index, table) in cases {
        let plan = explain(&db.url, path).unwrap();
        println!("{path:?}\n{plan}\n");
        assert_served_by(&plan, index, table);
    }
}

#[test]
fn the_send_statement_finds_its_row_and_checks_its_key_by_index() {
    let db = TestDb::migrated();
    db.conn().batch_execute(SEED).unwrap();
    let cases = [
        (HotPath::SendAppend(ConversationId(7)), &["direct_messages_pkey"][..]),
        (HotPath::SendAppendToSupport(UserId(7)), &["direct_messages_one_support_per_user"][..]),
        (HotPath::SendAppendToSupportGeneric(UserId(7)), &["direct_messages_one_support_per_user"][..]),
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
