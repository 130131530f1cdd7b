//! Real time over WebSocket, with real sockets (tokio-tungstenite) against the real app.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chat_tests::{TestApp, WsClient, WsEnd};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn is_message(frame: &Value) -> bool {
    matches!(frame["type"].as_str(), Some("support-message" | "dm-message"))
}

#[tokio::test]
async fn rest_and_socket_sends_reach_exactly_the_right_sockets() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    app.post("/api/admin/chat/personas", &ada, json!({"name": "Sam", "isSupportAgent": true})).await;

    let mut ada_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(ada_ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let presence = alice_ws.until(WAIT, |f| f["type"] == "presence").await;
    assert_eq!(presence["supportOnline"], true, "an admin has the queue open");
    let mut bob_ws = WsClient::connect(&app, &bob).await;

    // A REST send reaches the user's sockets and the watching admin (with the admin view).
    let sent = app.post("/api/user/chat/support/messages", &alice, json!({"content": "help"})).await.json();
    let to_ada = ada_ws.until(WAIT, is_message).await;
    assert_eq!(
        (to_ada["type"].clone(), to_ada["message"]["id"].clone()),
        (json!("support-message"), sent["id"].clone())
    );
    assert_eq!(to_ada["message"]["seq"], 1);
    let echo = alice_ws.until(WAIT, is_message).await;
    assert_eq!(echo["message"]["id"], sent["id"]);
    let conversation = sent["conversationId"].as_i64().unwrap();

    // A socket send is acknowledged after commit, reaches the user, and REST reads it.
    let ack = ada_ws
        .request(json!({"type": "support-response", "conversationId": conversation, "content": "hello from Sam"}), "r1")
        .await;
    assert_eq!(ack["type"], "ack");
    let stored = app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE id = {}", ack["message"]["id"]));
    assert_eq!(stored, 1, "acknowledged only once committed");
    assert!(ack["message"]["actingAdmin"].is_object(), "admins see who wrote it");
    let reply = alice_ws.until(WAIT, is_message).await;
    assert_eq!(reply["message"]["sender"]["displayName"], "Sam");
    assert!(!reply.to_string().contains("acting"), "users never see the acting admin: {reply}");
    let history = app.get("/api/user/chat/support/messages", &alice).await.json();
    assert_eq!(history["items"][0]["id"], ack["message"]["id"]);

    // DMs over the socket: start, send, and the other side receives it.
    let start =
        bob_ws.request(json!({"type": "start-dm", "targetUserId": alice_id, "targetUserType": "real_user"}), "s").await;
    let dm = start["conversation"]["id"].as_i64().unwrap();
    let ack = bob_ws.request(json!({"type": "dm-message", "conversationId": dm, "content": "hi alice"}), "d").await;
    assert_eq!(ack["message"]["content"], "hi alice");
    let got = alice_ws.until(WAIT, |f| f["type"] == "dm-message").await;
    assert_eq!(got["message"]["id"], ack["message"]["id"]);

    // Bad requests get error frames naming the problem; nothing is stored.
    let before = app.db.count("SELECT count(*) AS n FROM dm_messages");
    let bad = bob_ws.request(json!({"type": "dm-message", "conversationId": dm, "content": ""}), "e1").await;
    assert_eq!((bad["type"].clone(), bad["code"].clone()), (json!("error"), json!("validation_failed")));
    assert_eq!(bad["errors"][0]["field"], "content");
    let garbage = bob_ws.request(json!({"type": "no-such-thing"}), "e2").await;
    assert_eq!(
        (garbage["code"].clone(), garbage["errors"][0]["field"].clone()),
        (json!("validation_failed"), json!("type"))
    );
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), before);

    // Joins naming foreign conversations are refused like missing ones.
    let foreign =
        bob_ws.request(json!({"type": "join-support-conversation", "conversationId": conversation}), "f1").await;
    let missing = bob_ws.request(json!({"type": "join-support-conversation", "conversationId": 999_999}), "f2").await;
    assert_eq!(
        (foreign["code"].clone(), foreign["detail"].clone()),
        (missing["code"].clone(), missing["detail"].clone())
    );
    assert_eq!(foreign["code"], "not_found");
    let queue = bob_ws.request(json!({"type": "join-support-queue"}), "f3").await;
    assert_eq!(queue["code"], "admin_only");

    // Bob saw none of alice's support conversation.
    app.hub_barrier(&alice).await;
    let rest = bob_ws.drain("p").await;
    assert!(rest.iter().all(|f| f["conversationId"].as_i64() != Some(conversation)), "{rest:?}");
}

