//! Support conversations end to end: the user side, the admin queue, the lifecycle.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chat_domain::store::Store;
use chat_postgres::{PgStore, PoolConfig};
use chat_tests::{TestApp, WsClient};
use serde_json::{Value, json};

const SUPPORT: &str = "/api/user/chat/support";
const MESSAGES: &str = "/api/user/chat/support/messages";

async fn persona(app: &TestApp, admin: &str, name: &str, support_agent: bool) -> i64 {
    let reply =
        app.post("/api/admin/chat/personas", admin, json!({"name": name, "isSupportAgent": support_agent})).await;
    assert_eq!(reply.status, 201);
    reply.json()["id"].as_i64().unwrap()
}

async fn say(app: &TestApp, user: &str, content: &str) -> Value {
    let reply = app.post(MESSAGES, user, json!({"content": content})).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    reply.json()
}

async fn answer(app: &TestApp, admin: &str, conversation: i64, body: Value) -> Value {
    let reply = app.post(&format!("/api/admin/chat/support/{conversation}/messages"), admin, body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    reply.json()
}

#[tokio::test]
async fn first_access_creates_the_conversation_with_the_support_persona() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    persona(&app, &admin, "Mia", false).await;
    let sam = persona(&app, &admin, "Sam", true).await;
    let (_, alice) = app.user("alice");

    let first = app.get(SUPPORT, &alice).await;
    assert_eq!(first.status, 201);
    let body = first.json();
    assert_eq!(body["header"]["title"], "Help & Support");
    assert_eq!(body["header"]["personaName"], "Sam");
    assert_eq!(body["header"]["online"], false, "no admin has the queue open");
    assert_eq!(body["status"], "open");
    assert_eq!(body["unreadCount"], 0);
    assert_eq!(body["lastMessage"], Value::Null);

    let again = app.get(SUPPORT, &alice).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], body["id"]);
    let shown: i64 = app.db.count(&format!(
        "SELECT count(*) AS n FROM direct_messages WHERE conversation_type = 'support' AND fake_user_id = {sam}"
    ));
    assert_eq!(shown, 1);
}

#[tokio::test]
async fn sending_reading_and_the_lifecycle() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.admin("ada");
    let sam = persona(&app, &admin, "Sam", true).await;
    let (alice_id, alice) = app.user("alice");

    // Sending creates the conversation when needed and opens it.
    let m1 = say(&app, &alice, "  I cannot log in \n").await;
    assert_eq!(m1["content"], "I cannot log in", "content is trimmed");
    assert_eq!(m1["sender"], json!({"type": "real_user", "id": alice_id, "displayName": "Alice"}));
    assert!(m1.get("avatarUrl").is_none() && m1["sender"].get("avatarUrl").is_none(), "no avatars in bubbles");
    let conversation = m1["conversationId"].as_i64().unwrap();
    say(&app, &alice, "Please help").await;

    let queue = app.get("/api/admin/chat/support", &admin).await.json();
    let row = &queue["items"][0];
    assert_eq!(row["id"], conversation);
    assert_eq!(row["status"], "open");
    assert_eq!(row["teamUnreadCount"], 2);
    assert_eq!(row["user"]["displayName"], "Alice");
    assert!(row["waitingSince"].is_string());
    assert_eq!(row["lastMessage"]["content"], "Please help");

    // A reply (default voice: the conversation's persona) makes it pending.
    let reply = answer(&app, &admin, conversation, json!({"content": "Try resetting your password."})).await;
    assert_eq!(reply["sender"], json!({"type": "fake_user", "id": sam, "displayName": "Sam"}));
    assert_eq!(reply["actingAdmin"]["id"], admin_id);
    let view = app.get(&format!("/api/admin/chat/support/{conversation}"), &admin).await.json();
    assert_eq!(view["status"], "pending");
    assert_eq!(view["waitingSince"], Value::Null);
    assert_eq!(view["teamUnreadCount"], 0, "replying reads the thread");
    assert_eq!(view["userUnreadCount"], 1);

    // The user sees one unread, reads it, and writing again reopens.
    let mine = app.get(SUPPORT, &alice).await.json();
    assert_eq!(mine["unreadCount"], 1);
    assert_eq!(mine["status"], "pending");
    let read = app.post("/api/user/chat/support/read", &alice, json!({"lastReadMessageId": reply["id"]})).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), json!({"lastReadMessageId": reply["id"], "unreadCount": 0}));
    let resolve =
        app.patch(&format!("/api/admin/chat/support/{conversation}"), &admin, json!({"status": "resolved"})).await;
    assert_eq!(resolve.json()["status"], "resolved");
    say(&app, &alice, "It happened again").await;
    assert_eq!(app.get(SUPPORT, &alice).await.json()["status"], "open");

    // The team's read state is shared by every admin.
    let (_, grace) = app.admin("grace");
    let history = app.get(&format!("/api/admin/chat/support/{conversation}/messages"), &grace).await.json();
    let newest = history["items"][0]["id"].clone();
    let read = app
        .post(&format!("/api/admin/chat/support/{conversation}/read"), &grace, json!({"lastReadMessageId": newest}))
        .await;
    assert_eq!(read.json()["unreadCount"], 0);
    let seen_by_ada = app.get(&format!("/api/admin/chat/support/{conversation}"), &admin).await.json();
    assert_eq!(seen_by_ada["teamUnreadCount"], 0);
    assert_eq!(seen_by_ada["teamLastReadMessageId"], newest);
}

