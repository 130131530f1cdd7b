//! Test harness: the real application on port 0 against a fresh PostgreSQL database.
//!
//! * `TEST_DATABASE_URL` (set by `scripts/test`) names a server where databases may be
//!   created; it defaults to `postgres://postgres@127.0.0.1:5432/postgres`.
//! * The schema is migrated once into a template database named after a hash of
//!   `migrations/`, shared by every test process (nextest runs one process per test);
//!   each test then clones it (`CREATE DATABASE ... TEMPLATE`, ~50 ms) and drops its
//!   clone when done.

pub mod cluster;
pub mod process;
pub mod tls;

use std::net::TcpListener;
use std::sync::OnceLock;

use anyhow::Context;
use chat_api::ApiSettings;
use chat_api::auth::{AuthConfig, DevClaims, mint_token};
use chat_postgres::PoolConfig;
use chat_server::config::FanoutArgs;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Int4, Text};
use serde_json::{Value, json};

/// The HS256 secret the test apps accept.
pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

/// The admin URL of the test server.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_with_db(db: &str) -> String {
    let mut url = url::Url::parse(&admin_url()).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{db}"));
    url.into()
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Bool)]
    found: bool,
}

fn database_exists(conn: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    Ok(diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
        .bind::<Text, _>(name)
        .get_result::<Found>(conn)?
        .found)
}

/// A stable hash of the migration files (FNV-1a), naming the template.
fn migrations_hash() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(&file).expect("migration file is readable");
        for b in file.strip_prefix(&dir).unwrap_or(&file).to_string_lossy().bytes().chain(bytes) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("migrations/ exists")
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        .collect()
}

/// Creates (once, across processes) the migrated template and returns its name.
fn template() -> anyhow::Result<String> {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    if let Some(name) = TEMPLATE.get() {
        return Ok(name.clone());
    }
    let name = format!("chat_tmpl_{}", migrations_hash());
    let mut admin = chat_postgres::establish(&admin_url()).context("cannot connect to TEST_DATABASE_URL")?;
    // Serialize template creation across test processes.
    admin.batch_execute("SELECT pg_advisory_lock(7011)")?;
    let result = (|| -> anyhow::Result<()> {
        if database_exists(&mut admin, &name)? {
            return Ok(());
        }
        let building = format!("{name}_building");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))?;
        admin.batch_execute(&format!("CREATE DATABASE {building}"))?;
        chat_postgres::run_migrations(&url_with_db(&building))?;
        // The rename publishes the template atomically; no connection to it stays open.
        admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))?;
        Ok(())
    })();
    admin.batch_execute("SELECT pg_advisory_unlock(7011)")?;
    result?;
    Ok(TEMPLATE.get_or_init(|| name).clone())
}

/// A database of the test's own, dropped on drop.
#[derive(Debug)]
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    owned: bool,
}

impl TestDb {
    /// A migrated database cloned from the template.
    pub fn migrated() -> Self {
        let template = template().expect("the template database can be created");
        Self::create(Some(&template))
    }

    /// An empty database (no migrations), for migration tests.
    pub fn empty() -> Self {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = chat_postgres::establish(&admin_url()).expect("TEST_DATABASE_URL accepts connections");
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        admin.batch_execute(&sql).expect("the test database can be created");
        let url = url_with_db(&name);
        Self { name, url, owned: true }
    }

