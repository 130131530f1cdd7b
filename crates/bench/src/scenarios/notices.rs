//! S6 notices: with N users online, an admin sends one notice to 1 user, to 1,000 users
//! and to all N (`POST /api/admin/chat/notifications` with `userIds`); for each, the time
//! from the request to the committed answer, and to the first and the last delivery on
//! the audience's sockets. Gates: every online recipient gets the notice exactly once,
//! and no socket outside the audience gets it (ours only: the peer has no notices).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::{Env, Fleet, Http, short, tally};
use crate::client::{Kind, NoticeSeen};
use crate::report::emit;
use crate::stats::round3;

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
}

/// What one notice did.
#[derive(Debug, Default)]
struct Outcome {
    audience: usize,
    answered_ms: f64,
    first_ms: f64,
    last_ms: f64,
    reached: i64,
    delivered: usize,
    duplicates: usize,
}

/// Runs S6; `Ok(false)` when a gate failed.
pub async fn run(env: &Env, args: &NoticeArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(env.kind == Kind::Ours, "notices are our protocol's");
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
    let http = Http::new(env.addr, 1)?;

    let mut audiences = vec![1, 1_000, args.sockets];
    audiences.retain(|&k| k <= args.sockets);
    audiences.dedup();
    let mut outcomes = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    // Every notice sent so far, by id -> its audience size (sockets 0..k).
    let mut sent: HashMap<i64, usize> = HashMap::new();
    let mut foreign = 0_usize;
    for (round, &k) in audiences.iter().enumerate() {
        let user_ids: Vec<i32> = (0..k).map(|i| args.first_user + i as i32).collect();
        let body = json!({
            "userIds": user_ids, "content": format!("S6 notice {round} to {k} users"), "template": "info",
            "clientNotificationId": uuid::Uuid::new_v4(),
        });
        let t0 = Instant::now();
        let response = http
            .pick(0)
            .post(http.url("/api/admin/chat/notifications"))
            .bearer_auth(&admin.token)
            .timeout(Duration::from_secs(60))
            .json(&body)
            .send()
            .await;
        let answered = t0.elapsed();
        let reply: serde_json::Value = match response {
            Ok(r) if r.status().is_success() => r.json().await.map_err(|e| anyhow::anyhow!(short(&e.to_string())))?,
            Ok(r) => {
                *errors.entry(format!("http {}", r.status().as_u16())).or_insert(0) += 1;
                continue;
            }
            Err(e) => {
                *errors.entry(short(&e.to_string())).or_insert(0) += 1;
                continue;
            }
        };
        let id = reply["id"].as_i64().unwrap_or_default();
        sent.insert(id, k);
        let mut got = vec![0_u8; k];
        let (mut delivered, mut duplicates) = (0, 0);
        let (mut first, mut last) = (None, None);
        let deadline = t0 + Duration::from_secs(args.deadline);
        while delivered < k {
            let Ok(Some(NoticeSeen { socket, notification_id, at })) = timeout_at(deadline, seen.recv()).await else {
                break;
            };
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
        outcomes.push(Outcome {
            audience: k,
            answered_ms: round3(answered.as_secs_f64() * 1e3),
            first_ms: ms(first),
            last_ms: ms(last),
            reached: reply["recipientCount"].as_i64().unwrap_or_default(),
            delivered,
            duplicates,
        });
    }

    // Late or foreign deliveries: every socket answers a ping after the notices were
    // fanned out, and a socket's frames arrive in order, so what is still queued shows now.
    let alive = fleet.ping_all(256).await;
    while let Ok(NoticeSeen { socket, notification_id, .. }) = seen.try_recv() {
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

    let ok = errors.is_empty()
        && foreign == 0
        && alive == args.sockets
        && outcomes.len() == audiences.len()
        && outcomes.iter().all(|o| o.delivered == o.audience && o.duplicates == 0 && o.reached == o.audience as i64);
    let rows: Vec<_> = outcomes
        .iter()
        .map(|o| {
            json!({"audience": o.audience, "answered_ms": o.answered_ms, "first_delivery_ms": o.first_ms,
                   "last_delivery_ms": o.last_ms, "recipient_count": o.reached, "delivered": o.delivered,
                   "duplicates": o.duplicates})
        })
        .collect();
    let result = json!({
        "scenario": "s6_notices", "kind": env.kind, "sockets": args.sockets, "notices": rows,
        "foreign_deliveries": foreign, "errors": tally(&errors), "gate_ok": ok,
    });
    let mut summary = format!("S6 notices [{:?}], {} users online:", env.kind, args.sockets);
    for o in &outcomes {
        summary.push_str(&format!(
            " to {}: answered {:.1} ms, first/last delivery {:.1}/{:.1} ms ({}/{} delivered);",
            o.audience, o.answered_ms, o.first_ms, o.last_ms, o.delivered, o.audience
        ));
    }
    summary.push_str(&format!(" {foreign} foreign: {}", if ok { "PASS" } else { "FAIL" }));
    emit(&result, &summary);
    Ok(ok)
}
