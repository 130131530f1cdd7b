//! S6 notices and fan-out: with N users online, an admin sends one notice to 1 user, to
//! 1,000 users and to all N (or the `--audiences` given, each `--repeat` times); for each,
//! the time from the request to the answer, to the first and to the last delivery on the
//! audience's sockets, and the fan-out rate: deliveries per second from the first
//! delivery until the last socket has it, the part the database does not decide.
//!
//! Ours: `POST /api/admin/chat/notifications` with `userIds` (stored, then pushed). The
//! Socket.IO peer: an admin's `admin-notification` event, which the peer pushes at once
//! with `io.to(rooms of userIds).emit` (it stores nothing). The bare relay: one frame
//! naming the users' rooms. All three push the same `admin-notification` payload (same
//! bytes) to the same users. Gates: every online recipient gets the notice exactly once,
//! and no socket outside the audience gets it.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::{Env, Fleet, Http, short, tally};
use crate::client::{self, Client, Identity, Kind, Pushed, Seen};
use crate::net::Sources;
use crate::report::emit;
use crate::stats::round3;
use crate::{relay, ws};

/// S6 parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct NoticeArgs {
    /// Users online (users `first_user..first_user+sockets`, seeded); the last audience.
    #[arg(long, default_value_t = 10_000)]
    pub sockets: usize,
    /// First user id.
    #[arg(long, default_value_t = 1001)]
    pub first_user: i32,
    /// Handshakes in flight while connecting.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Seconds to wait for the last delivery of one notice.
    #[arg(long, default_value_t = 10)]
    pub deadline: u64,
    /// Audience sizes, comma-separated (the first K online users each); default 1, 1,000
    /// and all of them.
    #[arg(long, value_delimiter = ',')]
    pub audiences: Vec<usize>,
    /// Notices sent to each audience, one at a time (more samples of the fan-out rate).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
}

/// What one notice did.
#[derive(Debug, Default)]
struct Outcome {
    audience: usize,
    answered_ms: f64,
    first_ms: f64,
    last_ms: f64,
    /// Deliveries after the first, per second, until the last one.
    fanout_per_s: Option<f64>,
    reached: i64,
    delivered: usize,
    duplicates: usize,
}

/// Runs S6; `Ok(false)` when a gate failed.
pub async fn run(env: &Env, args: &NoticeArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(args.repeat >= 1, "--repeat must be at least 1");
    anyhow::ensure!(args.sockets < 19_000, "one process may hold fewer than 20,000 sockets here");
    anyhow::ensure!(args.sockets <= 10_000, "one notice names at most 10,000 users");
    let mut tokens = HashMap::new();
    let who = (0..args.sockets)
        .map(|k| env.identity(&mut tokens, args.first_user + k as i32, false))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let admin = env.identity(&mut tokens, 1, true)?;
    let (tap, mut seen) = mpsc::unbounded_channel();
    let fleet = Fleet::connect_tapped(env, who, args.concurrency, Some(tap)).await;
    anyhow::ensure!(fleet.connected() == args.sockets, "sockets failed to connect: {:?}", fleet.errors);
    // A first request ends the server's resume grace (docs/websocket.md), as clients do.
    anyhow::ensure!(fleet.ping_all(256).await == args.sockets, "sockets failed to answer a ping");
    let publisher = Publisher::connect(env, admin).await?;

    let mut audiences = if args.audiences.is_empty() { vec![1, 1_000, args.sockets] } else { args.audiences.clone() };
    audiences.retain(|&k| (1..=args.sockets).contains(&k));
    audiences.dedup();
    let audiences: Vec<usize> = audiences.iter().flat_map(|&k| std::iter::repeat_n(k, args.repeat)).collect();
    let mut outcomes = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    // Every notice sent so far, by id -> its audience size (sockets 0..k).
    let mut sent: HashMap<i64, usize> = HashMap::new();
    let mut foreign = 0_usize;
    for (round, &k) in audiences.iter().enumerate() {
        let user_ids: Vec<i32> = (0..k).map(|i| args.first_user + i as i32).collect();
        let content = format!("S6 notice {round} to {k} users");
        let t0 = Instant::now();
        let (id, reached) = match publisher.notice(round as i64 + 1, &user_ids, &content).await {
            Ok(sent) => sent,
            Err(e) => {
                *errors.entry(e).or_insert(0) += 1;
                continue;
            }
        };
        let answered = t0.elapsed();
        sent.insert(id, k);
        let mut got = vec![0_u8; k];
        let (mut delivered, mut duplicates) = (0, 0);
        let (mut first, mut last) = (None, None);
        let deadline = t0 + Duration::from_secs(args.deadline);
        while delivered < k {
            let Ok(Some(Seen { socket, push, at })) = timeout_at(deadline, seen.recv()).await else {
                break;
            };
            let Pushed::Notice { notification_id } = push else { continue };
            if notification_id != id {
                foreign += usize::from(sent.get(&notification_id).is_none_or(|&aud| socket >= aud));
                continue;
            }
            if socket >= k {
                foreign += 1;
                continue;
            }
            got[socket] = got[socket].saturating_add(1);
            if got[socket] > 1 {
                duplicates += 1;
                continue;
            }
            delivered += 1;
            first.get_or_insert(at);
            last = Some(at);
        }
        let ms =
            |at: Option<Instant>| at.map_or(0.0, |at| round3(at.saturating_duration_since(t0).as_secs_f64() * 1e3));
        let window = first.zip(last).map(|(a, b)| b.saturating_duration_since(a).as_secs_f64());
        outcomes.push(Outcome {
            audience: k,
            answered_ms: round3(answered.as_secs_f64() * 1e3),
            first_ms: ms(first),
            last_ms: ms(last),
            fanout_per_s: window.filter(|&w| delivered > 1 && w > 0.0).map(|w| round3((delivered - 1) as f64 / w)),
            reached,
            delivered,
            duplicates,
        });
    }

    // Late or foreign deliveries: every socket answers a ping after the notices were
    // fanned out, and a socket's frames arrive in order, so what is still queued shows now.
    let alive = fleet.ping_all(256).await;
    while let Ok(Seen { socket, push, .. }) = seen.try_recv() {
        let Pushed::Notice { notification_id } = push else { continue };
        match sent.get(&notification_id) {
            Some(&aud) if socket < aud => {
                if let Some(o) = outcomes.iter_mut().find(|o| o.audience == aud) {
                    o.duplicates += 1;
                }
            }
            _ => foreign += 1,
        }
    }
    fleet.close().await;
    publisher.close().await;

    let ok = errors.is_empty()
        && foreign == 0
        && alive == args.sockets
        && outcomes.len() == audiences.len()
        && outcomes.iter().all(|o| o.delivered == o.audience && o.duplicates == 0 && o.reached == o.audience as i64);
    let rows: Vec<_> = outcomes
        .iter()
        .map(|o| {
            json!({"audience": o.audience, "answered_ms": o.answered_ms, "first_delivery_ms": o.first_ms,
                   "last_delivery_ms": o.last_ms, "fanout_per_s": o.fanout_per_s, "recipient_count": o.reached,
                   "delivered": o.delivered, "duplicates": o.duplicates})
        })
        .collect();
    let result = json!({
        "scenario": "s6_notices", "kind": env.kind, "sockets": args.sockets, "notices": rows,
        "foreign_deliveries": foreign, "errors": tally(&errors), "gate_ok": ok,
    });
    let mut summary = format!("S6 notices [{:?}], {} users online:", env.kind, args.sockets);
    for o in &outcomes {
        summary.push_str(&format!(
            " to {}: answered {:.1} ms, first/last delivery {:.1}/{:.1} ms ({}/{} delivered, {:.0}/s);",
            o.audience,
            o.answered_ms,
            o.first_ms,
            o.last_ms,
            o.delivered,
            o.audience,
            o.fanout_per_s.unwrap_or(0.0)
        ));
    }
    summary.push_str(&format!(" {foreign} foreign: {}", if ok { "PASS" } else { "FAIL" }));
    emit(&result, &summary);
    Ok(ok)
}