#[tokio::test]
async fn admins_answer_as_any_persona_or_as_the_team_and_users_never_see_who() {
    let app = TestApp::spawn().await;
    let (admin_id, admin) = app.admin("ada");
    persona(&app, &admin, "Sam", true).await;
    let mia = persona(&app, &admin, "Mia", false).await;
    let (_, alice) = app.user("alice");
    let conversation = say(&app, &alice, "hello").await["conversationId"].as_i64().unwrap();

    let as_mia = answer(&app, &admin, conversation, json!({"content": "Mia here", "personaId": mia})).await;
    assert_eq!(as_mia["sender"]["displayName"], "Mia");
    let as_team = answer(&app, &admin, conversation, json!({"content": "The team here", "asTeam": true})).await;
    assert_eq!(as_team["sender"], json!({"type": "support", "id": null, "displayName": "Support"}));
    assert_eq!(as_team["actingAdmin"], json!({"id": admin_id, "displayName": "Ada"}));

    // The user's views carry no trace of the acting admin: no field, no id, no name.
    for path in [SUPPORT.to_owned(), MESSAGES.to_owned()] {
        let reply = app.get(&path, &alice).await;
        let raw = String::from_utf8(reply.bytes.clone()).unwrap();
        assert!(!raw.contains("acting") && !raw.contains("Ada"), "{path}: {raw}");
        let json = reply.json();
        let senders = json["items"].as_array().cloned().unwrap_or_else(|| vec![json["lastMessage"].clone()]);
        for m in senders {
            assert_ne!(m["sender"]["id"], json!(admin_id), "{path}: a sender names the admin: {m}");
        }
    }
    let page = app.get(MESSAGES, &alice).await.json();
    let senders: Vec<Value> =
        page["items"].as_array().unwrap().iter().map(|m| m["sender"]["displayName"].clone()).collect();
    assert_eq!(senders, [json!("Support"), json!("Mia"), json!("Alice")]);

    // Bad voices are refused and nothing is stored.
    let before = app.db.count("SELECT count(*) AS n FROM dm_messages");
    let path = format!("/api/admin/chat/support/{conversation}/messages");
    let unknown = app.post(&path, &admin, json!({"content": "x", "personaId": 9999})).await;
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.json()["errors"][0]["field"], "personaId");
    let both = app.post(&path, &admin, json!({"content": "x", "personaId": mia, "asTeam": true})).await;
    assert_eq!(both.status, 422);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), before);
}

