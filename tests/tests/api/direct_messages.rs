//! Direct messages end to end: starting, rules, limits, blocks, archive, moderation, audit.

use std::collections::HashSet;
use std::sync::Arc;

use chat_api::ApiSettings;
use chat_domain::direct_messages::DmSettings;
use chat_domain::store::Store;
use chat_postgres::{PgStore, PoolConfig};
use chat_tests::TestApp;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

const DMS: &str = "/api/user/chat/direct-messages";

async fn start(app: &TestApp, token: &str, target_type: &str, target_id: i64) -> chat_tests::Reply {
    app.post(DMS, token, json!({"targetType": target_type, "targetId": target_id})).await
}

async fn send(app: &TestApp, token: &str, dm: i64, content: &str) -> chat_tests::Reply {
    app.post(&format!("{DMS}/{dm}/messages"), token, json!({"content": content})).await
}

async fn persona(app: &TestApp, admin: &str, name: &str, dm_enabled: bool) -> i64 {
    let reply = app.post("/api/admin/chat/personas", admin, json!({"name": name, "dmEnabled": dm_enabled})).await;
    reply.json()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn users_who_share_the_main_group_message_each_other() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let main = app.db.group("Main PEA Communication", "main", &[alice_id, bob_id]);

    // The avatar click: members of the main group, and whether each can be messaged.
    let members = app.get(&format!("/api/user/chat/groups/{main}/members"), &alice).await.json();
    let can_dm: Vec<(i64, bool)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_i64().unwrap(), m["canDm"].as_bool().unwrap()))
        .collect();
    assert_eq!(can_dm, [(i64::from(alice_id), false), (i64::from(bob_id), true)]);

    let created = start(&app, &alice, "real_user", bob_id.into()).await;
    assert_eq!(created.status, 201);
    let dm = created.json();
    assert_eq!(dm["kind"], "user_dm");
    assert_eq!(
        dm["other"],
        json!({"type": "real_user", "id": bob_id, "displayName": "Bob", "avatarUrl": "https://cdn.example.com/bob.png"})
    );
    let id = dm["id"].as_i64().unwrap();
    let again = start(&app, &bob, "real_user", alice_id.into()).await;
    assert_eq!((again.status, again.json()["id"].as_i64()), (200, Some(id)), "the same pair, from the other side");
    assert_eq!(again.json()["other"]["displayName"], "Alice");

    let hello = send(&app, &alice, id, "hi Bob").await;
    assert_eq!(hello.status, 201);
    assert!(hello.json()["sender"].get("avatarUrl").is_none());
    let bobs = app.get(DMS, &bob).await.json();
    assert_eq!(bobs["items"][0]["unreadCount"], 1);
    assert_eq!(bobs["items"][0]["lastMessage"]["content"], "hi Bob");
    let read = app.post(&format!("{DMS}/{id}/read"), &bob, json!({"lastReadMessageId": hello.json()["id"]})).await;
    assert_eq!(read.json()["unreadCount"], 0);
    let reply = send(&app, &bob, id, "hey Alice").await;
    assert_eq!(reply.json()["sender"]["id"], bob_id);
    let history = app.get(&format!("{DMS}/{id}/messages"), &alice).await.json();
    let contents: Vec<&str> =
        history["items"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["hey Alice", "hi Bob"]);
}

