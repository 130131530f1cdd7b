//! S7 reconnect storm: N clients connected, dropped, then all reconnecting within a
//! window with `resume` (ours only: the protocol's replay of missed messages).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Env, Fleet, short, tally};
use crate::client::{self, Kind};
use crate::load::{self, OpenLoop, Sample};
use crate::net::Sources;
use crate::report::emit;
use crate::seed;
use crate::stats::{Latency, round3};

/// S7 parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct StormArgs {
    /// Clients.
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// Seconds over which they reconnect (open loop, evenly spread).
    #[arg(long, default_value_t = 10)]
    pub window: u64,
}

/// Runs S7; `Ok(false)` when a client failed to reconnect and resume.
pub async fn run(env: &Env, args: &StormArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(env.kind == Kind::Ours, "resume is our protocol's");
    anyhow::ensure!(args.clients < 19_000, "one process may hold fewer than 20,000 sockets here");
    let mut tokens = HashMap::new();
    let who = (0..args.clients)
        .map(|k| env.identity(&mut tokens, 1001 + k as i32, false))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let fleet = Fleet::connect(env, who.clone(), 200).await;
    anyhow::ensure!(fleet.connected() == args.clients, "initial connect failed: {:?}", fleet.errors);
    fleet.close().await;
    let who = Arc::new(who);
    let sources = Arc::new(Sources::new());
    let addr = env.addr;
    let make = move |i: u64| {
        let (who, sources) = (Arc::clone(&who), Arc::clone(&sources));
        async move {
            let id = &who[i as usize];
            let c = client::connect(Kind::Ours, addr, sources.next(), id, Duration::from_secs(15))
                .await
                .map_err(|e| short(&e.to_string()))?;
            // Support conversation c of user 1000 + c: seen up to seq 1.
            let conv = i64::from(id.user - 1000);
            let reply = c.resume(&[(conv, 1)], Duration::from_secs(15)).await.map_err(|e| short(&e.to_string()))?;
            let replayed = reply.replayed.unwrap_or(0);
            Ok((c, reply.kind, replayed))
        }
    };
    let mut lat = Latency::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut kept = Vec::new();
    let mut resync = 0_u64;
    let mut replayed = 0_u64;
    let sink = |s: Sample<(client::Client, String, u64)>| match s.result {
        Ok((c, kind, n)) => {
            lat.record(s.done.saturating_duration_since(s.intended));
            if kind == "resync-required" {
                resync += 1;
            }
            replayed += n;
            kept.push(c);
        }
        Err(e) => *errors.entry(e).or_insert(0) += 1,
    };
    let plan = OpenLoop {
        rate: args.clients as f64 / args.window.max(1) as f64,
        count: args.clients as u64,
        duration: Duration::from_secs(args.window + 1),
        max_in_flight: 19_000,
        drain: Duration::from_secs(15),
    };
    let stats = load::open_loop(plan, make, sink).await;
    let resumed = kept.len();
    for c in kept {
        c.close().await;
    }
    let failed = errors.values().sum::<u64>() + stats.shed + stats.aborted;
    let ok = failed == 0 && resumed == args.clients;
    let result = json!({
        "scenario": "s7_reconnect_storm", "kind": env.kind, "clients": args.clients, "window_s": args.window,
        "resumed": resumed, "resync_required": resync, "replayed": replayed, "errors": tally(&errors),
        "reconnect_resume_latency": lat.summary(), "elapsed_s": round3(stats.elapsed.as_secs_f64()),
        "last_support_conversation": seed::support(args.clients as i64).id, "gate_ok": ok,
    });
    let summary = format!(
        "S7 storm: {resumed}/{} reconnected and resumed in {:.1} s ({resync} resync-required, {replayed} replayed); \
         connect+resume p50/p99 {:.1}/{:.1} ms: {}",
        args.clients,
        stats.elapsed.as_secs_f64(),
        lat.ms(0.5),
        lat.ms(0.99),
        if ok { "PASS" } else { "FAIL" }
    );
    emit(&result, &summary);
    Ok(ok)
}
