//! Fan-out between server instances through Redis pub/sub.
//!
//! Redis is a wake-up path only: PostgreSQL stays the truth. Each instance delivers its
//! own events locally at once and publishes them for the others; an event Redis drops
//! (a restart, a full buffer) is repaired by the receiving connection's gap check or by
//! the client's resume. Instances also announce how many admins watch the support queue,
//! so "support online" holds across instances.
//!
//! `rediss://` URLs connect over TLS (rustls) and verify the server's certificate and
//! host name, against the system's roots or the root certificate the operator names.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::hub::Hub;
use super::render::Envelope;

/// The Redis channel.
pub const CHANNEL: &str = "chat:events";

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
}

impl Fanout {
    /// Connects lazily to Redis and starts publishing and subscribing (current Tokio
    /// runtime). Fails only on a configuration [`RedisConfig::client`] refuses.
    pub fn start(config: &RedisConfig, hub: &Hub) -> Result<Self, redis::RedisError> {
        let client = config.client()?;
        let instance: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let (tx, rx) = mpsc::channel(10_000);
        tokio::spawn(publish_loop(client.clone(), rx));
        tokio::spawn(subscribe_loop(client, Arc::clone(&instance), hub.clone()));
        let fanout = Self { tx, instance };
        tokio::spawn(announce_presence(fanout.clone(), hub.local_watchers()));
        Ok(fanout)
    }

    /// Queues an envelope for the other instances (never blocks; drops when saturated).
    pub fn forward(&self, envelope: &Envelope) {
        let wire = Wire { origin: self.instance.to_string(), body: WireBody::Event { envelope: envelope.clone() } };
        if self.tx.try_send(wire).is_err() {
            tracing::warn!("fan-out queue full: an event was not sent to other instances (clients repair by resume)");
        }
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

async fn publish_loop(client: redis::Client, mut rx: mpsc::Receiver<Wire>) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    while let Some(wire) = rx.recv().await {
        let Ok(payload) = serde_json::to_string(&wire) else { continue };
        // One retry with a fresh connection; after that the event is dropped (resume heals).
        for _ in 0..2 {
            if conn.is_none() {
                conn = client.get_multiplexed_async_connection().await.ok();
            }
            let Some(c) = conn.as_mut() else { break };
            match c.publish::<_, _, ()>(CHANNEL, &payload).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "redis publish failed");
                    conn = None;
                }
            }
        }
    }
}

async fn subscribe_loop(client: redis::Client, instance: Arc<str>, hub: Hub) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                Ok(()) => {
                    tracing::info!("subscribed to redis fan-out");
                    backoff = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(wire) = serde_json::from_slice::<Wire>(message.get_payload_bytes()) else { continue };
                        if *wire.origin == *instance {
                            continue;
                        }
                        match wire.body {
                            WireBody::Event { envelope } => hub.publish(Arc::new(envelope)),
                            WireBody::Presence { watchers } => hub.remote_presence(wire.origin, watchers),
                        }
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