#[tokio::test]
async fn every_start_rule_has_its_own_answer() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (stranger_id, _) = app.user("stranger");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main PEA Communication", "main", &[alice_id, carol_id]);
    // Sharing only a personal or an old support group does not count.
    app.db.group("old support", "support", &[alice_id, stranger_id]);

    let me = start(&app, &alice, "real_user", alice_id.into()).await;
    assert_eq!((me.status, me.json()["errors"][0]["field"].clone()), (422, json!("targetId")));
    let nobody = start(&app, &alice, "real_user", 424_242).await;
    assert_eq!(nobody.status, 404);
    let stranger = start(&app, &alice, "real_user", stranger_id.into()).await;
    assert_eq!((stranger.status, stranger.code().as_deref()), (403, Some("dm_no_shared_group")));
    let closed = persona(&app, &admin, "Closed", false).await;
    let closed = start(&app, &alice, "fake_user", closed).await;
    assert_eq!((closed.status, closed.code().as_deref()), (403, Some("dm_persona_unavailable")));
    let missing_persona = start(&app, &alice, "fake_user", 9_999).await;
    assert_eq!(missing_persona.status, 404);
    let bad_type = app.post(DMS, &alice, json!({"targetType": "robot", "targetId": 1})).await;
    assert_eq!((bad_type.status, bad_type.json()["errors"][0]["field"].clone()), (422, json!("targetType")));

    // A block by the target answers exactly like sharing no group.
    assert_eq!(app.call("POST", &format!("/api/user/chat/blocks/{alice_id}"), Some(&carol), None).await.status, 201);
    let blocked = start(&app, &alice, "real_user", carol_id.into()).await;
    assert_eq!(blocked.status, stranger.status);
    assert_eq!(blocked.bytes, stranger.bytes, "the answer must not reveal the block");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages"), 0);

    // Personas that take DMs can be messaged; admins answer as that persona only.
    let mia = persona(&app, &admin, "Mia", true).await;
    let dm = start(&app, &alice, "fake_user", mia).await;
    assert_eq!(dm.status, 201);
    assert_eq!(dm.json()["kind"], "persona_dm");
    assert_eq!(dm.json()["other"]["displayName"], "Mia");
}

#[tokio::test]
async fn thirty_two_concurrent_starts_from_both_sides_make_one_dm() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let calls = (0..32).map(|i| {
        let (token, target) = if i % 2 == 0 { (&alice, bob_id) } else { (&bob, alice_id) };
        start(&app, token, "real_user", target.into())
    });
    let replies = futures_util::future::join_all(calls).await;
    let ids: HashSet<i64> = replies.iter().map(|r| r.json()["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages"), 1);
}

#[tokio::test]
async fn the_active_dm_limit_holds_under_200_concurrent_starts_20_times() {
    const LIMIT: i64 = 7;
    let settings = ApiSettings { dms: DmSettings { max_active: LIMIT }, ..ApiSettings::default() };
    let app = TestApp::spawn_configured(settings).await;
    app.db
        .conn()
        .batch_execute(
            "INSERT INTO users (username, display_name) SELECT 't' || g, 'Target ' || g FROM generate_series(1, 200) g",
        )
        .unwrap();
    let targets: Vec<i64> = (1..=200).collect();
    let mut members: Vec<i32> = targets.iter().map(|t| i32::try_from(*t).unwrap()).collect();
    let mut initiators = Vec::new();
    for run in 0..20 {
        let (id, token) = app.user(&format!("initiator{run}"));
        members.push(id);
        initiators.push((id, token));
    }
    app.db.group("Main", "main", &members);
    for (initiator, token) in &initiators {
        let replies = futures_util::future::join_all(targets.iter().map(|t| start(&app, token, "real_user", *t))).await;
        let created = replies.iter().filter(|r| r.status == 201).count();
        let refused = replies.iter().filter(|r| r.code().as_deref() == Some("dm_limit_reached")).count();
        assert_eq!((created, refused), (LIMIT as usize, 200 - LIMIT as usize), "initiator {initiator}");
        let stored = app.db.count(&format!(
            "SELECT count(*) AS n FROM direct_messages WHERE user1_id = {initiator} OR user2_id = {initiator}"
        ));
        assert_eq!(stored, LIMIT);
        // The targets (ids 1..=200, side one of every pair) archive theirs, so that the
        // next run measures the initiator's limit, not a target's.
        app.db.conn().batch_execute("UPDATE direct_messages SET user1_archived_at = now()").unwrap();
    }
}

