//! Missed-message webhooks end to end (docs/webhooks.md), against a real local HTTP
//! receiver that refuses first attempts and sometimes answers too late: everything
//! missed is announced, each digest at least once under one `webhook-id` and never
//! twice at once, messages read in time announce nothing, signatures verify with the
//! documented algorithm, and a server killed after the commit loses nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chat_api::dto::webhooks::{MissedKind, MissedMessagesWebhook};
use chat_domain::webhooks::{CollectSettings, RetryPolicy};
use chat_postgres::PoolConfig;
use chat_server::webhooks::{WebhookSettings, webhook_loop};
use chat_tests::process::{ServerOptions, ServerProcess};
use chat_tests::{TestApp, TestDb};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::Notify;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOTICES: &str = "/api/admin/chat/notifications";

/// What the receiver does with requests.
#[derive(Debug, Clone, Copy, Default)]
struct Script {
    /// Answer 503 to the first attempts of each `webhook-id`.
    refuse_first: usize,
    /// Answer every n-th request (after the refusals) only after a long pause.
    slow_every: Option<usize>,
    /// Refuse everything.
    refuse_all: bool,
}

#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

#[derive(Default)]
struct Inbox {
    script: Script,
    requests: Vec<Received>,
    /// Requests answered 2xx in time, by `webhook-id` (what a receiver keeps).
    accepted: BTreeMap<String, MissedMessagesWebhook>,
}

/// A local HTTP receiver of webhooks.
struct Receiver {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
    changed: Arc<Notify>,
    handle: actix_web::dev::ServerHandle,
}

const SLOW: Duration = Duration::from_millis(900);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

impl Receiver {
    fn start(script: Script) -> Self {
        let inbox = Arc::new(Mutex::new(Inbox { script, ..Inbox::default() }));
        let changed = Arc::new(Notify::new());
        let (state, notify) = (Arc::clone(&inbox), Arc::clone(&changed));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/chat", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let (state, notify) = (Arc::clone(&state), Arc::clone(&notify));
            App::new().route(
                "/hooks/chat",
                web::post().to(move |req: HttpRequest, body: String| {
                    let (state, notify) = (Arc::clone(&state), Arc::clone(&notify));
                    async move { receive(&state, &notify, &req, body).await }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, inbox, changed, handle }
    }

    fn set_script(&self, script: Script) {
        self.inbox.lock().unwrap().script = script;
    }

    /// Waits (20 s at most) until the inbox satisfies `done`.
    async fn until(&self, what: &str, done: impl Fn(&Inbox) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.changed.notified();
            if done(&self.inbox.lock().unwrap()) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let inbox = self.inbox.lock().unwrap();
                panic!("{what}: not within 20 s ({} requests: {:?})", inbox.requests.len(), inbox.requests);
            }
        }
    }

    fn accepted(&self) -> BTreeMap<String, MissedMessagesWebhook> {
        std::mem::take(&mut self.inbox.lock().unwrap().accepted)
    }

    fn requests(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().requests.clone()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn receive(inbox: &Mutex<Inbox>, changed: &Notify, req: &HttpRequest, body: String) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    };
    let (refuse, slow) = {
        let mut inbox = inbox.lock().unwrap();
        inbox.requests.push(received.clone());
        let attempts = inbox.requests.iter().filter(|r| r.id == received.id).count();
        let refuse = inbox.script.refuse_all || attempts <= inbox.script.refuse_first;
        let slow = !refuse && inbox.script.slow_every.is_some_and(|n| inbox.requests.len().is_multiple_of(n));
        (refuse, slow)
    };
    changed.notify_waiters();
    if refuse {
        return HttpResponse::ServiceUnavailable().finish();
    }
    if slow {
        // Past the dispatcher's attempt timeout: it counts as failed and comes again.
        tokio::time::sleep(SLOW).await;
        return HttpResponse::Ok().finish();
    }
    let payload: MissedMessagesWebhook = serde_json::from_str(&received.body).expect("the payload matches its schema");
    inbox.lock().unwrap().accepted.insert(received.id.clone(), payload);
    changed.notify_waiters();
    HttpResponse::NoContent().finish()
}

