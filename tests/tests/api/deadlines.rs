//! Every wait on the database has a deadline: a frozen database, one that refuses
//! connections, and a row lock held by another session each get honest 503s in time,
//! never a hang; reads of other conversations go on; and `/readyz` answers from its
//! own path, telling saturation apart from an outage.

use std::time::{Duration, Instant};

use chat_postgres::PoolConfig;
use chat_tests::cluster::PgCluster;
use chat_tests::{Reply, TestApp, TestDb};
use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use serde_json::json;

const SUPPORT: &str = "/api/user/chat/support";
const MESSAGES: &str = "/api/user/chat/support/messages";
/// Room for a loaded 2-core CI machine on top of a deadline.
const SLACK: Duration = Duration::from_secs(2);
/// The longest a test waits for something that hangs on a build without deadlines.
const HANG: Duration = Duration::from_secs(20);

/// A reply and how long it took.
async fn timed(reply: impl Future<Output = Reply>) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = reply.await;
    (reply, started.elapsed())
}

/// Polls until `path` answers 200 (the service recovered), within `HANG`.
async fn until_ok(app: &TestApp, path: &str, token: Option<&str>) {
    let started = Instant::now();
    loop {
        let reply = app.call("GET", path, token, None).await;
        if reply.status == 200 {
            return;
        }
        assert!(started.elapsed() < HANG, "{path} did not recover: {} {}", reply.status, reply.json());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_503_within(results: &[(Reply, Duration)], bound: Duration, what: &str) {
    for (reply, took) in results {
        assert_eq!(reply.status, 503, "{what}: {}", reply.json());
        assert_eq!(reply.header("retry-after"), Some("2"), "{what}");
        assert!(*took < bound, "{what}: answered after {took:?}, beyond {bound:?}");
    }
}

#[tokio::test]
async fn a_frozen_database_gets_every_request_a_503_within_its_deadline_then_recovers() {
    let cluster = PgCluster::start();
    let pool = PoolConfig {
        max_size: 4,
        checkout_timeout: Duration::from_secs(1),
        transaction_timeout: Duration::from_secs(2),
        ..PoolConfig::default()
    };
    let app = TestApp::spawn_with(cluster.database(), pool).await;
    let (_, alice) = app.user("alice");
    let warm = join_all((0..4).map(|_| app.get(SUPPORT, &alice))).await;
    assert!(warm.iter().all(|r| r.status < 300), "the pool is warm");

    cluster.freeze();
    let requests = (0..24).map(|i| {
        let alice = alice.clone();
        let app = &app;
        async move {
            if i % 2 == 0 {
                timed(app.get(MESSAGES, &alice)).await
            } else {
                timed(app.post(MESSAGES, &alice, json!({"content": format!("while frozen {i}")}))).await
            }
        }
    });
    let probe = timed(app.call("GET", "/readyz", None, None));
    let answered = tokio::time::timeout(HANG, futures_util::future::join(join_all(requests), probe)).await;
    cluster.thaw();
    let (requests, (ready, ready_took)) = answered.expect("every request is answered while the database is frozen");

    assert_503_within(&requests, pool.checkout_timeout + pool.transaction_timeout + SLACK, "a request");
    assert_503_within(&[(ready, ready_took)], pool.ping_timeout + SLACK, "/readyz");

    // Thawed, the service answers again without a restart, and nothing the clients were
    // told failed was stored.
    until_ok(&app, MESSAGES, Some(&alice)).await;
    until_ok(&app, "/readyz", None).await;
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0);
    assert_eq!(app.post(MESSAGES, &alice, json!({"content": "after"})).await.status, 201);
}

#[tokio::test]
async fn a_database_refusing_connections_gets_a_503_within_the_checkout_timeout() {
    let cluster = PgCluster::start();
    let pool = PoolConfig { max_size: 4, checkout_timeout: Duration::from_secs(2), ..PoolConfig::default() };
    let app = TestApp::spawn_with(cluster.database(), pool).await;
    let (_, alice) = app.user("alice");
    assert_eq!(app.get(SUPPORT, &alice).await.status, 201);

    cluster.stop();
    // More requests than connections: the wait for a permit and the wait for a
    // connection share one deadline.
    let burst = tokio::time::timeout(HANG, join_all((0..16).map(|_| timed(app.get(MESSAGES, &alice))))).await;
    let burst = burst.expect("every request is answered while the database is down");
    assert_503_within(&burst, pool.checkout_timeout + Duration::from_secs(1), "a request in the burst");
    // Once a refusal has been seen, requests fail fast instead of each waiting out the
    // checkout timeout.
    for _ in 0..3 {
        let one = timed(app.get(MESSAGES, &alice)).await;
        assert_503_within(&[one], pool.checkout_timeout / 2, "a request while refused");
    }
    let ready = timed(app.call("GET", "/readyz", None, None)).await;
    assert_503_within(&[ready], pool.ping_timeout + SLACK, "/readyz");

    cluster.start_again();
    until_ok(&app, MESSAGES, Some(&alice)).await;
    until_ok(&app, "/readyz", None).await;
}

/// Another session holds the row lock of Alice's conversation. Sends to it fail within
/// the lock deadline (or at once, past the per-conversation writer limit) instead of
/// taking the pool, so Bob's reads are all served, and so is `/readyz`.
#[tokio::test]
async fn a_held_row_lock_fails_its_writers_in_time_and_other_reads_go_on() {
    let pool = PoolConfig {
        max_size: 8,
        lock_timeout: Duration::from_secs(1),
        conversation_writers: 2,
        ..PoolConfig::default()
    };
    let app = TestApp::spawn_with(TestDb::migrated(), pool).await;
    let (_, alice) = app.user("alice");
    let (_, bob) = app.user("bob");
    let conversation = app.get(SUPPORT, &alice).await.json()["id"].as_i64().unwrap();
    assert_eq!(app.post(MESSAGES, &bob, json!({"content": "bob's"})).await.status, 201);

    let mut holder = app.lock_conversation(conversation);
    let sends =
        join_all((0..40).map(|i| timed(app.post(MESSAGES, &alice, json!({"content": format!("blocked {i}")})))));
    let reads = join_all((0..60).map(|_| timed(app.get(MESSAGES, &bob))));
    let ready = timed(app.call("GET", "/readyz", None, None));
    let answered = tokio::time::timeout(HANG, futures_util::future::join3(sends, reads, ready)).await;
    let (sends, reads, (ready, _)) = answered.expect("every request is answered while the lock is held");

    assert_503_within(&sends, pool.lock_timeout + pool.checkout_timeout + SLACK, "a send to the locked conversation");
    let read_statuses: Vec<u16> = reads.iter().map(|(r, _)| r.status).collect();
    assert!(read_statuses.iter().all(|s| *s == 200), "every unrelated read is served: {read_statuses:?}");
    assert_eq!(ready.status, 200, "{}", ready.json());

    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(app.post(MESSAGES, &alice, json!({"content": "released"})).await.status, 201);
    let stored = app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE conversation_id = {conversation}"));
    assert_eq!(stored, 1, "only the send after the release was stored");
}

/// A pool with every connection busy is saturated, not down: `/readyz` says 200 with
/// `saturated: true`, so a load spike does not take every instance out of rotation.
#[tokio::test]
async fn readyz_reports_a_saturated_pool_as_ready() {
    let pool = PoolConfig {
        max_size: 2,
        lock_timeout: Duration::from_secs(8),
        statement_timeout: Duration::from_secs(9),
        transaction_timeout: Duration::from_secs(10),
        conversation_writers: 2,
        ..PoolConfig::default()
    };
    let app = TestApp::spawn_with(TestDb::migrated(), pool).await;
    let (_, alice) = app.user("alice");
    let conversation = app.get(SUPPORT, &alice).await.json()["id"].as_i64().unwrap();

    let mut holder = app.lock_conversation(conversation);
    // Two sends wait on the lock, holding both connections.
    let sends = app.spawn_two_sends(MESSAGES, &alice);
    let started = Instant::now();
    let readiness = loop {
        let (reply, took) = timed(app.call("GET", "/readyz", None, None)).await;
        assert_eq!(reply.status, 200, "a busy pool is not an outage: {}", reply.json());
        assert!(took < pool.ping_timeout + SLACK, "/readyz answered after {took:?}");
        if reply.json()["saturated"] == true {
            break reply.json();
        }
        assert!(started.elapsed() < HANG, "the pool never showed as saturated: {}", reply.json());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(readiness["pool"]["capacity"], 2);
    assert_eq!(readiness["pool"]["inUse"], 2);

    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(sends.await.unwrap(), [201, 201], "the waiting sends go through once the lock is released");
}