#[tokio::test]
async fn nine_principals_each_receive_exactly_what_they_may_see() {
    let app = TestApp::spawn().await;
    let mut users = Vec::new();
    for name in ["u1", "u2", "u3", "u4", "u5", "u6"] {
        users.push(app.user(name));
    }
    let admins: Vec<(i32, String)> = ["a1", "a2", "a3"].iter().map(|n| app.admin(n)).collect();
    let ids: Vec<i32> = users.iter().map(|(id, _)| *id).collect();
    app.db.group("Main", "main", &ids);
    let mia = app
        .post("/api/admin/chat/personas", &admins[0].1, json!({"name": "Mia", "dmEnabled": true}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();

    // Conversations: six support threads, three user DMs, two persona DMs.
    let mut support = Vec::new();
    for (_, token) in &users {
        support.push(app.get("/api/user/chat/support", token).await.json()["id"].as_i64().unwrap());
    }
    let mut dms = Vec::new();
    for (a, b) in [(0, 1), (2, 3), (4, 5)] {
        let dm = app
            .post(
                "/api/user/chat/direct-messages",
                &users[a].1,
                json!({"targetType": "real_user", "targetId": users[b].0}),
            )
            .await;
        dms.push((a, b, dm.json()["id"].as_i64().unwrap()));
    }
    let mut persona_dms = Vec::new();
    for u in [0, 3] {
        let dm = app
            .post("/api/user/chat/direct-messages", &users[u].1, json!({"targetType": "fake_user", "targetId": mia}))
            .await;
        persona_dms.push((u, dm.json()["id"].as_i64().unwrap()));
    }

    // Sockets: every user; a1 watches the queue, a2 joins the u3-u4 DM, a3 joins nothing.
    let mut sockets = Vec::new();
    for (_, token) in &users {
        sockets.push(WsClient::connect(&app, token).await);
    }
    for (i, (_, token)) in admins.iter().enumerate() {
        let mut ws = WsClient::connect(&app, token).await;
        match i {
            0 => assert_eq!(ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack"),
            1 => {
                let join = ws.request(json!({"type": "join-dm-conversation", "conversationId": dms[1].2}), "j").await;
                assert_eq!(join["type"], "ack");
            }
            _ => {}
        }
        sockets.push(ws);
    }

    // Who may see which conversation (socket index -> conversation ids).
    let mut visible: Vec<HashSet<i64>> = vec![HashSet::new(); 9];
    for (u, id) in support.iter().enumerate() {
        visible[u].insert(*id);
        visible[6].insert(*id);
    }
    for (a, b, dm) in &dms {
        visible[*a].insert(*dm);
        visible[*b].insert(*dm);
    }
    visible[7].insert(dms[1].2);
    for (u, dm) in &persona_dms {
        visible[*u].insert(*dm);
        visible[6].insert(*dm);
    }

    // 500 mixed messages (REST and socket doors), typing and reads, deterministic.
    let mut expected: Vec<HashSet<i64>> = vec![HashSet::new(); 9];
    let mut seed: u64 = 42;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap()
    };
    let mut conversation_of = HashMap::new();
    for i in 0..500 {
        let (conversation, reply) = match next() % 4 {
            0 => {
                let u = next() % 6;
                let m =
                    app.post("/api/user/chat/support/messages", &users[u].1, json!({"content": format!("m{i}")})).await;
                (support[u], m)
            }
            1 => {
                let u = next() % 6;
                let path = format!("/api/admin/chat/support/{}/messages", support[u]);
                (
                    support[u],
                    app.post(&path, &admins[next() % 3].1, json!({"content": format!("m{i}"), "asTeam": true})).await,
                )
            }
            2 => {
                let (a, b, dm) = dms[next() % 3];
                let from = if next() % 2 == 0 { a } else { b };
                let path = format!("/api/user/chat/direct-messages/{dm}/messages");
                (dm, app.post(&path, &users[from].1, json!({"content": format!("m{i}")})).await)
            }
            _ => {
                let (u, dm) = persona_dms[next() % 2];
                let (path, token) = if next() % 2 == 0 {
                    (format!("/api/user/chat/direct-messages/{dm}/messages"), &users[u].1)
                } else {
                    (format!("/api/admin/chat/direct-messages/{dm}/messages"), &admins[0].1)
                };
                (dm, app.post(&path, token, json!({"content": format!("m{i}")})).await)
            }
        };
        assert_eq!(reply.status, 201, "{:?}", reply.json());
        let id = reply.json()["id"].as_i64().unwrap();
        conversation_of.insert(id, conversation);
        for (s, seen) in visible.iter().enumerate() {
            if seen.contains(&conversation) {
                expected[s].insert(id);
            }
        }
        if i % 10 == 0 {
            // Typing in a DM, and reads of the newest message there and in support.
            let (a, b, dm) = dms[i % 3];
            sockets[a].send(json!({"type": "typing", "conversationId": dm, "isTyping": true})).await;
            let newest =
                app.get(&format!("/api/user/chat/direct-messages/{dm}/messages?limit=1"), &users[b].1).await.json();
            if let Some(last) = newest["items"][0]["id"].as_i64() {
                sockets[b].send(json!({"type": "read", "conversationId": dm, "lastReadMessageId": last})).await;
            }
            let u = i % 6;
            let newest = app.get("/api/user/chat/support/messages?limit=1", &users[u].1).await.json();
            if let Some(last) = newest["items"][0]["id"].as_i64() {
                sockets[u].send(json!({"type": "read", "conversationId": support[u], "lastReadMessageId": last})).await;
            }
        }
    }

    app.hub_barrier(&users[0].1).await;
    for (s, socket) in sockets.iter_mut().enumerate() {
        let frames = socket.drain("barrier").await;
        let mut got = HashSet::new();
        for frame in &frames {
            if let Some(conversation) = frame["conversationId"].as_i64() {
                assert!(visible[s].contains(&conversation), "socket {s} got a foreign event: {frame}");
            }
            if s < 6 {
                assert!(!frame.to_string().contains("actingAdmin"), "a user saw an acting admin: {frame}");
            }
            if is_message(frame) {
                assert!(got.insert(frame["message"]["id"].as_i64().unwrap()), "socket {s} got a duplicate");
            }
        }
        assert_eq!(got, expected[s], "socket {s}: missing {:?}", expected[s].difference(&got).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_reconnecting_client_resumes_with_everything_it_missed_exactly_once_in_order() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    let (dave_id, dave) = app.user("dave");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id, dave_id]);
    let with_bob = app.start_dm(&alice, bob_id).await;
    let with_carol = app.start_dm(&alice, carol_id).await;
    let support =
        app.post("/api/user/chat/support/messages", &alice, json!({"content": "hi"})).await.json()["conversationId"]
            .as_i64()
            .unwrap();

    // Alice saw seq 1 of her support thread, nothing else; then she goes away.
    let ws = WsClient::connect(&app, &alice).await;
    ws.close().await;

    // 200 messages from four concurrent writers, one in a DM alice has never seen.
    let with_dave = app.start_dm(&dave, alice_id).await;
    let writer = |token: String, path: String| {
        let app = &app;
        async move {
            for i in 0..50 {
                let reply = app.post(&path, &token, json!({"content": format!("missed {i}")})).await;
                assert_eq!(reply.status, 201);
            }
        }
    };
    futures_util::future::join4(
        writer(bob.clone(), format!("/api/user/chat/direct-messages/{with_bob}/messages")),
        writer(carol.clone(), format!("/api/user/chat/direct-messages/{with_carol}/messages")),
        writer(dave.clone(), format!("/api/user/chat/direct-messages/{with_dave}/messages")),
        writer(ada.clone(), format!("/api/admin/chat/support/{support}/messages")),
    )
    .await;

    let mut ws = WsClient::connect(&app, &alice).await;
    let positions = json!({ support.to_string(): 1, with_bob.to_string(): 0, with_carol.to_string(): 0 });
    ws.send(json!({"type": "resume", "id": "r", "positions": positions})).await;
    let mut per_conversation: HashMap<i64, Vec<i64>> = HashMap::new();
    let resumed = loop {
        let frame = ws.next(WAIT).await.expect("replay arrives");
        if frame["type"] == "resumed" {
            break frame;
        }
        if is_message(&frame) {
            per_conversation
                .entry(frame["conversationId"].as_i64().unwrap())
                .or_default()
                .push(frame["message"]["seq"].as_i64().unwrap());
        }
    };
    assert_eq!(resumed["replayed"], 200);
    for conversation in [with_bob, with_carol, with_dave] {
        assert_eq!(per_conversation[&conversation], (1..=50).collect::<Vec<_>>(), "conversation {conversation}");
    }
    assert_eq!(per_conversation[&support], (2..=51).collect::<Vec<_>>(), "support after seq 1");

    // The REST catch-up answers the same.
    let sync = app.post("/api/user/chat/sync", &alice, json!({"positions": positions})).await.json();
    assert_eq!(sync["messages"].as_array().unwrap().len(), 200);
    assert_eq!(sync["resyncRequired"], false);
    let nothing = app
        .post("/api/user/chat/sync", &bob, json!({"positions": {with_carol.to_string(): 0, support.to_string(): 0}}))
        .await
        .json();
    assert!(
        nothing["messages"].as_array().unwrap().iter().all(|m| m["conversationId"].as_i64() == Some(with_bob)),
        "positions naming foreign conversations are ignored"
    );
}

#[tokio::test]
async fn handshakes_are_refused_before_101_and_sockets_close_when_tokens_expire() {
    let settings =
        chat_api::ApiSettings { cors_allowed_origins: vec!["https://admin.example.com".into()], ..Default::default() };
    let app = TestApp::spawn_configured(settings).await;
    let (alice_id, alice) = app.user("alice");
    assert_eq!(WsClient::try_connect(&app, None, &[]).await.err(), Some(401));
    assert_eq!(WsClient::try_connect(&app, Some("not-a-token"), &[]).await.err(), Some(401));
    let expired = chat_api::auth::mint_token(
        chat_tests::SECRET,
        &chat_api::auth::DevClaims {
            sub: alice_id.to_string(),
            role: "user".into(),
            exp: u64::try_from(chrono::Utc::now().timestamp() - 60).unwrap(),
            iss: None,
            aud: None,
        },
    )
    .unwrap();
    assert_eq!(WsClient::try_connect(&app, Some(&expired), &[]).await.err(), Some(401));
    let foreign = WsClient::try_connect(&app, Some(&alice), &[("origin", "https://evil.example.com")]).await;
    assert_eq!(foreign.err(), Some(403));
    assert!(WsClient::try_connect(&app, Some(&alice), &[("origin", "https://admin.example.com")]).await.is_ok());

    // Browsers: the token in the query string or a subprotocol.
    let ws_base = app.base.replace("http://", "ws://");
    assert!(WsClient::connect_url(&format!("{ws_base}/api/chat/ws?access_token={alice}")).await.is_ok());
    let protocol = format!("chat.v1, bearer.{alice}");
    assert!(WsClient::try_connect(&app, None, &[("sec-websocket-protocol", &protocol)]).await.is_ok());

    // A socket outliving its token is closed with 4001.
    let short = chat_api::auth::mint_token(
        chat_tests::SECRET,
        &chat_api::auth::DevClaims {
            sub: alice_id.to_string(),
            role: "user".into(),
            exp: u64::try_from(chrono::Utc::now().timestamp() + 2).unwrap(),
            iss: None,
            aud: None,
        },
    )
    .unwrap();
    let mut ws = WsClient::connect(&app, &short).await;
    assert_eq!(ws.end(WAIT).await, WsEnd::Closed(4001));
}

/// Waits until the hub's counters satisfy `pred` (30 s at most), and returns them.
async fn stats_until(
    hub: &chat_api::realtime::hub::Hub,
    pred: impl Fn(&chat_api::realtime::hub::HubStats) -> bool,
) -> chat_api::realtime::hub::HubStats {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        let stats = hub.stats();
        if pred(&stats) {
            return stats;
        }
        assert!(tokio::time::Instant::now() < deadline, "hub counters never got there: {stats:?}");
        poll.tick().await;
    }
}

#[tokio::test]
async fn a_stalled_client_never_pins_its_session() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = app.start_dm(&bob, alice_id).await;

    // Alice stops reading. Bob writes large messages until the socket's buffers are full
    // and her session's writes block (events start piling up in her queue), then stops,
    // well before her queue is full: the hub never cuts her off.
    let mut alice_ws = WsClient::connect_small_window(&app, &alice).await;
    alice_ws.send(json!({"type": "ping", "id": "start"})).await;
    let content = "\u{1F600}".repeat(4000);
    let mut sent = 0;
    while app.hub.stats().peak_queue_depth < 64 {
        let reply =
            app.post(&format!("/api/user/chat/direct-messages/{dm}/messages"), &bob, json!({"content": content})).await;
        assert_eq!(reply.status, 201);
        sent += 1;
        assert!(sent < 5000, "the socket's buffers never filled");
    }
    // Her session still ends (the write gives up), and is deregistered; nobody was cut
    // off for a full queue, and her queue stayed within its bound.
    let stats = stats_until(&app.hub, |s| s.sessions == 0).await;
    assert_eq!((stats.connections, stats.cut_off), (0, 0), "{stats:?}");
    let bound = chat_api::realtime::hub::QUEUE_CAPACITY;
    assert!(stats.peak_queue_depth > 0 && stats.peak_queue_depth <= bound, "{stats:?}");
    // When she reads again she finds what was buffered, then the slow-consumer close.
    assert_eq!(alice_ws.end(Duration::from_secs(30)).await, WsEnd::Closed(4008));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_without_slowing_anyone() {
    let app = TestApp::spawn().await;
    let mut admins = Vec::new();
    for i in 0..21 {
        admins.push(app.admin(&format!("admin{i}")).1);
    }
    let mut readers = Vec::new();
    for token in &admins[..20] {
        let mut ws = WsClient::connect(&app, token).await;
        assert_eq!(ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");
        readers.push(ws);
    }
    let mut stalled = WsClient::connect(&app, &admins[20]).await;
    assert_eq!(stalled.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");
    assert_eq!(app.hub.stats().connections, 21);

    // 5,000 large messages from 10 users; the readers drain concurrently.
    let users: Vec<String> = (0..10).map(|i| app.user(&format!("u{i}")).1).collect();
    let content = "x".repeat(3000);
    let total = 5000;
    let collectors: Vec<_> = readers
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut ids = HashSet::new();
                while ids.len() < total {
                    let Some(frame) = ws.next(Duration::from_secs(30)).await else { break };
                    if is_message(&frame) {
                        ids.insert(frame["message"]["id"].as_i64().unwrap_or_default());
                    }
                }
                ids.len()
            })
        })
        .collect();
    let senders = users.iter().map(|token| {
        let app = &app;
        let content = &content;
        async move {
            for _ in 0..(total / 10) {
                let reply = app.post("/api/user/chat/support/messages", token, json!({"content": content})).await;
                assert_eq!(reply.status, 201);
            }
        }
    });
    // Once cut off, the stalled client's session ends at once (deregistered, no task
    // left waiting on it), with its queue never beyond its bound; then it reads again.
    let hub = app.hub.clone();
    let stalled_end = tokio::spawn(async move {
        let stats = stats_until(&hub, |s| s.cut_off == 1 && s.sessions == 20).await;
        assert_eq!(stats.connections, 20, "{stats:?}");
        assert!(
            stats.peak_queue_depth <= chat_api::realtime::hub::STAFF_QUEUE_CAPACITY,
            "admins' queues stay bounded: {stats:?}"
        );
        stalled.end(Duration::from_secs(30)).await
    });
    futures_util::future::join_all(senders).await;
    for collector in collectors {
        assert_eq!(collector.await.unwrap(), total, "a reader missed messages");
    }
    let stats = app.hub.stats();
    assert_eq!(stats.cut_off, 1, "only the stalled client is cut off: {stats:?}");
    let ended = stalled_end.await.unwrap();
    // When it reads again, it finds the close frame (after what the kernel buffered).
    assert_eq!(ended, WsEnd::Closed(4008));
}