    /// A copy of `self` (which must have no open connection), dropped on drop.
    pub fn copy(&self) -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = chat_postgres::establish(&admin_url()).expect("TEST_DATABASE_URL accepts connections");
        admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {}", self.name)).expect("the copy is created");
        let url = url_with_db(&name);
        Self { name, url, owned: true }
    }

    /// A database at `url` that the test does not own (dropping it drops nothing), e.g.
    /// on a cluster the test started itself.
    pub fn at(url: &str) -> Self {
        let name = url::Url::parse(url).expect("a database URL").path().trim_start_matches('/').to_owned();
        Self { name, url: url.to_owned(), owned: false }
    }

    /// A database someone else drops (e.g. with its whole cluster).
    pub fn unowned(name: String, url: String) -> Self {
        Self { name, url, owned: false }
    }

    /// The same database, for a second server instance (dropping it drops nothing).
    pub fn shared(&self) -> Self {
        Self { name: self.name.clone(), url: self.url.clone(), owned: false }
    }

    /// A direct connection, for arranging fixtures and checking what was stored.
    pub fn conn(&self) -> PgConnection {
        chat_postgres::establish(&self.url).expect("the test database accepts connections")
    }

    /// Runs one SQL statement returning a single bigint column named `n`.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql).get_result::<N>(&mut self.conn()).expect("count query runs").n
    }

    /// Creates an active group of `kind` with `members`, as the existing app would.
    pub fn group(&self, name: &str, kind: &str, members: &[i32]) -> i32 {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = Int4)]
            id: i32,
        }
        let mut conn = self.conn();
        let id = diesel::sql_query("INSERT INTO chat_groups (name, kind) VALUES ($1, $2) RETURNING id")
            .bind::<Text, _>(name)
            .bind::<Text, _>(kind)
            .get_result::<Id>(&mut conn)
            .expect("group is inserted")
            .id;
        for member in members {
            conn.batch_execute(&format!("INSERT INTO chat_group_members (group_id, user_id) VALUES ({id}, {member})"))
                .expect("member is inserted");
        }
        id
    }

    /// Inserts a user as the existing app would and returns its id.
    pub fn insert_user(&self, username: &str) -> i32 {
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = Int4)]
            id: i32,
        }
        diesel::sql_query(
            "INSERT INTO users (username, display_name, profile_photo_url)
             VALUES ($1, initcap($1), 'https://cdn.example.com/' || $1 || '.png') RETURNING id",
        )
        .bind::<Text, _>(username)
        .get_result::<Id>(&mut self.conn())
        .expect("user is inserted")
        .id
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Ok(mut admin) = chat_postgres::establish(&admin_url()) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A running application with its own database.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its database.
    pub db: TestDb,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The real-time hub of this instance.
    pub hub: chat_api::realtime::hub::Hub,
    /// Its state (store, event publisher...), for driving the server's background jobs.
    pub state: chat_api::AppState,
    handle: actix_web::dev::ServerHandle,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Raw body.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem `code`, if the body is a problem document.
    pub fn code(&self) -> Option<String> {
        self.json().get("code").and_then(Value::as_str).map(str::to_owned)
    }
}

/// The auth settings of test apps.
pub fn auth_config() -> AuthConfig {
    AuthConfig {
        hs256_secret: SECRET.to_vec(),
        rs256_public_key_pem: None,
        issuer: None,
        audience: None,
        role_claim: "role".to_owned(),
        user_cache_ttl: chat_api::auth::DEFAULT_USER_CACHE_TTL,
    }
}

/// A token for `user_id` with `role`, valid for an hour.
pub fn token(user_id: i32, role: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 3600;
    mint_token(
        SECRET,
        &DevClaims { sub: user_id.to_string(), role: role.to_owned(), exp: exp as u64, iss: None, aud: None },
    )
    .expect("token is minted")
}

impl TestApp {
    /// Waits until every event published before now has reached the connection queues.
    /// The hub delivers on the publisher's thread, so an event published before this
    /// request is queued by the time it is answered; the support endpoint (which asks
    /// the hub for presence) is the request.
    pub async fn hub_barrier(&self, any_user: &str) {
        assert_eq!(self.get("/api/user/chat/support", any_user).await.status / 100, 2);
    }

