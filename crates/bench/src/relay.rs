//! The bare WebSocket relay: the limit our WebSocket layer is measured against.
//!
//! `GET /?u=<user>[&admin=1]` joins room `u<user>` (and `admins`). A text frame
//! `<room>[,<room>...] <payload>` is pushed to every socket in those rooms as `<payload>`
//! (a socket in two of them gets it twice: audiences are lists of users, one room each);
//! `ping <id>` answers `pong <id>`. Per connection: one task, one bounded queue (256 frames, a full
//! queue drops the frame), frames written in batches. No JSON, no auth, no database:
//! what is left is the cost of tokio + tungstenite moving frames.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::ws::{self, Incoming};

type Rooms = Arc<RwLock<HashMap<String, Vec<(u64, mpsc::Sender<Utf8Bytes>)>>>>;

/// Serves until the process is killed.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let rooms = Rooms::default();
    for id in 0.. {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, id, Arc::clone(&rooms)));
    }
    Ok(())
}

#[expect(clippy::result_large_err, reason = "the handshake callback's signature is tungstenite's")]
fn rooms_of(joined: &mut Vec<String>) -> impl FnOnce(&Request, Response) -> Result<Response, ErrorResponse> + '_ {
    move |req, resp| {
        for (k, v) in req.uri().query().unwrap_or("").split('&').filter_map(|kv| kv.split_once('=')) {
            match (k, v) {
                ("u", user) => joined.push(format!("u{user}")),
                ("admin", "1") => joined.push("admins".to_owned()),
                _ => {}
            }
        }
        Ok(resp)
    }
}

async fn connection(stream: TcpStream, id: u64, rooms: Rooms) {
    let mut joined = Vec::new();
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, rooms_of(&mut joined), Some(config())).await
    else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(256);
    if let Ok(mut map) = rooms.write() {
        for room in &joined {
            map.entry(room.clone()).or_default().push((id, tx.clone()));
        }
    }
    let (mut sink, mut frames) = socket.split();
    loop {
        tokio::select! {
            Some(out) = rx.recv() => {
                let mut batch = vec![out];
                while let Ok(more) = rx.try_recv() { batch.push(more) }
                let mut ok = true;
                for m in batch { ok &= sink.feed(Message::Text(m)).await.is_ok() }
                if !ok || sink.flush().await.is_err() { break }
            }
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(ping) = text.strip_prefix("ping ") {
                        if sink.send(Message::text(format!("pong {ping}"))).await.is_err() { break }
                    } else if let Some((to, payload)) = text.split_once(' ') {
                        let payload = Utf8Bytes::from(payload);
                        if let Ok(map) = rooms.read() {
                            for room in to.split(',') {
                                for (_, member) in map.get(room).into_iter().flatten() {
                                    let _ = member.try_send(payload.clone());
                                }
                            }
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    if let Ok(mut map) = rooms.write() {
        for room in &joined {
            if let Some(members) = map.get_mut(room) {
                members.retain(|(member, _)| *member != id);
            }
        }
    }
}

/// Small per-connection buffers: tungstenite reads into 128 KiB by default, which would
/// dominate the memory of an idle socket.
fn config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}

/// The upgrade path of a relay client.
pub fn path(user: i32, admin: bool) -> String {
    if admin { format!("/?u={user}&admin=1") } else { format!("/?u={user}") }
}

/// A publish frame: `payload` to the rooms of `users`.
pub fn publish(users: impl IntoIterator<Item = i32>, payload: &str) -> String {
    let rooms: Vec<String> = users.into_iter().map(|u| format!("u{u}")).collect();
    format!("{} {payload}", rooms.join(","))
}

/// `ping <id>`.
pub fn ping(id: &str) -> String {
    format!("ping {id}")
}

/// A frame as the relay delivers it: `pong <id>` or one of our JSON events.
pub fn decode(text: &str) -> Incoming {
    match text.strip_prefix("pong ") {
        Some(id) => Incoming::Reply { id: id.to_owned(), kind: "pong".into(), ok: true, replayed: None },
        None => ws::decode(text, None),
    }
}