/// Who sends the notices: our REST route, or a socket (the peer's admin, the relay's
/// publisher).
enum Publisher {
    Rest { http: Http, token: String },
    Socket { kind: Kind, client: Client },
}

impl Publisher {
    async fn connect(env: &Env, admin: Identity) -> anyhow::Result<Self> {
        Ok(match env.kind {
            Kind::Ours => Self::Rest { http: Http::new(env.addr, 1)?, token: admin.token },
            kind => {
                let src = Sources::nth(2000);
                let client = client::connect(kind, env.addr, src, &admin, Duration::from_secs(15)).await?;
                Self::Socket { kind, client }
            }
        })
    }

    /// Sends notice number `n` to `users`; returns its id and how many users it names.
    async fn notice(&self, n: i64, users: &[i32], content: &str) -> Result<(i64, i64), String> {
        let body = json!({
            "userIds": users, "content": content, "template": "info", "clientNotificationId": uuid::Uuid::new_v4(),
        });
        match self {
            Self::Rest { http, token } => {
                let r = http
                    .pick(0)
                    .post(http.url("/api/admin/chat/notifications"))
                    .bearer_auth(token)
                    .timeout(Duration::from_secs(60))
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| short(&e.to_string()))?;
                if !r.status().is_success() {
                    return Err(format!("http {}", r.status().as_u16()));
                }
                let reply: serde_json::Value = r.json().await.map_err(|e| short(&e.to_string()))?;
                Ok((reply["id"].as_i64().unwrap_or_default(), reply["recipientCount"].as_i64().unwrap_or_default()))
            }
            Self::Socket { kind: Kind::Relay, client } => {
                let frame = relay::publish(users.iter().copied(), &ws::notice_event(n, content));
                client.send_raw(frame).await.map_err(|e| short(&e.to_string()))?;
                Ok((n, users.len() as i64))
            }
            Self::Socket { client, .. } => {
                let reply = client
                    .call("admin-notification", &body, Duration::from_secs(60))
                    .await
                    .map_err(|e| short(&e.to_string()))?;
                if !reply.ok {
                    return Err(short(&format!("refused: {}", reply.data)));
                }
                Ok((
                    reply.data["id"].as_i64().unwrap_or_default(),
                    reply.data["recipientCount"].as_i64().unwrap_or_default(),
                ))
            }
        }
    }

    async fn close(self) {
        if let Self::Socket { client, .. } = self {
            client.close().await;
        }
    }
}
