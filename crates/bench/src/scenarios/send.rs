//! S2 send (open loop at a fixed rate) and S2b saturation (closed loop of K senders):
//! sends into support and DM conversations with the receivers online and admins
//! watching the support queue, then the correctness gates.
//!
//! Ours sends over REST; the peer over its socket with an ack (its idiomatic send);
//! the relay "sends" by publishing a frame of the same JSON to the recipients' rooms.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Env, Fleet, Http, short, tally};
use crate::client::{Client, Kind};
use crate::gate::{self, Acked, DeliveryGate, StoredGate};
use crate::load::{self, OpenLoop, RunStats, Sample};
use crate::report::emit;
use crate::seed::{self, Conv};
use crate::stats::{Latency, round3};

/// S2/S2b parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    /// Sends per second (open loop). Ignored with `--workers`.
    #[arg(long, default_value_t = 250.0)]
    pub rate: f64,
    /// Closed loop with this many concurrent senders instead (S2b).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Support conversations written into (users 1001..).
    #[arg(long, default_value_t = 200)]
    pub support: i64,
    /// DMs written into.
    #[arg(long, default_value_t = 200)]
    pub dms: i64,
    /// Admins watching the support queue.
    #[arg(long, default_value_t = 4)]
    pub admins: usize,
    /// No sockets: REST sends only (no delivery gate or send-to-receive latency).
    #[arg(long)]
    pub no_ws: bool,
    /// Read every written conversation's history back and check it (ours only).
    #[arg(long)]
    pub check_history: bool,
    /// Most sends outstanding before the open loop sheds.
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Seconds to wait for late replies and deliveries after the last send.
    #[arg(long, default_value_t = 5)]
    pub drain: u64,
}

struct Plan {
    convs: Vec<Conv>,
    tag: u64,
}

impl Plan {
    fn conv(&self, i: u64) -> (usize, Conv) {
        let k = (i % self.convs.len() as u64) as usize;
        (k, self.convs[k])
    }

    /// Sender of send `i`: the support user, or alternately each side of a DM.
    fn sender(&self, i: u64) -> i32 {
        let (_, c) = self.conv(i);
        match c.user2 {
            Some(u2) if (i / self.convs.len() as u64) % 2 == 1 => u2,
            _ => c.user1,
        }
    }

    fn recipient_user(&self, i: u64) -> Option<i32> {
        let (_, c) = self.conv(i);
        c.user2.map(|u2| if self.sender(i) == u2 { c.user1 } else { u2 })
    }
}

