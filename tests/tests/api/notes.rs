//! Internal notes: staff-only by construction. The same scripted history runs twice, on
//! two servers with databases of their own: once without notes, once with notes added
//! at every step (over REST and over the socket). Every user-facing output (history,
//! sync, resume, the chat list's previews and unread counts, search, the support
//! status, the user's socket, the webhook outbox) and the admin lists (queue status, waiting times, the
//! team's unread counts, last messages) must be identical in both, up to timestamps;
//! the admins see the notes, in order with the messages.

use std::time::Duration;

use chat_postgres::PoolConfig;
use chat_tests::{RedisServer, TestApp, TestDb, WsClient};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const NONEXISTENT: i64 = 9_000_000_000;
/// A word that only notes contain: searching for it must find nothing for the user.
const NOTE_WORD: &str = "zanzibar";

/// Every frame `client` was sent before now (after a hub barrier through `any_user`).
async fn drain(app: &TestApp, any_user: &str, client: &mut WsClient, id: &str) -> Vec<Value> {
    app.hub_barrier(any_user).await;
    client.drain(id).await
}

/// Timestamps differ between the two runs; everything else must not.
fn untimed(value: &Value) -> Value {
    match value {
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => json!("<time>"),
        Value::Array(items) => Value::Array(items.iter().map(untimed).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), untimed(v))).collect()),
        other => other.clone(),
    }
}

struct World {
    app: TestApp,
    ada: String,
    alice: String,
    support: i64,
    dm: i64,
    ada_ws: WsClient,
    alice_ws: WsClient,
    with_notes: bool,
    /// What users (and the admin queue) were shown, step by step: (what, body).
    shown: Vec<(String, Value)>,
    /// The notes added, in order: (conversation, content).
    notes: Vec<(i64, String)>,
}

impl World {
    async fn new(with_notes: bool) -> Self {
        // Connections that write the webhook outbox (no dispatcher drains it): what would
        // be notified is compared too.
        let pool = PoolConfig { webhook_outbox: true, ..PoolConfig::default() };
        let app = TestApp::spawn_with(TestDb::migrated(), pool).await;
        let (_, ada) = app.admin("ada");
        let (_, alice) = app.user("alice");
        let sam = app
            .post("/api/admin/chat/personas", &ada, json!({"name": "Sam", "isSupportAgent": true, "dmEnabled": true}))
            .await
            .json()["id"]
            .as_i64()
            .unwrap();
        let support = app.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();
        let dm = app
            .post("/api/user/chat/direct-messages", &alice, json!({"targetType": "fake_user", "targetId": sam}))
            .await;
        assert_eq!(dm.status, 201, "{:?}", dm.json());
        let dm = dm.json()["id"].as_i64().unwrap();
        let mut ada_ws = WsClient::connect(&app, &ada).await;
        assert_eq!(ada_ws.request(json!({"type": "join-support-queue"}), "q").await["type"], "ack");
        let mut alice_ws = WsClient::connect(&app, &alice).await;
        assert_eq!(alice_ws.request(json!({"type": "ping"}), "start").await["type"], "pong");
        Self { app, ada, alice, support, dm, ada_ws, alice_ws, with_notes, shown: Vec::new(), notes: Vec::new() }
    }

    /// Adds a note (only in the world with notes): over REST, or over the admin's socket.
    async fn note(&mut self, conversation: i64, socket: bool) {
        if !self.with_notes {
            return;
        }
        let content = format!("{NOTE_WORD} note {} (do not tell the user)", self.notes.len() + 1);
        let note = if socket {
            let frame = json!({"type": "add-note", "conversationId": conversation, "content": content});
            let ack = self.ada_ws.request(frame, &format!("n{}", self.notes.len())).await;
            assert_eq!(ack["type"], "ack", "{ack}");
            ack["note"].clone()
        } else {
            let family = if conversation == self.support { "support" } else { "direct-messages" };
            let path = format!("/api/admin/chat/{family}/{conversation}/notes");
            let reply = self.app.post(&path, &self.ada, json!({"content": content})).await;
            assert_eq!(reply.status, 201, "{:?}", reply.json());
            reply.json()
        };
        assert_eq!((note["kind"].clone(), note["content"].clone()), (json!("note"), json!(content)));
        // The team's sockets hear of it at once, with its author.
        let event = self.ada_ws.until(WAIT, |f| f["type"] == "note").await;
        assert_eq!(event["note"]["id"], note["id"]);
        assert_eq!(event["note"]["author"]["displayName"], "Ada");
        self.notes.push((conversation, content));
    }