#[tokio::test]
async fn oversized_frames_and_floods_close_the_socket() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");

    let mut ws = WsClient::connect(&app, &alice).await;
    ws.send(json!({"type": "ping", "id": "x".repeat(70 * 1024)})).await;
    assert_eq!(ws.end(WAIT).await, WsEnd::Closed(1009), "frames over 64 KiB close the socket");

    let mut ws = WsClient::connect(&app, &alice).await;
    for i in 0..200 {
        ws.send(json!({"type": "ping", "id": i.to_string()})).await;
    }
    let mut limited = 0;
    let end = loop {
        match ws.next(WAIT).await {
            Some(frame) if frame["code"] == "rate_limited" => limited += 1,
            Some(_) => {}
            None => break ws.end(WAIT).await,
        }
    };
    assert!(limited > 0, "the client was told to slow down first");
    assert_eq!(end, WsEnd::Closed(1008), "then closed for abuse");
}

#[tokio::test]
async fn notices_and_retractions_reach_exactly_their_recipients() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (_, bob) = app.user("bob");
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let mut ada_ws = WsClient::connect(&app, &ada).await;

    let one = app
        .post(
            "/api/admin/chat/notifications",
            &ada,
            json!({"userId": alice_id, "content": "For you", "template": "success"}),
        )
        .await;
    assert_eq!(one.status, 201);
    let notice = alice_ws.until(WAIT, |f| f["type"] == "admin-notification").await;
    assert_eq!((notice["content"].clone(), notice["align"].clone()), (json!("For you"), json!("center")));
    assert!(notice.get("sender").is_none(), "notices have no sender");
    let id = notice["notificationId"].as_i64().unwrap();

    let all = app
        .post("/api/admin/chat/notifications", &ada, json!({"allUsers": true, "content": "Maintenance tonight"}))
        .await;
    assert_eq!(all.status, 201);
    assert_eq!(bob_ws.until(WAIT, |f| f["type"] == "admin-notification").await["content"], "Maintenance tonight");
    assert_eq!(alice_ws.until(WAIT, |f| f["type"] == "admin-notification").await["content"], "Maintenance tonight");
    // Admins are users too: the notice is in their personal group, and on their socket.
    assert_eq!(ada_ws.until(WAIT, |f| f["type"] == "admin-notification").await["content"], "Maintenance tonight");

    assert_eq!(
        app.call("DELETE", &format!("/api/admin/chat/notifications/{id}"), Some(&ada), None).await.status / 100,
        2
    );
    let retracted = alice_ws.until(WAIT, |f| f["type"] == "notification-retracted").await;
    assert_eq!(retracted["notificationId"], id);

    // The socket door: admins send notices as over REST; users are refused.
    let ack = ada_ws
        .request(json!({"type": "admin-notification", "userId": alice_id, "content": "Over the socket", "template": "promo"}), "n")
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["notification"]["recipientCount"], 1);
    assert_eq!(alice_ws.until(WAIT, |f| f["type"] == "admin-notification").await["content"], "Over the socket");
    let refused = bob_ws.request(json!({"type": "admin-notification", "userId": alice_id, "content": "x"}), "u").await;
    assert_eq!(refused["code"], "admin_only");
    let bad = ada_ws
        .request(json!({"type": "admin-notification", "userId": alice_id, "content": "x", "notificationStyle": {"backgroundColor": "red", "textColor": "#000000", "borderColor": "#000000"}}), "s")
        .await;
    assert_eq!(bad["code"], "validation_failed", "{bad}");
    let typo = ada_ws
        .request(json!({"type": "admin-notification", "userId": alice_id, "content": "x", "templat": "info"}), "u2")
        .await;
    assert_eq!(
        (typo["code"].clone(), typo["errors"][0]["field"].clone()),
        (json!("validation_failed"), json!("templat"))
    );

    // Bob never heard of alice's notice; admins' sockets get no user notices.
    app.hub_barrier(&alice).await;
    let bobs = bob_ws.drain("b").await;
    assert!(bobs.iter().all(|f| f["notificationId"].as_i64() != Some(id)), "{bobs:?}");
    let admins = ada_ws.drain("a").await;
    assert!(admins.iter().all(|f| f["type"] != "admin-notification"), "{admins:?}");
}

