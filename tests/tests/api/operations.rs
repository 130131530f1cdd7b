//! Operating the service: Prometheus metrics after a known workload, the access log and
//! request ids, CORS for tracing headers, rate limits, and a database outage logged
//! once. The metrics, log and outage tests run the real `chat-server` binary (its own
//! recorder and its real stderr); the others run the app in this process.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::time::Duration;

use chat_api::ApiSettings;
use chat_api::rate_limit::{BudgetRates, Rate, RateLimitSettings};
use chat_tests::process::{ServerOptions, ServerProcess};
use chat_tests::{TestApp, TestDb, WsClient, WsEnd, token};
use diesel::connection::SimpleConnection;
use openmetrics_parser::PrometheusValue;
use openmetrics_parser::prometheus::parse_prometheus;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// One scrape: every sample as (name, labels, value), a histogram as its `_count` and
/// `_sum`, and the names that carry a description.
#[derive(Debug)]
struct Scrape {
    samples: Vec<(String, HashMap<String, String>, f64)>,
    described: HashSet<String>,
}

/// One scrape of `/metrics`, parsed by a Prometheus text-format parser.
async fn scrape(server: &ServerProcess) -> Scrape {
    let url = format!("{}/metrics", server.metrics.as_deref().unwrap());
    let reply = reqwest::get(url).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = reply.text().await.unwrap();
    let exposition = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e:?} in:\n{text}"));
    let mut scrape = Scrape { samples: Vec::new(), described: HashSet::new() };
    for (name, family) in &exposition.families {
        if !family.help.is_empty() {
            scrape.described.insert(name.clone());
        }
        for sample in family.iter_samples() {
            let labelset = sample.get_labelset().unwrap();
            let labels: HashMap<String, String> = family
                .get_label_names()
                .iter()
                .filter_map(|label| labelset.get_label_value(label).map(|v| (label.clone(), v.to_owned())))
                .collect();
            match &sample.value {
                PrometheusValue::Counter(c) => scrape.samples.push((name.clone(), labels, c.value.as_f64())),
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => {
                    scrape.samples.push((name.clone(), labels, n.as_f64()));
                }
                PrometheusValue::Histogram(h) => {
                    let count = h.count.unwrap_or_default() as f64;
                    let sum = h.sum.as_ref().map_or(0.0, |s| s.as_f64());
                    scrape.samples.push((format!("{name}_count"), labels.clone(), count));
                    scrape.samples.push((format!("{name}_sum"), labels, sum));
                }
                PrometheusValue::Summary(_) => {}
            }
        }
    }
    scrape
}

/// The value of `name` summed over the samples whose labels include `labels` (0 when
/// none): counters, gauges, and a histogram's `_count` and `_sum`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|(metric, have, _)| {
            metric == name && labels.iter().all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// Scrapes until `done` holds (30 s at most).
