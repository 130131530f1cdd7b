//! TLS to the database and to Redis, against servers the test starts itself: a
//! PostgreSQL that accepts TLS connections only, and a Redis with no plain port.

use std::time::Duration;

use chat_api::realtime::fanout::RedisConfig;
use chat_tests::process::{self, ServerProcess};
use chat_tests::tls::{Certs, PgCluster, TlsRedis};
use chat_tests::{TestDb, token};
use serde_json::json;

use crate::fanout::Pair;

/// `chat-server <args>` with `DATABASE_URL`; its exit status and its stderr.
fn chat_server(args: &[&str], database_url: &str) -> (std::process::ExitStatus, String) {
    let output = process::command().args(args).env("DATABASE_URL", database_url).output().expect("chat-server runs");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn the_server_works_over_verify_full_postgres_and_rediss() {
    let certs = Certs::generate();
    let pg = PgCluster::start(Some(&certs));
    let redis = TlsRedis::start(&certs);
    let ca = certs.ca().display().to_string();
    let url = pg.url("chat", &format!("sslmode=verify-full&sslrootcert={ca}"));

    // The operator's commands: migrate (which creates the database) in every mode that
    // encrypts, and a legacy one.
    for params in ["sslmode=require".to_owned(), format!("sslmode=verify-ca&sslrootcert={ca}")] {
        let (status, stderr) = chat_server(&["migrate"], &pg.url("chat", &params));
        assert!(status.success(), "migrate over {params}: {stderr}");
    }
    let (status, stderr) = chat_server(&["migrate"], &url);
    assert!(status.success(), "migrate over verify-full: {stderr}");
    let (status, stderr) = chat_server(&["legacy", "verify-support"], &url);
    assert!(status.success(), "legacy verify-support over verify-full: {stderr}");

    // Two instances: a request that writes through one reaches a socket on the other
    // through rediss://, verified against the test's authority.
    let env = [("DATABASE_URL", url.as_str()), ("REDIS_URL", &redis.url()), ("CHAT_REDIS_CA_FILE", &ca)];
    let (one, two) = (ServerProcess::spawn_with(&env).await, ServerProcess::spawn_with(&env).await);
    let db = TestDb::at(&url);
    let (alice_id, bob_id) = (db.insert_user("alice"), db.insert_user("bob"));
    db.group("Main", "main", &[alice_id, bob_id]);
    let pair = Pair::new(&one.base, &two.base);
    let (alice, bob) = (token(alice_id, "user"), token(bob_id, "user"));
    let (status, created) = pair
        .post("/api/user/chat/direct-messages", &bob, json!({"targetType": "real_user", "targetId": alice_id}))
        .await;
    assert_eq!(status, 201, "{created}");
    let dm = created["id"].as_i64().unwrap();
    let mut ws = Pair::socket(&pair.two, &alice).await;
    // The subscriber may still be connecting: send until a message crosses over.
    let mut crossed = false;
    for i in 0..50 {
        let (status, sent) = pair
            .post(&format!("/api/user/chat/direct-messages/{dm}/messages"), &bob, json!({"content": format!("hi {i}")}))
            .await;
        assert_eq!(status, 201, "{sent}");
        if ws.next(Duration::from_millis(200)).await.is_some_and(|f| f["type"] == "dm-message") {
            crossed = true;
            break;
        }
    }
    assert!(crossed, "a message sent through one instance reaches the other through rediss://");
}

#[tokio::test]
async fn a_wrong_root_certificate_is_refused_with_a_clear_error() {
    let certs = Certs::generate();
    let pg = PgCluster::start(Some(&certs));
    let other = certs.other_ca().display().to_string();
    for mode in ["verify-full", "verify-ca"] {
        let wrong = pg.url("chat", &format!("sslmode={mode}&sslrootcert={other}"));
        let (status, stderr) = chat_server(&["migrate"], &wrong);
        assert!(!status.success(), "a server certificate from another authority is refused: {wrong}");
        assert!(stderr.contains("certificate verify failed"), "the error says why: {stderr}");
    }

    // Redis: the same certificate from an authority we were not told to trust.
    let redis = TlsRedis::start(&certs);
    let pem = |path: std::path::PathBuf| Some(std::fs::read(path).unwrap());
    let connect = |root_ca_pem| {
        let client = RedisConfig { url: redis.url(), root_ca_pem }.client().expect("a valid configuration");
        async move { client.get_multiplexed_async_connection().await.map(drop) }
    };
    let refused = connect(pem(certs.other_ca())).await.expect_err("a certificate from another authority is refused");
    assert!(refused.to_string().contains("UnknownIssuer"), "the error says why: {refused}");
    connect(pem(certs.ca())).await.expect("the right authority is accepted");
}

#[tokio::test]
async fn sslmode_require_is_refused_by_a_server_without_tls() {
    let pg = PgCluster::start(None);
    let (status, stderr) = chat_server(&["migrate"], &pg.url("chat", "sslmode=prefer"));
    assert!(status.success(), "the cluster works without TLS when TLS is optional: {stderr}");
    let (status, stderr) = chat_server(&["migrate"], &pg.url("chat", "sslmode=require"));
    assert!(!status.success(), "sslmode=require never falls back to plain text");
    assert!(stderr.contains("server does not support SSL"), "the error says why: {stderr}");
}
