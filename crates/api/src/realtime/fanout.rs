//! Fan-out between server instances through Redis pub/sub.
//!
//! Redis is a wake-up path only: PostgreSQL stays the truth. Each instance delivers its
//! own events locally at once and publishes them for the others; an event Redis drops
//! (a restart, a full buffer) is repaired by the receiving connection's gap check or by
//! the client's resume. Instances also announce how many admins watch the support queue,
//! so "support online" holds across instances, and forward signals (a change of blocks,
//! [`Signal`]) to the sockets of the users they name; one Redis drops is healed by the
//! age bound of what it would have dropped (`chat_domain::live::NO_BLOCK_TTL`). An
//! instance that does not know a signal (an older version during a rolling deploy) drops
//! it like any message it cannot parse.
//!
//! Redis pub/sub channels are global to a Redis server (the db index in `REDIS_URL` does
//! not separate them), and several deployments may share one Redis. So:
//!
//! * **One channel per deployment**: `{prefix}:events`, where the prefix is
//!   `CHAT_REDIS_CHANNEL_PREFIX` or, by default, derived from the database's identity
//!   (the cluster's `system_identifier` and the database's oid): instances on one
//!   database share a channel, two databases never do by accident.
//! * **Every message is signed**: HMAC-SHA256 over the channel and the body with the
//!   deployment's key (`CHAT_FANOUT_KEY`, by default derived from the JWT secret). A
//!   message that does not verify (another deployment configured onto the same
//!   channel, or anyone else who can publish to the Redis) is dropped and counted, never
//!   delivered to a socket. A replay of this deployment's own earlier messages verifies;
//!   it can only repeat events, which clients de-duplicate by `seq`.
//!
//! `rediss://` URLs connect over TLS (rustls) and verify the server's certificate and
//! host name, against the system's roots or the root certificate the operator names.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::hub::Hub;
use super::render::Envelope;
use super::signal::Signal;
use crate::metrics::{self, FanoutSide};

type HmacSha256 = Hmac<Sha256>;

/// The shortest accepted `CHAT_FANOUT_KEY`, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// The key that signs this deployment's fan-out messages.
#[derive(Clone)]
pub struct FanoutKey(Arc<[u8]>);

impl std::fmt::Debug for FanoutKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FanoutKey(<redacted>)")
    }
}

/// Why a fan-out key was refused.
#[derive(Debug, thiserror::Error)]
#[error("the fan-out key must be at least {MIN_KEY_LEN} bytes long")]
pub struct WeakFanoutKey;

impl FanoutKey {
    /// A key given as such (`CHAT_FANOUT_KEY`).
    pub fn new(key: &[u8]) -> Result<Self, WeakFanoutKey> {
        if key.len() < MIN_KEY_LEN {
            return Err(WeakFanoutKey);
        }
        Ok(Self(key.into()))
    }

    /// A key derived from a deployment secret (the JWT secret): HMAC-SHA256 of a fixed
    /// label, so the secret itself never signs anything else.
    pub fn derive_from(secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(b"chat fan-out key v1");
        Self(mac.finalize().into_bytes().to_vec().into())
    }

    fn mac(&self, channel: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(channel.as_bytes());
        mac.update(&[0]);
        mac.update(body);
        mac
    }

    /// `{hex MAC}.{body}`: what goes on the channel.
    fn sign(&self, channel: &str, body: &str) -> String {
        let tag = self.mac(channel, body.as_bytes()).finalize().into_bytes();
        let mut signed = String::with_capacity(tag.len() * 2 + 1 + body.len());
        for byte in tag {
            signed.push_str(&format!("{byte:02x}"));
        }
        signed.push('.');
        signed.push_str(body);
        signed
    }

    /// The body of a signed payload, if its MAC verifies (in constant time).
    fn verify<'p>(&self, channel: &str, payload: &'p [u8]) -> Option<&'p [u8]> {
        let dot = payload.iter().position(|b| *b == b'.')?;
        let (hex, body) = (&payload[..dot], &payload[dot + 1..]);
        let tag = decode_hex(hex)?;
        self.mac(channel, body).verify_slice(&tag).ok()?;
        Some(body)
    }
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2).map(|pair| std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok())).collect()
}

/// The channel of a deployment whose prefix is `prefix`.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}:events")
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    origin: String,
    #[serde(flatten)]
    body: WireBody,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireBody {
    Event { envelope: Envelope },
    Signal { signal: Signal },
    Presence { watchers: usize },
}

/// Where Redis is, and who vouches for it.
#[derive(Debug, Clone, Default)]
pub struct RedisConfig {
    /// `redis://host:port/` or, over TLS, `rediss://host:port/`.
    pub url: String,
    /// PEM root certificate(s) that must have signed the server's certificate over
    /// `rediss://`; the system's roots when `None`.
    pub root_ca_pem: Option<Vec<u8>>,
}

