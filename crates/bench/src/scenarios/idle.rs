//! S1 idle: hold N authenticated sockets; RSS per connection, idle CPU, connect rate.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{Env, Fleet, tally};
use crate::net::{TICKS_PER_SEC, cpu_ticks, rss_kib};
use crate::report::emit;
use crate::stats::round3;

/// S1 parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Sockets to hold (a process may open fewer than 20,000 files here).
    #[arg(long, default_value_t = 1000)]
    pub sockets: usize,
    /// Handshakes in flight while connecting.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Seconds to hold them idle while measuring CPU.
    #[arg(long, default_value_t = 10)]
    pub hold: u64,
    /// First user id (users `first..first+sockets`, seeded).
    #[arg(long, default_value_t = 1001)]
    pub first_user: i32,
}

/// Runs S1; `Ok(false)` when a gate failed (a socket did not connect or answer a ping).
pub async fn run(env: &Env, args: &IdleArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(args.sockets < 19_500, "one process may hold fewer than 20,000 sockets here");
    let mut tokens = HashMap::new();
    let who = (0..args.sockets)
        .map(|k| env.identity(&mut tokens, args.first_user + k as i32, false))
        .collect::<anyhow::Result<Vec<_>>>()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(&env.server_pids);
    let fleet = Fleet::connect(env, who, args.concurrency).await;
    let connected = fleet.connected();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(&env.server_pids);
    let cpu0 = cpu_ticks(&env.server_pids);
    tokio::time::sleep(Duration::from_secs(args.hold.min(600))).await;
    let cpu1 = cpu_ticks(&env.server_pids);
    let alive = fleet.ping_all(256).await;
    let rss_end = rss_kib(&env.server_pids);
    let connect_rate = connected as f64 / fleet.elapsed.as_secs_f64().max(1e-9);
    let per_conn = if connected > 0 { (rss_after.saturating_sub(rss_before)) as f64 / connected as f64 } else { 0.0 };
    let idle_cpu = (cpu1.saturating_sub(cpu0)) as f64 / TICKS_PER_SEC / args.hold.max(1) as f64 * 100.0;
    let ok = connected == args.sockets && alive == args.sockets;
    let result = json!({
        "scenario": "s1_idle", "kind": env.kind, "sockets": args.sockets, "connected": connected,
        "connect_errors": tally(&fleet.errors), "connect_s": round3(fleet.elapsed.as_secs_f64()),
        "connect_rate_per_s": round3(connect_rate), "connect_latency": fleet.connect.summary(),
        "rss_before_kib": rss_before, "rss_after_kib": rss_after, "rss_end_kib": rss_end,
        "rss_per_conn_kib": round3(per_conn), "idle_cpu_pct": round3(idle_cpu), "hold_s": args.hold,
        "ping_ok": alive, "gate_ok": ok,
    });
    let summary = format!(
        "S1 idle [{:?}]: {connected}/{} connected at {connect_rate:.0}/s (p99 {:.1} ms), {per_conn:.1} KiB RSS per \
         socket, idle CPU {idle_cpu:.2}%, {alive} answered a ping: {}",
        env.kind,
        args.sockets,
        fleet.connect.ms(0.99),
        if ok { "PASS" } else { "FAIL" }
    );
    fleet.close().await;
    emit(&result, &summary);
    Ok(ok)
}