/// Runs S2 (or S2b with `--workers`); `Ok(false)` when a gate failed.
pub async fn run(env: &Env, args: &SendArgs) -> anyhow::Result<bool> {
    let convs = seed::mixed(args.support, args.dms);
    anyhow::ensure!(!convs.is_empty(), "no conversations to write into");
    anyhow::ensure!(args.admins <= seed::ADMINS_MAX as usize, "at most {} admins are seeded", seed::ADMINS_MAX);
    let with_ws = !args.no_ws;
    anyhow::ensure!(with_ws || env.kind == Kind::Ours, "only our server can be driven without sockets");
    let tag = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64 ^ u64::from(std::process::id());
    let plan = Arc::new(Plan { convs, tag });

    // Sockets: every participant, the admins, and (relay) the publishers.
    let mut tokens = HashMap::new();
    let mut users: Vec<i32> = plan.convs.iter().flat_map(|c| [Some(c.user1), c.user2]).flatten().collect();
    users.sort_unstable();
    users.dedup();
    let mut who = Vec::new();
    if with_ws {
        for &u in &users {
            who.push(env.identity(&mut tokens, u, false)?);
        }
        for a in 1..=args.admins as i32 {
            who.push(env.identity(&mut tokens, a, true)?);
        }
    }
    let socket_of: HashMap<i32, usize> = users.iter().enumerate().map(|(k, &u)| (u, k)).collect();
    let admin_sockets: Vec<usize> = (users.len()..users.len() + if with_ws { args.admins } else { 0 }).collect();
    let fleet = Fleet::connect(env, who, 128).await;
    anyhow::ensure!(fleet.connected() == fleet.who.len(), "sockets failed to connect: {:?}", fleet.errors);
    // A first request ends our server's resume grace (docs/websocket.md), as clients do.
    anyhow::ensure!(fleet.ping_all(256).await == fleet.who.len(), "sockets failed to answer a ping");
    for &a in &admin_sockets {
        if let Some(c) = &fleet.clients[a] {
            c.join_support_queue(Duration::from_secs(10)).await?;
        }
    }
    let publishers: Vec<Arc<Client>> = if env.kind == Kind::Relay {
        let pubs = (0..8).map(|k| env.identity(&mut tokens, 9 + k, false)).collect::<anyhow::Result<Vec<_>>>()?;
        let f = Fleet::connect(env, pubs, 8).await;
        f.clients.into_iter().flatten().collect()
    } else {
        Vec::new()
    };
    let senders: Arc<HashMap<i32, Arc<Client>>> = Arc::new(
        socket_of.iter().filter_map(|(&u, &k)| Some((u, Arc::clone(fleet.clients.get(k)?.as_ref()?)))).collect(),
    );
    for u in &users {
        env.identity(&mut tokens, *u, false)?;
    }
    let tokens = Arc::new(tokens);
    let http = Http::new(env.addr, 16)?;
    let publishers = Arc::new(publishers);

    let make = {
        let (plan, tokens, http, senders, publishers, kind) =
            (Arc::clone(&plan), Arc::clone(&tokens), http.clone(), senders, Arc::clone(&publishers), env.kind);
        move |i: u64| {
            let (plan, tokens, http, senders, publishers) =
                (Arc::clone(&plan), Arc::clone(&tokens), http.clone(), Arc::clone(&senders), Arc::clone(&publishers));
            async move { send_one(kind, &plan, &tokens, &http, &senders, &publishers, i).await }
        }
    };

    // Collect samples.
    let base = Instant::now();
    let mut http_lat = Latency::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut acked: HashMap<usize, Vec<Acked>> = HashMap::new();
    let mut intended: HashMap<u64, Instant> = HashMap::new();
    // Per accepted send: when the driver issued it and when the answer came.
    let mut answered: HashMap<u64, (Instant, Instant)> = HashMap::new();
    let mut accepted = 0_u64;
    let sink = |s: Sample<i64>| match &s.result {
        Ok(id) => {
            accepted += 1;
            http_lat.record(s.latency());
            let (k, _) = plan.conv(s.index);
            let us = |t: Instant| t.saturating_duration_since(base).as_micros() as u64;
            acked.entry(k).or_default().push(Acked {
                index: s.index,
                message_id: *id,
                started_us: us(s.started),
                done_us: us(s.done),
            });
            intended.insert(s.index, s.intended);
            answered.insert(s.index, (s.started, s.done));
        }
        Err(e) => *errors.entry(e.clone()).or_insert(0) += 1,
    };
    let duration = Duration::from_secs(args.duration.min(3600));
    let stats: RunStats = match args.workers {
        None => {
            let count = (args.rate * duration.as_secs_f64()).ceil() as u64;
            let schedule = OpenLoop {
                rate: args.rate,
                count,
                duration,
                max_in_flight: args.max_in_flight,
                drain: Duration::from_secs(args.drain),
            };
            load::open_loop(schedule, make, sink).await
        }
        Some(k) => load::closed_loop(k, u64::MAX, duration, make, sink).await,
    };
    tokio::time::sleep(Duration::from_secs(if with_ws { 2 } else { 0 })).await;
    let server_close: Vec<Option<u16>> =
        fleet.clients.iter().map(|c| c.as_ref().and_then(|c| c.server_close())).collect();
    let logs = fleet.close().await;
    for p in publishers.iter() {
        p.close().await;
    }

    // Delivery gate and send-to-receive latency.
    let mut receive_lat = Latency::new();
    let mut last_receipt: HashMap<u64, Instant> = HashMap::new();
    let mut delivery = DeliveryGate::default();
    if with_ws {
        let mut expected: HashMap<u64, Vec<usize>> = HashMap::new();
        for &index in intended.keys() {
            let targets = match plan.recipient_user(index) {
                None => admin_sockets.clone(),
                Some(u) => socket_of.get(&u).map(|&k| vec![k]).unwrap_or_default(),
            };
            expected.insert(index, targets);
        }
        let mut received: Vec<Vec<(u64, i64, i64)>> = Vec::with_capacity(logs.len());
        for (socket, log) in logs.iter().enumerate() {
            let mut mine = Vec::new();
            for r in log {
                let Some(index) = r.message.client_message_id.and_then(|id| gate::index_of(plan.tag, id)) else {
                    continue;
                };
                mine.push((index, r.message.conversation_id, r.message.seq));
                if let (Some(t), Some(targets)) = (intended.get(&index), expected.get(&index))
                    && targets.contains(&socket)
                {
                    receive_lat.record(r.at.saturating_duration_since(*t));
                    let last = last_receipt.entry(index).or_insert(r.at);
                    *last = (*last).max(r.at);
                }
            }
            received.push(mine);
        }
        delivery = gate::check_deliveries(&expected, &received, &server_close);
    }

    // Storage gate: read every written conversation back.
    let mut stored = StoredGate::default();
    let mut stored_checked = false;
    if args.check_history && env.kind == Kind::Ours {
        stored_checked = true;
        for (k, list) in &acked {
            let conv = plan.convs[*k];
            let history = read_history(&http, &tokens, conv, plan.tag).await?;
            stored.add(&gate::check_stored(list, &history));
        }
    }

    let elapsed = stats.elapsed.as_secs_f64().max(1e-9);
    let achieved = accepted as f64 / elapsed.min(duration.as_secs_f64() + args.drain as f64).max(1e-9);
    let failed = stats.shed + stats.aborted + errors.values().sum::<u64>();
    // Overload refusals are reported, not gate failures: a 503 stores nothing (the client
    // retries with the same clientMessageId), and a shed send was never issued. Anything
    // else (a timeout, a 500) leaves the outcome unknown and fails the gate.
    let refused = stats.shed + errors.get("http 503").copied().unwrap_or(0);
    let ok = failed == refused && delivery.ok() && stored.ok() && accepted > 0;
    let name = if args.workers.is_some() { "s2b_saturation" } else { "s2_send" };
    let result = json!({
        "scenario": name, "kind": env.kind, "rate": args.workers.map_or(json!(args.rate), |_| Value::Null),
        "workers": args.workers, "duration_s": args.duration, "conversations": plan.convs.len(),
        "admins": if with_ws { args.admins } else { 0 }, "sockets": if with_ws { logs.len() } else { 0 },
        "issued": stats.issued, "accepted": accepted, "shed": stats.shed, "aborted": stats.aborted,
        "refused": refused,
        "errors": tally(&errors), "achieved_per_s": round3(achieved),
        "send_latency": http_lat.summary(), "send_to_receive": receive_lat.summary(),
        "delivery_gate": if with_ws { json!(delivery) } else { Value::Null },
        "stored_gate": if stored_checked { json!(stored) } else { Value::Null },
        "client_id_range": [gate::client_id(plan.tag, 0), gate::client_id(plan.tag, u64::MAX)],
        "slowest_sends": slowest(&plan, &intended, &answered, &last_receipt, 5),
        "gate_ok": ok,
    });
    let summary = format!(
        "{name} [{:?}] {}: {accepted} accepted ({achieved:.0}/s), {failed} failed ({refused} refused under \
         overload); send p50/p99/p99.9 \
         {:.2}/{:.2}/{:.2} ms; send-to-receive p50/p99/p99.9 {:.2}/{:.2}/{:.2} ms; deliveries {:?}; stored {}: {}",
        env.kind,
        args.workers.map_or_else(|| format!("{}/s", args.rate), |k| format!("{k} senders")),
        http_lat.ms(0.5),
        http_lat.ms(0.99),
        http_lat.ms(0.999),
        receive_lat.ms(0.5),
        receive_lat.ms(0.99),
        receive_lat.ms(0.999),
        delivery,
        if stored_checked { format!("{stored:?}") } else { "not checked".into() },
        if ok { "PASS" } else { "FAIL" }
    );
    emit(&result, &summary);
    Ok(ok)
}

