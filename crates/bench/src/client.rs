//! One benchmark socket, whatever the contender: a task owning the WebSocket that
//! answers heartbeats, records every pushed message with its arrival time, and matches
//! replies to requests by id.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::net::connect_from;
use crate::ws::{self, Delivered, Incoming};
use crate::{relay, sio};

/// The server a socket talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Our server (`/api/chat/ws`).
    Ours,
    /// The bare relay (the limit).
    Relay,
    /// The Node.js + Socket.IO peer.
    Peer,
}

/// Who the socket is.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user id (relay: its room `u<id>`).
    pub user: i32,
    /// An admin (relay: also in room `admins`).
    pub admin: bool,
    /// The bearer token (ours, peer).
    pub token: String,
}

/// A pushed message as received.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Arrival time.
    pub at: Instant,
    /// What arrived.
    pub message: Delivered,
}

/// An ephemeral push seen by socket `socket` of a tapped fleet (see [`connect_tapped`]):
/// reported as it arrives, not logged with the messages.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The socket's index in its fleet.
    pub socket: usize,
    /// What arrived.
    pub push: Pushed,
    /// Arrival time.
    pub at: Instant,
}

/// The pushes a tap reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// An admin notice.
    Notice { notification_id: i64 },
    /// A typing event: where, and who typed.
    Typing { conversation_id: i64, sender: i64 },
}

/// Where a socket reports the pushes it receives, as they arrive.
pub type Tap = (usize, mpsc::UnboundedSender<Seen>);

/// A reply to a request.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `true` unless the server answered with an error or `resync-required`.
    pub ok: bool,
    /// The reply type (`ack`, `pong`, `resumed`...).
    pub kind: String,
    /// Messages replayed by a resume.
    pub replayed: Option<u64>,
    /// Raw payload (peer acks carry the stored message).
    pub data: serde_json::Value,
}

enum Cmd {
    /// Send a frame; the reply with this id goes to `reply`.
    Request { id: String, frame: String, reply: oneshot::Sender<Reply> },
    /// Send a frame, no reply expected.
    Send(String),
    /// Close and return the log.
    Close,
}

/// A connected socket. Dropping it closes the connection.
#[derive(Debug)]
pub struct Client {
    kind: Kind,
    tx: mpsc::Sender<Cmd>,
    /// The close code the server sent, if it closed the socket first.
    server_close: Arc<std::sync::Mutex<Option<u16>>>,
    task: std::sync::Mutex<Option<JoinHandle<Vec<Received>>>>,
    next_id: AtomicU64,
}

type Ws = WebSocketStream<TcpStream>;

/// Opens the socket (authenticated at upgrade for ours, by the connect packet for the
/// peer) within `limit`.
pub async fn connect(
    kind: Kind,
    dst: SocketAddr,
    src: IpAddr,
    who: &Identity,
    limit: Duration,
) -> anyhow::Result<Client> {
    connect_tapped(kind, dst, src, who, limit, None).await
}

/// [`connect`], reporting every notice and typing event the socket receives to `tap` as
/// it arrives.
pub async fn connect_tapped(
    kind: Kind,
    dst: SocketAddr,
    src: IpAddr,
    who: &Identity,
    limit: Duration,
    tap: Option<Tap>,
) -> anyhow::Result<Client> {
    timeout(limit, connect_inner(kind, dst, src, who, tap))
        .await
        .map_err(|_| anyhow::anyhow!("connect timed out after {limit:?}"))?
}

async fn connect_inner(
    kind: Kind,
    dst: SocketAddr,
    src: IpAddr,
    who: &Identity,
    tap: Option<Tap>,
) -> anyhow::Result<Client> {
    let path = match kind {
        Kind::Ours => "/api/chat/ws".to_owned(),
        Kind::Relay => relay::path(who.user, who.admin),
        Kind::Peer => sio::PATH.to_owned(),
    };
    let mut request = format!("ws://{dst}{path}").into_client_request()?;
    if kind == Kind::Ours {
        request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {}", who.token))?);
    }
    let stream = connect_from(src, dst).await?;
    let (mut socket, _) = client_async(request, stream).await?;
    if kind == Kind::Peer {
        sio_handshake(&mut socket, &who.token).await?;
    }
    let (tx, rx) = mpsc::channel(64);
    let server_close = Arc::new(std::sync::Mutex::new(None));
    let task = tokio::spawn(run(kind, socket, rx, tap, Arc::clone(&server_close)));
    Ok(Client { kind, tx, server_close, task: std::sync::Mutex::new(Some(task)), next_id: AtomicU64::new(0) })
}

