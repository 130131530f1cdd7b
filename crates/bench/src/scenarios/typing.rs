//! Typing relay: P pairs of users, each pair a seeded DM with both sides online, type to
//! each other at stepped open-loop rates; each step measures every delivery from the
//! typing event's intended send time. A typing event goes to both sides of the DM (ours
//! pushes it to the conversation's audience, the author included), so each event is two
//! deliveries for every contender: ours (`typing` over its socket), the Socket.IO peer
//! (`typing`, relayed with `io.to(both users' rooms).emit`) and the bare relay (one frame
//! naming both users' rooms), all pushing our `typing` payload.
//!
//! Typing events carry no id, so deliveries are matched to sends in order, per receiving
//! socket and sender (every contender keeps a socket's frames in order). A dropped event
//! (typing is ephemeral: ours drops it first under pressure, the relay when a queue is
//! full) shifts the matching onto earlier sends, which over-states latency, never hides it.
//!
//! The headline figure is the highest step's deliveries/s whose p99 stays under
//! `--p99-ms`; the steps stop after the first one above it. Gates: no socket gets a typing
//! event from outside its pair or more than were sent, and nothing is dropped at a step
//! under the bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::{Env, Fleet, short, tally};
use crate::client::{Client, Kind, Pushed, Seen};
use crate::load::{self, OpenLoop, Sample};
use crate::report::emit;
use crate::seed::{self, Conv};
use crate::stats::{Latency, round3};
use crate::{relay, sio, ws};

/// Typing relay parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct TypingArgs {
    /// Pairs of users typing to each other (seeded DMs with no user in common).
    #[arg(long, default_value_t = 2_000)]
    pub pairs: usize,
    /// Typing events per second over all sockets, one step each, ascending.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000.0, 2_000.0, 4_000.0, 8_000.0])]
    pub rates: Vec<f64>,
    /// Seconds per step.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// The latency bound of the headline figure (ms): no drops are allowed below it, and
    /// the steps stop after the first whose p99 exceeds it.
    #[arg(long, default_value_t = 20.0)]
    pub p99_ms: f64,
    /// Handshakes in flight while connecting.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
}

/// The typing frame socket `s` sends (socket `2p` is pair `p`'s first user, `2p + 1` its
/// second).
fn frame(kind: Kind, conv: Conv, me: i32) -> String {
    let other = conv.user2.unwrap_or(conv.user1);
    match kind {
        Kind::Ours => ws::typing(conv.id),
        Kind::Peer => sio::event("typing", &json!({"conversationId": conv.id, "isTyping": true}), None),
        Kind::Relay => relay::publish([conv.user1, other], &ws::typing_event(conv.id, me)),
    }
}

/// Users of socket `s`.
fn user_of(convs: &[Conv], s: usize) -> i32 {
    let c = convs[s / 2];
    if s.is_multiple_of(2) { c.user1 } else { c.user2.unwrap_or(c.user1) }
}

/// What one step measured.
#[derive(Debug, Default)]
struct Step {
    sent: u64,
    failed: HashMap<String, u64>,
    delivered: u64,
    dropped: u64,
    late: u64,
    extra: u64,
    foreign: u64,
    latency: Latency,
}