#[tokio::test]
async fn the_targets_limit_holds_under_100_concurrent_starts_from_distinct_users() {
    const LIMIT: i64 = 7;
    let settings = ApiSettings { dms: DmSettings { max_active: LIMIT }, ..ApiSettings::default() };
    let app = TestApp::spawn_configured(settings).await;
    let (target, _) = app.user("popular");
    let mut members = vec![target];
    let mut starters = Vec::new();
    for i in 0..100 {
        let (id, token) = app.user(&format!("fan{i}"));
        members.push(id);
        starters.push(token);
    }
    app.db.group("Main", "main", &members);
    let replies =
        futures_util::future::join_all(starters.iter().map(|token| start(&app, token, "real_user", target.into())))
            .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| r.code().as_deref() == Some("dm_target_limit_reached")).count();
    assert_eq!((created, refused), (LIMIT as usize, 100 - LIMIT as usize));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages"), LIMIT);
}

#[tokio::test]
async fn blocks_stop_new_messages_both_ways_and_can_be_lifted() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    assert_eq!(send(&app, &bob, dm, "hello").await.status, 201);

    assert_eq!(app.call("POST", &format!("/api/user/chat/blocks/{bob_id}"), Some(&alice), None).await.status, 201);
    assert_eq!(app.call("POST", &format!("/api/user/chat/blocks/{bob_id}"), Some(&alice), None).await.status, 200);
    let blocks = app.get("/api/user/chat/blocks", &alice).await.json();
    assert_eq!(blocks["items"][0]["user"]["id"], bob_id);
    for (token, who) in [(&bob, "blocked"), (&alice, "blocker")] {
        let refused = send(&app, token, dm, "still there?").await;
        assert_eq!((refused.status, refused.code().as_deref()), (403, Some("dm_unavailable")), "{who}");
    }
    let reopen = start(&app, &alice, "real_user", bob_id.into()).await;
    assert_eq!(reopen.code().as_deref(), Some("dm_you_blocked"));
    // The history stays readable.
    assert_eq!(app.get(&format!("{DMS}/{dm}/messages"), &bob).await.status, 200);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 1);

    let self_block = app.call("POST", &format!("/api/user/chat/blocks/{alice_id}"), Some(&alice), None).await;
    assert_eq!(self_block.status, 422);
    assert_eq!(app.call("DELETE", &format!("/api/user/chat/blocks/{bob_id}"), Some(&alice), None).await.status, 204);
    assert_eq!(send(&app, &bob, dm, "thanks").await.status, 201);
}

#[tokio::test]
async fn archived_dms_leave_the_list_and_come_back_on_a_new_message() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let with_bob = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let with_carol = start(&app, &alice, "real_user", carol_id.into()).await.json()["id"].as_i64().unwrap();
    send(&app, &alice, with_bob, "one").await;
    send(&app, &alice, with_carol, "two").await;

    let ids = |page: Value| -> Vec<i64> {
        page["items"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(app.get(DMS, &alice).await.json()), [with_carol, with_bob], "most recent activity first");
    let archived = app.post(&format!("{DMS}/{with_carol}/archive"), &alice, json!({})).await;
    assert_eq!(archived.json()["archived"], true);
    assert_eq!(ids(app.get(DMS, &alice).await.json()), [with_bob]);
    assert_eq!(ids(app.get(&format!("{DMS}?archived=true"), &alice).await.json()), [with_carol]);
    assert_eq!(ids(app.get(DMS, &carol).await.json()), [with_carol], "archiving is per user");
    send(&app, &carol, with_carol, "are you there?").await;
    assert_eq!(ids(app.get(DMS, &alice).await.json()), [with_carol, with_bob], "a new message brings it back");

    // Idle DMs are archived for both sides by the maintenance task.
    let store: Arc<dyn Store> = Arc::new(PgStore::new(&app.db.url, PoolConfig::default()));
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let archived = store.run(move |tx| chat_domain::direct_messages::archive_idle_dms(tx, later, 100)).await.unwrap();
    assert_eq!(archived.len(), 2);
    assert!(ids(app.get(DMS, &alice).await.json()).is_empty());
    assert!(ids(app.get(DMS, &bob).await.json()).is_empty());
    let unarchive = app.call("DELETE", &format!("{DMS}/{with_bob}/archive"), Some(&bob), None).await;
    assert_eq!(unarchive.json()["archived"], false);
    assert_eq!(ids(app.get(DMS, &bob).await.json()), [with_bob]);

    // Paging through the list.
    let first = app.get(&format!("{DMS}?archived=true&limit=1"), &alice).await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app.get(&format!("{DMS}?archived=true&limit=1&cursor={cursor}"), &alice).await.json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert_eq!(second["nextCursor"], Value::Null);
}