/// The `n` slowest accepted sends (to their last receipt with sockets, else to the
/// answer), each as a timeline from its intended send time: when the driver issued it,
/// when the server answered (committed), when the last recipient had it. Their
/// `clientMessageId`s find them in the server's logs.
fn slowest(
    plan: &Plan,
    intended: &HashMap<u64, Instant>,
    answered: &HashMap<u64, (Instant, Instant)>,
    last_receipt: &HashMap<u64, Instant>,
    n: usize,
) -> Value {
    let end = |i: &u64| last_receipt.get(i).or_else(|| answered.get(i).map(|(_, done)| done));
    let mut slow: Vec<(Duration, u64)> =
        intended.iter().filter_map(|(i, t)| Some((end(i)?.saturating_duration_since(*t), *i))).collect();
    slow.sort_unstable_by(|a, b| b.cmp(a));
    let ms = |from: Instant, to: Option<&Instant>| {
        to.map(|to| round3(to.saturating_duration_since(from).as_secs_f64() * 1e3))
    };
    slow.iter()
        .take(n)
        .filter_map(|&(_, i)| {
            let (t, (started, done)) = (intended.get(&i)?, answered.get(&i)?);
            Some(json!({
                "client_message_id": gate::client_id(plan.tag, i), "conversation_id": plan.conv(i).1.id,
                "issued_ms": ms(*t, Some(started)), "answered_ms": ms(*t, Some(done)),
                "last_received_ms": ms(*t, last_receipt.get(&i)),
            }))
        })
        .collect()
}