#[tokio::test]
async fn paging_through_250_messages_both_ways_has_no_gap_and_no_duplicate() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (_, alice) = app.user("alice");
    let mut sent = Vec::new();
    let mut conversation = 0;
    for i in 0..250 {
        let m = if i % 5 == 4 {
            answer(&app, &admin, conversation, json!({"content": format!("reply {i}"), "asTeam": true})).await
        } else {
            say(&app, &alice, &format!("message {i}")).await
        };
        conversation = m["conversationId"].as_i64().unwrap();
        sent.push(m["id"].as_i64().unwrap());
    }

    let mut newest_first = Vec::new();
    let mut path = format!("{MESSAGES}?limit=37");
    loop {
        let page = app.get(&path, &alice).await.json();
        newest_first.extend(page["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()));
        match page["nextCursor"].as_i64() {
            Some(cursor) => path = format!("{MESSAGES}?limit=37&before={cursor}"),
            None => break,
        }
    }
    let mut expected = sent.clone();
    expected.reverse();
    assert_eq!(newest_first, expected);

    let mut oldest_first = Vec::new();
    let mut path = format!("{MESSAGES}?limit=100&after=0");
    loop {
        let page = app.get(&path, &alice).await.json();
        oldest_first.extend(page["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()));
        match page["nextCursor"].as_i64() {
            Some(cursor) => path = format!("{MESSAGES}?limit=100&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(oldest_first, sent);
    assert_eq!(oldest_first.iter().collect::<HashSet<_>>().len(), 250);

    let admin_pages =
        app.get(&format!("/api/admin/chat/support/{conversation}/messages?limit=100"), &admin).await.json();
    assert_eq!(admin_pages["items"].as_array().unwrap().len(), 100);
    assert_eq!(admin_pages["nextCursor"], json!(sent[150]));
}

#[tokio::test]
async fn bad_history_and_send_parameters_are_named() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("before=1&after=2", "after"),
        ("befor=1", "befor"),
    ] {
        let reply = app.get(&format!("{MESSAGES}?{query}"), &alice).await;
        assert_eq!(reply.status, 422, "{query}");
        assert_eq!(reply.json()["errors"][0]["field"], field, "{query}");
    }
    let cases = [
        (json!({"content": ""}), "content"),
        (json!({"content": "x".repeat(4001)}), "content"),
        (json!({"content": "a\u{0}b"}), "content"),
        (json!({"content": 12}), "content"),
        (json!({"content": "http://x.com/a.png", "messageType": "image"}), "content"),
        (json!({"content": "hi", "messageType": "notification"}), "messageType"),
        (json!({"content": "hi", "messageType": "video"}), "messageType"),
        (json!({"content": "hi", "clientMessageId": "not-a-uuid"}), "clientMessageId"),
        (json!({"text": "hi"}), "text"),
    ];
    for (body, field) in cases {
        let reply = app.post(MESSAGES, &alice, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}");
        assert!(
            reply.json()["errors"].as_array().unwrap().iter().any(|e| e["field"] == field),
            "{body}: {:?}",
            reply.json()
        );
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0);
    let ok =
        app.post(MESSAGES, &alice, json!({"content": "https://cdn.example.com/a.png", "messageType": "image"})).await;
    assert_eq!(ok.status, 201);
    assert_eq!(ok.json()["messageType"], "image");
}

#[tokio::test]
async fn thirty_two_concurrent_first_calls_make_one_conversation() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    let replies = futures_util::future::join_all((0..32).map(|_| app.get(SUPPORT, &alice))).await;
    let ids: HashSet<i64> = replies.iter().map(|r| r.json()["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1, "exactly one call created it");
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 201));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages"), 1);
}

#[tokio::test]
async fn twenty_concurrent_sends_with_one_client_message_id_store_one_row() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    app.get(SUPPORT, &alice).await;
    let key = uuid::Uuid::new_v4();
    let body = json!({"content": "only once", "clientMessageId": key});
    let replies = futures_util::future::join_all((0..20).map(|_| app.post(MESSAGES, &alice, body.clone()))).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 19);
    let ids: HashSet<i64> = replies.iter().map(|r| r.json()["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 1, "every answer is the same message");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 1);
    assert_eq!(app.get(SUPPORT, &alice).await.json()["status"], "open");
    let team_unread = app.db.count("SELECT user2_unread::bigint AS n FROM direct_messages");
    assert_eq!(team_unread, 1, "a retry does not count twice");
}

#[tokio::test]
async fn the_queue_orders_filters_and_pages() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    persona(&app, &ada, "Sam", true).await;
    let mut users = Vec::new();
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        let (_, token) = app.user(name);
        let conversation = say(&app, &token, "help").await["conversationId"].as_i64().unwrap();
        users.push((token, conversation));
    }
    // u2 gets an answer (pending); u4 is assigned to ada; u5 is resolved.
    answer(&app, &ada, users[1].1, json!({"content": "done?"})).await;
    let assign =
        app.patch(&format!("/api/admin/chat/support/{}", users[3].1), &ada, json!({"assigneeId": ada_id})).await;
    assert_eq!(assign.json()["assignee"]["id"], ada_id);
    app.patch(&format!("/api/admin/chat/support/{}", users[4].1), &ada, json!({"status": "resolved"})).await;

    let ids = |page: &Value| -> Vec<i64> {
        page["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
    };
    let open = app.get("/api/admin/chat/support", &ada).await.json();
    assert_eq!(ids(&open), [users[0].1, users[2].1, users[3].1], "longest waiting first");
    let first = app.get("/api/admin/chat/support?limit=2", &ada).await.json();
    assert_eq!(ids(&first), [users[0].1, users[2].1]);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let second = app.get(&format!("/api/admin/chat/support?limit=2&cursor={cursor}"), &ada).await.json();
    assert_eq!(ids(&second), [users[3].1]);
    assert_eq!(second["nextCursor"], Value::Null);

    let mine = app.get("/api/admin/chat/support?assignee=me", &ada).await.json();
    assert_eq!(ids(&mine), [users[3].1]);
    let nobody = app.get("/api/admin/chat/support?assignee=none&status=all", &ada).await.json();
    assert_eq!(ids(&nobody).len(), 4);
    let pending = app.get("/api/admin/chat/support?status=pending", &ada).await.json();
    assert_eq!(ids(&pending), [users[1].1]);
    let resolved = app.get("/api/admin/chat/support?status=resolved", &ada).await.json();
    assert_eq!(ids(&resolved), [users[4].1]);
    let all = app.get("/api/admin/chat/support?status=all&limit=100", &ada).await.json();
    assert_eq!(ids(&all).len(), 5);
    let wrong = app.get(&format!("/api/admin/chat/support?status=all&cursor={cursor}"), &ada).await;
    assert_eq!(wrong.status, 422);
    let bad = app.get("/api/admin/chat/support?assignee=someone&cursor=zzz", &ada).await;
    let fields: Vec<Value> = bad.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].clone()).collect();
    assert_eq!(fields, [json!("assignee"), json!("cursor")]);
    let unknown =
        app.patch(&format!("/api/admin/chat/support/{}", users[0].1), &ada, json!({"assigneeId": 424242})).await;
    assert_eq!((unknown.status, unknown.json()["errors"][0]["field"].clone()), (422, json!("assigneeId")));
}