/// Reads frames until every conversation in `last` has reached its final `seq`; returns
/// the message seqs per conversation, in arrival order, and whether `resumed` came.
async fn collect_until(ws: &mut WsClient, last: &HashMap<i64, i64>) -> (HashMap<i64, Vec<i64>>, bool) {
    let mut got: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut resumed = false;
    while !last.iter().all(|(c, seq)| got.get(c).and_then(|s| s.iter().max()) >= Some(seq)) {
        let Some(frame) = ws.next(WAIT).await else { break };
        resumed |= frame["type"] == "resumed";
        if is_message(&frame) {
            let conversation = frame["conversationId"].as_i64().unwrap();
            got.entry(conversation).or_default().push(frame["message"]["seq"].as_i64().unwrap());
        }
    }
    (got, resumed)
}

#[tokio::test]
async fn a_resume_racing_live_messages_is_gap_free_and_duplicate_free() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let dm_with = |token: &str, target: i32| {
        let (app, token) = (&app, token.to_owned());
        async move {
            let dm = app
                .post("/api/user/chat/direct-messages", &token, json!({"targetType": "real_user", "targetId": target}))
                .await;
            dm.json()["id"].as_i64().unwrap()
        }
    };
    let with_bob = dm_with(&bob, alice_id).await;
    let with_carol = dm_with(&carol, alice_id).await;
    let support = app.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();
    let writers = [
        (bob.clone(), format!("/api/user/chat/direct-messages/{with_bob}/messages"), with_bob),
        (carol.clone(), format!("/api/user/chat/direct-messages/{with_carol}/messages"), with_carol),
        (ada.clone(), format!("/api/admin/chat/support/{support}/messages"), support),
    ];
    let write = |n: usize| {
        let app = &app;
        let writers = &writers;
        async move {
            let all = writers.iter().map(|(token, path, _)| async move {
                for i in 0..n {
                    let mut body = json!({"content": format!("m{i}")});
                    if path.starts_with("/api/admin") {
                        body["asTeam"] = json!(true);
                    }
                    let reply = app.post(path, token, body).await;
                    assert_eq!(reply.status, 201, "{:?}", reply.json());
                }
            });
            futures_util::future::join_all(all).await;
        }
    };
    // Alice saw the first 5 of 8 messages in each conversation, then went away.
    write(8).await;
    let positions = json!({with_bob.to_string(): 5, with_carol.to_string(): 5, support.to_string(): 5});

    // She reconnects while three writers keep going; a live message lands in her queue
    // before her `resume` does (the race), and more arrive while the replay runs.
    let reconnect = async {
        let mut ws = WsClient::connect(&app, &alice).await;
        let reply = app.post(&writers[0].1, &bob, json!({"content": "live before resume"})).await;
        assert_eq!(reply.status, 201);
        app.hub_barrier(&alice).await;
        ws.send(json!({"type": "resume", "id": "r", "positions": positions})).await;
        ws
    };
    let (mut ws, ()) = futures_util::future::join(reconnect, write(30)).await;

    let last = HashMap::from([(with_bob, 8 + 1 + 30), (with_carol, 8 + 30), (support, 8 + 30)]);
    let (got, resumed) = collect_until(&mut ws, &last).await;
    assert!(resumed, "the resume is answered");
    app.hub_barrier(&alice).await;
    let late = ws.drain("p").await;
    assert!(late.iter().all(|f| !is_message(f)), "nothing arrives twice: {late:?}");
    for (conversation, last) in last {
        assert_eq!(got[&conversation], (6..=last).collect::<Vec<_>>(), "conversation {conversation}");
    }
}

