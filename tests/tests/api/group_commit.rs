//! Group commit through the real server: sends waiting at the same moment share one
//! transaction, and every rule holds as when each commits alone: gapless positions per
//! conversation (several sends to one conversation in one batch included), unread
//! counters, the support lifecycle, idempotency, acknowledgement after the commit, and
//! a refused send failing alone while the others of its batch commit.
//!
//! Sends that shared a transaction share its timestamp (`created_at` defaults to
//! `now()`, the transaction's start), which is how these tests see that batches formed.

use std::collections::HashMap;
use std::time::Duration;

use chat_postgres::{GroupCommitConfig, PoolConfig};
use chat_tests::{TestApp, TestDb};
use futures_util::future::join_all;
use serde_json::{Value, json};

const MESSAGES: &str = "/api/user/chat/support/messages";

fn pool(group_commit: bool) -> PoolConfig {
    let group = GroupCommitConfig { max_batch: 64, max_wait: Duration::from_millis(1), writers: 2 };
    PoolConfig { max_size: 16, group_commit: group_commit.then_some(group), ..PoolConfig::default() }
}

/// Messages stored in a transaction with at least one other message.
fn batched_messages(app: &TestApp) -> i64 {
    app.db.count(
        "SELECT COALESCE(sum(n), 0)::bigint AS n FROM
           (SELECT count(*) AS n FROM dm_messages GROUP BY created_at HAVING count(*) > 1) shared",
    )
}

/// Messages stored by one statement with others (same transaction, same command).
fn appended_together(app: &TestApp) -> i64 {
    app.db.count(
        "SELECT COALESCE(sum(n), 0)::bigint AS n FROM
           (SELECT count(*) AS n FROM dm_messages GROUP BY xmin::text, cmin::text HAVING count(*) > 1) shared",
    )
}

/// Every conversation's positions are 1..=last_seq, one message each.
fn assert_gapless(app: &TestApp) {
    let broken = app.db.count(
        "SELECT count(*) AS n FROM direct_messages d
          WHERE d.last_seq <> (SELECT count(*) FROM dm_messages m WHERE m.conversation_id = d.id)
             OR d.last_seq <> (SELECT COALESCE(max(seq), 0) FROM dm_messages m WHERE m.conversation_id = d.id)
             OR d.last_message_id IS DISTINCT FROM
                (SELECT m.id FROM dm_messages m WHERE m.conversation_id = d.id ORDER BY m.seq DESC LIMIT 1)",
    );
    assert_eq!(broken, 0, "every conversation's positions are 1..=last_seq and its last message is the newest");
}

fn row(app: &TestApp, conversation: i64, column: &str) -> i64 {
    app.db.count(&format!("SELECT ({column})::bigint AS n FROM direct_messages WHERE id = {conversation}"))
}

/// Eight users each send six messages at once, then an admin answers all eight at once,
/// then each user sends two more at once: the counters and the lifecycle after each
/// wave are what one-at-a-time sends give, whatever the batches were.
async fn three_waves(app: &TestApp) {
    let (_, admin) = app.admin("ada");
    let users: Vec<String> = (0..8).map(|i| app.user(&format!("u{i}")).1).collect();
    let wave = |per_user: usize| {
        join_all(users.iter().flat_map(|token| {
            (0..per_user).map(move |i| app.post(MESSAGES, token, json!({"content": format!("m{i}")})))
        }))
    };

    let first = wave(6).await;
    assert!(first.iter().all(|r| r.status == 201), "{:?}", first.iter().map(|r| r.status).collect::<Vec<_>>());
    let mut conversations: HashMap<i64, Vec<i64>> = HashMap::new();
    for reply in &first {
        let message = reply.json();
        conversations
            .entry(message["conversationId"].as_i64().unwrap())
            .or_default()
            .push(message["seq"].as_i64().unwrap());
        // Acknowledged only after the commit: another connection sees it at once.
        let id = message["id"].as_i64().unwrap();
        assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE id = {id}")), 1);
    }
    assert_eq!(conversations.len(), 8);
    for (conversation, mut seqs) in conversations.clone() {
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=6).collect::<Vec<_>>(), "the acks name positions 1..=6");
        assert_eq!(row(app, conversation, "user2_unread"), 6, "six unread for the team");
        assert_eq!(row(app, conversation, "user1_unread"), 0);
        assert_eq!(
            row(app, conversation, "extract(epoch from waiting_since) * 1e6"),
            app.db.count(&format!(
                "SELECT (extract(epoch from created_at) * 1e6)::bigint AS n FROM dm_messages
                  WHERE conversation_id = {conversation} AND seq = 1"
            )),
            "the wait starts at the first unanswered message (in position order)"
        );
    }
    assert_gapless(app);

    let paths: Vec<String> = conversations.keys().map(|id| format!("/api/admin/chat/support/{id}/messages")).collect();
    let answers = join_all(paths.iter().map(|path| app.post(path, &admin, json!({"content": "on it"})))).await;
    assert!(answers.iter().all(|r| r.status == 201));
    for conversation in conversations.keys() {
        let status = app.db.count(&format!(
            "SELECT (support_status = 'pending' AND waiting_since IS NULL)::int::bigint AS n FROM direct_messages WHERE id = {conversation}"
        ));
        assert_eq!(status, 1, "answered: pending, nobody waiting");
        assert_eq!(row(app, *conversation, "user1_unread"), 1);
        assert_eq!(row(app, *conversation, "user2_unread"), 0, "replying reads the thread");
    }

    let last = wave(2).await;
    assert!(last.iter().all(|r| r.status == 201));
    for conversation in conversations.keys() {
        let open = app.db.count(&format!(
            "SELECT (support_status = 'open' AND waiting_since IS NOT NULL)::int::bigint AS n FROM direct_messages WHERE id = {conversation}"
        ));
        assert_eq!(open, 1, "reopened by the user");
        assert_eq!(row(app, *conversation, "last_seq"), 9);
        assert_eq!(row(app, *conversation, "user2_unread"), 2);
        assert_eq!(row(app, *conversation, "user1_unread"), 0);
    }
    assert_gapless(app);
}