/// The documented verification (docs/webhooks.md), written from the Standard Webhooks
/// description rather than with the server's code.
fn verifies(received: &Received) -> bool {
    let key = BASE64.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", received.id, received.timestamp, received.body).as_bytes());
    let expected = BASE64.encode(mac.finalize().into_bytes());
    let fresh = received.timestamp.parse::<i64>().is_ok_and(|ts| (chrono::Utc::now().timestamp() - ts).abs() < 300);
    fresh && received.signature.split(' ').any(|sig| sig.strip_prefix("v1,") == Some(expected.as_str()))
}

fn settings(receiver: &Receiver, read_delay: Duration, include_content: bool) -> WebhookSettings {
    WebhookSettings {
        url: receiver.url.parse().unwrap(),
        secret: SECRET.parse().unwrap(),
        collect: CollectSettings {
            read_delay: chrono::Duration::from_std(read_delay).unwrap(),
            window: chrono::Duration::seconds(1),
            batch: 50_000,
            include_content,
        },
        retry: RetryPolicy {
            max_attempts: 6,
            first_delay: chrono::Duration::milliseconds(40),
            max_delay: chrono::Duration::milliseconds(200),
        },
        timeout: ATTEMPT_TIMEOUT,
        tick: Duration::from_millis(50),
    }
}

/// An app whose connections write the outbox, with the dispatcher running.
async fn app_with_webhooks(db: TestDb, settings: WebhookSettings) -> (TestApp, tokio::task::JoinHandle<()>) {
    let app = TestApp::spawn_with(db, PoolConfig { max_size: 16, webhook_outbox: true, ..PoolConfig::default() }).await;
    let dispatcher = tokio::spawn(webhook_loop(app.state.store.clone(), settings));
    (app, dispatcher)
}

/// Waits (20 s at most, checking every 20 ms) until the database shows `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn deliveries(db: &TestDb, filter: &str) -> i64 {
    db.count(&format!("SELECT count(*) AS n FROM chat_webhook_deliveries WHERE {filter}"))
}

#[tokio::test]
async fn every_missed_message_is_announced_and_messages_read_in_time_are_not() {
    let receiver = Receiver::start(Script { refuse_first: 2, slow_every: Some(3), refuse_all: false });
    let (app, dispatcher) =
        app_with_webhooks(TestDb::migrated(), settings(&receiver, Duration::from_secs(2), false)).await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let (bob_id, bob) = app.user("bob");
    let (carol_id, carol) = app.user("carol");
    app.db.group("Main PEA Communication", "main", &[alice_id, bob_id]);

    // Alice asks support, is answered twice, and reads neither answer.
    let asked = app.post("/api/user/chat/support/messages", &alice, json!({"content": "my order?"})).await;
    let support = asked.json()["conversationId"].as_i64().unwrap();
    for text in ["Looking into it", "Shipped today"] {
        let reply =
            app.post(&format!("/api/admin/chat/support/{support}/messages"), &ada, json!({"content": text})).await;
        assert_eq!(reply.status, 201);
    }
    // Bob writes to Alice; Alice never answers, Bob gets nothing for his own message.
    let dm = app.start_dm(&bob, alice_id).await;
    let hello =
        app.post(&format!("/api/user/chat/direct-messages/{dm}/messages"), &bob, json!({"content": "hi"})).await;
    assert_eq!(hello.status, 201);
    // A notice to Alice and Carol; Carol reads it at once.
    let notice =
        app.post(NOTICES, &ada, json!({"userIds": [alice_id, carol_id], "content": "Maintenance tonight"})).await;
    assert_eq!(notice.status, 201, "{}", notice.json());
    let carols_group = app.db.count(&format!(
        "SELECT id::bigint AS n FROM chat_groups WHERE kind = 'personal' AND owner_user_id = {carol_id}"
    ));
    let carols_notice =
        app.db.count(&format!("SELECT max(id)::bigint AS n FROM chat_messages WHERE group_id = {carols_group}"));
    let read = app
        .post(
            &format!("/api/user/chat/groups/{carols_group}/read"),
            &carol,
            json!({"lastReadMessageId": carols_notice}),
        )
        .await;
    assert!(read.status == 200 || read.status == 204, "{}", read.json());

    receiver.until("Alice's digest accepted", |inbox| !inbox.accepted.is_empty()).await;
    eventually("every digest recorded as delivered", || deliveries(&app.db, "delivered_at IS NULL") == 0).await;
    dispatcher.abort();

    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1, "one digest: only Alice missed something ({accepted:?})");
    let (id, digest) = accepted.iter().next().unwrap();
    assert_eq!(digest.kind, "chat.missed_messages");
    assert_eq!((digest.data.user_id, digest.data.unread_total), (alice_id, 4));
    let items: Vec<_> = digest.data.items.iter().map(|i| (i.kind, i.conversation_id, i.unread)).collect();
    assert_eq!(
        items,
        [
            (MissedKind::Support, Some(support), 2),
            (MissedKind::DirectMessage, Some(dm), 1),
            (MissedKind::Notice, None, 1)
        ]
    );
    assert!(digest.data.items.iter().all(|i| i.preview.is_none()), "no content unless configured");

    let requests = receiver.requests();
    assert!(requests.len() >= 3, "the first two attempts were refused");
    assert!(requests.iter().all(|r| &r.id == id), "every attempt carries the same webhook-id");
    assert!(requests.iter().all(verifies), "every signature verifies");
    assert!(requests.iter().all(|r| !r.body.contains("Shipped") && !r.body.contains("Maintenance")));
    assert_eq!(deliveries(&app.db, "TRUE"), 1);
    assert_eq!(deliveries(&app.db, &format!("event_id = '{id}' AND delivered_at IS NOT NULL")), 1);
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_webhook_outbox"), 0, "the outbox is drained");
    receiver.stop().await;
}