async fn sio_handshake(socket: &mut Ws, token: &str) -> anyhow::Result<()> {
    let mut sent = false;
    while let Some(frame) = socket.next().await {
        let Message::Text(text) = frame? else { continue };
        match sio::decode(&text) {
            sio::Packet::Open if !sent => {
                socket.send(Message::text(sio::connect(token))).await?;
                sent = true;
            }
            sio::Packet::Ping => socket.send(Message::text(sio::PONG)).await?,
            sio::Packet::Connected => return Ok(()),
            sio::Packet::ConnectError(e) => anyhow::bail!("socket.io connect refused: {e}"),
            _ => {}
        }
    }
    anyhow::bail!("closed during the socket.io handshake")
}

async fn run(
    kind: Kind,
    mut socket: Ws,
    mut rx: mpsc::Receiver<Cmd>,
    tap: Option<Tap>,
    server_close: Arc<std::sync::Mutex<Option<u16>>>,
) -> Vec<Received> {
    let mut log = Vec::new();
    let mut pending: HashMap<String, oneshot::Sender<Reply>> = HashMap::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Cmd::Request { id, frame, reply }) => {
                    pending.insert(id, reply);
                    if socket.send(Message::text(frame)).await.is_err() { break }
                }
                Some(Cmd::Send(frame)) => if socket.send(Message::text(frame)).await.is_err() { break },
                Some(Cmd::Close) | None => {
                    let _ = timeout(Duration::from_secs(2), socket.close(None)).await;
                    break;
                }
            },
            frame = socket.next() => {
                let Some(Ok(frame)) = frame else { break };
                let at = Instant::now();
                if let Message::Close(close) = &frame {
                    let code = close.as_ref().map_or(1005, |c| u16::from(c.code));
                    if let Ok(mut slot) = server_close.lock() {
                        *slot = Some(code);
                    }
                    continue;
                }
                let Message::Text(text) = frame else { continue };
                let incoming = match kind {
                    Kind::Ours => ws::decode(&text, None),
                    Kind::Relay => relay::decode(&text),
                    Kind::Peer => match sio::decode(&text) {
                        sio::Packet::Ping => {
                            if socket.send(Message::text(sio::PONG)).await.is_err() { break }
                            continue;
                        }
                        sio::Packet::Event { name, data } => ws::decode(&data.to_string(), Some(&name)),
                        sio::Packet::Ack { id, data } => {
                            let ok = data.get("error").is_none();
                            if let Some(reply) = pending.remove(&id.to_string()) {
                                let _ = reply.send(Reply { ok, kind: "ack".into(), replayed: None, data });
                            }
                            continue;
                        }
                        _ => Incoming::Other,
                    },
                };
                match incoming {
                    Incoming::Delivery(message) => log.push(Received { at, message }),
                    Incoming::Notice { notification_id } => {
                        if let Some((socket, tap)) = &tap {
                            let _ = tap.send(Seen { socket: *socket, push: Pushed::Notice { notification_id }, at });
                        }
                    }
                    Incoming::Typing { conversation_id, sender } => {
                        if let Some((socket, tap)) = &tap {
                            let _ = tap.send(Seen { socket: *socket, push: Pushed::Typing { conversation_id, sender }, at });
                        }
                    }
                    Incoming::Reply { id, kind, ok, replayed } => {
                        if let Some(reply) = pending.remove(&id) {
                            let data = serde_json::from_str(&text).unwrap_or_default();
                            let _ = reply.send(Reply { ok, kind, replayed, data });
                        }
                    }
                    Incoming::Other => {}
                }
            }
        }
    }
    log
}