#[tokio::test]
async fn idle_pending_conversations_auto_resolve_and_open_ones_stay() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (_, waiting) = app.user("waiting");
    let (_, answered) = app.user("answered");
    let open_id = say(&app, &waiting, "still waiting").await["conversationId"].as_i64().unwrap();
    let pending_id = say(&app, &answered, "question").await["conversationId"].as_i64().unwrap();
    answer(&app, &ada, pending_id, json!({"content": "answer", "asTeam": true})).await;

    let store: Arc<dyn Store> = Arc::new(PgStore::new(&app.db.url, PoolConfig::default()));
    let not_yet = chrono::Utc::now() - chrono::Duration::hours(1);
    let resolved = store.run(move |tx| chat_domain::support::auto_resolve(tx, not_yet, 100)).await.unwrap();
    assert!(resolved.is_empty(), "nothing is idle for an hour yet");

    // The server's housekeeping round resolves it and tells the user and the queue live.
    let mut user_ws = WsClient::connect(&app, &answered).await;
    let mut queue_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(queue_ws.request(json!({"type": "join-support-queue"}), "q").await["type"], "ack");
    assert_eq!(user_ws.request(json!({"type": "ping"}), "p").await["type"], "pong");
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    chat_server::maintain(&app.state.store, &app.state.events, Some(later), None).await;
    for ws in [&mut user_ws, &mut queue_ws] {
        let updated = ws.until(Duration::from_secs(10), |f| f["type"] == "conversation-updated").await;
        assert_eq!(updated["conversationId"], pending_id);
    }
    assert_eq!(app.get(SUPPORT, &answered).await.json()["status"], "resolved");
    let open = app.get(&format!("/api/admin/chat/support/{open_id}"), &ada).await.json();
    assert_eq!(open["status"], "open", "a waiting user is never resolved behind their back");
    let again = store.run(move |tx| chat_domain::support::auto_resolve(tx, later, 100)).await.unwrap();
    assert!(again.is_empty(), "a resolved conversation is not resolved twice");
}