async fn scrape_until(server: &ServerProcess, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let scraped = scrape(server).await;
        if done(&scraped) {
            return scraped;
        }
        assert!(tokio::time::Instant::now() < deadline, "the metrics never got there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No label value is an id: route templates, not paths; no number but the status,
/// close code and bucket bounds; none of the ids the workload used.
fn assert_no_ids_in_labels(scrape: &Scrape, ids: &[i64]) {
    for (metric, labels, _) in &scrape.samples {
        for (name, label) in labels {
            if matches!(name.as_str(), "status" | "code" | "le") {
                continue;
            }
            for segment in label.split(['/', ':', '.', '-', '_']) {
                assert!(
                    segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()),
                    "{metric}{{{name}=\"{label}\"}} holds a number"
                );
            }
            for id in ids {
                assert!(!label.contains(&format!("/{id}")), "{metric}{{{name}=\"{label}\"}} holds id {id}");
            }
        }
    }
}

#[tokio::test]
async fn metrics_count_a_known_workload_exactly_with_bounded_labels() {
    let db = TestDb::migrated();
    let (alice_id, bob_id, carol_id, dave_id) =
        (db.insert_user("alice"), db.insert_user("bob"), db.insert_user("carol"), db.insert_user("dave"));
    db.group("Main", "main", &[alice_id, bob_id, carol_id, dave_id]);
    // Budgets off: the slow-consumer phase sends more than a user's budget.
    let options = ServerOptions { metrics: true, env: env(&[("CHAT_RATE_LIMITS", "off")]), ..ServerOptions::default() };
    let server = ServerProcess::spawn_with_options(&db.url, options).await;
    let http = reqwest::Client::new();
    let (bob, carol, dave) = (token(bob_id, "user"), token(carol_id, "user"), token(dave_id, "user"));
    let post = |path: String, token: &str, body: Value| {
        http.post(format!("{}{path}", server.base)).bearer_auth(token).json(&body).send()
    };
    let start_dm = |target: i32| {
        post("/api/user/chat/direct-messages".into(), &bob, json!({"targetId": target, "targetType": "real_user"}))
    };
    let carol_dm = start_dm(carol_id).await.unwrap().json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let dave_dm = start_dm(dave_id).await.unwrap().json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    let ws_url = |token: &str| format!("{}/api/chat/ws?access_token={token}", server.base.replace("http://", "ws://"));
    let mut carol_ws = WsClient::connect_url(&ws_url(&carol)).await.unwrap();
    let before = scrape_until(&server, |s| value(s, "chat_ws_connections", &[]) == 1.0).await;

    // Three sends Carol receives live, one refused request of each kind.
    let send_route = "/api/user/chat/direct-messages/{id}/messages";
    for i in 0..3 {
        let reply = post(
            format!("/api/user/chat/direct-messages/{carol_dm}/messages"),
            &bob,
            json!({"content": format!("hi {i}")}),
        )
        .await
        .unwrap();
        assert_eq!(reply.status(), 201);
    }
    for _ in 0..3 {
        carol_ws.until(WAIT, |f| f["type"] == "dm-message").await;
    }
    let missing = http.get(format!("{}/api/user/chat/direct-messages/999999", server.base)).bearer_auth(&bob);
    assert_eq!(missing.send().await.unwrap().status(), 404);
    assert_eq!(http.get(format!("{}/api/user/chat/support", server.base)).send().await.unwrap().status(), 401);
    let after = scrape(&server).await;

    let delta = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    let requests = "chat_http_requests_total";
    assert_eq!(delta(requests, &[("method", "POST"), ("route", send_route), ("status", "201")]), 3.0);
    assert_eq!(delta(requests, &[("route", "/api/user/chat/direct-messages/{id}"), ("status", "404")]), 1.0);
    assert_eq!(delta(requests, &[("method", "GET"), ("route", "/api/user/chat/support"), ("status", "401")]), 1.0);
    assert_eq!(delta("chat_http_request_duration_seconds_count", &[("method", "POST"), ("route", send_route)]), 3.0);
    assert_eq!(delta("chat_ws_events_sent_total", &[]), 3.0, "three message events, all to Carol's socket");
    let send_use_case = [("use_case", "chat_api::routes::direct_messages::send_message"), ("outcome", "commit")];
    assert_eq!(delta("chat_use_case_duration_seconds_count", &send_use_case), 3.0);
    assert!(delta("chat_db_checkout_wait_seconds_count", &[]) >= 3.0);
    assert_eq!(value(&after, "chat_db_checkout_timeouts_total", &[]), 0.0);
    assert_eq!(value(&after, "chat_db_pool_max_connections", &[]), 8.0);
    assert_eq!(value(&after, "chat_db_up", &[]), 1.0);
    assert_eq!(value(&after, "chat_support_open_conversations", &[]), 0.0);

    // Dave stops reading: Bob writes to him until his queue overflows and he is cut off.
    let dave_ws = WsClient::connect_small_window_at(&server.base, &dave).await;
    scrape_until(&server, |s| value(s, "chat_ws_connections", &[]) == 2.0).await;
    let content = "\u{1F600}".repeat(4000);
    let mut sent = 0;
    loop {
        let path = format!("/api/user/chat/direct-messages/{dave_dm}/messages");
        assert_eq!(post(path, &bob, json!({"content": content})).await.unwrap().status(), 201);
        sent += 1;
        if sent % 20 == 0 && value(&scrape(&server).await, "chat_ws_server_closes_total", &[("code", "4008")]) > 0.0 {
            break;
        }
        assert!(sent < 3000, "Dave was never cut off");
    }
    let mut dave_ws = dave_ws;
    assert_eq!(dave_ws.end(Duration::from_secs(30)).await, WsEnd::Closed(4008));
    carol_ws.close().await;
    // A user writes to support: one open conversation, one user waiting.
    let alice = token(alice_id, "user");
    assert_eq!(
        post("/api/user/chat/support/messages".into(), &alice, json!({"content": "help"})).await.unwrap().status(),
        201
    );

    let last = scrape_until(&server, |s| value(s, "chat_ws_connections", &[]) == 0.0).await;
    let closes: Vec<_> = last.samples.iter().filter(|s| s.0 == "chat_ws_server_closes_total").collect();
    assert_eq!(value(&last, "chat_ws_server_closes_total", &[]), 1.0, "only Dave was closed by the server: {closes:?}");
    assert_eq!(value(&last, "chat_ws_server_closes_total", &[("code", "4008")]), 1.0);
    assert_eq!(
        value(&last, requests, &[("method", "POST"), ("route", send_route), ("status", "201")]),
        f64::from(3 + sent)
    );
    assert_eq!(value(&last, "chat_support_open_conversations", &[]), 1.0);
    assert_eq!(value(&last, "chat_support_waiting_conversations", &[]), 1.0);
    assert!(value(&last, "chat_support_oldest_waiting_seconds", &[]) > 0.0);
    for scraped in [&before, &after, &last] {
        let ids = [i64::from(alice_id), i64::from(bob_id), i64::from(carol_id), i64::from(dave_id), carol_dm, dave_dm];
        assert_no_ids_in_labels(scraped, &ids);
    }
    assert!(last.described.contains("chat_http_requests_total"), "metrics are described");
}

/// The JSON access events of `lines` (target `access`).
fn access_events(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "access")
        .collect()
}