#[tokio::test]
async fn typing_is_allowed_only_where_the_caller_may_post() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = app.start_dm(&alice, bob_id).await;
    let support = app.get("/api/user/chat/support", &alice).await.json()["id"].as_i64().unwrap();
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let mut ada_ws = WsClient::connect(&app, &ada).await;

    // An admin may read the users' DM but not post there, so may not type there either.
    let refused = ada_ws.request(json!({"type": "typing", "conversationId": dm, "isTyping": true}), "t1").await;
    assert_eq!((refused["type"].clone(), refused["code"].clone()), (json!("error"), json!("admin_read_only")));
    // Where the admin may post (a support conversation), typing reaches the user as the team.
    ada_ws.send(json!({"type": "typing", "conversationId": support, "isTyping": true})).await;
    let shown = alice_ws.until(WAIT, |f| f["type"] == "typing").await;
    assert_eq!((shown["conversationId"].as_i64(), shown["sender"]["type"].clone()), (Some(support), json!("support")));
    assert!(shown["sender"].get("actingAdminId").is_none(), "{shown}");

    // Once blocked, neither side of the DM may type in it (as with sending).
    let block = app.call("POST", &format!("/api/user/chat/blocks/{bob_id}"), Some(&alice), None).await;
    assert_eq!(block.status, 201);
    let blocked = bob_ws.request(json!({"type": "typing", "conversationId": dm, "isTyping": true}), "t2").await;
    assert_eq!(blocked["code"], "dm_unavailable", "{blocked}");

    // Neither user heard of any typing in their DM.
    app.hub_barrier(&alice).await;
    for ws in [&mut alice_ws, &mut bob_ws] {
        let frames = ws.drain("d").await;
        assert!(frames.iter().all(|f| !(f["type"] == "typing" && f["conversationId"] == dm)), "{frames:?}");
    }
}