#[tokio::test]
async fn users_get_403_on_every_admin_support_route() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    let conversation = say(&app, &alice, "hi").await["conversationId"].as_i64().unwrap();
    let routes = [
        ("GET", "/api/admin/chat/support".to_owned(), None),
        ("GET", format!("/api/admin/chat/support/{conversation}"), None),
        ("PATCH", format!("/api/admin/chat/support/{conversation}"), Some(json!({"status": "resolved"}))),
        ("GET", format!("/api/admin/chat/support/{conversation}/messages"), None),
        ("POST", format!("/api/admin/chat/support/{conversation}/messages"), Some(json!({"content": "x"}))),
        ("POST", format!("/api/admin/chat/support/{conversation}/read"), Some(json!({"lastReadMessageId": 1}))),
    ];
    for (method, path, body) in routes {
        let reply = app.call(method, &path, Some(&alice), body).await;
        assert_eq!((reply.status, reply.code()), (403, Some("admin_only".to_owned())), "{method} {path}");
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 1);
    assert_eq!(app.get(SUPPORT, &alice).await.json()["status"], "open");
}

#[tokio::test]
async fn urls_outside_the_documented_shape_or_length_are_a_422_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    let prefix = "https://cdn.example.com/";
    // Characters that percent-encoding would grow (spaces, accents) are refused as sent,
    // so a URL can never grow past the stored limit after validation.
    let spaced = format!("{prefix}{}", "é ü".repeat(10));
    let too_long = format!("{prefix}{}", "a".repeat(2048 - prefix.len()));
    let at_limit = format!("{prefix}{}", "a".repeat(2047 - prefix.len()));
    for message_type in ["image", "link"] {
        for (url, code) in [(&spaced, "invalid_url"), (&too_long, "too_long")] {
            let reply = app.post(MESSAGES, &alice, json!({"content": url, "messageType": message_type})).await;
            assert_eq!(reply.status, 422, "{message_type}: {:?}", reply.json());
            assert_eq!(reply.code().as_deref(), Some("validation_failed"));
            let errors = reply.json()["errors"].clone();
            assert_eq!(errors[0]["field"], "content", "{errors}");
            assert_eq!(errors[0]["code"], code, "{errors}");
        }
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages WHERE last_message_id IS NOT NULL"), 0);
    let reply = app.post(MESSAGES, &alice, json!({"content": at_limit, "messageType": "link"})).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    assert_eq!(reply.json()["content"], at_limit);
}