#[tokio::test]
async fn two_instances_deliver_each_digest_once() {
    let receiver = Receiver::start(Script::default());
    let db = TestDb::migrated();
    let (one, first) = app_with_webhooks(db.shared(), settings(&receiver, Duration::ZERO, false)).await;
    let (two, second) = app_with_webhooks(db.shared(), settings(&receiver, Duration::ZERO, false)).await;
    let (_, ada) = one.admin("ada");
    let users: Vec<i32> = (0..30).map(|i| one.user(&format!("user{i}")).0).collect();
    // Notices through both instances, in several windows.
    for (round, app) in [&one, &two, &one, &two].into_iter().enumerate() {
        let reply = app.post(NOTICES, &ada, json!({"userIds": users, "content": format!("notice {round}")})).await;
        assert_eq!(reply.status, 201);
    }
    let outbox_empty = || db.count("SELECT count(*) AS n FROM chat_webhook_outbox") == 0;
    eventually("every notice collected and delivered", || {
        outbox_empty() && deliveries(&db, "TRUE") > 0 && deliveries(&db, "delivered_at IS NULL") == 0
    })
    .await;
    first.abort();
    second.abort();

    let requests = receiver.requests();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for request in &requests {
        *per_id.entry(request.id.as_str()).or_default() += 1;
    }
    assert!(per_id.values().all(|&n| n == 1), "a digest was posted twice: {per_id:?}");
    let accepted = receiver.accepted();
    let windows: BTreeSet<_> = accepted.values().map(|d| (d.data.user_id, d.data.window_start)).collect();
    assert_eq!(windows.len(), accepted.len(), "one digest per user per window");
    let mut notices_per_user: BTreeMap<i32, u32> = BTreeMap::new();
    for digest in accepted.values() {
        *notices_per_user.entry(digest.data.user_id).or_default() += digest.data.unread_total;
    }
    assert_eq!(notices_per_user, users.iter().map(|&u| (u, 4)).collect(), "every notice announced exactly once");
    receiver.stop().await;
}