#[tokio::test]
async fn hiding_a_message_and_status_changes_reach_live_clients() {
    let app = TestApp::spawn().await;
    let (_, ada) = app.admin("ada");
    let (_, dan) = app.admin("dan");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[alice_id, bob_id, carol_id]);
    let dm = app.start_dm(&alice, bob_id).await;
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let mut carol_ws = WsClient::connect(&app, &carol).await;
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    let join = ada_ws.request(json!({"type": "join-dm-conversation", "conversationId": dm}), "j").await;
    assert_eq!(join["type"], "ack");
    let mut dan_ws = WsClient::connect(&app, &dan).await;
    assert_eq!(dan_ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");

    // A moderator hides a DM message: both users get it replaced, without its content;
    // the admin watching the DM sees it marked hidden, with its content.
    let rude =
        app.post(&format!("/api/user/chat/direct-messages/{dm}/messages"), &bob, json!({"content": "rude"})).await;
    let rude = rude.json()["id"].as_i64().unwrap();
    let hide = app.post(&format!("/api/admin/chat/messages/{rude}/hide"), &dan, json!({"reason": "harassment"})).await;
    assert_eq!(hide.status, 200);
    for ws in [&mut alice_ws, &mut bob_ws] {
        let updated = ws.until(WAIT, |f| f["type"] == "message-updated").await;
        assert_eq!(updated["message"]["id"], rude);
        assert_eq!(
            (updated["message"]["hidden"].clone(), updated["message"]["content"].clone()),
            (json!(true), json!(null))
        );
    }
    let seen = ada_ws.until(WAIT, |f| f["type"] == "message-updated").await;
    assert_eq!((seen["message"]["hidden"].clone(), seen["message"]["content"].clone()), (json!(true), json!("rude")));

    // Support status changes publish `conversation-updated` to the queue watchers: the
    // team's reply makes it pending, the user's next message (over the socket) opens it
    // again, and a message that changes nothing publishes nothing.
    let first = app.post("/api/user/chat/support/messages", &alice, json!({"content": "help"})).await.json();
    let support = first["conversationId"].as_i64().unwrap();
    let reply = app
        .post(&format!("/api/admin/chat/support/{support}/messages"), &ada, json!({"content": "on it", "asTeam": true}))
        .await;
    assert_eq!(reply.status, 201);
    let pending = dan_ws.until(WAIT, |f| f["type"] == "conversation-updated").await;
    assert_eq!(pending["conversationId"], support);
    let ack = alice_ws.request(json!({"type": "support-message", "content": "still broken"}), "s1").await;
    assert_eq!(ack["type"], "ack");
    let reopened = dan_ws.until(WAIT, |f| f["type"] == "conversation-updated").await;
    assert_eq!(reopened["conversationId"], support);
    let ack = alice_ws.request(json!({"type": "support-message", "content": "hello?"}), "s2").await;
    assert_eq!(ack["type"], "ack");

    app.hub_barrier(&alice).await;
    let rest = dan_ws.drain("d").await;
    assert!(rest.iter().all(|f| f["type"] != "conversation-updated"), "no change, no event: {rest:?}");
    assert!(rest.iter().all(|f| f["conversationId"] != dm), "a user DM is not on the queue: {rest:?}");
    let carols = carol_ws.drain("c").await;
    assert!(carols.iter().all(|f| f["conversationId"] != dm && f["conversationId"] != support), "{carols:?}");
}

