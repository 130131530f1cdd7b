//! The real `chat-server` binary as a child process, for tests that need separate
//! processes (several instances behind one database and a Redis).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `chat-server serve` child process on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the metrics listener, when one was asked for.
    pub metrics: Option<String>,
    child: Child,
    /// Its stderr, line by line, when captured.
    stderr: Option<Arc<Mutex<Vec<String>>>>,
}

/// How to start a [`ServerProcess`] beyond the test settings
/// ([`ServerProcess::spawn_with_options`]).
#[derive(Debug, Default)]
pub struct ServerOptions {
    /// `REDIS_URL`, if any.
    pub redis_url: Option<String>,
    /// More environment variables (they win over the test settings, e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// Serve `/metrics` on a second free port (`CHAT_METRICS_BIND`).
    pub metrics: bool,
    /// Keep stderr (the logs) for [`ServerProcess::stderr_lines`].
    pub capture_stderr: bool,
    /// Wait for `/healthz` only (the database may be down on purpose), not `/readyz`.
    pub healthz_only: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `target/<profile>/chat-server`, next to the test binary's `deps/` folder. Cargo builds
/// it for `--workspace --all-targets` (what `scripts/test` runs).
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(format!("chat-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p chat-server`; scripts/test builds every target)",
        bin.display()
    );
    bin
}

/// `chat-server` with a clean environment (only `PATH` and a quiet `RUST_LOG`), for
/// one-shot commands (`migrate`, `legacy ...`, `healthcheck`); add arguments and
/// variables, then run it.
pub fn command() -> Command {
    let mut command = Command::new(binary());
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("RUST_LOG", "warn");
    command
}

impl ServerProcess {
    /// Starts `chat-server serve` on `database_url` with Redis fan-out through `redis_url`,
    /// accepting the test tokens, and waits until `/readyz` answers 200.
    pub async fn spawn(database_url: &str, redis_url: &str) -> Self {
        Self::spawn_with(&[("DATABASE_URL", database_url), ("REDIS_URL", redis_url)]).await
    }

    /// Starts `chat-server serve` with `env` (at least `DATABASE_URL`) over the test
    /// settings, and waits until `/readyz` answers 200.
    pub async fn spawn_with(env: &[(&str, &str)]) -> Self {
        let server = Self::start(env);
        server.wait_for("/readyz").await;
        server
    }

    /// Starts `chat-server serve` with `env` over the test settings, without waiting.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Self::launch(ServerOptions { env, ..ServerOptions::default() })
    }

    /// Starts `chat-server serve` on `database_url` with `options`, and waits until it
    /// is ready (or only alive, with [`ServerOptions::healthz_only`]).
    pub async fn spawn_with_options(database_url: &str, mut options: ServerOptions) -> Self {
        options.env.insert(0, ("DATABASE_URL".to_owned(), database_url.to_owned()));
        if let Some(redis_url) = options.redis_url.take() {
            options.env.insert(0, ("REDIS_URL".to_owned(), redis_url));
        }
        let probe = if options.healthz_only { "/healthz" } else { "/readyz" };
        let server = Self::launch(options);
        server.wait_for(probe).await;
        server
    }

    fn launch(options: ServerOptions) -> Self {
        let port = free_port();
        let secret = std::str::from_utf8(crate::SECRET).expect("the test secret is text");
        let mut command = command();
        command
            .arg("serve")
            .env("CHAT_JWT_SECRET", secret)
            .env("CHAT_BIND", format!("127.0.0.1:{port}"))
            .env("CHAT_WORKERS", "1")
            .env("CHAT_DB_POOL_SIZE", "8")
            .stdout(Stdio::null());
        let metrics = options.metrics.then(|| {
            let port = free_port();
            command.env("CHAT_METRICS_BIND", format!("127.0.0.1:{port}"));
            format!("http://127.0.0.1:{port}")
        });
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        if options.capture_stderr {
            command.stderr(Stdio::piped());
        }
        let mut child = command.spawn().expect("chat-server starts");
        let stderr = child.stderr.take().map(|pipe| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().expect("the log buffer").push(line);
                }
            });
            lines
        });
        Self { base: format!("http://127.0.0.1:{port}"), metrics, child, stderr }
    }

    /// The stderr lines logged so far (empty unless captured).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.as_ref().map(|lines| lines.lock().expect("the log buffer").clone()).unwrap_or_default()
    }

    /// Waits (30 s at most) until the logged lines satisfy `done`, and returns them.
    pub async fn logs_until(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.stderr_lines();
            if done(&lines) {
                return lines;
            }
            assert!(Instant::now() < deadline, "the expected log lines never came:\n{}", lines.join("\n"));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The address it listens on (`127.0.0.1:PORT`, its `CHAT_BIND`).
    pub fn bind(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends it SIGTERM, as a deploy (or `docker stop`) does.
    pub fn terminate(&self) {
        let pid = i32::try_from(self.child.id()).expect("a pid fits in i32");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
            .expect("SIGTERM is delivered");
    }

    /// Waits (polling) for it to exit; panics if it is still running after `within`.
    pub async fn exit_status(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status is readable") {
                return status;
            }
            assert!(Instant::now() < deadline, "chat-server on {} did not exit within {within:?}", self.base);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for(&self, probe: &str) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http
                .get(format!("{}{probe}", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "chat-server on {} did not become ready", self.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