#[tokio::test]
async fn a_server_killed_after_the_commit_loses_nothing() {
    let receiver = Receiver::start(Script { refuse_all: true, ..Script::default() });
    let db = TestDb::migrated();
    let env = |delay: &str| ServerOptions {
        env: [
            ("CHAT_WEBHOOK_URL", receiver.url.as_str()),
            ("CHAT_WEBHOOK_SECRET", SECRET),
            ("CHAT_WEBHOOK_READ_DELAY_SECS", delay),
            ("CHAT_WEBHOOK_WINDOW_SECS", "1"),
            ("CHAT_WEBHOOK_RETRY_BASE_MS", "50"),
            // An attempt cut short by the kill is leased for 2 x 500 ms + 5 s.
            ("CHAT_WEBHOOK_TIMEOUT_MS", "500"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into(),
        ..ServerOptions::default()
    };
    let ada = chat_tests::token(db.insert_user("ada"), "admin");
    let alice = db.insert_user("alice");

    // Killed within the read delay of a committed notice: no digest exists yet.
    let server = ServerProcess::spawn_with_options(&db.url, env("30")).await;
    let http = reqwest::Client::new();
    let sent = http
        .post(format!("{}{NOTICES}", server.base))
        .bearer_auth(&ada)
        .json(&json!({"userId": alice, "content": "first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    drop(server); // SIGKILL
    assert_eq!(
        db.count("SELECT count(*) AS n FROM chat_webhook_outbox"),
        1,
        "the outbox row committed with the notice"
    );
    assert_eq!(deliveries(&db, "TRUE"), 0);

    // Restarted with no delay, refused by the app: the digest is made and attempted...
    let server = ServerProcess::spawn_with_options(&db.url, env("0")).await;
    receiver.until("a first attempt", |inbox| !inbox.requests.is_empty()).await;
    drop(server); // ... and the server dies before any attempt succeeds (its lease runs out).
    let attempted = receiver.requests()[0].id.clone();

    // The next server delivers that same digest once the app accepts.
    receiver.set_script(Script::default());
    let _server = ServerProcess::spawn_with_options(&db.url, env("0")).await;
    receiver.until("the digest accepted", |inbox| inbox.accepted.contains_key(&attempted)).await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[&attempted].data.user_id, alice);
    receiver.stop().await;
}

#[tokio::test]
async fn parked_digests_are_listed_for_admins_and_sent_again_on_request() {
    let receiver = Receiver::start(Script { refuse_all: true, ..Script::default() });
    let mut hooks = settings(&receiver, Duration::ZERO, true);
    hooks.retry.max_attempts = 2;
    let (app, _dispatcher) = app_with_webhooks(TestDb::migrated(), hooks).await;
    let (_, ada) = app.admin("ada");
    let (alice_id, alice) = app.user("alice");
    let sent = app.post(NOTICES, &ada, json!({"userId": alice_id, "content": "Your ticket was answered"})).await;
    assert_eq!(sent.status, 201);

    receiver.until("two refused attempts", |inbox| inbox.requests.len() >= 2).await;
    eventually("the digest parked", || deliveries(&app.db, "parked_at IS NOT NULL") == 1).await;
    let page = app.get("/api/admin/chat/webhooks/parked", &ada).await;
    assert_eq!(page.status, 200);
    let items = page.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["userId"], alice_id);
    assert_eq!(items[0]["attempts"], 2);
    assert_eq!(items[0]["lastError"], "answered 503 Service Unavailable");
    assert_eq!(items[0]["eventId"], receiver.requests()[0].id.as_str());
    let id = items[0]["id"].as_i64().unwrap();

    assert_eq!(app.get("/api/admin/chat/webhooks/parked", &alice).await.status, 403);
    assert_eq!(app.post(&format!("/api/admin/chat/webhooks/parked/{id}/retry"), &alice, json!({})).await.status, 403);
    assert_eq!(
        app.post(&format!("/api/admin/chat/webhooks/parked/{}/retry", id + 1), &ada, json!({})).await.status,
        404
    );
    assert_eq!(
        app.get("/api/admin/chat/webhooks/parked?limit=0", &ada).await.code().as_deref(),
        Some("validation_failed")
    );

    receiver.set_script(Script::default());
    assert_eq!(app.post(&format!("/api/admin/chat/webhooks/parked/{id}/retry"), &ada, json!({})).await.status, 202);
    receiver.until("the retried digest accepted", |inbox| !inbox.accepted.is_empty()).await;
    let accepted = receiver.accepted();
    let digest = &accepted[items[0]["eventId"].as_str().unwrap()];
    assert_eq!(digest.data.items[0].preview.as_deref(), Some("Your ticket was answered"), "content when configured");
    assert_eq!(app.get("/api/admin/chat/webhooks/parked", &ada).await.json()["items"], json!([]));
    receiver.stop().await;
}