#[tokio::test]
async fn one_json_access_event_per_request_carries_a_kept_request_id() {
    let db = TestDb::migrated();
    let alice_id = db.insert_user("alice");
    let options = ServerOptions {
        env: env(&[("CHAT_LOG_FORMAT", "json"), ("RUST_LOG", "info")]),
        capture_stderr: true,
        ..ServerOptions::default()
    };
    let server = ServerProcess::spawn_with_options(&db.url, options).await;
    let alice = token(alice_id, "user");
    let http = reqwest::Client::new();
    let get = |request_id: &str| {
        http.get(format!("{}/api/user/chat/support", server.base))
            .bearer_auth(&alice)
            .header("x-request-id", request_id)
            .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .send()
    };

    let kept = get("my-trace-123").await.unwrap();
    assert_eq!(kept.status(), 201);
    assert_eq!(kept.headers()["x-request-id"], "my-trace-123", "a valid id is echoed");
    let mut replaced = Vec::new();
    for invalid in ["has spaces", "semi;colon", &"x".repeat(129)] {
        let reply = get(invalid).await.unwrap();
        let echoed = reply.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{invalid:?} is replaced by a new id, not {echoed:?}");
        replaced.push(echoed);
    }

    let lines = server
        .logs_until(|lines| {
            let events = access_events(lines);
            replaced.iter().all(|id| events.iter().any(|e| e["request_id"] == *id.as_str()))
        })
        .await;
    let events = access_events(&lines);
    let mine: Vec<&Value> = events.iter().filter(|e| e["request_id"] == "my-trace-123").collect();
    assert_eq!(mine.len(), 1, "exactly one access event: {mine:?}");
    let event = mine[0];
    assert_eq!(event["method"], "GET");
    assert_eq!(event["route"], "/api/user/chat/support");
    assert_eq!(event["status"], 201);
    assert_eq!(event["caller"], alice_id);
    assert_eq!(event["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(event["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{event}");
    for id in &replaced {
        assert_eq!(events.iter().filter(|e| e["request_id"] == *id.as_str()).count(), 1);
    }
    let all = lines.join("\n");
    assert!(!all.contains(&alice), "the token is never logged");
    assert!(!all.contains("semi;colon") && !all.contains("has spaces"), "a refused id is not logged");
    assert!(!all.contains('\u{1b}'), "no ANSI colours when stderr is not a terminal");
}

#[tokio::test]
async fn cors_preflights_may_ask_for_tracing_headers() {
    let origin = "https://admin.example.com";
    let app =
        TestApp::spawn_configured(ApiSettings { cors_allowed_origins: vec![origin.to_owned()], ..Default::default() })
            .await;
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/user/chat/support", app.base))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization, x-request-id, traceparent")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
    for header in ["x-request-id", "traceparent", "authorization"] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
}

/// Three sends at once, then one every two seconds; reads unlimited.
fn tiny_send_budget() -> ApiSettings {
    let three = NonZeroU32::new(3).unwrap();
    let rate_limits = RateLimitSettings {
        user: BudgetRates { sends: Some(Rate::new(three, Duration::from_secs(6))), ..BudgetRates::default() },
        admin: BudgetRates::default(),
    };
    ApiSettings { rate_limits, ..Default::default() }
}

#[tokio::test]
async fn a_burst_past_the_send_budget_is_refused_stores_nothing_and_refills() {
    let app = TestApp::spawn_configured(tiny_send_budget()).await;
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    app.db.group("Main", "main", &[alice_id, bob_id]);
    let dm = app.start_dm(&alice, bob_id).await;
    let path = format!("/api/user/chat/direct-messages/{dm}/messages");
    let stored = || app.db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE conversation_id = {dm}"));

    let mut accepted = 0;
    let mut refusals = Vec::new();
    for i in 0..10 {
        let reply = app.post(&path, &alice, json!({"content": format!("burst {i}")})).await;
        match reply.status {
            201 => {
                accepted += 1;
                assert!(
                    reply.header("ratelimit").is_some_and(|v| v.starts_with("\"sends\";r=")),
                    "{:?}",
                    reply.headers
                );
            }
            429 => refusals.push(reply),
            other => panic!("unexpected {other}"),
        }
    }
    // One token comes back every 2 s: ten quick sends get the three of the bucket (one
    // more only if the burst took over 2 s).
    assert!((3..=4).contains(&accepted), "accepted {accepted}");
    assert!(refusals.len() >= 6);
    let refused = &refusals[0];
    assert_eq!(refused.header("content-type"), Some("application/problem+json"));
    assert_eq!(refused.code().as_deref(), Some("rate_limited"));
    assert_eq!(refused.json()["status"], 429);
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(refused.header("ratelimit-policy"), Some("\"sends\";q=3;w=6"));
    assert_eq!(refused.header("ratelimit"), Some(format!("\"sends\";r=0;t={retry_after}").as_str()));
    assert_eq!(stored(), accepted, "nothing is stored for a 429");

    // The WebSocket twin spends the same bucket, and is refused the same way.
    let mut ws = WsClient::connect(&app, &alice).await;
    let frame = ws.request(json!({"type": "dm-message", "conversationId": dm, "content": "over ws"}), "w1").await;
    assert_eq!((frame["type"].as_str(), frame["code"].as_str()), (Some("error"), Some("rate_limited")), "{frame}");
    assert_eq!(stored(), accepted);
    // Budgets are per caller: Bob still has his.
    assert_eq!(app.post(&path, &bob, json!({"content": "bob's turn"})).await.status, 201);

    // The bucket refills: within a few seconds Alice may send again.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = app.post(&path, &alice, json!({"content": "after the wait"})).await;
        if reply.status == 201 {
            break;
        }
        assert_eq!(reply.status, 429);
        assert!(tokio::time::Instant::now() < deadline, "the budget never refilled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stored(), accepted + 2, "the refilled send and Bob's");
    let frame = ws.request(json!({"type": "dm-message", "conversationId": dm, "content": "ws"}), "w2").await;
    assert!(frame["type"] == "ack" || frame["code"] == "rate_limited", "{frame}");
}

#[tokio::test]
async fn a_database_outage_is_logged_once_when_it_starts_and_once_when_it_ends() {
    let db = TestDb::migrated();
    let mut admin = chat_postgres::establish(&chat_tests::admin_url()).unwrap();
    let allow = |admin: &mut diesel::PgConnection, on: bool| {
        admin.batch_execute(&format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {on}", db.name)).unwrap();
    };
    allow(&mut admin, false);
    let options = ServerOptions {
        env: env(&[
            ("RUST_LOG", "info"),
            ("CHAT_DB_CHECKOUT_TIMEOUT_MS", "300"),
            // No housekeeping: every checkout below is a request of this test.
            ("CHAT_SUPPORT_AUTO_RESOLVE_HOURS", "0"),
            ("CHAT_DM_ARCHIVE_AFTER_DAYS", "0"),
        ]),
        metrics: true,
        capture_stderr: true,
        healthz_only: true,
        ..ServerOptions::default()
    };
    let server = ServerProcess::spawn_with_options(&db.url, options).await;
    let http = reqwest::Client::new();
    let ready = || http.get(format!("{}/readyz", server.base)).send();
    for _ in 0..5 {
        assert_eq!(ready().await.unwrap().status(), 503);
    }
    // The probe has a connection of its own: only requests count as checkout timeouts.
    let bearer = token(1, "user");
    let list = || http.get(format!("{}/api/user/chat/direct-messages", server.base)).bearer_auth(&bearer).send();
    let mut refused = 0;
    for _ in 0..3 {
        assert_eq!(list().await.unwrap().status(), 503);
        refused += 1;
    }
    allow(&mut admin, true);
    let deadline = tokio::time::Instant::now() + WAIT;
    while ready().await.unwrap().status() != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the server never saw the database again");
    }
    // The pool reconnects on its own schedule: until it has, a request is still refused
    // at once (and counted).
    while list().await.unwrap().status() == 503 {
        refused += 1;
        assert!(tokio::time::Instant::now() < deadline, "the pool never reconnected");
    }

    let lines = server.logs_until(|lines| lines.iter().any(|l| l.contains("database reachable again"))).await;
    let count = |text: &str| lines.iter().filter(|l| l.contains(text)).count();
    assert_eq!(count("database unreachable"), 1, "{}", lines.join("\n"));
    assert_eq!(count("database reachable again"), 1);
    assert_eq!(count(" ERROR "), 1, "no error line per failed connection attempt:\n{}", lines.join("\n"));
    assert_eq!(count(" WARN "), 0, "nor a warning per refused request:\n{}", lines.join("\n"));
    assert!(!lines.join("\n").contains('\u{1b}'), "no ANSI colours when stderr is not a terminal");
    let metrics = scrape(&server).await;
    assert_eq!(value(&metrics, "chat_db_checkout_timeouts_total", &[]), f64::from(refused));
    assert_eq!(value(&metrics, "chat_db_up", &[]), 1.0);
    drop(server);
}

#[tokio::test]
async fn redis_fan_out_failures_and_reconnects_are_counted() {
    let redis = chat_tests::RedisServer::start();
    let db = TestDb::migrated();
    let (bob_id, carol_id) = (db.insert_user("bob"), db.insert_user("carol"));
    db.group("Main", "main", &[bob_id, carol_id]);
    let options = ServerOptions { redis_url: Some(redis.url()), metrics: true, ..ServerOptions::default() };
    let server = ServerProcess::spawn_with_options(&db.url, options).await;
    let bob = token(bob_id, "user");
    let http = reqwest::Client::new();
    let post =
        |path: String, body: Value| http.post(format!("{}{path}", server.base)).bearer_auth(&bob).json(&body).send();
    let created =
        post("/api/user/chat/direct-messages".into(), json!({"targetId": carol_id, "targetType": "real_user"}));
    let dm = created.await.unwrap().json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let send = || post(format!("/api/user/chat/direct-messages/{dm}/messages"), json!({"content": "hello"}));
    assert_eq!(send().await.unwrap().status(), 201);
    let healthy = scrape(&server).await;
    assert_eq!(value(&healthy, "chat_fanout_publish_failures_total", &[]), 0.0);

    // Redis crashes: a send still succeeds, and its event's publish fails.
    let port = redis.kill();
    assert_eq!(send().await.unwrap().status(), 201);
    scrape_until(&server, |s| value(s, "chat_fanout_publish_failures_total", &[]) >= 1.0).await;

    // Redis is back: the subscription and, at the next event, the publisher reconnect.
    let _redis = chat_tests::RedisServer::start_on(port);
    scrape_until(&server, |s| value(s, "chat_fanout_reconnects_total", &[("side", "subscribe")]) == 1.0).await;
    assert_eq!(send().await.unwrap().status(), 201);
    let last = scrape_until(&server, |s| value(s, "chat_fanout_reconnects_total", &[("side", "publish")]) == 1.0).await;
    assert_eq!(value(&last, "chat_fanout_reconnects_total", &[]), 2.0);
}