#[tokio::test]
async fn admins_oversee_dms_answer_personas_hide_messages_and_every_read_is_logged() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let mia = persona(&app, &ada, "Mia", true).await;
    let user_dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let persona_dm = start(&app, &alice, "fake_user", mia).await.json()["id"].as_i64().unwrap();
    let rude = send(&app, &bob, user_dm, "something rude").await.json();
    send(&app, &alice, persona_dm, "Hi Mia!").await;

    let all = app.get("/api/admin/chat/direct-messages", &ada).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let waiting = app.get("/api/admin/chat/direct-messages?waiting=true", &ada).await.json();
    assert_eq!(waiting["items"][0]["id"], persona_dm);
    assert_eq!(waiting["items"][0]["waitingForPersona"], true);
    let by_kind = app.get("/api/admin/chat/direct-messages?kind=user_dm", &ada).await.json();
    assert_eq!(by_kind["items"][0]["id"], user_dm);
    let by_user = app.get(&format!("/api/admin/chat/direct-messages?userId={bob_id}"), &ada).await.json();
    assert_eq!(by_user["items"].as_array().unwrap().len(), 1);
    let by_persona = app.get(&format!("/api/admin/chat/direct-messages?personaId={mia}"), &ada).await.json();
    assert_eq!(by_persona["items"][0]["id"], persona_dm);

    // Answering: as the persona in persona DMs, never in user DMs.
    let answer = app
        .post(&format!("/api/admin/chat/direct-messages/{persona_dm}/messages"), &ada, json!({"content": "Hi Alice!"}))
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.json()["sender"]["displayName"], "Mia");
    assert_eq!(answer.json()["actingAdmin"]["id"], ada_id);
    let alice_view = app.get(&format!("{DMS}/{persona_dm}/messages"), &alice).await;
    assert!(!String::from_utf8_lossy(&alice_view.bytes).contains("acting"));
    let refused =
        app.post(&format!("/api/admin/chat/direct-messages/{user_dm}/messages"), &ada, json!({"content": "hi"})).await;
    assert_eq!((refused.status, refused.code().as_deref()), (403, Some("admin_read_only")));

    // Moderation: users no longer see the content; admins still do, marked hidden.
    let hidden =
        app.post(&format!("/api/admin/chat/messages/{}/hide", rude["id"]), &ada, json!({"reason": "harassment"})).await;
    assert_eq!((hidden.status, hidden.json()["hidden"].clone()), (200, json!(true)));
    let seen = app.get(&format!("{DMS}/{user_dm}/messages"), &alice).await.json();
    assert_eq!((seen["items"][0]["hidden"].clone(), seen["items"][0]["content"].clone()), (json!(true), Value::Null));
    assert!(
        !String::from_utf8_lossy(&app.get(DMS, &alice).await.bytes).contains("rude"),
        "not in the list preview either"
    );
    let admin_seen = app.get(&format!("/api/admin/chat/direct-messages/{user_dm}/messages"), &ada).await.json();
    assert_eq!(admin_seen["items"][0]["content"], "something rude");
    let no_reason =
        app.post(&format!("/api/admin/chat/messages/{}/hide", rude["id"]), &ada, json!({"reason": " "})).await;
    assert_eq!((no_reason.status, no_reason.json()["errors"][0]["field"].clone()), (422, json!("reason")));
    assert_eq!(app.post("/api/admin/chat/messages/999999/hide", &ada, json!({"reason": "x"})).await.status, 404);

    // The access log has the reads above, newest first.
    let log = app.get("/api/admin/chat/audit", &ada).await.json();
    let entries: Vec<(i64, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["conversationId"].as_i64().unwrap(), e["action"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(entries, [(user_dm, "read_messages".to_owned())]);
    assert_eq!(log["items"][0]["admin"]["id"], ada_id);
    let by_conversation = app.get(&format!("/api/admin/chat/audit?conversationId={persona_dm}"), &ada).await.json();
    assert!(by_conversation["items"].as_array().unwrap().is_empty());

    // Users are refused on every admin DM route.
    for (method, path) in [
        ("GET", "/api/admin/chat/direct-messages".to_owned()),
        ("GET", format!("/api/admin/chat/direct-messages/{user_dm}")),
        ("GET", format!("/api/admin/chat/direct-messages/{user_dm}/messages")),
        ("GET", "/api/admin/chat/audit".to_owned()),
        ("GET", "/api/admin/chat/search?q=rude".to_owned()),
    ] {
        let reply = app.call(method, &path, Some(&alice), None).await;
        assert_eq!(reply.status, 403, "{method} {path}");
    }
    let reply = app.post(&format!("/api/admin/chat/messages/{}/hide", rude["id"]), &bob, json!({"reason": "x"})).await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn search_finds_only_what_the_caller_may_read() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let ab = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let bc = start(&app, &bob, "real_user", carol_id.into()).await.json()["id"].as_i64().unwrap();
    send(&app, &alice, ab, "where is the refund for order 17?").await;
    send(&app, &bob, bc, "carol, the refund secret is 42").await;
    app.post("/api/user/chat/support/messages", &alice, json!({"content": "refund please"})).await;

    let hits = app.get("/api/user/chat/search?q=refund", &alice).await.json();
    let found: Vec<(i64, String)> = hits["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["conversationId"].as_i64().unwrap(), h["conversationKind"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(found.len(), 2, "{hits}");
    assert!(found.iter().all(|(id, _)| *id != bc), "never another pair's DM");
    assert!(!String::from_utf8_lossy(&app.get("/api/user/chat/search?q=secret", &alice).await.bytes).contains("42"));
    assert_eq!(app.get("/api/user/chat/search?q=secret", &alice).await.json()["items"], json!([]));
    assert_eq!(app.get("/api/user/chat/search?q=secret", &carol).await.json()["items"].as_array().unwrap().len(), 1);
    let blank = app.get("/api/user/chat/search?q=%20", &alice).await;
    assert_eq!((blank.status, blank.json()["errors"][0]["field"].clone()), (422, json!("q")));

    // Admins search everything, and each DM revealed is logged.
    let all = app.get("/api/admin/chat/search?q=refund", &ada).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let logged = app.db.count(&format!(
        "SELECT count(*) AS n FROM chat_admin_access_log WHERE admin_id = {ada_id} AND action = 'search'"
    ));
    assert_eq!(logged, 2, "two DMs revealed; support is not a DM");
}

/// `(conversationId, action)` of every access-log entry, newest first.
async fn audit(app: &TestApp, admin: &str) -> Vec<(i64, String)> {
    let log = app.get("/api/admin/chat/audit?limit=100", admin).await.json();
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["conversationId"].as_i64().unwrap(), e["action"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn an_admin_catching_up_on_dms_through_sync_is_logged_like_any_read() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, _) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let mia = persona(&app, &ada, "Mia", true).await;
    let user_dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let persona_dm = start(&app, &alice, "fake_user", mia).await.json()["id"].as_i64().unwrap();
    send(&app, &alice, user_dm, "private words").await;
    send(&app, &alice, persona_dm, "hello Mia").await;
    app.post("/api/user/chat/support/messages", &alice, json!({"content": "help please"})).await;
    let support = app.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();
    let sync = |token: &str, positions: Value| {
        let (app, token) = (&app, token.to_owned());
        async move { app.post("/api/user/chat/sync", &token, json!({ "positions": positions })).await }
    };

    // Up to date: nothing is read, so nothing is logged.
    let nothing = sync(&ada, json!({ user_dm.to_string(): 1 })).await;
    assert_eq!((nothing.status, nothing.json()["messages"].clone()), (200, json!([])));
    assert_eq!(audit(&app, &ada).await, []);

    // Catching up on two DMs and a support conversation: each DM read is logged.
    let caught_up =
        sync(&ada, json!({ user_dm.to_string(): 0, persona_dm.to_string(): 0, support.to_string(): 0 })).await;
    assert_eq!(caught_up.status, 200);
    assert_eq!(caught_up.json()["messages"].as_array().unwrap().len(), 3);
    assert!(String::from_utf8_lossy(&caught_up.bytes).contains("private words"));
    let mut logged = audit(&app, &ada).await;
    logged.sort_unstable();
    assert_eq!(logged, [(user_dm, "read_messages".to_owned()), (persona_dm, "read_messages".to_owned())]);

    // A user catching up on their own DMs is not a staff access.
    let own = sync(&alice, json!({})).await;
    assert_eq!(own.json()["messages"].as_array().unwrap().len(), 3);
    assert_eq!(audit(&app, &ada).await.len(), 2);

    // A socket `resume` runs the same catch-up, and is logged the same way.
    let mut ws = chat_tests::WsClient::connect(&app, &ada).await;
    ws.send(json!({"type": "resume", "id": "r", "positions": { user_dm.to_string(): 0 }})).await;
    let resumed = ws.until(std::time::Duration::from_secs(5), |frame| frame["type"] == "resumed").await;
    assert_eq!(resumed["replayed"], 1);
    assert_eq!(audit(&app, &ada).await.first(), Some(&(user_dm, "read_messages".to_owned())));
    assert_eq!(audit(&app, &ada).await.len(), 3);
    ws.close().await;
}

#[tokio::test]
async fn the_admin_dm_list_and_header_carry_no_message_content_and_log_nothing() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let sent = send(&app, &bob, dm, "very private words").await.json();

    let list = app.get("/api/admin/chat/direct-messages", &ada).await;
    let header = app.get(&format!("/api/admin/chat/direct-messages/{dm}"), &ada).await;
    let by_user = app.get(&format!("/api/admin/chat/direct-messages?userId={bob_id}"), &ada).await;
    for (what, reply, last) in [
        ("list", &list, list.json()["items"][0]["lastMessage"].clone()),
        ("header", &header, header.json()["lastMessage"].clone()),
        ("list by user", &by_user, by_user.json()["items"][0]["lastMessage"].clone()),
    ] {
        assert_eq!(reply.status, 200, "{what}");
        assert!(!String::from_utf8_lossy(&reply.bytes).contains("private"), "{what} shows content");
        assert_eq!(last.get("content"), None, "{what}");
        assert_eq!(last["id"], sent["id"], "{what}");
        assert_eq!((last["sender"]["type"].clone(), last["sender"]["id"].clone()), (json!("real_user"), json!(bob_id)));
        assert_eq!((last["messageType"].clone(), last["hidden"].clone()), (json!("text"), json!(false)), "{what}");
        assert_eq!(last["createdAt"], sent["createdAt"], "{what}");
    }
    app.post(&format!("/api/admin/chat/messages/{}/hide", sent["id"]), &ada, json!({"reason": "spam"})).await;
    let hidden = app.get(&format!("/api/admin/chat/direct-messages/{dm}"), &ada).await;
    assert_eq!(hidden.json()["lastMessage"]["hidden"], true);
    assert!(!String::from_utf8_lossy(&hidden.bytes).contains("private"));
    assert_eq!(audit(&app, &ada).await, [], "list views read no content, so they log nothing");

    // Content is read by opening the messages, which is logged.
    let messages = app.get(&format!("/api/admin/chat/direct-messages/{dm}/messages"), &ada).await.json();
    assert_eq!(messages["items"][0]["content"], "very private words");
    assert_eq!(audit(&app, &ada).await, [(dm, "read_messages".to_owned())]);
}

#[tokio::test]
async fn the_idle_archive_task_does_not_undo_an_unarchive_or_a_reopen() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    send(&app, &alice, dm, "long ago").await;
    app.db.conn().batch_execute("UPDATE direct_messages SET last_message_at = now() - interval '40 days'").unwrap();
    let store: Arc<dyn Store> = Arc::new(PgStore::new(&app.db.url, PoolConfig::default()));
    // What the maintenance loop does every minute, with a 30-day idle period.
    let run_task = || {
        let store = Arc::clone(&store);
        async move {
            let idle_before = chrono::Utc::now() - chrono::Duration::days(30);
            store.run(move |tx| chat_domain::direct_messages::archive_idle_dms(tx, idle_before, 100)).await.unwrap()
        }
    };
    let listed = |token: &str, archived: bool| {
        let (app, token) = (&app, token.to_owned());
        async move {
            let page = app.get(&format!("{DMS}?archived={archived}"), &token).await.json();
            page["items"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(run_task().await.len(), 1);
    assert_eq!((listed(&alice, true).await, listed(&bob, true).await), (vec![dm], vec![dm]));

    // Bob brings it back; the task runs again (twice) and leaves his side alone.
    let unarchived = app.call("DELETE", &format!("{DMS}/{dm}/archive"), Some(&bob), None).await;
    assert_eq!(unarchived.json()["archived"], false);
    run_task().await;
    run_task().await;
    assert_eq!(listed(&bob, false).await, [dm], "the task undid bob's unarchive");
    assert_eq!(listed(&alice, true).await, [dm], "alice's side stays archived");

    // Alice reopens it from a group (start): the same.
    assert_eq!(start(&app, &alice, "real_user", bob_id.into()).await.status, 200);
    assert_eq!(run_task().await, []);
    run_task().await;
    assert_eq!((listed(&alice, false).await, listed(&bob, false).await), (vec![dm], vec![dm]));

    // A whole idle period after being brought back, it is archived again.
    let store2 = Arc::clone(&store);
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    let archived = store2.run(move |tx| chat_domain::direct_messages::archive_idle_dms(tx, later, 100)).await.unwrap();
    assert_eq!(archived.len(), 1);
    assert_eq!((listed(&alice, true).await, listed(&bob, true).await), (vec![dm], vec![dm]));
}

#[tokio::test]
async fn can_dm_agrees_with_start_when_a_block_stands() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    let main = app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let can_dm = |token: &str| {
        let (app, token) = (&app, token.to_owned());
        async move {
            let members = app.get(&format!("/api/user/chat/groups/{main}/members"), &token).await.json();
            members["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| (m["id"].as_i64().unwrap(), m["canDm"].as_bool().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let (alice_n, bob_n, carol_n) = (i64::from(alice_id), i64::from(bob_id), i64::from(carol_id));
    assert_eq!(can_dm(&alice).await, [(alice_n, false), (bob_n, true), (carol_n, true)]);

    // Carol blocks alice: for alice, carol is someone she cannot reach, both ways of asking.
    assert_eq!(app.call("POST", &format!("/api/user/chat/blocks/{alice_id}"), Some(&carol), None).await.status, 201);
    assert_eq!(can_dm(&alice).await, [(alice_n, false), (bob_n, true), (carol_n, false)]);
    let refused = start(&app, &alice, "real_user", carol_n).await;
    assert_eq!((refused.status, refused.code().as_deref()), (403, Some("dm_no_shared_group")));
    // Carol, the blocker, cannot start one either (she must unblock first).
    assert_eq!(can_dm(&carol).await, [(alice_n, false), (bob_n, true), (carol_n, false)]);
    assert_eq!(start(&app, &carol, "real_user", alice_n).await.code().as_deref(), Some("dm_you_blocked"));
    // Bob, not involved, still sees both.
    assert_eq!(can_dm(&bob).await, [(alice_n, true), (bob_n, false), (carol_n, true)]);

    assert_eq!(app.call("DELETE", &format!("/api/user/chat/blocks/{alice_id}"), Some(&carol), None).await.status, 204);
    assert_eq!(can_dm(&alice).await, [(alice_n, false), (bob_n, true), (carol_n, true)]);
    assert_eq!(start(&app, &alice, "real_user", carol_n).await.status, 201);
}

#[tokio::test]
async fn a_new_dm_needs_room_under_the_targets_limit_too() {
    let settings = ApiSettings { dms: DmSettings { max_active: 2 }, ..ApiSettings::default() };
    let app = TestApp::spawn_configured(settings).await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    let (dave_id, _) = app.user("dave");
    let main = app.db.group("Main", "main", &[alice_id, bob_id, carol_id, dave_id]);
    let with_carol = start(&app, &bob, "real_user", carol_id.into()).await.json()["id"].as_i64().unwrap();
    assert_eq!(start(&app, &bob, "real_user", dave_id.into()).await.status, 201);

    // Bob is full: alice cannot open a new DM with him, and his avatar says so.
    let refused = start(&app, &alice, "real_user", bob_id.into()).await;
    assert_eq!((refused.status, refused.code().as_deref()), (409, Some("dm_target_limit_reached")));
    let members = app.get(&format!("/api/user/chat/groups/{main}/members"), &alice).await.json();
    let bob_row = members["items"].as_array().unwrap().iter().find(|m| m["id"] == bob_id).unwrap().clone();
    assert_eq!(bob_row["canDm"], false);
    // An existing DM with him is still returned.
    assert_eq!(start(&app, &carol, "real_user", bob_id.into()).await.json()["id"], with_carol);
    let members = app.get(&format!("/api/user/chat/groups/{main}/members"), &carol).await.json();
    assert!(members["items"].as_array().unwrap().iter().any(|m| m["id"] == bob_id && m["canDm"] == true));

    // Once bob archives one, there is room again.
    app.post(&format!("{DMS}/{with_carol}/archive"), &bob, json!({})).await;
    assert_eq!(start(&app, &alice, "real_user", bob_id.into()).await.status, 201);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM direct_messages"), 3);
}

#[tokio::test]
async fn hidden_messages_never_reach_user_search() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let rude = send(&app, &bob, dm, "zebra insult unspeakable").await.json();
    send(&app, &alice, dm, "a polite zebra").await;
    app.post(&format!("/api/admin/chat/messages/{}/hide", rude["id"]), &ada, json!({"reason": "abuse"})).await;

    for token in [&alice, &bob] {
        let zebra = app.get("/api/user/chat/search?q=zebra", token).await;
        let raw = String::from_utf8_lossy(&zebra.bytes).to_string();
        let hits = zebra.json()["items"].as_array().unwrap().clone();
        assert_eq!(hits.len(), 1, "{raw}");
        assert_eq!(hits[0]["message"]["content"], "a polite zebra");
        assert!(!raw.contains("insult") && !raw.contains("unspeakable"), "{raw}");
        let only_hidden = app.get("/api/user/chat/search?q=unspeakable", token).await;
        assert_eq!(only_hidden.json()["items"], json!([]), "not even to its sender");
    }
    // Admins still find it, marked hidden.
    let admin_hits = app.get("/api/admin/chat/search?q=unspeakable", &ada).await.json();
    assert_eq!(admin_hits["items"][0]["message"]["hidden"], true);
}

#[tokio::test]
async fn a_client_message_id_makes_dm_sends_idempotent_even_under_20_concurrent_retries() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = start(&app, &alice, "real_user", bob_id.into()).await.json()["id"].as_i64().unwrap();
    let path = format!("{DMS}/{dm}/messages");
    let key = uuid::Uuid::new_v4();
    let body = json!({"content": "exactly once", "clientMessageId": key});

    let first = app.post(&path, &alice, body.clone()).await;
    let retry = app.post(&path, &alice, body.clone()).await;
    assert_eq!((first.status, retry.status), (201, 200));
    assert_eq!(first.json(), retry.json());
    assert_eq!(first.json()["clientMessageId"], json!(key));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 1);
    // The other user reusing the key in the same conversation is refused, not merged.
    let reused = app.post(&path, &bob, json!({"content": "mine", "clientMessageId": key})).await;
    assert_eq!((reused.status, reused.code().as_deref()), (409, Some("client_message_id_reused")));

    let key = uuid::Uuid::new_v4();
    let body = json!({"content": "once, concurrently", "clientMessageId": key});
    let replies = futures_util::future::join_all((0..20).map(|_| app.post(&path, &bob, body.clone()))).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert!(replies.iter().all(|r| r.status == 201 || r.status == 200));
    let ids: HashSet<i64> = replies.iter().map(|r| r.json()["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 2);
    let alices = app.get(DMS, &alice).await.json();
    assert_eq!(alices["items"][0]["unreadCount"], 1, "counted once");
}
