//! The scenarios (S1 idle, S2 send, S2b saturation, S3-S5 reads, S6 notices and fan-out,
//! S7 reconnect storm, the typing relay) and what they share: contender addresses, tokens, socket fleets, the HTTP client pool.

pub mod idle;
pub mod notices;
pub mod reads;
pub mod send;
pub mod storm;
pub mod typing;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::client::{self, Client, Identity, Kind};
use crate::net::Sources;
use crate::stats::Latency;

/// Where the contender listens and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct Env {
    /// Which server this is.
    #[arg(long, value_enum, default_value_t = Kind::Ours)]
    pub kind: Kind,
    /// Its address (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// HS256 secret the tokens are signed with.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true, default_value = "")]
    pub secret: String,
    /// Server process ids whose memory and CPU are measured (repeat for several).
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
}

impl Env {
    /// A token for `user`, cached.
    pub fn identity(
        &self,
        tokens: &mut HashMap<(i32, bool), String>,
        user: i32,
        admin: bool,
    ) -> anyhow::Result<Identity> {
        let token = match tokens.get(&(user, admin)) {
            Some(t) => t.clone(),
            None => {
                let t = crate::token::mint(self.secret.as_bytes(), user, admin)?;
                tokens.insert((user, admin), t.clone());
                t
            }
        };
        Ok(Identity { user, admin, token })
    }
}

/// Connected sockets, in the order of the identities asked for (`None` where the
/// connection failed), and the connect latency.
pub struct Fleet {
    /// The sockets.
    pub clients: Vec<Option<Arc<Client>>>,
    /// Who they are.
    pub who: Vec<Identity>,
    /// Connect (+ handshake) latencies.
    pub connect: Latency,
    /// Failures, by message.
    pub errors: HashMap<String, u64>,
    /// Wall time to connect them all.
    pub elapsed: Duration,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("sockets", &self.clients.len()).field("errors", &self.errors).finish()
    }
}

impl Fleet {
    /// Opens one socket per identity, `concurrency` handshakes at a time, each from the
    /// next source address.
    pub async fn connect(env: &Env, who: Vec<Identity>, concurrency: usize) -> Self {
        Self::connect_tapped(env, who, concurrency, None).await
    }

    /// [`Fleet::connect`], each socket reporting the notices and typing events it
    /// receives to `tap`, tagged with its index.
    pub async fn connect_tapped(
        env: &Env,
        who: Vec<Identity>,
        concurrency: usize,
        tap: Option<mpsc::UnboundedSender<client::Seen>>,
    ) -> Self {
        let sources = Arc::new(Sources::new());
        let started = Instant::now();
        let (kind, addr) = (env.kind, env.addr);
        let results: Vec<(usize, Duration, anyhow::Result<Client>)> = stream::iter(who.iter().cloned().enumerate())
            .map(|(i, id)| {
                let sources = Arc::clone(&sources);
                let tap = tap.clone().map(|tap| (i, tap));
                async move {
                    let t = Instant::now();
                    let r = client::connect_tapped(kind, addr, sources.next(), &id, Duration::from_secs(15), tap).await;
                    (i, t.elapsed(), r)
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let elapsed = started.elapsed();
        let mut clients: Vec<Option<Arc<Client>>> = (0..who.len()).map(|_| None).collect();
        let mut connect = Latency::new();
        let mut errors = HashMap::new();
        for (i, took, r) in results {
            match r {
                Ok(c) => {
                    connect.record(took);
                    clients[i] = Some(Arc::new(c));
                }
                Err(e) => *errors.entry(short(&e.to_string())).or_insert(0) += 1,
            }
        }
        Self { clients, who, connect, errors, elapsed }
    }

    /// Sockets connected.
    pub fn connected(&self) -> usize {
        self.clients.iter().flatten().count()
    }

    /// Pings every socket (bounded); returns how many answered.
    pub async fn ping_all(&self, concurrency: usize) -> usize {
        stream::iter(self.clients.iter().flatten().cloned())
            .map(|c| async move { c.ping(Duration::from_secs(10)).await.is_ok() })
            .buffer_unordered(concurrency.max(1))
            .filter(|ok| std::future::ready(*ok))
            .count()
            .await
    }

    /// Closes every socket; returns each one's received log (empty where none).
    pub async fn close(self) -> Vec<Vec<client::Received>> {
        let n = self.clients.len();
        let logs: Vec<(usize, Vec<client::Received>)> = stream::iter(self.clients.into_iter().enumerate())
            .map(|(i, c)| async move {
                match c {
                    Some(c) => (i, c.close().await),
                    None => (i, Vec::new()),
                }
            })
            .buffer_unordered(512)
            .collect()
            .await;
        let mut out = vec![Vec::new(); n];
        for (i, log) in logs {
            out[i] = log;
        }
        out
    }
}

/// HTTP clients bound to different loopback source addresses, used round-robin.
#[derive(Debug, Clone)]
pub struct Http {
    clients: Vec<reqwest::Client>,
    base: String,
}

impl Http {
    /// `n` clients for `addr`.
    pub fn new(addr: SocketAddr, n: u32) -> anyhow::Result<Self> {
        let clients = (0..n.max(1))
            .map(|k| {
                reqwest::Client::builder()
                    .local_address(Sources::nth(1000 + k))
                    .timeout(Duration::from_secs(10))
                    .tcp_nodelay(true)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { clients, base: format!("http://{addr}") })
    }

    /// The client for request `i`.
    pub fn pick(&self, i: u64) -> &reqwest::Client {
        &self.clients[(i % self.clients.len() as u64) as usize]
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET returning the JSON body of a 2xx, or the status as error.
    pub async fn get_json(&self, i: u64, path: &str, token: &str) -> Result<serde_json::Value, String> {
        let r = self.pick(i).get(self.url(path)).bearer_auth(token).send().await.map_err(|e| short(&e.to_string()))?;
        let status = r.status();
        if !status.is_success() {
            return Err(format!("http {}", status.as_u16()));
        }
        r.json().await.map_err(|e| short(&e.to_string()))
    }
}

/// Error text cut to a stable, short key for counting.
pub fn short(e: &str) -> String {
    e.chars().take(80).collect()
}

/// `{"message": count}` of a tally.
pub fn tally(errors: &HashMap<String, u64>) -> serde_json::Value {
    serde_json::to_value(errors).unwrap_or_default()
}
