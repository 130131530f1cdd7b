//! The slow-send trace (`CHAT_SLOW_SEND_MS`, docs/operations.md "Logs"): a committed
//! send at or past the threshold leaves one `chat::slow_send` line naming its
//! `clientMessageId`, with each stage's time, on the group-commit path and alone; a
//! faster one leaves none, and every send feeds `chat_send_stage_seconds`. The real
//! `chat-server` binary, for its real stderr and recorder.

use chat_tests::process::{ServerOptions, ServerProcess};
use chat_tests::{TestDb, token};
use serde_json::{Value, json};

const STAGES: [&str; 7] = ["parse", "handoff", "queue", "statement", "commit", "wake", "announce"];

async fn server(db: &TestDb, env: &[(&str, &str)], metrics: bool) -> ServerProcess {
    let mut vars = vec![("CHAT_LOG_FORMAT", "json"), ("RUST_LOG", "warn,access=info,chat::slow_send=info")];
    vars.extend_from_slice(env);
    let env = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let options = ServerOptions { env, metrics, capture_stderr: true, ..ServerOptions::default() };
    ServerProcess::spawn_with_options(&db.url, options).await
}

/// Posts `content` under a new `clientMessageId`; the stored message.
async fn send(server: &ServerProcess, path: &str, token: &str, content: &str) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let reply = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .json(&json!({"content": content, "clientMessageId": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let message: Value = reply.json().await.unwrap();
    assert_eq!(message["clientMessageId"], key.as_str());
    message
}

fn events(lines: &[String], target: &str) -> Vec<Value> {
    lines.iter().filter_map(|line| serde_json::from_str::<Value>(line).ok()).filter(|e| e["target"] == target).collect()
}

/// The one trace line of `message` (waiting until it is logged).
async fn trace_of(server: &ServerProcess, message: &Value) -> Value {
    let key = &message["clientMessageId"];
    let mine = |lines: &[String]| -> Vec<Value> {
        events(lines, "chat::slow_send").into_iter().filter(|e| e["client_message_id"] == *key).collect()
    };
    let lines = server.logs_until(|lines| !mine(lines).is_empty()).await;
    let traced = mine(&lines);
    assert_eq!(traced.len(), 1, "one line per send: {traced:?}");
    traced.into_iter().next().unwrap()
}

/// Every stage is a time, and they add up to the total (each rounded to the µs).
fn assert_stages(event: &Value) {
    let ms = |field: &str| event[field].as_f64().unwrap_or_else(|| panic!("{field} in {event}"));
    let sum: f64 = STAGES.iter().map(|stage| ms(&format!("{stage}_ms"))).inspect(|t| assert!(*t >= 0.0)).sum();
    assert!(ms("total_ms") > 0.0, "{event}");
    assert!((sum - ms("total_ms")).abs() < 0.01, "the stages add up to the total: {event}");
}

#[tokio::test]
async fn at_threshold_zero_a_group_committed_send_is_traced_by_its_client_message_id() {
    let db = TestDb::migrated();
    let alice = token(db.insert_user("alice"), "user");
    let server = server(&db, &[("CHAT_SLOW_SEND_MS", "0")], false).await;

    let message = send(&server, "/api/user/chat/support/messages", &alice, "help").await;
    let event = trace_of(&server, &message).await;
    assert_eq!(event["message"], "slow send");
    assert_eq!(event["conversation"], message["conversationId"]);
    assert_eq!(event["message_id"], message["id"]);
    assert_eq!(event["path"], "batch", "group commit is on by default: {event}");
    assert!(event["batch"].as_u64().is_some_and(|n| n >= 1), "{event}");
    assert_stages(&event);
}

#[tokio::test]
async fn a_send_that_runs_alone_is_traced_with_its_pool_stages() {
    let db = TestDb::migrated();
    let (bob_id, carol_id) = (db.insert_user("bob"), db.insert_user("carol"));
    // Users who share the main group may message each other.
    db.group("Main", "main", &[bob_id, carol_id]);
    let bob = token(bob_id, "user");
    let server = server(&db, &[("CHAT_SLOW_SEND_MS", "0"), ("CHAT_GROUP_COMMIT", "off")], false).await;
    let dm = reqwest::Client::new()
        .post(format!("{}/api/user/chat/direct-messages", server.base))
        .bearer_auth(&bob)
        .json(&json!({"targetId": carol_id, "targetType": "real_user"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    let message = send(&server, &format!("/api/user/chat/direct-messages/{dm}/messages"), &bob, "hi").await;
    let event = trace_of(&server, &message).await;
    assert_eq!(event["conversation"], dm);
    assert_eq!(event["path"], "alone", "{event}");
    assert_eq!(event["batch"], 0);
    assert_stages(&event);
}

#[tokio::test]
async fn a_send_below_the_threshold_is_measured_but_not_logged() {
    let db = TestDb::migrated();
    let alice = token(db.insert_user("alice"), "user");
    let server = server(&db, &[("CHAT_SLOW_SEND_MS", "600000")], true).await;

    send(&server, "/api/user/chat/support/messages", &alice, "help").await;
    // The trace would be logged before the response, and the access event after it.
    let sent = |e: &Value| e["route"] == "/api/user/chat/support/messages" && e["status"] == 201;
    let lines = server.logs_until(|lines| events(lines, "access").iter().any(sent)).await;
    assert!(events(&lines, "chat::slow_send").is_empty(), "{}", lines.join("\n"));

    let text =
        reqwest::get(format!("{}/metrics", server.metrics.as_deref().unwrap())).await.unwrap().text().await.unwrap();
    for stage in STAGES {
        let count = format!("chat_send_stage_seconds_count{{stage=\"{stage}\"}} 1");
        assert!(text.lines().any(|line| line == count), "{count} in:\n{text}");
    }
}
