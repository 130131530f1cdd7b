//! The real `chat-server` binary as a child process, for tests that need separate
//! processes (several instances behind one database and a Redis).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `chat-server serve` child process on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
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
        server.wait_ready().await;
        server
    }

    /// Starts `chat-server serve` with `env` over the test settings, without waiting.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let secret = std::str::from_utf8(crate::SECRET).expect("the test secret is text");
        let child = command()
            .arg("serve")
            .env("CHAT_JWT_SECRET", secret)
            .env("CHAT_BIND", format!("127.0.0.1:{port}"))
            .env("CHAT_WORKERS", "1")
            .env("CHAT_DB_POOL_SIZE", "8")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("chat-server starts");
        Self { base: format!("http://127.0.0.1:{port}"), child }
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

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http
                .get(format!("{}/readyz", self.base))
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