#[tokio::test]
async fn persona_dm_content_pushed_to_an_admin_is_recorded_in_the_access_log() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let (_, alice) = app.user("alice");
    let mia = app.post("/api/admin/chat/personas", &ada, json!({"name": "Mia", "dmEnabled": true})).await.json()["id"]
        .as_i64()
        .unwrap();
    let dm = app
        .post("/api/user/chat/direct-messages", &alice, json!({"targetType": "fake_user", "targetId": mia}))
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let audit = format!("/api/admin/chat/audit?adminId={ada_id}&conversationId={dm}");
    assert_eq!(app.get(&audit, &ada).await.json()["items"].as_array().unwrap().len(), 0);

    // Ada watches the queue; alice writes to the persona twice.
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(ada_ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");
    let path = format!("/api/user/chat/direct-messages/{dm}/messages");
    for content in ["hi Mia", "are you there?"] {
        assert_eq!(app.post(&path, &alice, json!({"content": content})).await.status, 201);
        let pushed = ada_ws.until(WAIT, |f| f["type"] == "dm-message").await;
        assert_eq!(pushed["message"]["content"], content);
    }

    // The delivery was recorded as a read by ada of that DM: once for the socket.
    let deadline = tokio::time::Instant::now() + WAIT;
    let rows = loop {
        let rows = app.get(&audit, &ada).await.json()["items"].as_array().unwrap().clone();
        if !rows.is_empty() || tokio::time::Instant::now() > deadline {
            break rows;
        }
        app.hub_barrier(&alice).await;
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["admin"]["id"].as_i64(), rows[0]["conversationId"].as_i64()),
        (Some(i64::from(ada_id)), Some(dm))
    );
    assert_eq!(rows[0]["action"], "read_messages");
}

#[tokio::test]
async fn a_backlog_beyond_the_limit_answers_resync_required_on_both_doors() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = app.start_dm(&bob, alice_id).await;
    // 1,001 messages from bob, stored as the send path stores them (gapless seq, last_seq).
    let limit = i64::try_from(chat_api::realtime::REPLAY_LIMIT).unwrap();
    let total = limit + 1;
    use diesel::connection::SimpleConnection;
    app.db
        .conn()
        .batch_execute(&format!(
            "INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type, content)
             SELECT {dm}, s, {bob_id}, 'real_user', 'm' || s FROM generate_series(1, {total}) AS s;
             UPDATE direct_messages SET last_seq = {total} WHERE id = {dm};"
        ))
        .expect("the backlog is stored");

    // Over the socket: more than the limit missed -> resync-required; exactly the limit
    // -> every message, then resumed.
    let mut ws = WsClient::connect(&app, &alice).await;
    let resync = ws.request(json!({"type": "resume", "positions": {dm.to_string(): 0}}), "r1").await;
    assert_eq!(resync["type"], "resync-required", "{resync}");
    ws.send(json!({"type": "resume", "id": "r2", "positions": {dm.to_string(): 1}})).await;
    let mut seqs = Vec::new();
    let resumed = loop {
        let frame = ws.next(WAIT).await.expect("the replay arrives");
        if frame["id"] == "r2" {
            break frame;
        }
        if is_message(&frame) {
            seqs.push(frame["message"]["seq"].as_i64().unwrap());
        }
    };
    assert_eq!(resumed["type"], "resumed");
    assert_eq!(resumed["replayed"], limit);
    assert_eq!(seqs, (2..=total).collect::<Vec<_>>());

    // Over REST: the same answers.
    let sync = app.post("/api/user/chat/sync", &alice, json!({"positions": {dm.to_string(): 0}})).await;
    assert_eq!(sync.status, 200);
    let sync = sync.json();
    assert_eq!((sync["resyncRequired"].clone(), sync["messages"].as_array().map(Vec::len)), (json!(true), Some(0)));
    let sync = app.post("/api/user/chat/sync", &alice, json!({"positions": {dm.to_string(): 1}})).await.json();
    assert_eq!(sync["resyncRequired"], false);
    assert_eq!(sync["messages"].as_array().map(Vec::len), Some(usize::try_from(limit).unwrap()));
}