/// Runs the steps; `Ok(false)` when a gate failed.
pub async fn run(env: &Env, args: &TypingArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(
        (1..=7_000).contains(&args.pairs),
        "between 1 and 7,000 pairs (the seed has about 7,000 disjoint DMs)"
    );
    anyhow::ensure!(args.rates.iter().all(|&r| r > 0.0), "rates must be positive");
    let convs = seed::disjoint_dms(args.pairs);
    anyhow::ensure!(convs.len() == args.pairs, "the seed has {} disjoint DMs", convs.len());
    let n = 2 * args.pairs;
    let mut tokens = HashMap::new();
    let who =
        (0..n).map(|s| env.identity(&mut tokens, user_of(&convs, s), false)).collect::<anyhow::Result<Vec<_>>>()?;
    let (tap, mut seen) = mpsc::unbounded_channel();
    let fleet = Fleet::connect_tapped(env, who, args.concurrency, Some(tap)).await;
    anyhow::ensure!(fleet.connected() == n, "sockets failed to connect: {:?}", fleet.errors);
    // A first request ends our server's resume grace (docs/websocket.md), as clients do.
    anyhow::ensure!(fleet.ping_all(256).await == n, "sockets failed to answer a ping");
    let clients: Arc<Vec<Arc<Client>>> = Arc::new(fleet.clients.iter().flatten().cloned().collect());
    let frames: Arc<Vec<String>> =
        Arc::new((0..n).map(|s| frame(env.kind, convs[s / 2], user_of(&convs, s))).collect());

    // Warm-up: ours and the peer look a DM up on a socket's first typing event there.
    for (c, f) in clients.iter().zip(frames.iter()) {
        c.send_raw(f.clone()).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut warm = 0;
    while warm < 2 * n {
        match timeout_at(deadline, seen.recv()).await {
            Ok(Some(_)) => warm += 1,
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    while seen.try_recv().is_ok() {}

    let mut ok = true;
    for &rate in &args.rates {
        let step = step(&clients, &frames, &convs, rate, Duration::from_secs(args.duration), &mut seen).await;
        let p99 = step.latency.ms(0.99);
        let under = step.latency.count() > 0 && p99 <= args.p99_ms;
        let step_ok = step.failed.is_empty()
            && step.foreign == 0
            && step.extra == 0
            && step.sent > 0
            && (step.dropped == 0 || !under);
        ok &= step_ok;
        let per_s = step.delivered as f64 / args.duration.max(1) as f64;
        let result = json!({
            "scenario": "typing", "kind": env.kind, "pairs": args.pairs, "sockets": n, "rate": rate,
            "duration_s": args.duration, "sent": step.sent, "expected": 2 * step.sent, "delivered": step.delivered,
            "dropped": step.dropped, "late": step.late, "extra": step.extra, "foreign": step.foreign, "errors": tally(&step.failed),
            "deliveries_per_s": round3(per_s), "latency": step.latency.summary(), "p99_bound_ms": args.p99_ms,
            "under_bound": under, "gate_ok": step_ok,
        });
        let summary = format!(
            "typing [{:?}] {} pairs at {rate}/s: {} sent, {}/{} delivered ({per_s:.0}/s), {} dropped, {} extra, {} \
             foreign; p50/p99/p99.9 {:.2}/{:.2}/{:.2} ms ({} the {} ms bound): {}",
            env.kind,
            args.pairs,
            step.sent,
            step.delivered,
            2 * step.sent,
            step.dropped,
            step.extra,
            step.foreign,
            step.latency.ms(0.5),
            p99,
            step.latency.ms(0.999),
            if under { "under" } else { "over" },
            args.p99_ms,
            if step_ok { "PASS" } else { "FAIL" }
        );
        emit(&result, &summary);
        if !under {
            break;
        }
    }
    fleet.close().await;
    Ok(ok)
}

/// One step at `rate` typing events per second over every socket in turn.
async fn step(
    clients: &Arc<Vec<Arc<Client>>>,
    frames: &Arc<Vec<String>>,
    convs: &[Conv],
    rate: f64,
    duration: Duration,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
) -> Step {
    let n = clients.len();
    let plan = OpenLoop {
        rate,
        count: (rate * duration.as_secs_f64()).ceil() as u64,
        duration,
        max_in_flight: 4096,
        drain: Duration::from_secs(2),
    };
    let make = |i: u64| {
        let s = (i % n as u64) as usize;
        let (client, frame) = (Arc::clone(&clients[s]), frames[s].clone());
        async move { client.send_raw(frame).await.map_err(|e| short(&e.to_string())) }
    };
    let mut out = Step::default();
    // Per sending socket: (index, intended time) of each typing event handed to it.
    let mut sent: Vec<Vec<(u64, Instant)>> = vec![Vec::new(); n];
    let sink = |s: Sample<()>| match s.result {
        Ok(()) => sent[(s.index % n as u64) as usize].push((s.index, s.intended)),
        Err(e) => *out.failed.entry(e).or_insert(0) += 1,
    };
    let stats = load::open_loop(plan, make, sink).await;
    out.sent = sent.iter().map(|v| v.len() as u64).sum();
    if stats.shed > 0 {
        out.failed.insert("shed".into(), stats.shed);
    }

    // Every delivery, per receiving socket and sender, in arrival order.
    let mut arrivals: HashMap<(usize, i64), Vec<Instant>> = HashMap::new();
    let (expected, mut got) = (2 * out.sent, 0);
    let deadline = Instant::now() + Duration::from_secs(3);
    while got < expected {
        let Ok(Some(Seen { socket, push, at })) = timeout_at(deadline, seen.recv()).await else { break };
        let Pushed::Typing { conversation_id, sender } = push else { continue };
        got += 1;
        let pair = convs[socket / 2];
        let from_pair = sender == i64::from(pair.user1) || Some(sender) == pair.user2.map(i64::from);
        if conversation_id != pair.id || !from_pair {
            out.foreign += 1;
            continue;
        }
        arrivals.entry((socket, sender)).or_default().push(at);
    }
    // What is still queued: beyond every expected delivery, extra; after the wait ran
    // out, late (counted apart, not matched: the step was over its bound anyway).
    while let Ok(Seen { push: Pushed::Typing { .. }, .. }) = seen.try_recv() {
        if got < expected { out.late += 1 } else { out.extra += 1 }
    }
    for v in &mut sent {
        v.sort_unstable_by_key(|&(i, _)| i);
    }
    for receiver in 0..n {
        let pair = receiver / 2;
        for sender_socket in [2 * pair, 2 * pair + 1] {
            let sender = i64::from(user_of(convs, sender_socket));
            let sends = &sent[sender_socket];
            let got = arrivals.get(&(receiver, sender)).map_or(&[][..], Vec::as_slice);
            for (at, (_, intended)) in got.iter().zip(sends) {
                out.latency.record(at.saturating_duration_since(*intended));
            }
            out.delivered += got.len().min(sends.len()) as u64;
            out.dropped += sends.len().saturating_sub(got.len()) as u64;
            out.extra += got.len().saturating_sub(sends.len()) as u64;
        }
    }
    out
}