impl RedisConfig {
    /// The client for this configuration. Fails on a malformed URL, or on a root
    /// certificate given for a URL without TLS.
    pub fn client(&self) -> Result<redis::Client, redis::RedisError> {
        if self.url.starts_with("rediss://") {
            // rustls needs one process-wide crypto provider; the first caller installs
            // ring (an `Err` means one is installed already, which is just as good).
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        match &self.root_ca_pem {
            Some(pem) => redis::Client::build_with_tls(
                self.url.as_str(),
                redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) },
            ),
            None => redis::Client::open(self.url.as_str()),
        }
    }
}

/// A handle to the fan-out tasks.
#[derive(Debug, Clone)]
pub struct Fanout {
    tx: mpsc::Sender<Wire>,
    instance: Arc<str>,
    rejected: Arc<AtomicU64>,
}

impl Fanout {
    /// Connects lazily to Redis (`config`) and starts publishing and subscribing (current
    /// Tokio runtime) on the channel of `prefix` once it resolves (the default prefix
    /// needs the database; events forwarded before that wait in the bounded queue).
    /// Fails only on a configuration [`RedisConfig::client`] refuses.
    pub fn start(
        config: &RedisConfig,
        prefix: impl Future<Output = String> + Send + 'static,
        key: FanoutKey,
        hub: &Hub,
    ) -> Result<Self, redis::RedisError> {
        let client = config.client()?;
        let instance: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let rejected = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel(10_000);
        let fanout = Self { tx, instance: Arc::clone(&instance), rejected: Arc::clone(&rejected) };
        let hub_for_loop = hub.clone();
        tokio::spawn(async move {
            let channel: Arc<str> = channel(&prefix.await).into();
            tracing::info!(%channel, "redis fan-out channel");
            tokio::spawn(publish_loop(client.clone(), Arc::clone(&channel), key.clone(), rx));
            subscribe_loop(client, Subscriber { channel, key, instance, hub: hub_for_loop, rejected }).await;
        });
        tokio::spawn(announce_presence(fanout.clone(), hub.local_watchers()));
        Ok(fanout)
    }

    /// Queues an envelope for the other instances (never blocks; drops when saturated).
    pub fn forward(&self, envelope: &Envelope) {
        self.queue(Wire { origin: self.instance.to_string(), body: WireBody::Event { envelope: envelope.clone() } });
    }

    /// Queues a signal for the other instances (never blocks; drops when saturated).
    pub fn forward_signal(&self, signal: Signal) {
        self.queue(Wire { origin: self.instance.to_string(), body: WireBody::Signal { signal } });
    }

    fn queue(&self, wire: Wire) {
        if self.tx.try_send(wire).is_err() {
            metrics::fanout_publish_failed();
            tracing::warn!("fan-out queue full: an event was not sent to other instances (clients repair by resume)");
        }
    }

