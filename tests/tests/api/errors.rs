//! Bad input never reaches the database and always gets a precise 4xx problem document;
//! an outage is a quick 503.

use std::time::Duration;

use chat_postgres::PoolConfig;
use chat_tests::{TestApp, TestDb};
use serde_json::{Value, json};

const PERSONAS: &str = "/api/admin/chat/personas";

fn assert_problem(reply: &chat_tests::Reply, status: u16, code: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", String::from_utf8_lossy(&reply.bytes));
    assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{case}");
    let body = reply.json();
    assert_eq!(body["code"], code, "{case}");
    assert_eq!(body["status"], status, "{case}");
    assert_eq!(body["type"], format!("urn:chat:problem:{code}"), "{case}");
}

#[tokio::test]
async fn invalid_fields_are_named_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("empty name", json!({"name": ""}), "name", "empty"),
        ("blank name", json!({"name": "   "}), "name", "empty"),
        ("tab at the end of a name", json!({"name": "Ava\t"}), "name", "control_character"),
        ("name too long", json!({"name": "x".repeat(65)}), "name", "too_long"),
        ("NUL byte", json!({"name": "Ava\u{0}"}), "name", "control_character"),
        ("newline in name", json!({"name": "A\nB"}), "name", "control_character"),
        ("bio too long", json!({"name": "Ava", "bio": "b".repeat(501)}), "bio", "too_long"),
        ("http avatar", json!({"name": "Ava", "avatarUrl": "http://x.com/a.png"}), "avatarUrl", "not_https"),
        ("script avatar", json!({"name": "Ava", "avatarUrl": "javascript:alert(1)"}), "avatarUrl", "not_https"),
        ("name wrong type", json!({"name": 42}), "name", "invalid_type"),
        ("flag wrong type", json!({"name": "Ava", "dmEnabled": "yes"}), "dmEnabled", "invalid_type"),
        ("missing name", json!({"bio": "hi"}), "name", "required"),
        ("unknown field", json!({"name": "Ava", "isAdmin": true}), "isAdmin", "unknown_field"),
        ("string body", json!("Ava"), "(body)", "invalid_type"),
    ];
    for (case, body, field, code) in cases {
        let reply = app.post(PERSONAS, &admin, body).await;
        assert_problem(&reply, 422, "validation_failed", case);
        let errors = reply.json()["errors"].clone();
        assert!(
            errors.as_array().unwrap().iter().any(|e| e["field"] == field && e["code"] == code),
            "{case}: {errors}"
        );
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_fake_users"), 0);
}

#[tokio::test]
async fn several_bad_fields_are_all_named() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let reply = app.post(PERSONAS, &admin, json!({"name": "", "avatarUrl": "ftp://x", "bio": " "})).await;
    let fields: Vec<String> =
        reply.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["name", "avatarUrl", "bio"]);
}

#[tokio::test]
async fn malformed_bodies_are_4xx_never_500() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let json_type = "application/json";
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("truncated JSON", json_type, b"{\"name\": ".to_vec(), 400, "malformed_json"),
        ("empty body", json_type, Vec::new(), 400, "malformed_json"),
        ("trailing garbage", json_type, b"{\"name\": \"Ava\"} x".to_vec(), 400, "malformed_json"),
        ("invalid UTF-8", json_type, b"{\"name\": \"\xff\"}".to_vec(), 400, "malformed_json"),
        ("form body", "application/x-www-form-urlencoded", b"name=Ava".to_vec(), 415, "unsupported_media_type"),
        ("text body", "text/plain", b"{\"name\": \"Ava\"}".to_vec(), 415, "unsupported_media_type"),
        (
            "too large",
            json_type,
            format!("{{\"name\": \"{}\"}}", "a".repeat(300 * 1024)).into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (case, content_type, body, status, code) in cases {
        let reply = app.call_raw("POST", PERSONAS, &admin, content_type, body).await;
        assert_problem(&reply, status, code, case);
    }
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_fake_users"), 0);
}

#[tokio::test]
async fn undeclared_methods_are_405_with_allow_and_unknown_paths_404() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let reply = app.call("DELETE", PERSONAS, Some(&admin), None).await;
    assert_problem(&reply, 405, "method_not_allowed", "DELETE personas");
    assert_eq!(reply.header("allow"), Some("GET, POST"));
    let reply = app.call("GET", "/api/admin/chat/personas/1", Some(&admin), None).await;
    assert_problem(&reply, 405, "method_not_allowed", "GET persona");
    assert_eq!(reply.header("allow"), Some("PATCH"));
    let reply = app.call("GET", "/api/nothing/here", Some(&admin), None).await;
    assert_problem(&reply, 404, "not_found", "unknown path");
}

#[tokio::test]
async fn missing_and_malformed_ids_answer_the_same_404() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin("ada");
    let patch = json!({"isActive": false});
    let missing = app.patch("/api/admin/chat/personas/424242", &admin, patch.clone()).await;
    let malformed = app.patch("/api/admin/chat/personas/abc", &admin, patch.clone()).await;
    let overflow = app.patch("/api/admin/chat/personas/99999999999", &admin, patch).await;
    assert_problem(&missing, 404, "not_found", "missing");
    assert_eq!(missing.bytes, malformed.bytes);
    assert_eq!(missing.bytes, overflow.bytes);
}