#[tokio::test]
async fn a_socket_send_retried_with_its_client_message_id_is_stored_once() {
    let app = TestApp::spawn().await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let (_, ada) = app.admin("ada");
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(ada_ws.request(json!({"type": "join-support-queue"}), "j").await["type"], "ack");
    let mut alice_ws = WsClient::connect(&app, &alice).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let key = "6f1c2a4e-0b7d-4c1e-9a55-2d3e4f5a6b7c";

    let send = json!({"type": "support-message", "content": "help", "clientMessageId": key});
    let first = alice_ws.request(send.clone(), "a").await;
    let again = alice_ws.request(send, "b").await;
    assert_eq!((first["type"].clone(), again["type"].clone()), (json!("ack"), json!("ack")));
    assert_eq!(first["message"], again["message"], "both acks carry the stored message");
    assert_eq!(first["message"]["clientMessageId"], key);
    let stored = app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE client_message_id = '{key}'"));
    assert_eq!(stored, 1);

    // The same key in a DM is another conversation's key: a new message; reused there by
    // the other participant, it is refused as over REST.
    let start = bob_ws.request(json!({"type": "start-dm", "targetType": "real_user", "targetId": alice_id}), "s").await;
    let dm = start["conversation"]["id"].as_i64().unwrap();
    let in_dm = json!({"type": "dm-message", "conversationId": dm, "content": "hi", "clientMessageId": key});
    let mine = bob_ws.request(in_dm.clone(), "d1").await;
    assert_eq!(mine["type"], "ack");
    assert_ne!(mine["message"]["id"], first["message"]["id"]);
    let theirs = alice_ws.request(in_dm, "d2").await;
    assert_eq!(theirs["code"], "client_message_id_reused", "{theirs}");

    // The watching admin got the support message once (the retry published nothing).
    app.hub_barrier(&alice).await;
    let frames = ada_ws.drain("p").await;
    let pushed: Vec<_> = frames.iter().filter(|f| f["type"] == "support-message").collect();
    assert_eq!(pushed.len(), 1, "{frames:?}");
    assert_eq!(pushed[0]["message"]["id"], first["message"]["id"]);
    let stored = app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE client_message_id = '{key}'"));
    assert_eq!(stored, 2, "one in support, one in the DM");
}

#[tokio::test]
async fn an_admin_writes_in_their_own_dm_over_the_socket_as_over_rest() {
    let app = TestApp::spawn().await;
    let (ada_id, ada) = app.admin("ada");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main", "main", &[ada_id, bob_id, carol_id]);
    let own = app.start_dm(&bob, ada_id).await;
    let foreign = app.start_dm(&carol, bob_id).await;
    let mut bob_ws = WsClient::connect(&app, &bob).await;
    let mut ada_ws = WsClient::connect(&app, &ada).await;
    assert_eq!(bob_ws.request(json!({"type": "ping"}), "p").await["type"], "pong");

    // In her own DM, an admin is a participant: she writes as herself.
    let ack = ada_ws.request(json!({"type": "dm-message", "conversationId": own, "content": "hi bob"}), "m").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let got = bob_ws.until(WAIT, |f| f["type"] == "dm-message").await;
    assert_eq!(
        (got["message"]["content"].clone(), got["message"]["sender"]["id"].clone()),
        (json!("hi bob"), json!(ada_id))
    );

    // In other users' DMs, staff stay read-only, on both doors alike.
    let refused = ada_ws.request(json!({"type": "dm-message", "conversationId": foreign, "content": "x"}), "r").await;
    assert_eq!(refused["code"], "admin_read_only", "{refused}");
    let rest =
        app.post(&format!("/api/admin/chat/direct-messages/{foreign}/messages"), &ada, json!({"content": "x"})).await;
    assert_eq!(rest.code().as_deref(), Some("admin_read_only"));
    assert_eq!(app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE conversation_id = {foreign}")), 0);
}

/// Frames that break RFC 6455 close the socket with the code the RFC names for them and
/// a fixed reason (never the parser's own message).
#[tokio::test]
async fn protocol_errors_close_with_their_rfc_6455_codes() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    let cases = [
        ("invalid UTF-8 in a text frame", OpCode::Data(Data::Text), vec![b'{', 0xff, 0xfe, b'}'], 1007),
        ("a reserved opcode", OpCode::Data(Data::Reserved(3)), b"{}".to_vec(), 1002),
    ];
    for (case, opcode, payload, code) in cases {
        let mut stream = WsClient::connect(&app, &alice).await.into_inner();
        let header = FrameHeader { opcode, ..FrameHeader::default() };
        stream.send(Message::Frame(Frame::from_payload(header, payload.into()))).await.expect("sent");
        let close = tokio::time::timeout(WAIT, async {
            loop {
                match stream.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => {}
                    other => panic!("{case}: the socket ended without a Close frame: {other:?}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{case}: no Close in time"))
        .unwrap_or_else(|| panic!("{case}: a Close without a code"));
        assert_eq!(u16::from(close.code), code, "{case}");
        assert!(
            ["text frame is not valid UTF-8", "protocol error"].contains(&close.reason.as_str()),
            "{case}: the reason is fixed, not the parser's: {:?}",
            close.reason
        );
    }
    let mut ws = WsClient::connect(&app, &alice).await;
    ws.send(json!({"type": "ping", "id": "x".repeat(70 * 1024)})).await;
    assert_eq!(ws.end(WAIT).await, WsEnd::Closed(1009), "frames over 64 KiB close the socket");
}
