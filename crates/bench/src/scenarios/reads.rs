//! S3 history paging (newest and deep pages of the 1,000,000-message DM), S4 the chat
//! list of a user with 1,000 conversations, S5 the admin support queue over 100,000
//! support conversations: closed loop at K workers (throughput, compared with pgbench
//! at the same K) or open loop at a fixed rate (latency).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Env, Http, tally};
use crate::load::{self, OpenLoop, Sample};
use crate::report::emit;
use crate::seed;
use crate::stats::{Latency, round3};

/// Which read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Read {
    /// S3: history pages of the big DM, half newest, half at a pseudo-random depth.
    S3,
    /// S4: the first page of the hub user's DM list (with unread counts).
    S4,
    /// S5: the first page of the open support queue.
    S5,
}

/// Read scenario parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// The read.
    #[arg(long, value_enum)]
    pub read: Read,
    /// Closed loop with this many workers (throughput); else open loop at `--rate`.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests per second (open loop).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
}

/// The path of request `i`.
pub fn path(read: Read, i: u64) -> String {
    match read {
        Read::S3 if i.is_multiple_of(2) => format!("/api/user/chat/direct-messages/{}/messages?limit=50", seed::BIG_DM),
        Read::S3 => {
            // Knuth's multiplicative hash spreads cursors over the whole conversation.
            let depth = (i.wrapping_mul(2_654_435_761) % seed::BIG_DM_MESSAGES as u64) as i64;
            format!("/api/user/chat/direct-messages/{}/messages?limit=50&before={}", seed::BIG_DM, 2 * depth + 1)
        }
        Read::S4 => "/api/user/chat/direct-messages?limit=50".to_owned(),
        Read::S5 => "/api/admin/chat/support?status=open&limit=50".to_owned(),
    }
}

/// Runs the read; `Ok(false)` when any request failed.
pub async fn run(env: &Env, args: &ReadArgs) -> anyhow::Result<bool> {
    let (user, admin) = match args.read {
        Read::S3 => (seed::BIG_DM_USER, false),
        Read::S4 => (seed::HUB_USER, false),
        Read::S5 => (1, true),
    };
    let token = Arc::new(crate::token::mint(env.secret.as_bytes(), user, admin)?);
    let http = Http::new(env.addr, 8)?;
    let read = args.read;
    let make = move |i: u64| {
        let (http, token) = (http.clone(), Arc::clone(&token));
        async move {
            let body = http.get_json(i, &path(read, i), &token).await?;
            let n = body["items"].as_array().map_or(0, Vec::len);
            if n == 0 { Err("empty page".to_owned()) } else { Ok(n) }
        }
    };
    let mut lat = Latency::new();
    let mut deep = Latency::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut ok_count = 0_u64;
    let sink = |s: Sample<usize>| match &s.result {
        Ok(_) => {
            ok_count += 1;
            lat.record(s.latency());
            if read == Read::S3 && s.index % 2 == 1 {
                deep.record(s.latency());
            }
        }
        Err(e) => *errors.entry(e.clone()).or_insert(0) += 1,
    };
    let duration = Duration::from_secs(args.duration.min(3600));
    let stats = match args.workers {
        Some(k) => load::closed_loop(k, u64::MAX, duration, make, sink).await,
        None => {
            let plan = OpenLoop {
                rate: args.rate,
                count: (args.rate * duration.as_secs_f64()).ceil() as u64,
                duration,
                max_in_flight: 2048,
                drain: Duration::from_secs(5),
            };
            load::open_loop(plan, make, sink).await
        }
    };
    let elapsed = stats.elapsed.as_secs_f64().max(1e-9);
    let failed = errors.values().sum::<u64>() + stats.shed + stats.aborted;
    let ok = failed == 0 && ok_count > 0;
    let result = json!({
        "scenario": format!("{read:?}").to_lowercase() + "_read", "kind": env.kind, "workers": args.workers,
        "rate": if args.workers.is_some() { serde_json::Value::Null } else { json!(args.rate) },
        "duration_s": args.duration, "ok": ok_count, "errors": tally(&errors), "shed": stats.shed,
        "aborted": stats.aborted,
        "achieved_per_s": round3(ok_count as f64 / elapsed), "latency": lat.summary(),
        "deep_latency": if read == Read::S3 { deep.summary() } else { serde_json::Value::Null }, "gate_ok": ok,
    });
    let summary = format!(
        "{read:?} read {}: {ok_count} ok ({:.0}/s), {failed} failed; p50/p99/p99.9 {:.2}/{:.2}/{:.2} ms{}",
        args.workers.map_or_else(|| format!("at {}/s", args.rate), |k| format!("x{k} workers")),
        ok_count as f64 / elapsed,
        lat.ms(0.5),
        lat.ms(0.99),
        lat.ms(0.999),
        if read == Read::S3 { format!("; deep pages p99 {:.2} ms", deep.ms(0.99)) } else { String::new() }
    );
    emit(&result, &summary);
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_cursors_are_message_ids_of_the_big_dm() {
        for i in (1..2000).step_by(2) {
            let p = path(Read::S3, i);
            let before: i64 = p.rsplit('=').next().unwrap().parse().unwrap();
            assert!(before % 2 == 1 && before < 2 * seed::BIG_DM_MESSAGES, "{p}");
        }
        assert!(!path(Read::S3, 0).contains("before"));
    }
}