#[tokio::test]
async fn a_database_outage_is_a_quick_503_with_retry_after() {
    // A database that does not exist: every connection attempt fails at once.
    let mut db = TestDb::migrated();
    db.url = db.url.replace(&db.name, "no_such_database_here");
    let pool = PoolConfig { max_size: 4, checkout_timeout: Duration::from_millis(500), ..PoolConfig::default() };
    let app = TestApp::spawn_with(db, pool).await;
    let started = std::time::Instant::now();
    let reply = app.call("GET", "/readyz", None, None).await;
    assert_problem(&reply, 503, "service_unavailable", "readyz");
    assert_eq!(reply.header("retry-after"), Some("2"));
    let token = chat_tests::token(1, "admin");
    let reply = app.get(PERSONAS, &token).await;
    assert_problem(&reply, 503, "service_unavailable", "personas");
    assert!(started.elapsed() < Duration::from_secs(10), "an outage must not hang requests");
    assert_eq!(app.call("GET", "/healthz", None, None).await.status, 200);
}

#[tokio::test]
async fn connections_the_database_drops_answer_503_once_and_the_pool_recovers() {
    let pool = PoolConfig { max_size: 4, checkout_timeout: Duration::from_secs(2), ..PoolConfig::default() };
    let app = TestApp::spawn_with(TestDb::migrated(), pool).await;
    let (_, ada) = app.admin("ada");
    // Open every pooled connection, then have the database end them all (a restart, a
    // failover, an administrator's pg_terminate_backend).
    let warm = futures_util::future::join_all((0..8).map(|_| app.get(PERSONAS, &ada))).await;
    assert!(warm.iter().all(|r| r.status == 200));
    let killed = app.db.count(&format!(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
         WHERE datname = '{}' AND pid <> pg_backend_pid()",
        app.db.name
    ));
    assert!(killed > 0, "the pool held connections");
    // Each broken connection fails one request with an honest 503 (never a 500) and is
    // discarded; then the service answers again without a restart.
    let mut unavailable = 0;
    let mut recovered = false;
    for _ in 0..40 {
        let reply = app.get(PERSONAS, &ada).await;
        match reply.status {
            200 => {
                recovered = true;
                break;
            }
            503 => {
                assert_eq!(reply.header("retry-after"), Some("2"));
                unavailable += 1;
            }
            other => panic!("a dropped connection answered {other}: {}", reply.json()),
        }
    }
    assert!(recovered, "the pool replaces broken connections");
    assert!(unavailable <= 4, "at most one failed request per pooled connection, got {unavailable}");
}

#[tokio::test]
async fn probes_answer_and_every_response_carries_its_own_request_id() {
    let app = TestApp::spawn().await;
    let healthz = app.call("GET", "/healthz", None, None).await;
    assert_eq!((healthz.status, healthz.json()), (200, serde_json::json!({"status": "ok"})));
    let readyz = app.call("GET", "/readyz", None, None).await;
    assert_eq!(readyz.status, 200);
    assert_eq!(readyz.json()["status"], "ok");
    assert_eq!(readyz.json()["saturated"], false);
    assert_eq!(readyz.json()["pool"]["capacity"], 16);

    // Successes, problems and unknown paths alike name their request for the logs.
    let replies = [
        healthz,
        readyz,
        app.call("GET", "/api/user/chat/personas", None, None).await,
        app.call("GET", "/no/such/path", None, None).await,
        app.call("DELETE", "/healthz", None, None).await,
    ];
    let mut seen = std::collections::HashSet::new();
    for reply in &replies {
        let id = reply.header("x-request-id").unwrap_or_else(|| panic!("{}: no x-request-id", reply.status));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert!(seen.insert(id.to_owned()), "request ids are unique: {id}");
    }
    assert_eq!(replies.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 200, 401, 404, 405]);
}

/// Every JSON body is an object: serde alone would read a struct from an array of its
/// fields in order (`["text", null]`), which no documented schema allows.
#[tokio::test]
async fn arrays_and_other_non_objects_are_refused_on_every_body_route() {
    let app = TestApp::spawn().await;
    let (user_id, user) = app.user("uma");
    let (_, admin) = app.admin("ada");
    // Give every id-taking route something real to point at, so a refusal cannot come
    // from a missing conversation instead of the body.
    let support = app.get("/api/user/chat/support", &user).await.json()["id"].as_i64().expect("support id");
    let spec: Value = serde_json::from_str(&chat_api::openapi_json()).expect("spec");
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operation") {
            if operation.pointer("/requestBody/content/application~1json").is_none() {
                continue;
            }
            let token = if path.starts_with("/api/admin/") { &admin } else { &user };
            let url = path.replace("{id}", &support.to_string()).replace("{userId}", &user_id.to_string());
            for body in
                [json!(["Hi! How can I change my email address?", "text", null]), json!("text"), json!(42), Value::Null]
            {
                let bytes = serde_json::to_vec(&body).expect("json");
                let reply = app.call_raw(&method.to_uppercase(), &url, token, "application/json", bytes).await;
                let case = format!("{method} {path} with {body}");
                assert_problem(&reply, 422, "validation_failed", &case);
                assert_eq!(reply.json()["errors"][0]["field"], "(body)", "{case}");
                assert_eq!(reply.json()["errors"][0]["code"], "invalid_type", "{case}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} body routes found");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM dm_messages"), 0);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_notifications"), 0);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_fake_users"), 0);
}
