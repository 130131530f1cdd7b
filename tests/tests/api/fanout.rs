//! Two server instances sharing one database and a Redis: messages cross instances, and
//! after Redis restarts, clients resume with nothing missing. Run twice: with two app
//! instances in this process, and with two `chat-server` processes.

use std::time::Duration;

use chat_tests::process::ServerProcess;
use chat_tests::{RedisServer, TestApp, TestDb, WsClient, token};

use crate::typing::{typing_of, typing_refusal};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// Two instances' base URLs (`http://127.0.0.1:PORT`).
pub(crate) struct Pair {
    pub(crate) one: String,
    pub(crate) two: String,
    http: reqwest::Client,
}

impl Pair {
    pub(crate) fn new(one: &str, two: &str) -> Self {
        Self { one: one.to_owned(), two: two.to_owned(), http: reqwest::Client::new() }
    }

    /// `POST` JSON to instance one; the status and the body.
    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let reply = self
            .http
            .post(format!("{}{path}", self.one))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("instance one answers");
        (reply.status().as_u16(), reply.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn socket(base: &str, token: &str) -> WsClient {
        let url = format!("{}/api/chat/ws?access_token={token}", base.replace("http://", "ws://"));
        WsClient::connect_url(&url).await.expect("the socket opens")
    }
}

#[tokio::test]
async fn messages_cross_instances_and_survive_a_redis_restart() {
    let redis = RedisServer::start();
    let db = TestDb::migrated();
    let shared = db.shared();
    let one = TestApp::spawn_instance(db, &redis.url()).await;
    let two = TestApp::spawn_instance(shared, &redis.url()).await;
    cross_instance_scenario(&one.db, &Pair::new(&one.base, &two.base), redis).await;
}

#[tokio::test]
async fn messages_cross_server_processes_and_survive_a_redis_restart() {
    let redis = RedisServer::start();
    let db = TestDb::migrated();
    let one = ServerProcess::spawn(&db.url, &redis.url()).await;
    let two = ServerProcess::spawn(&db.url, &redis.url()).await;
    cross_instance_scenario(&db, &Pair::new(&one.base, &two.base), redis).await;
}

/// Bob writes through instance one, Alice reads on instance two; Redis crashes and
/// comes back meanwhile.
async fn cross_instance_scenario(db: &TestDb, pair: &Pair, redis: RedisServer) {
    let (alice_id, bob_id, ada_id) = (db.insert_user("alice"), db.insert_user("bob"), db.insert_user("ada"));
    let (alice, bob, ada) = (token(alice_id, "user"), token(bob_id, "user"), token(ada_id, "admin"));
    db.group("Main", "main", &[alice_id, bob_id]);
    let (status, created) = pair
        .post("/api/user/chat/direct-messages", &bob, json!({"targetType": "real_user", "targetId": alice_id}))
        .await;
    assert_eq!(status, 201, "{created}");
    let dm = created["id"].as_i64().unwrap();
    let send = |content: String| {
        let bob = &bob;
        async move {
            let (status, reply) = pair
                .post(&format!("/api/user/chat/direct-messages/{dm}/messages"), bob, json!({"content": content}))
                .await;
            assert_eq!(status, 201, "{reply}");
            reply["seq"].as_i64().unwrap()
        }
    };

    // Alice is connected to instance two; Bob writes through instance one. Redis may still
    // be subscribing, so send until the first message crosses over.
    let mut ws = Pair::socket(&pair.two, &alice).await;
    let mut crossed = false;
    for i in 0..50 {
        send(format!("hello {i}")).await;
        if ws.next(Duration::from_millis(200)).await.is_some_and(|f| f["type"] == "dm-message") {
            crossed = true;
            break;
        }
    }
    assert!(crossed, "a message sent through one instance reaches a socket on the other");
    // Presence crosses too: an admin watching the queue on instance one makes support
    // online for users of instance two.
    let mut admin_ws = Pair::socket(&pair.one, &ada).await;
    assert_eq!(admin_ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");
    let presence = ws.until(WAIT, |f| f["type"] == "presence").await;
    assert_eq!(presence["supportOnline"], true);

    // Everything alice has seen, by seq.
    let mut last_seen = 0;
    while let Some(frame) = ws.next(Duration::from_millis(500)).await {
        if frame["type"] == "dm-message" {
            last_seen = frame["message"]["seq"].as_i64().unwrap().max(last_seen);
        }
    }
    ws.close().await;

    // Redis crashes; Bob keeps writing; Redis comes back on the same port.
    let port = redis.kill();
    let mut written = Vec::new();
    for i in 0..20 {
        written.push(send(format!("during the outage {i}")).await);
    }
    let redis = RedisServer::start_on(port);

    // Alice reconnects and resumes: nothing is missing, nothing is doubled.
    let mut ws = Pair::socket(&pair.two, &alice).await;
    ws.send(json!({"type": "resume", "id": "r", "positions": {dm.to_string(): last_seen}})).await;
    let mut replayed = Vec::new();
    loop {
        let frame = ws.next(WAIT).await.expect("replay arrives");
        if frame["type"] == "resumed" {
            break;
        }
        if frame["type"] == "dm-message" {
            replayed.push(frame["message"]["seq"].as_i64().unwrap());
        }
    }
    let expected: Vec<i64> = ((last_seen + 1)..=*written.last().unwrap()).collect();
    assert_eq!(replayed, expected);

    // And live delivery across instances comes back once the subscriber reconnects; the
    // messages lost meanwhile are repaired from PostgreSQL, so the socket sees every seq.
    let mut seen: Vec<i64> = replayed.clone();
    let mut live = false;
    for i in 0..100 {
        let seq = send(format!("after {i}")).await;
        while let Some(frame) = ws.next(Duration::from_millis(200)).await {
            if frame["type"] == "dm-message" {
                seen.push(frame["message"]["seq"].as_i64().unwrap());
            }
        }
        if seen.last() == Some(&seq) {
            live = true;
            break;
        }
    }
    let expected: Vec<i64> = ((last_seen + 1)..=*seen.last().unwrap()).collect();
    assert_eq!(seen, expected, "every message exactly once, in order");
    assert!(live, "fan-out resumes after the Redis restart");
    drop(redis);
}

/// Sends support messages as `token` through `from` until one reaches `socket` (the
/// subscriptions may still be starting); true when one did.
async fn support_crosses(from: &TestApp, token: &str, socket: &mut WsClient) -> bool {
    for i in 0..50 {
        let reply = from.post("/api/user/chat/support/messages", token, json!({"content": format!("hello {i}")})).await;
        assert_eq!(reply.status, 201, "{}", reply.json());
        if socket.next(Duration::from_millis(200)).await.is_some_and(|f| f["type"] == "support-message") {
            return true;
        }
    }
    false
}

/// The support messages `socket` receives within `quiet` (none, if isolation holds).
async fn support_messages_within(socket: &mut WsClient, quiet: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(Some(frame)) = tokio::time::timeout_at(deadline, socket.next(quiet)).await {
        if frame["type"] == "support-message" {
            frames.push(frame);
        }
    }
    frames
}

/// Two deployments (two databases) on one Redis server: a support message sent on one
/// reaches that deployment's second instance, and never the other deployment's socket
/// of the same user id.
#[tokio::test]
async fn two_deployments_on_one_redis_never_receive_each_others_events() {
    let redis = RedisServer::start();
    let (db_a, db_b) = (TestDb::migrated(), TestDb::migrated());
    let a_shared = db_a.shared();
    let a1 = TestApp::spawn_instance(db_a, &redis.url()).await;
    let a2 = TestApp::spawn_instance(a_shared, &redis.url()).await;
    let b = TestApp::spawn_instance(db_b, &redis.url()).await;
    // Fresh clones of one template: the same user id in both, one token valid on both.
    let (alice, alice_on_b) = (a1.db.insert_user("alice"), b.db.insert_user("alice"));
    assert_eq!(alice, alice_on_b, "the same id names a user in each deployment");
    let alice = token(alice, "user");

    let mut on_a2 = Pair::socket(&a2.base, &alice).await;
    let mut on_b = Pair::socket(&b.base, &alice).await;
    assert!(support_crosses(&a1, &alice, &mut on_a2).await, "the same deployment's other instance gets it");
    let leaked = support_messages_within(&mut on_b, Duration::from_secs(2)).await;
    assert!(leaked.is_empty(), "the other deployment's socket got: {leaked:?}");
}

/// A deployment configured onto another's channel (the same prefix) but with its own
/// key cannot forge into that deployment's sockets: its messages fail the HMAC and are
/// dropped. A second instance with the same key is heard on that channel first, so the
/// subscription is live and the test cannot pass by delivering nothing.
#[tokio::test]
async fn messages_signed_with_another_key_are_dropped() {
    let redis = RedisServer::start();
    let shared_channel = |key: &str| chat_server::config::FanoutArgs {
        redis_url: Some(redis.url()),
        redis_channel_prefix: Some("chat:shared".to_owned()),
        fanout_key: Some(key.to_owned()),
        ..chat_server::config::FanoutArgs::default()
    };
    let (ours, theirs) = ("our-deployment-key-our-deployment-key", "their-deployment-key-their-deployment");
    let (db_a, db_b) = (TestDb::migrated(), TestDb::migrated());
    let a_shared = db_a.shared();
    let a1 = TestApp::spawn_instance_with(db_a, &shared_channel(ours)).await;
    let a2 = TestApp::spawn_instance_with(a_shared, &shared_channel(ours)).await;
    let forger = TestApp::spawn_instance_with(db_b, &shared_channel(theirs)).await;
    let (alice, alice_at_forger) = (a1.db.insert_user("alice"), forger.db.insert_user("alice"));
    assert_eq!(alice, alice_at_forger);
    let alice = token(alice, "user");

    let mut on_a1 = Pair::socket(&a1.base, &alice).await;
    assert!(support_crosses(&a2, &alice, &mut on_a1).await, "the same key is heard on the channel");
    support_messages_within(&mut on_a1, Duration::from_millis(500)).await;
    for i in 0..20 {
        let reply =
            forger.post("/api/user/chat/support/messages", &alice, json!({"content": format!("forged {i}")})).await;
        assert_eq!(reply.status, 201);
    }
    let forged = support_messages_within(&mut on_a1, Duration::from_secs(2)).await;
    assert!(forged.is_empty(), "a message signed with another key reached a socket: {forged:?}");
}

/// A block made through instance one drops the "no block" verdicts that sockets on
/// instance two answer typing from: the signal crosses Redis like an event, in order
/// with what instance one publishes after it.
#[tokio::test]
async fn a_block_through_one_instance_stops_typing_on_the_other_at_once() {
    let redis = RedisServer::start();
    let db = TestDb::migrated();
    let shared = db.shared();
    let one = TestApp::spawn_instance(db, &redis.url()).await;
    let two = TestApp::spawn_instance(shared, &redis.url()).await;
    let (alice_id, alice) = one.user("alice");
    let (bob_id, bob) = one.user("bob");
    one.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = one.start_dm(&alice, bob_id).await;
    let mut alice_ws = WsClient::connect(&two, &alice).await;
    let mut bob_ws = WsClient::connect(&two, &bob).await;
    assert!(support_crosses(&one, &alice, &mut alice_ws).await, "instance two hears instance one");

    // Both type on instance two: each socket now keeps a verdict for the DM.
    assert_eq!(typing_refusal(&mut alice_ws, dm, "a1").await, None);
    bob_ws.until(WAIT, |f| typing_of(f, dm, alice_id)).await;
    assert_eq!(typing_refusal(&mut bob_ws, dm, "b1").await, None);
    alice_ws.until(WAIT, |f| typing_of(f, dm, bob_id)).await;

    // Bob blocks Alice through instance one. Then each writes to support through
    // instance one: that message crosses after the signal, so once a socket on instance
    // two shows it, the signal has been acted on.
    let block = one.call("POST", &format!("/api/user/chat/blocks/{alice_id}"), Some(&bob), None).await;
    assert_eq!(block.status, 201);
    for (ws, token, name) in [(&mut alice_ws, &alice, "alice"), (&mut bob_ws, &bob, "bob")] {
        let content = format!("after the block ({name})");
        let reply = one.post("/api/user/chat/support/messages", token, json!({"content": content})).await;
        assert_eq!(reply.status, 201, "{}", reply.json());
        ws.until(WAIT, |f| f["type"] == "support-message" && f["message"]["content"] == content.as_str()).await;
    }

    // Neither verdict stands any more: both are refused, and nobody hears any typing.
    assert_eq!(typing_refusal(&mut alice_ws, dm, "a2").await.as_deref(), Some("dm_unavailable"));
    assert_eq!(typing_refusal(&mut bob_ws, dm, "b2").await.as_deref(), Some("dm_unavailable"));
    two.hub_barrier(&alice).await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        let frames = ws.drain("after").await;
        assert!(frames.iter().all(|f| f["type"] != "typing"), "{frames:?}");
    }
}