#[tokio::test]
async fn the_header_shows_the_personas_avatar_and_whether_an_admin_watches_the_queue() {
    const WAIT: Duration = Duration::from_secs(10);
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let created = app
        .post(
            "/api/admin/chat/personas",
            &ada,
            json!({"name": "Sam", "isSupportAgent": true, "avatarUrl": "https://cdn.example.com/sam.png"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let (_, alice) = app.user("alice");

    let header = app.get(SUPPORT, &alice).await.json()["header"].clone();
    assert_eq!(header["personaName"], "Sam");
    assert_eq!(header["avatarUrl"], "https://cdn.example.com/sam.png");
    assert_eq!(header["online"], false, "nobody has the queue open");

    // An admin opens the queue: support is online.
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    assert_eq!(alice_ws.until(WAIT, |f| f["type"] == "presence").await["supportOnline"], false);
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(ada_ws.request(json!({"type": "join-support-queue"}), "q").await["type"], "ack");
    assert_eq!(app.get(SUPPORT, &alice).await.json()["header"]["online"], true);
    assert_eq!(alice_ws.until(WAIT, |f| f["type"] == "presence").await["supportOnline"], true);

    // The last watcher leaves: offline again (once the user's socket has been told).
    ada_ws.close().await;
    let offline = alice_ws.until(WAIT, |f| f["type"] == "presence").await;
    assert_eq!(offline["supportOnline"], false);
    assert_eq!(app.get(SUPPORT, &alice).await.json()["header"]["online"], false);
}

#[tokio::test]
async fn the_queue_filters_by_persona_and_by_a_named_assignee() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let (grace_id, grace) = app.admin("grace");
    async fn start(app: &TestApp, name: &str) -> i64 {
        let (_, token) = app.user(name);
        app.get(SUPPORT, &token).await.json()["id"].as_i64().unwrap()
    }
    async fn queue(app: &TestApp, admin: &str, query: String) -> Value {
        let reply = app.get(&format!("/api/admin/chat/support?status=all&{query}"), admin).await;
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.json());
        reply.json()
    }
    // No support agent yet: no persona. Then Sam, then Max once Sam stops being an agent.
    let faceless = start(&app, "u1").await;
    let sam = persona(&app, &ada, "Sam", true).await;
    let with_sam = [start(&app, "u2").await, start(&app, "u3").await];
    let max = persona(&app, &ada, "Max", true).await;
    let demoted = app.patch(&format!("/api/admin/chat/personas/{sam}"), &ada, json!({"isSupportAgent": false})).await;
    assert_eq!(demoted.status, 200, "{:?}", demoted.json());
    let with_max = start(&app, "u4").await;

    let ids = |page: Value| -> Vec<i64> {
        let mut ids: Vec<i64> = page["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids(queue(&app, &ada, format!("personaId={sam}")).await), with_sam);
    assert_eq!(ids(queue(&app, &ada, format!("personaId={max}")).await), [with_max]);
    assert_eq!(ids(queue(&app, &ada, "personaId=424242".to_owned()).await), Vec::<i64>::new());
    let everyone = ids(queue(&app, &ada, String::new()).await);
    assert_eq!(everyone.len(), 4);
    assert!(everyone.contains(&faceless));

    // Assign one conversation to each admin; `assignee=<id>` names either.
    let path = |id: i64| format!("/api/admin/chat/support/{id}");
    assert_eq!(app.patch(&path(with_sam[0]), &ada, json!({"assigneeId": ada_id})).await.status, 200);
    assert_eq!(app.patch(&path(with_sam[1]), &ada, json!({"assigneeId": grace_id})).await.status, 200);
    assert_eq!(ids(queue(&app, &ada, format!("assignee={ada_id}")).await), [with_sam[0]]);
    assert_eq!(ids(queue(&app, &ada, format!("assignee={grace_id}")).await), [with_sam[1]]);
    let graces_own = app.get("/api/admin/chat/support?status=all&assignee=me", &grace).await.json();
    assert_eq!(ids(graces_own), [with_sam[1]], "`me` is the caller");
    assert_eq!(ids(queue(&app, &ada, format!("assignee={grace_id}&personaId={max}")).await), Vec::<i64>::new());
    assert_eq!(ids(queue(&app, &ada, format!("assignee={ada_id}&personaId={sam}")).await), [with_sam[0]]);
}

#[tokio::test]
async fn an_admin_reply_retried_with_the_same_client_message_id_is_stored_once() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (_, alice) = app.user("alice");
    let conversation = say(&app, &alice, "help").await["conversationId"].as_i64().unwrap();
    let path = format!("/api/admin/chat/support/{conversation}/messages");
    let body = json!({"content": "on it", "asTeam": true, "clientMessageId": uuid::Uuid::new_v4()});

    let first = app.post(&path, &ada, body.clone()).await;
    let retry = app.post(&path, &ada, body).await;
    assert_eq!((first.status, retry.status), (201, 200));
    assert_eq!(first.json(), retry.json(), "the retry answers the stored message");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages WHERE content = 'on it'"), 1);
    assert_eq!(app.get(SUPPORT, &alice).await.json()["unreadCount"], 1, "a retry does not count twice");

    // Another admin reusing the key is a conflict, not a second copy.
    let (_, grace) = app.admin("grace");
    let key = first.json()["clientMessageId"].clone();
    let reused = app.post(&path, &grace, json!({"content": "me too", "asTeam": true, "clientMessageId": key})).await;
    assert_eq!(reused.status, 409, "{:?}", reused.json());
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 2);
}

#[tokio::test]
async fn the_admin_history_names_persona_and_acting_admin_and_the_users_history_does_not() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let sam = persona(&app, &ada, "Sam", true).await;
    let (_, alice) = app.user("alice");
    let conversation = say(&app, &alice, "hello").await["conversationId"].as_i64().unwrap();
    let sent = answer(&app, &ada, conversation, json!({"content": "Sam here"})).await;

    let admin_view = app.get(&format!("/api/admin/chat/support/{conversation}/messages"), &ada).await;
    assert_eq!(admin_view.status, 200);
    let newest = admin_view.json()["items"][0].clone();
    assert_eq!(newest["id"], sent["id"]);
    assert_eq!(newest["sender"], json!({"type": "fake_user", "id": sam, "displayName": "Sam"}));
    assert_eq!(newest["actingAdmin"], json!({"id": ada_id, "displayName": "Ada"}));
    assert_eq!(admin_view.json()["items"][1]["actingAdmin"], Value::Null, "the user's own message has no admin");

    let user_view = app.get(MESSAGES, &alice).await;
    let raw = String::from_utf8(user_view.bytes.clone()).unwrap();
    assert!(!raw.contains("acting") && !raw.contains("Ada"), "{raw}");
    let mine = user_view.json()["items"][0].clone();
    assert_eq!(mine["id"], sent["id"]);
    assert_eq!(mine["sender"], json!({"type": "fake_user", "id": sam, "displayName": "Sam"}));
    let keys: Vec<&String> = mine.as_object().unwrap().keys().collect();
    assert!(keys.iter().all(|k| !k.to_lowercase().contains("admin")), "{keys:?}");
}

