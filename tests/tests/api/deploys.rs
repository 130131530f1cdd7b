//! Deploys: SIGTERM to a real `chat-server` drains it (sockets closed with 1001 at once,
//! in-flight requests finished, exit 0), a client's Close frame is answered with one,
//! and the container health check follows readiness.

use std::time::{Duration, Instant};

use chat_tests::process::{self, ServerProcess};
use chat_tests::{TestApp, TestDb, WsClient, WsEnd, token};
use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::fanout::Pair;

/// Polls `condition` every 20 ms until it holds; panics with `what` after `within`.
async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "{what} (waited {within:?})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_finishes_requests_and_exits_0() {
    let db = TestDb::migrated();
    let mut server = ServerProcess::spawn_with(&[("DATABASE_URL", &db.url)]).await;
    let (alice_id, bob_id, ada_id) = (db.insert_user("alice"), db.insert_user("bob"), db.insert_user("ada"));
    db.group("Main", "main", &[alice_id, bob_id]);
    let (alice, bob, ada) = (token(alice_id, "user"), token(bob_id, "user"), token(ada_id, "admin"));
    let pair = Pair::new(&server.base, &server.base);
    let (status, created) = pair
        .post("/api/user/chat/direct-messages", &bob, json!({"targetType": "real_user", "targetId": alice_id}))
        .await;
    assert_eq!(status, 201, "{created}");
    let dm = created["id"].as_i64().unwrap();

    // Sockets open, each past its first request (its session loop runs).
    let mut sockets = Vec::new();
    for who in [&alice, &alice, &bob, &ada] {
        let mut ws = Pair::socket(&server.base, who).await;
        assert_eq!(ws.request(json!({"type": "resume", "positions": {}}), "r").await["type"], "resumed");
        sockets.push(ws);
    }

    // A send in flight: it waits for the conversation's row lock, which the test holds.
    let mut lock = db.conn();
    lock.batch_execute(&format!("BEGIN; SELECT 1 FROM direct_messages WHERE id = {dm} FOR UPDATE")).unwrap();
    let send = tokio::spawn({
        let url = format!("{}/api/user/chat/direct-messages/{dm}/messages", server.base);
        async move {
            let reply = reqwest::Client::new().post(url).bearer_auth(bob).json(&json!({"content": "in flight"})).send();
            reply.await.map(|r| (r.status().as_u16(), r.headers().get("connection").cloned()))
        }
    });
    let waiting =
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
    eventually(Duration::from_secs(10), "the send waits for the row lock", || db.count(waiting) == 1).await;

    let sigterm = Instant::now();
    server.terminate();
    let ends = futures_util::future::join_all(sockets.iter_mut().map(|ws| ws.end(Duration::from_secs(1)))).await;
    let elapsed = sigterm.elapsed();
    assert!(ends.iter().all(|end| *end == WsEnd::Closed(1001)), "every socket is closed with 1001: {ends:?}");
    assert!(elapsed <= Duration::from_secs(1), "within 1 s of SIGTERM: {elapsed:?}");
    let bind = server.bind().to_owned();
    eventually(Duration::from_secs(1), "new connections are refused", || std::net::TcpStream::connect(&bind).is_err())
        .await;
    assert!(!send.is_finished(), "the send is still in flight");

    // The send completes once the lock is released, and is stored; then the process exits 0.
    lock.batch_execute("COMMIT").unwrap();
    let (status, connection) = send.await.unwrap().expect("the in-flight request gets its answer");
    assert_eq!(status, 201);
    assert_eq!(connection.as_ref().and_then(|c| c.to_str().ok()), Some("close"), "keep-alive ends while draining");
    assert_eq!(db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE conversation_id = {dm}")), 1);
    let status = server.exit_status(Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(0), "a drained server exits 0: {status}");
}

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.user("alice");
    let mut ws = WsClient::connect(&app, &alice).await;
    assert_eq!(ws.request(json!({"type": "resume", "positions": {}}), "r").await["type"], "resumed");
    assert_eq!(ws.close_with(4100, Duration::from_secs(2)).await, WsEnd::Closed(4100), "the code is echoed");
    app.stop().await;
}

#[tokio::test]
async fn the_health_check_follows_readiness() {
    let healthcheck = |bind: &str| {
        process::command().arg("healthcheck").env("CHAT_BIND", bind).status().expect("chat-server runs").success()
    };
    let db = TestDb::migrated();
    let mut ready = ServerProcess::spawn_with(&[("DATABASE_URL", &db.url)]).await;
    assert!(healthcheck(ready.bind()), "a ready server is healthy");

    // Alive but not ready: its database does not answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unready = ServerProcess::start(&[("DATABASE_URL", &format!("postgres://postgres@127.0.0.1:{closed}/none"))]);
    let alive = || std::net::TcpStream::connect(unready.bind()).is_ok();
    eventually(Duration::from_secs(30), "the unready server listens", alive).await;
    assert!(!healthcheck(unready.bind()), "a server whose database is down is unhealthy");

    ready.terminate();
    assert_eq!(ready.exit_status(Duration::from_secs(15)).await.code(), Some(0));
    assert!(!healthcheck(ready.bind()), "a stopped server is unhealthy");
}