#[tokio::test]
async fn concurrent_sends_share_commits_and_every_counter_and_position_holds() {
    let app = TestApp::spawn_with(TestDb::migrated(), pool(true)).await;
    three_waves(&app).await;
    assert!(batched_messages(&app) > 0, "some sends shared a transaction");
    assert!(appended_together(&app) > 0, "some sends to distinct conversations shared one statement");
}

#[tokio::test]
async fn without_group_commit_the_same_waves_give_the_same_rows() {
    let app = TestApp::spawn_with(TestDb::migrated(), pool(false)).await;
    three_waves(&app).await;
    assert_eq!(batched_messages(&app), 0, "each send committed alone");
    assert_eq!(appended_together(&app), 0, "each send in its own statement");
}

#[tokio::test]
async fn twenty_sends_to_one_conversation_at_once_get_positions_1_to_20_in_arrival_order_of_their_batch() {
    let app = TestApp::spawn_with(TestDb::migrated(), pool(true)).await;
    let (_, alice) = app.user("alice");
    let replies = join_all((0..20).map(|i| app.post(MESSAGES, &alice, json!({"content": format!("burst {i}")})))).await;
    assert!(replies.iter().all(|r| r.status == 201));
    let mut seqs: Vec<i64> = replies.iter().map(|r| r.json()["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    assert_gapless(&app);
    let conversation = replies[0].json()["conversationId"].as_i64().unwrap();
    assert_eq!(row(&app, conversation, "user2_unread"), 20);
    // Within a shared transaction, ids and positions follow the same (arrival) order.
    let disorder = app.db.count(
        "SELECT count(*) AS n FROM dm_messages a JOIN dm_messages b
           ON a.conversation_id = b.conversation_id AND a.seq < b.seq AND a.id > b.id",
    );
    assert_eq!(disorder, 0);
    assert!(batched_messages(&app) > 0, "several sends to one conversation shared a transaction");
    assert_eq!(appended_together(&app), 0, "one statement appends at most one send per conversation");
}

#[tokio::test]
async fn a_refused_send_fails_alone_and_the_others_of_its_batch_commit() {
    let app = TestApp::spawn_with(TestDb::migrated(), pool(true)).await;
    let (_, alice) = app.user("alice");
    let key = uuid::Uuid::new_v4();
    let first = app.post(MESSAGES, &alice, json!({"content": "a", "clientMessageId": key})).await;
    assert_eq!(first.status, 201);
    let users: Vec<String> = (0..30).map(|i| app.user(&format!("u{i}")).1).collect();

    for round in 0..5 {
        let good = users.iter().map(|token| app.post(MESSAGES, token, json!({"content": format!("r{round}")})));
        let reused = app.post(MESSAGES, &alice, json!({"content": "b", "clientMessageId": key}));
        let retries = (0..5).map(|_| app.post(MESSAGES, &alice, json!({"content": "a", "clientMessageId": key})));
        let (good, reused, retries) = futures_util::join!(join_all(good), reused, join_all(retries));
        assert!(good.iter().all(|r| r.status == 201), "{:?}", good.iter().map(Value::from_reply).collect::<Vec<_>>());
        assert_eq!(reused.status, 409);
        assert_eq!(reused.code().as_deref(), Some("idempotency_key_reused"));
        for retry in &retries {
            assert_eq!(retry.status, 200, "a retry gets the stored message");
            assert_eq!(retry.json()["id"], first.json()["id"]);
        }
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 1 + 30 * 5);
    assert_eq!(row(&app, first.json()["conversationId"].as_i64().unwrap(), "user2_unread"), 1, "retries count once");
    assert_gapless(&app);
    assert!(batched_messages(&app) > 0, "the good sends shared transactions");
}

/// Users' DM sends read nothing first, so they join the batch's one statement like
/// support sends: waves of sends from both users of eight DMs share statements, while in
/// the same waves a blocked pair's sends and an outsider's sends to a DM's id are refused
/// (403 and the same 404 as a missing DM), fail alone and store nothing.
#[tokio::test]
async fn dm_sends_share_the_batch_statement_and_blocked_or_foreign_ones_fail_alone() {
    let app = TestApp::spawn_with(TestDb::migrated(), pool(true)).await;
    let users: Vec<(i32, String)> = (0..18).map(|i| app.user(&format!("u{i}"))).collect();
    let (outsider_id, outsider) = app.user("outsider");
    let ids: Vec<i32> = users.iter().map(|(id, _)| *id).chain([outsider_id]).collect();
    app.db.group("Main", "main", &ids);
    let path = |dm: i64| format!("/api/user/chat/direct-messages/{dm}/messages");
    // (messages path, its two users' tokens) of nine DMs.
    let mut dms = Vec::new();
    for pair in users.chunks(2) {
        let [(_, a), (b_id, b)] = pair else { unreachable!("pairs") };
        dms.push((app.start_dm(a, *b_id).await, [a.clone(), b.clone()]));
    }
    // The ninth pair: a first message, then one blocks the other.
    let (blocked_dm, blocked_pair) = dms.pop().unwrap();
    let blocked_path = path(blocked_dm);
    assert_eq!(app.post(&blocked_path, &blocked_pair[1], json!({"content": "hi"})).await.status, 201);
    let block = format!("/api/user/chat/blocks/{}", users[17].0);
    assert_eq!(app.call("POST", &block, Some(&blocked_pair[0]), None).await.status, 201);
    let paths: Vec<String> = dms.iter().map(|(dm, _)| path(*dm)).collect();
    let missing_path = path(i64::from(i32::MAX));

    let senders: Vec<(&String, &String)> =
        dms.iter().zip(&paths).flat_map(|((_, tokens), path)| tokens.iter().map(move |token| (path, token))).collect();
    for round in 0..4 {
        let good = senders.iter().map(|(path, token)| app.post(path, token, json!({"content": format!("r{round}")})));
        let refused = blocked_pair.iter().map(|token| app.post(&blocked_path, token, json!({"content": "x"})));
        let foreign = app.post(&paths[0], &outsider, json!({"content": "let me in"}));
        let (good, refused, foreign) = futures_util::join!(join_all(good), join_all(refused), foreign);
        assert!(good.iter().all(|r| r.status == 201), "{:?}", good.iter().map(Value::from_reply).collect::<Vec<_>>());
        for reply in &refused {
            assert_eq!((reply.status, reply.code().as_deref()), (403, Some("dm_unavailable")));
        }
        let missing = app.post(&missing_path, &outsider, json!({"content": "let me in"})).await;
        assert_eq!(foreign.status, 404);
        assert_eq!((foreign.status, foreign.json()), (missing.status, missing.json()), "a foreign DM = a missing one");
    }
    assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE conversation_id = {blocked_dm}")), 1);
    for (dm, _) in &dms {
        assert_eq!(row(&app, *dm, "last_seq"), 8, "both users' four sends");
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages WHERE content = 'let me in'"), 0);
    assert_gapless(&app);
    assert!(appended_together(&app) > 0, "DM sends to distinct DMs shared one statement");
}

/// A readable status for assertion messages.
trait FromReply {
    fn from_reply(reply: &chat_tests::Reply) -> Value;
}

impl FromReply for Value {
    fn from_reply(reply: &chat_tests::Reply) -> Value {
        json!({"status": reply.status, "body": reply.json()})
    }
}

#[tokio::test]
async fn the_writers_connect_and_prepare_the_send_statement_before_the_first_send() {
    let app = TestApp::spawn_with(TestDb::migrated(), pool(true)).await;
    let warmed = "SELECT count(*) AS n FROM pg_stat_activity
                   WHERE datname = current_database() AND state = 'idle' AND query LIKE 'WITH i AS (%'";
    let started = std::time::Instant::now();
    while app.db.count(warmed) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the two writers' connections never ran the send statement"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0, "preparing it stored nothing");
}
