//! Reads have a pool of their own: with every write connection waiting on a row lock,
//! history pages, the chat list, the DM list and the support queue are still served at
//! once; with the read pool off, the same reads wait for a write connection.

use std::time::{Duration, Instant};

use chat_postgres::PoolConfig;
use chat_tests::{TestApp, TestDb};
use diesel::connection::SimpleConnection;
use serde_json::json;

const MESSAGES: &str = "/api/user/chat/support/messages";

/// Alice's support row is locked by another session and two of her sends wait on it,
/// holding both write connections (`/readyz` says so); then Bob's and an admin's reads
/// run. Returns how long the slowest read took, and their statuses.
async fn reads_while_writes_wait(read_pool_size: u32) -> (Duration, Vec<u16>) {
    let pool = PoolConfig {
        max_size: 2,
        read_pool_size,
        lock_timeout: Duration::from_secs(8),
        statement_timeout: Duration::from_secs(9),
        transaction_timeout: Duration::from_secs(10),
        checkout_timeout: Duration::from_secs(3),
        conversation_writers: 2,
        ..PoolConfig::default()
    };
    let app = TestApp::spawn_with(TestDb::migrated(), pool).await;
    let (_, alice) = app.user("alice");
    let (_, bob) = app.user("bob");
    let (_, admin) = app.admin("ada");
    let conversation =
        app.post(MESSAGES, &alice, json!({"content": "first"})).await.json()["conversationId"].as_i64().unwrap();
    assert_eq!(app.post(MESSAGES, &bob, json!({"content": "bob's"})).await.status, 201);
    // The admin's token is checked once (its user cached), before the writes take the pool.
    assert_eq!(app.get("/api/admin/chat/support?limit=1", &admin).await.status, 200);

    let mut holder = app.lock_conversation(conversation);
    let sends = app.spawn_two_sends(MESSAGES, &alice);
    let started = Instant::now();
    loop {
        let ready = app.call("GET", "/readyz", None, None).await.json();
        if ready["pool"]["inUse"] == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the writes never took both connections: {ready}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let reads = [
        (MESSAGES, &bob),
        ("/api/user/chat/direct-messages?limit=20", &bob),
        ("/api/user/chat/conversations?limit=20", &bob),
        ("/api/admin/chat/support?status=open&limit=20", &admin),
    ];
    let started = Instant::now();
    let replies = futures_util::future::join_all(reads.iter().map(|(path, token)| app.get(path, token))).await;
    let took = started.elapsed();

    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(sends.await.unwrap(), [201, 201], "the waiting sends go through once the lock is released");
    (took, replies.iter().map(|r| r.status).collect())
}

#[tokio::test]
async fn reads_are_served_while_every_write_connection_waits_on_a_lock() {
    let (took, statuses) = reads_while_writes_wait(2).await;
    assert_eq!(statuses, [200, 200, 200, 200]);
    assert!(took < Duration::from_secs(2), "reads did not wait for the writes: {took:?}");
}

#[tokio::test]
async fn without_a_read_pool_the_same_reads_wait_for_a_write_connection() {
    let (took, statuses) = reads_while_writes_wait(0).await;
    assert!(statuses.iter().all(|s| *s == 503), "no connection within the checkout timeout: {statuses:?}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
}