    /// Starts the app on a fresh migrated database.
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDb::migrated()).await
    }

    /// Starts the app on `db`.
    pub async fn spawn_on(db: TestDb) -> Self {
        Self::spawn_with(db, PoolConfig { max_size: 16, ..PoolConfig::default() }).await
    }

    /// Starts the app on a fresh migrated database with given settings.
    pub async fn spawn_configured(settings: ApiSettings) -> Self {
        Self::start(TestDb::migrated(), PoolConfig { max_size: 16, ..PoolConfig::default() }, settings).await
    }

    /// Starts the app on `db` with a given pool.
    pub async fn spawn_with(db: TestDb, pool: PoolConfig) -> Self {
        Self::start(db, pool, ApiSettings::default()).await
    }

    /// Starts an instance on `db` with Redis fan-out, as one of several instances.
    pub async fn spawn_instance(db: TestDb, redis_url: &str) -> Self {
        Self::spawn_instance_with(db, &FanoutArgs::redis(redis_url)).await
    }

    /// Starts an instance on `db` with the given fan-out settings (channel prefix, key).
    pub async fn spawn_instance_with(db: TestDb, fanout: &FanoutArgs) -> Self {
        let pool = PoolConfig { max_size: 16, ..PoolConfig::default() };
        Self::start_with_auth(db, pool, ApiSettings::default(), fanout, &auth_config()).await
    }

    /// Starts the app on a fresh migrated database with given auth settings.
    pub async fn spawn_with_auth(auth: AuthConfig) -> Self {
        let pool = PoolConfig { max_size: 16, ..PoolConfig::default() };
        Self::start_with_auth(TestDb::migrated(), pool, ApiSettings::default(), &FanoutArgs::default(), &auth).await
    }

    async fn start(db: TestDb, pool: PoolConfig, settings: ApiSettings) -> Self {
        Self::start_with_auth(db, pool, settings, &FanoutArgs::default(), &auth_config()).await
    }

    async fn start_with_auth(
        db: TestDb,
        pool: PoolConfig,
        settings: ApiSettings,
        fanout: &FanoutArgs,
        auth: &AuthConfig,
    ) -> Self {
        let state = chat_server::app_state(&db.url, pool, auth, settings, fanout).expect("the app state is built");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let (hub, app_state) = (state.hub.clone(), state.clone());
        let server = chat_server::server(listener, state, Some(2), std::time::Duration::from_secs(10))
            .expect("the server starts");
        let handle = server.handle();
        tokio::spawn(server);
        Self { base, db, http: reqwest::Client::new(), hub, state: app_state, handle }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("valid method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.expect("the server answers")).await
    }

    /// Sends a raw body with a content type.
    pub async fn call_raw(&self, method: &str, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("valid method");
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        read(req.send().await.expect("the server answers")).await
    }

    /// `GET` with a token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }

    /// `POST` JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// `PATCH` JSON with a token.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    /// Starts (or gets) the caller's DM with real user `target` and returns its id.
    pub async fn start_dm(&self, token: &str, target: i32) -> i64 {
        let reply = self
            .post("/api/user/chat/direct-messages", token, json!({"targetType": "real_user", "targetId": target}))
            .await;
        assert!(reply.status == 200 || reply.status == 201, "starting the DM: {} {}", reply.status, reply.json());
        reply.json()["id"].as_i64().expect("the DM's id")
    }

    /// Takes conversation `id`'s row lock in a transaction of another session, held
    /// until the returned connection runs `ROLLBACK` (or is dropped).
    pub fn lock_conversation(&self, id: i64) -> PgConnection {
        let mut holder = self.db.conn();
        holder
            .batch_execute(&format!("BEGIN; SELECT id FROM direct_messages WHERE id = {id} FOR UPDATE"))
            .expect("the row lock is taken");
        holder
    }

    /// Two sends of `token` to `path` at once, in the background; their statuses.
    pub fn spawn_two_sends(&self, path: &str, token: &str) -> tokio::task::JoinHandle<[u16; 2]> {
        let (url, token, http) = (format!("{}{path}", self.base), token.to_owned(), self.http.clone());
        tokio::spawn(async move {
            let send = |i: i32| http.post(&url).bearer_auth(&token).json(&json!({"content": format!("m{i}")})).send();
            let replies = futures_util::future::join(send(1), send(2)).await;
            let status =
                |reply: reqwest::Result<reqwest::Response>| reply.expect("the send is answered").status().as_u16();
            [status(replies.0), status(replies.1)]
        })
    }

    /// Inserts a user and returns its id and a user token.
    pub fn user(&self, username: &str) -> (i32, String) {
        let id = self.db.insert_user(username);
        (id, token(id, "user"))
    }

    /// Inserts an admin user and returns its id and an admin token.
    pub fn admin(&self, username: &str) -> (i32, String) {
        let id = self.db.insert_user(username);
        (id, token(id, "admin"))
    }

    /// Stops the server (and so closes its pool) before the database is dropped.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn read(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.expect("the body is read").to_vec();
    Reply { status, headers, bytes }
}

/// A WebSocket client for tests.
#[derive(Debug)]
pub struct WsClient {
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    /// A close frame seen while waiting for text frames.
    closed: Option<u16>,
}

/// How a socket ended, as seen by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEnd {
    /// A close frame with this code.
    Closed(u16),
    /// The stream ended without a close frame.
    Dropped,
}

impl WsClient {
    /// Connects with a bearer header.
    pub async fn connect(app: &TestApp, token: &str) -> Self {
        Self::try_connect(app, Some(token), &[]).await.expect("the socket opens")
    }