#[tokio::test]
async fn an_admin_answering_their_own_support_conversation_as_the_team_is_stored_as_the_team() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    persona(&app, &ada, "Sam", true).await;
    // Ada writes to support as a user...
    let asked = say(&app, &ada, "my own question").await;
    assert_eq!(asked["sender"]["type"], "real_user");
    let conversation = asked["conversationId"].as_i64().unwrap();
    let path = format!("/api/admin/chat/support/{conversation}/messages");

    // ...and answers it from the queue as the team (explicitly, or by default).
    for body in [json!({"content": "team answer", "asTeam": true}), json!({"content": "default answer"})] {
        let reply = app.post(&path, &ada, body.clone()).await;
        assert_eq!(reply.status, 201, "{body}: {:?}", reply.json());
        assert_eq!(reply.json()["sender"], json!({"type": "support", "id": null, "displayName": "Support"}), "{body}");
        assert_eq!(reply.json()["actingAdmin"]["id"], ada_id);
    }
    let stored = app.db.count(&format!(
        "SELECT count(*) AS n FROM dm_messages
         WHERE conversation_id = {conversation} AND sender_type = 'admin' AND acting_admin_id = {ada_id}"
    ));
    assert_eq!(stored, 2, "stored as team messages with the acting admin");
    let as_user = app.db.count(&format!(
        "SELECT count(*) AS n FROM dm_messages WHERE conversation_id = {conversation} AND sender_type = 'real_user'"
    ));
    assert_eq!(as_user, 1, "only the question is a user message");

    // Her user view sees the team's answers as unread staff messages; the queue sees it answered.
    let mine = app.get(SUPPORT, &ada).await.json();
    assert_eq!((mine["status"].clone(), mine["unreadCount"].clone()), (json!("pending"), json!(2)));
    let history = app.get(MESSAGES, &ada).await.json();
    assert_eq!(history["items"][0]["sender"]["displayName"], "Support");

    // Speaking to herself as a persona is refused, and stores nothing.
    let sam = app.get("/api/admin/chat/personas", &ada).await.json()["items"][0]["id"].clone();
    let refused = app.post(&path, &ada, json!({"content": "x", "personaId": sam})).await;
    assert_eq!((refused.status, refused.code()), (403, Some("voice_not_allowed".to_owned())));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 3);
}