    /// Records everything the user (and the admin queue) is shown now.
    async fn look(&mut self, step: &str) {
        let (support, dm) = (self.support, self.dm);
        let user_reads = [
            "/api/user/chat/support".to_owned(),
            "/api/user/chat/support/messages".to_owned(),
            "/api/user/chat/support/messages?after=0".to_owned(),
            "/api/user/chat/conversations".to_owned(),
            "/api/user/chat/direct-messages".to_owned(),
            format!("/api/user/chat/direct-messages/{dm}"),
            format!("/api/user/chat/direct-messages/{dm}/messages"),
            format!("/api/user/chat/search?q={NOTE_WORD}"),
            "/api/user/chat/search?q=help".to_owned(),
        ];
        for path in user_reads {
            let reply = self.app.get(&path, &self.alice).await;
            assert_eq!(reply.status / 100, 2, "{path}: {:?}", reply.json());
            self.shown.push((format!("{step}: GET {path}"), untimed(&reply.json())));
        }
        let outbox = self.app.db.count(
            "SELECT coalesce(sum(coalesce(dm_message_id, 0) * 1000 + coalesce(chat_message_id, 0)), 0)::bigint AS n \
             FROM chat_webhook_outbox",
        );
        let rows = self.app.db.count("SELECT count(*) AS n FROM chat_webhook_outbox");
        self.shown.push((format!("{step}: webhook outbox"), json!([rows, outbox])));
        let sync = self.app.post("/api/user/chat/sync", &self.alice, json!({"positions": {}})).await;
        self.shown.push((format!("{step}: POST sync"), untimed(&sync.json())));
        let admin_reads = [
            "/api/admin/chat/support?status=all".to_owned(),
            format!("/api/admin/chat/support/{support}"),
            "/api/admin/chat/direct-messages".to_owned(),
            format!("/api/admin/chat/direct-messages/{dm}"),
        ];
        for path in admin_reads {
            let reply = self.app.get(&path, &self.ada).await;
            self.shown.push((format!("{step}: admin GET {path}"), untimed(&reply.json())));
        }
    }

    async fn say(&self, content: &str) {
        let reply = self.app.post("/api/user/chat/support/messages", &self.alice, json!({"content": content})).await;
        assert_eq!(reply.status, 201);
    }

    /// The script: every kind of change a note must not cause, with notes in between.
    async fn run(mut self) -> Self {
        let (support, dm) = (self.support, self.dm);
        self.note(support, false).await; // before any message
        self.look("empty").await;
        self.say("I need help with my email").await;
        self.note(support, true).await; // while open: it stays open, nobody "answered"
        self.look("open").await;
        let path = format!("/api/admin/chat/support/{support}/messages");
        assert_eq!(self.app.post(&path, &self.ada, json!({"content": "Happy to help!"})).await.status, 201);
        self.note(support, false).await;
        self.look("pending").await;
        let path = format!("/api/admin/chat/support/{support}");
        assert_eq!(self.app.patch(&path, &self.ada, json!({"status": "resolved"})).await.status, 200);
        self.note(support, true).await;
        self.look("resolved").await;
        self.say("Sorry, one more thing: help?").await; // reopens
        self.note(support, false).await;
        self.note(support, true).await;
        self.look("reopened").await;
        let path = format!("/api/user/chat/direct-messages/{dm}/messages");
        assert_eq!(self.app.post(&path, &self.alice, json!({"content": "hi Sam, help"})).await.status, 201);
        self.note(dm, false).await;
        let path = format!("/api/admin/chat/direct-messages/{dm}/messages");
        assert_eq!(self.app.post(&path, &self.ada, json!({"content": "Hi Alice!"})).await.status, 201);
        self.note(dm, true).await;
        self.look("persona dm").await;
        self
    }