impl Client {
    fn fresh_id(&self) -> String {
        (self.next_id.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }

    async fn request(&self, build: impl FnOnce(&str) -> String, limit: Duration) -> anyhow::Result<Reply> {
        let id = self.fresh_id();
        let (reply, rx) = oneshot::channel();
        let frame = build(&id);
        self.tx.send(Cmd::Request { id, frame, reply }).await.map_err(|_| anyhow::anyhow!("socket closed"))?;
        timeout(limit, rx)
            .await
            .map_err(|_| anyhow::anyhow!("no reply within {limit:?}"))?
            .map_err(|_| anyhow::anyhow!("socket closed before the reply"))
    }

    /// An application-level ping (proves the connection is alive and authenticated).
    pub async fn ping(&self, limit: Duration) -> anyhow::Result<()> {
        let kind = self.kind;
        let reply = self
            .request(
                |id| match kind {
                    Kind::Ours => ws::ping(id),
                    Kind::Relay => relay::ping(id),
                    Kind::Peer => sio::event("ping", &json!({}), id.parse().ok()),
                },
                limit,
            )
            .await?;
        anyhow::ensure!(reply.ok, "ping refused: {}", reply.data);
        Ok(())
    }

    /// Admins: receive every support conversation's events (the relay subscribed at
    /// connect time).
    pub async fn join_support_queue(&self, limit: Duration) -> anyhow::Result<()> {
        let reply = match self.kind {
            Kind::Relay => return Ok(()),
            Kind::Ours => self.request(ws::join_support_queue, limit).await?,
            Kind::Peer => {
                self.request(|id| sio::event("join-support-queue", &json!({}), id.parse().ok()), limit).await?
            }
        };
        anyhow::ensure!(reply.ok, "join-support-queue refused: {}", reply.data);
        Ok(())
    }

    /// Sends a message over the socket and waits for the ack (after commit).
    pub async fn send(
        &self,
        conversation: Option<i64>,
        content: &str,
        client_message_id: uuid::Uuid,
        limit: Duration,
    ) -> anyhow::Result<Reply> {
        let kind = self.kind;
        self.request(
            |id| match kind {
                Kind::Ours | Kind::Relay => ws::send(id, conversation, content, client_message_id),
                Kind::Peer => {
                    let mut body = json!({"content": content, "clientMessageId": client_message_id});
                    if let Some(c) = conversation {
                        body["conversationId"] = json!(c);
                    }
                    let name = if conversation.is_some() { "dm-message" } else { "support-message" };
                    sio::event(name, &body, id.parse().ok())
                }
            },
            limit,
        )
        .await
    }

    /// A request named `name` with the fields of `data` (an object), answered by an `ack`
    /// or an `error`: our frame `{"type": name, "id", ...data}`, or a Socket.IO event with
    /// an ack. Not for the relay, which answers nothing but pings.
    pub async fn call(&self, name: &str, data: &serde_json::Value, limit: Duration) -> anyhow::Result<Reply> {
        let kind = self.kind;
        anyhow::ensure!(kind != Kind::Relay, "the relay answers no requests");
        self.request(
            |id| match kind {
                Kind::Peer => sio::event(name, data, id.parse().ok()),
                _ => {
                    let mut frame = data.clone();
                    frame["type"] = json!(name);
                    frame["id"] = json!(id);
                    frame.to_string()
                }
            },
            limit,
        )
        .await
    }

    /// Resume after a reconnect (ours only).
    pub async fn resume(&self, positions: &[(i64, i64)], limit: Duration) -> anyhow::Result<Reply> {
        self.request(|id| ws::resume(id, positions), limit).await
    }

    /// Sends a raw frame (relay publishing).
    pub async fn send_raw(&self, frame: String) -> anyhow::Result<()> {
        self.tx.send(Cmd::Send(frame)).await.map_err(|_| anyhow::anyhow!("socket closed"))
    }

    /// The close code of the server's close frame, if the server closed the socket
    /// (e.g. 4008: cut off as a slow consumer).
    pub fn server_close(&self) -> Option<u16> {
        self.server_close.lock().ok().and_then(|c| *c)
    }

    /// Closes the socket and returns every message it received (empty on a second call).
    pub async fn close(&self) -> Vec<Received> {
        let _ = self.tx.send(Cmd::Close).await;
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        match task {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        }
    }
}