    /// Connects with optional token and extra headers; `Err(status)` when refused.
    pub async fn try_connect(app: &TestApp, token: Option<&str>, headers: &[(&str, &str)]) -> Result<Self, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/api/chat/ws", app.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().expect("valid request");
        if let Some(token) = token {
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
        }
        for (name, value) in headers {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self { stream, closed: None }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("unexpected handshake failure: {e}"),
        }
    }

    /// Connects with a tiny TCP receive window, for a client that stops reading: the
    /// server's writes back up after a few frames, not after megabytes of kernel buffer.
    pub async fn connect_small_window(app: &TestApp, token: &str) -> Self {
        Self::connect_small_window_at(&app.base, token).await
    }

    /// [`Self::connect_small_window`] to the server at `base` (`http://127.0.0.1:PORT`).
    pub async fn connect_small_window_at(base: &str, token: &str) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().expect("a socket address");
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF is set");
        let tcp = socket.connect(addr).await.expect("the server accepts");
        let mut request = format!("ws://{addr}/api/chat/ws").into_client_request().expect("valid request");
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
        let (stream, _) = tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .expect("the socket opens");
        Self { stream, closed: None }
    }

    /// Connects to a raw URL (query-string tokens).
    pub async fn connect_url(url: &str) -> Result<Self, u16> {
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => Ok(Self { stream, closed: None }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("unexpected handshake failure: {e}"),
        }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(frame.to_string().into()))
            .await
            .expect("the frame is sent");
    }

    /// Sends a text frame as is (for frames that are not JSON).
    pub async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(text.to_owned().into()))
            .await
            .expect("the frame is sent");
    }

    /// The next JSON frame, or `None` when nothing arrives within `wait`.
    /// Every frame queued for this socket, then the pong of a ping `id`: a session
    /// forwards what is queued before it reads the next client frame, so after
    /// [`TestApp::hub_barrier`] this returns everything published before the barrier.
    pub async fn drain(&mut self, id: &str) -> Vec<Value> {
        self.send(serde_json::json!({"type": "ping", "id": id})).await;
        let mut frames = Vec::new();
        loop {
            let frame = self.next(std::time::Duration::from_secs(10)).await.expect("the pong arrives");
            if frame["type"] == "pong" && frame["id"] == id {
                return frames;
            }
            frames.push(frame);
        }
    }

    pub async fn next(&mut self, wait: std::time::Duration) -> Option<Value> {
        use futures_util::StreamExt;
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).expect("the server sends JSON text frames");
                    assert_server_frame(&frame);
                    return Some(frame);
                }
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                    self.closed = Some(frame.map_or(1005, |f| u16::from(f.code)));
                    return None;
                }
                Ok(Some(Ok(_))) => {}
                Ok(_) | Err(_) => return None,
            }
        }
    }

    /// Frames until one satisfies `pred` (within `wait` per frame); panics otherwise.
    pub async fn until(&mut self, wait: std::time::Duration, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next(wait).await.expect("the expected frame arrives");
            if pred(&frame) {
                return frame;
            }
        }
    }

    /// Sends a request with an `id` and returns its reply (`ack`, `error` or control frame).
    pub async fn request(&mut self, mut frame: Value, id: &str) -> Value {
        frame["id"] = Value::String(id.to_owned());
        self.send(frame).await;
        self.until(std::time::Duration::from_secs(10), |f| f["id"] == id).await
    }

    /// Waits for the server to end the socket and reports how.
    pub async fn end(&mut self, wait: std::time::Duration) -> WsEnd {
        use futures_util::StreamExt;
        if let Some(code) = self.closed {
            return WsEnd::Closed(code);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                    return WsEnd::Closed(frame.map_or(1005, |f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return WsEnd::Dropped,
                Err(_) => panic!("the server did not end the socket in time"),
            }
        }
    }

    /// Starts the closing handshake with `code` and reports how the server answered (a
    /// Close frame, as RFC 6455 5.5.1 requires, or a dropped connection).
    pub async fn close_with(&mut self, code: u16, wait: std::time::Duration) -> WsEnd {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame { code: code.into(), reason: "done".into() };
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))
            .await
            .expect("the close frame is sent");
        self.end(wait).await
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }

    /// The raw stream (to stop reading it, for backpressure tests).
    pub fn into_inner(
        self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
        self.stream
    }
}

/// Checks a frame the server sent against the documented `ServerFrame` schema (every
/// frame any socket test receives goes through here, so the contract is held to what
/// the server really sends).
pub fn assert_server_frame(frame: &Value) {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let spec: Value = serde_json::from_str(&chat_api::openapi_json()).expect("the OpenAPI document is JSON");
        let root = json!({"components": spec["components"], "$ref": "#/components/schemas/ServerFrame"});
        jsonschema::draft202012::options().build(&root).expect("ServerFrame is a valid schema")
    });
    let errors: Vec<String> = validator.iter_errors(frame).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "a server frame breaks the ServerFrame schema: {frame}\n  {}", errors.join("\n  "));
}

/// A throwaway `redis-server` on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    child: std::process::Child,
}

impl RedisServer {
    /// Starts one on a free port (`redis-server` must be installed; `scripts/test` does it).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        Self::start_on(port)
    }

    /// Starts one on `port`, waiting until it answers.
    pub fn start_on(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::yield_now();
        }
        Self { port, child }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it (as a crash would: no goodbye to the clients).
    pub fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