    /// What the user's socket received, and what a fresh socket's resume replays.
    async fn user_frames(&mut self) -> (Vec<Value>, Vec<Value>) {
        let live = drain(&self.app, &self.alice, &mut self.alice_ws, "end").await;
        let mut fresh = WsClient::connect(&self.app, &self.alice).await;
        fresh.send(json!({"type": "resume", "id": "r", "positions": {}})).await;
        let mut replay = Vec::new();
        loop {
            let frame = fresh.next(WAIT).await.expect("the replay ends with resumed");
            if frame["id"] == "r" {
                assert_eq!(frame["type"], "resumed");
                replay.push(untimed(&frame));
                break;
            }
            replay.push(untimed(&frame));
        }
        (live.iter().map(untimed).collect(), replay)
    }
}

#[tokio::test]
async fn users_see_exactly_the_same_with_and_without_notes_and_admins_see_them_in_order() {
    let (plain, annotated) = tokio::join!(World::new(false), World::new(true));
    let (mut plain, mut annotated) = tokio::join!(plain.run(), annotated.run());
    assert_eq!(plain.shown.len(), annotated.shown.len());
    for ((what, without), (_, with)) in plain.shown.iter().zip(&annotated.shown) {
        assert_eq!(without, with, "{what}: a note changed what is shown");
    }
    let (plain_live, plain_replay) = plain.user_frames().await;
    let (live, replay) = annotated.user_frames().await;
    assert_eq!(plain_live, live, "the user's socket");
    assert_eq!(plain_replay, replay, "a resume");
    for frame in live.iter().chain(&replay) {
        assert!(!frame.to_string().contains(NOTE_WORD), "a note reached the user: {frame}");
    }
    assert!(live.iter().any(|f| f["type"] == "support-message"), "the comparison saw messages: {live:?}");
    let outbox = annotated.app.db.count("SELECT count(*) AS n FROM chat_webhook_outbox");
    assert!(outbox > 0, "the outbox comparison saw messages");
    assert_eq!(annotated.notes.len(), 8);

    // Admins see each note once, in order with the messages, marked as a note with its author.
    for conversation in [annotated.support, annotated.dm] {
        let family = if conversation == annotated.support { "support" } else { "direct-messages" };
        let path = format!("/api/admin/chat/{family}/{conversation}/messages?after=0");
        let page = annotated.app.get(&path, &annotated.ada).await.json();
        let notes = page["notes"].as_array().unwrap();
        let expected: Vec<&str> =
            annotated.notes.iter().filter(|(c, _)| *c == conversation).map(|(_, text)| text.as_str()).collect();
        let got: Vec<&str> = notes.iter().map(|n| n["content"].as_str().unwrap()).collect();
        assert_eq!(got, expected, "{family}");
        assert!(notes.iter().all(|n| n["kind"] == "note" && n["author"]["displayName"] == "Ada"));
        // Merged by position: each note after the message it was written after.
        let seqs = |n: &Value| n["afterSeq"].as_i64().unwrap();
        assert!(notes.windows(2).all(|w| seqs(&w[0]) <= seqs(&w[1])), "{notes:?}");
        let plain_page = plain.app.get(&path, &plain.ada).await.json();
        assert_eq!(untimed(&page["items"]), untimed(&plain_page["items"]), "the messages themselves");
        assert_eq!(plain_page["notes"], json!([]));
    }
    let support = format!("/api/admin/chat/support/{}/messages?after=0", annotated.support);
    let positions: Vec<i64> = annotated.app.get(&support, &annotated.ada).await.json()["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["afterSeq"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2, 2, 3, 3], "before any message, then after each step's newest message");
    // Newest first pages list them newest first, the same notes.
    let newest = format!("/api/admin/chat/support/{}/messages", annotated.support);
    let newest: Vec<i64> = annotated.app.get(&newest, &annotated.ada).await.json()["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["afterSeq"].as_i64().unwrap())
        .collect();
    assert_eq!(newest, [3, 3, 2, 2, 1, 0]);
    // Nothing of a note is stored among messages.
    let stored =
        annotated.app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE content LIKE '%{NOTE_WORD}%'"));
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn only_admins_add_notes_and_ids_of_other_kinds_answer_like_missing_ones() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let sam = app
        .post("/api/admin/chat/personas", &ada, json!({"name": "Sam", "isSupportAgent": true, "dmEnabled": true}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let support = app.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();
    let persona_dm = app
        .post("/api/user/chat/direct-messages", &alice, json!({"targetType": "fake_user", "targetId": sam}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let user_dm = app.start_dm(&alice, bob_id).await;
    let body = json!({"content": "checked her account"});
    let support_notes = |id: i64| format!("/api/admin/chat/support/{id}/notes");
    let dm_notes = |id: i64| format!("/api/admin/chat/direct-messages/{id}/notes");

    // Users: 403 on both routes, even for their own conversations; and over the socket.
    for (path, token) in
        [(support_notes(support), &alice), (dm_notes(persona_dm), &alice), (support_notes(support), &bob)]
    {
        let reply = app.post(&path, token, body.clone()).await;
        assert_eq!((reply.status, reply.code().as_deref()), (403, Some("admin_only")), "{path}");
    }
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let refused = alice_ws.request(json!({"type": "add-note", "conversationId": support, "content": "x"}), "n").await;
    assert_eq!(refused["code"], "admin_only");

    // Admins: a missing id, a malformed one, and an id of the other route family answer alike.
    let missing = app.post(&support_notes(NONEXISTENT), &ada, body.clone()).await;
    assert_eq!(missing.status, 404);
    for path in [
        support_notes(persona_dm),
        support_notes(user_dm),
        dm_notes(support),
        dm_notes(NONEXISTENT),
        "/api/admin/chat/support/01/notes".to_owned(),
    ] {
        let reply = app.post(&path, &ada, body.clone()).await;
        assert_eq!((reply.status, &reply.bytes), (missing.status, &missing.bytes), "{path}");
    }
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    let frame = json!({"type": "add-note", "conversationId": NONEXISTENT, "content": "x"});
    assert_eq!(ada_ws.request(frame, "m").await["code"], "not_found");
    // A DM between users takes no note: admins never write there.
    let reply = app.post(&dm_notes(user_dm), &ada, body.clone()).await;
    assert_eq!((reply.status, reply.code().as_deref()), (403, Some("admin_read_only")));

    // The text rules of messages, naming the field; unknown fields refused.
    for bad in [json!({"content": "   "}), json!({"content": "a\u{7}b"}), json!({"content": "x".repeat(4001)})] {
        let reply = app.post(&support_notes(support), &ada, bad).await;
        assert_eq!((reply.status, reply.json()["errors"][0]["field"].clone()), (422, json!("content")));
    }
    let reply = app.post(&support_notes(support), &ada, json!({"content": "x", "visibleToUser": true})).await;
    assert_eq!((reply.status, reply.json()["errors"][0]["field"].clone()), (422, json!("visibleToUser")));
    let frame = json!({"type": "add-note", "conversationId": support, "content": ""});
    assert_eq!(ada_ws.request(frame, "v").await["errors"][0]["field"], "content");

    // Idempotent by clientNoteId: a retry returns the note; a changed retry is a 409.
    let key = "6f1c2e9a-3b4d-4c5e-8f70-123456789abc";
    let first = app.post(&support_notes(support), &ada, json!({"content": "once", "clientNoteId": key})).await;
    assert_eq!(first.status, 201);
    let again = app.post(&support_notes(support), &ada, json!({"content": "once", "clientNoteId": key})).await;
    assert_eq!((again.status, again.json()["id"].clone()), (200, first.json()["id"].clone()));
    let frame = json!({"type": "add-note", "conversationId": support, "content": "once", "clientNoteId": key});
    assert_eq!(ada_ws.request(frame, "i").await["note"]["id"], first.json()["id"]);
    let changed = app.post(&support_notes(support), &ada, json!({"content": "twice", "clientNoteId": key})).await;
    assert_eq!((changed.status, changed.code().as_deref()), (409, Some("idempotency_key_reused")));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_internal_notes"), 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0, "no note is a message");
}

#[tokio::test]
async fn a_note_crosses_instances_to_admins_and_to_no_user() {
    let redis = RedisServer::start();
    let db = TestDb::migrated();
    let shared = db.shared();
    let one = TestApp::spawn_instance(db, &redis.url()).await;
    let two = TestApp::spawn_instance(shared, &redis.url()).await;
    let (_, ada) = one.admin("ada");
    let (_, alice) = one.user("alice");
    let support = one.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();

    // Both sockets on instance two; every write goes through instance one.
    let mut ada_ws = WsClient::connect(&two, &ada).await;
    assert_eq!(ada_ws.request(json!({"type": "join-support-queue"}), "q").await["type"], "ack");
    let mut alice_ws = WsClient::connect(&two, &alice).await;
    assert_eq!(alice_ws.request(json!({"type": "ping"}), "p").await["type"], "pong");
    // Redis may still be subscribing: write until a message crosses over.
    let mut crossed = false;
    for i in 0..50 {
        let sent = one.post("/api/user/chat/support/messages", &alice, json!({"content": format!("hi {i}")})).await;
        assert_eq!(sent.status, 201);
        if alice_ws.next(Duration::from_millis(200)).await.is_some_and(|f| f["type"] == "support-message") {
            crossed = true;
            break;
        }
    }
    assert!(crossed, "messages cross from instance one to instance two");
    // Everything published so far has crossed once a message written now has arrived.
    let marker = |text: &str| json!({"content": text, "asTeam": true});
    let path = format!("/api/admin/chat/support/{support}/messages");
    let first = one.post(&path, &ada, marker("before the note")).await.json();
    let is = |id: &Value| {
        let id = id.clone();
        move |f: &Value| f["type"] == "support-message" && f["message"]["id"] == id
    };
    alice_ws.until(WAIT, is(&first["id"])).await;
    ada_ws.until(WAIT, is(&first["id"])).await;

    // A note, then a reply, through instance one; one publisher, in order, over Redis.
    let note =
        one.post(&format!("/api/admin/chat/support/{support}/notes"), &ada, json!({"content": "internal"})).await;
    assert_eq!(note.status, 201);
    let reply = one.post(&path, &ada, marker("after the note")).await.json();
    let to_ada = ada_ws.until(WAIT, |f| f["type"] == "note" || f["type"] == "support-message").await;
    assert_eq!((to_ada["type"].clone(), to_ada["note"]["id"].clone()), (json!("note"), note.json()["id"].clone()));
    ada_ws.until(WAIT, is(&reply["id"])).await;
    // Everything alice got between the two markers: the first one's status change, the
    // reply, and nothing of the note (it was published before the reply, in order).
    let mut between = Vec::new();
    loop {
        let frame = alice_ws.next(WAIT).await.expect("the reply arrives");
        if is(&reply["id"])(&frame) {
            break;
        }
        between.push(frame);
    }
    assert!(between.iter().all(|f| f["type"] == "conversation-updated" || f["type"] == "presence"), "{between:?}");
}