async fn send_one(
    kind: Kind,
    plan: &Plan,
    tokens: &HashMap<(i32, bool), String>,
    http: &Http,
    senders: &HashMap<i32, Arc<Client>>,
    publishers: &[Arc<Client>],
    i: u64,
) -> Result<i64, String> {
    let (k, conv) = plan.conv(i);
    let sender = plan.sender(i);
    let cmid = gate::client_id(plan.tag, i);
    let content = format!("bench message {i} to conversation {}", conv.id);
    match kind {
        Kind::Ours => {
            let path = match conv.user2 {
                None => "/api/user/chat/support/messages".to_owned(),
                Some(_) => format!("/api/user/chat/direct-messages/{}/messages", conv.id),
            };
            let token = tokens.get(&(sender, false)).ok_or("no token")?;
            let r = http
                .pick(i)
                .post(http.url(&path))
                .bearer_auth(token)
                .json(&json!({"content": content, "clientMessageId": cmid}))
                .send()
                .await
                .map_err(|e| short(&e.to_string()))?;
            if r.status().as_u16() != 201 {
                return Err(format!("http {}", r.status().as_u16()));
            }
            let body: Value = r.json().await.map_err(|e| short(&e.to_string()))?;
            body["id"].as_i64().ok_or_else(|| "reply without id".to_owned())
        }
        Kind::Peer => {
            let socket = senders.get(&sender).ok_or("sender offline")?;
            let dm = conv.user2.map(|_| conv.id);
            let reply =
                socket.send(dm, &content, cmid, Duration::from_secs(10)).await.map_err(|e| short(&e.to_string()))?;
            if !reply.ok {
                return Err(short(&format!("refused: {}", reply.data)));
            }
            reply.data["id"].as_i64().ok_or_else(|| "ack without id".to_owned())
        }
        Kind::Relay => {
            let room = match plan.recipient_user(i) {
                None => "admins".to_owned(),
                Some(u) => format!("u{u}"),
            };
            let event = if conv.user2.is_some() { "dm-message" } else { "support-message" };
            let payload = json!({"type": event, "conversationId": conv.id, "message": {
                "id": i, "conversationId": conv.id, "seq": 0,
                "sender": {"type": "real_user", "id": sender, "name": format!("User {sender}")},
                "messageType": "text", "content": content, "clientMessageId": cmid,
                "createdAt": "2026-01-01T00:00:00Z", "hidden": false}});
            let publisher = &publishers[k % publishers.len().max(1)];
            publisher.send_raw(format!("{room} {payload}")).await.map_err(|e| short(&e.to_string()))?;
            Ok(i as i64)
        }
    }
}

/// Our stored messages of run `tag` in `conv`, oldest first, as (index, message id).
async fn read_history(
    http: &Http,
    tokens: &HashMap<(i32, bool), String>,
    conv: Conv,
    tag: u64,
) -> anyhow::Result<Vec<(u64, i64)>> {
    let token = tokens.get(&(conv.user1, false)).ok_or_else(|| anyhow::anyhow!("no token"))?;
    let path = match conv.user2 {
        None => "/api/user/chat/support/messages".to_owned(),
        Some(_) => format!("/api/user/chat/direct-messages/{}/messages", conv.id),
    };
    let mut out = Vec::new();
    let mut after = 0_i64;
    for page in 0..10_000 {
        let body = http
            .get_json(page, &format!("{path}?after={after}&limit=100"), token)
            .await
            .map_err(|e| anyhow::anyhow!("history of conversation {}: {e}", conv.id))?;
        for m in body["items"].as_array().into_iter().flatten() {
            let id = m["id"].as_i64().unwrap_or(0);
            if let Some(index) =
                m["clientMessageId"].as_str().and_then(|s| s.parse().ok()).and_then(|u| gate::index_of(tag, u))
            {
                out.push((index, id));
            }
        }
        match body["nextCursor"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    Ok(out)
}