    /// Messages received on the channel and dropped because their MAC did not verify.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

async fn announce_presence(fanout: Fanout, mut watchers: tokio::sync::watch::Receiver<usize>) {
    // On every change, and every 30 s for instances that started later.
    loop {
        let count = *watchers.borrow_and_update();
        let wire = Wire { origin: fanout.instance.to_string(), body: WireBody::Presence { watchers: count } };
        let _ = fanout.tx.try_send(wire);
        tokio::select! {
            changed = watchers.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}

async fn publish_loop(client: redis::Client, channel: Arc<str>, key: FanoutKey, mut rx: mpsc::Receiver<Wire>) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    // Whether a connection was lost: the next one made is a reconnect.
    let mut lost = false;
    while let Some(wire) = rx.recv().await {
        let Ok(body) = serde_json::to_string(&wire) else { continue };
        let payload = key.sign(&channel, &body);
        // One retry with a fresh connection; after that the event is dropped (resume heals).
        let mut published = false;
        for _ in 0..2 {
            if conn.is_none() {
                conn = client.get_multiplexed_async_connection().await.ok();
                if conn.is_some() && std::mem::take(&mut lost) {
                    metrics::fanout_reconnected(FanoutSide::Publish);
                }
            }
            let Some(c) = conn.as_mut() else { break };
            match c.publish::<_, _, ()>(&*channel, &payload).await {
                Ok(()) => {
                    published = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "redis publish failed");
                    conn = None;
                }
            }
        }
        if !published {
            lost = true;
            metrics::fanout_publish_failed();
        }
    }
}

/// What the subscriber needs to check and deliver what arrives.
struct Subscriber {
    channel: Arc<str>,
    key: FanoutKey,
    instance: Arc<str>,
    hub: Hub,
    rejected: Arc<AtomicU64>,
}

impl Subscriber {
    /// Delivers one message from the channel, unless it is our own or does not verify.
    fn receive(&self, payload: &[u8]) {
        let Some(body) = self.key.verify(&self.channel, payload) else {
            let rejected = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
            // The first and then every 1000th: a flood must not flood the logs too.
            if rejected == 1 || rejected.is_multiple_of(1000) {
                tracing::warn!(
                    channel = %self.channel,
                    rejected,
                    "fan-out message with a bad signature dropped (another deployment on this channel, \
                     or a forgery): set CHAT_REDIS_CHANNEL_PREFIX / CHAT_FANOUT_KEY per deployment"
                );
            }
            return;
        };
        let Ok(wire) = serde_json::from_slice::<Wire>(body) else { return };
        if *wire.origin == *self.instance {
            return;
        }
        match wire.body {
            WireBody::Event { envelope } => self.hub.publish(Arc::new(envelope)),
            WireBody::Signal { signal } => self.hub.signal(signal),
            WireBody::Presence { watchers } => self.hub.remote_presence(wire.origin, watchers),
        }
    }
}

async fn subscribe_loop(client: redis::Client, subscriber: Subscriber) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&*subscriber.channel).await {
                Ok(()) => {
                    tracing::info!("subscribed to redis fan-out");
                    if !std::mem::replace(&mut first, false) {
                        metrics::fanout_reconnected(FanoutSide::Subscribe);
                    }
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        subscriber.receive(message.get_payload_bytes());
                    }
                    tracing::warn!("redis fan-out subscription ended; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "redis subscribe failed"),
            },
            Err(e) => tracing::warn!(error = %e, "redis unreachable"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> FanoutKey {
        FanoutKey::new(&[fill; MIN_KEY_LEN]).unwrap()
    }

    #[test]
    fn a_signed_message_verifies_only_with_its_key_and_on_its_channel() {
        let body = r#"{"origin":"x","kind":"presence","watchers":1}"#;
        let signed = key(1).sign("a:events", body);
        assert_eq!(key(1).verify("a:events", signed.as_bytes()), Some(body.as_bytes()));
        assert_eq!(key(2).verify("a:events", signed.as_bytes()), None, "another deployment's key");
        assert_eq!(key(1).verify("b:events", signed.as_bytes()), None, "replayed onto another channel");
        let tampered = signed.replace("\"watchers\":1", "\"watchers\":9");
        assert_eq!(key(1).verify("a:events", tampered.as_bytes()), None, "a changed body");
        for forged in [body.to_owned(), format!("00.{body}"), format!("zz{}", &signed[2..]), String::new()] {
            assert_eq!(key(1).verify("a:events", forged.as_bytes()), None, "{forged}");
        }
    }

    #[tokio::test]
    async fn unverified_messages_are_dropped_and_counted() {
        let channel: Arc<str> = "a:events".into();
        let subscriber = Subscriber {
            channel: Arc::clone(&channel),
            key: key(1),
            instance: "me".into(),
            hub: Hub::start(),
            rejected: Arc::new(AtomicU64::new(0)),
        };
        let body = r#"{"origin":"other","kind":"presence","watchers":1}"#;
        subscriber.receive(body.as_bytes());
        subscriber.receive(key(2).sign(&channel, body).as_bytes());
        assert_eq!(subscriber.rejected.load(Ordering::Relaxed), 2, "unsigned and wrongly signed");
        subscriber.receive(key(1).sign(&channel, body).as_bytes());
        assert_eq!(subscriber.rejected.load(Ordering::Relaxed), 2, "a verified message is not counted");
    }

    #[tokio::test]
    async fn a_signal_from_another_instance_reaches_the_sockets_of_its_users() {
        use chat_domain::{Principal, UserId};
        use tokio::sync::Notify;

        use crate::realtime::hub::{Queued, Registration};

        let hub = Hub::start();
        let (queue, mut alice_rx) = mpsc::channel(8);
        hub.register(Registration { principal: Principal::user(UserId(1)), queue, kill: Arc::new(Notify::new()) });
        let channel: Arc<str> = "a:events".into();
        let subscriber = Subscriber {
            channel: Arc::clone(&channel),
            key: key(1),
            instance: "me".into(),
            hub: hub.clone(),
            rejected: Arc::new(AtomicU64::new(0)),
        };
        let signal = Signal::BlocksChanged { blocker: UserId(2), blocked: UserId(1) };
        let wire = Wire { origin: "other".into(), body: WireBody::Signal { signal } };
        let body = serde_json::to_string(&wire).unwrap();
        subscriber.receive(key(1).sign(&channel, &body).as_bytes());
        hub.stats();
        let got: Vec<_> = std::iter::from_fn(|| alice_rx.try_recv().ok()).collect();
        assert!(matches!(got[..], [Queued::Signal(s)] if s == signal), "{got:?}");
    }

    #[test]
    fn keys_are_long_or_derived() {
        assert!(FanoutKey::new(b"short").is_err());
        let derived = FanoutKey::derive_from(b"the jwt secret");
        let signed = derived.sign("c", "{}");
        assert!(FanoutKey::derive_from(b"the jwt secret").verify("c", signed.as_bytes()).is_some());
        assert!(FanoutKey::derive_from(b"another secret").verify("c", signed.as_bytes()).is_none());
    }
}
