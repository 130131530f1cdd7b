#!/usr/bin/env bash
# Issue 14's S0 in one run, without the rest of bench/run.sh: the server's send
# throughput against PostgreSQL's floor at 16, 32 and 64 senders, with and without group
# commit, and the send-to-receive p99 at 500 sends/s (with 8 admins watching the queue).
#
#   bench/send_floor.sh                          # 2 rounds of 10 s per measurement
#   BENCH_SECONDS=8 BENCH_ROUNDS=3 bench/send_floor.sh
#
# Each round runs, interleaved: pgbench of the one-statement send (send_minimal.sql,
# prepared, autocommit) and of 8 sends per statement and commit (send_batch8.sql, at N/8
# clients: as many sends in flight as N senders, and at N clients: the ceiling), then
# ours with CHAT_GROUP_COMMIT=on, then ours with it off (a fresh server each), on the same
# throwaway cluster and bench seed as bench/run.sh. Every line records the load average
# of the shared machine when it was taken. Results: BENCH_RESULTS (JSON lines), and a
# summary table (medians over the rounds) on stdout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
OUT=${BENCH_RESULTS:-bench/results/send-floor-$(date +%F).jsonl}
PGDATA_DIR=${BENCH_PGDATA:-/tmp/chat-bench-pg}
mkdir -p "$(dirname "$OUT")"
export CHAT_JWT_SECRET="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

bench_log "building (${BENCH_PROFILE:-release})"
bench_build
bench_seeded_postgres "$PGDATA_DIR"
DB=$DATABASE_URL
: >"$OUT"

load() { cut -d' ' -f1 /proc/loadavg; }
emit() { # emit ROUND CONTENDER EXTRA < json lines -> results file
    local line
    while IFS= read -r line; do
        [[ $line == \{* ]] || continue
        printf '{"round":%s,"contender":"%s",%s"load1":%s,%s\n' "$1" "$2" "$3" "$(load)" "${line#\{}" | tee -a "$OUT"
    done
}
pgb() { # pgb NAME CLIENTS PGBENCH-ARGS... -> one JSON line (tps)
    local name=$1 clients=$2 dir tps
    shift 2
    dir=$(mktemp -d)
    (cd "$dir" && pgbench -n -c "$clients" -j 2 -T "$SECS" -D nconv=1000 "$@" "$DB") >"$dir/out" 2>&1 || true
    tps=$(awk '/^tps = / {print $3; exit}' "$dir/out")
    rm -rf "$dir"
    [[ -n $tps ]] && printf '{"scenario":"pgbench_%s","clients":%s,"tps":%s}\n' "$name" "$clients" "$tps"
}
P=$PWD/bench/pgbench

PORT=$(bench_free_port 19200)
ours_with() { # ours_with on|off ROUND
    DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$PORT" CHAT_DB_POOL_SIZE=32 CHAT_RATE_LIMITS=off RUST_LOG=warn \
        CHAT_GROUP_COMMIT=$1 bench_spawn "$SERVER" serve 2>>bench/results/ours.log
    local pid=$LAST_PID
    for _ in $(seq 100); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
    local ours=("$BENCH" send --kind ours --addr "127.0.0.1:$PORT" --server-pid "$pid")
    for w in 16 32 64; do
        bench_settle "$DB"
        "${ours[@]}" --workers "$w" --duration "$SECS" --support 1000 --dms 0 --no-ws |
            emit "$2" ours "\"group_commit\":\"$1\"," || true
    done
    bench_settle "$DB"
    "${ours[@]}" --rate 500 --duration "$SECS" --admins 8 --check-history |
        emit "$2" ours "\"group_commit\":\"$1\"," || true
    bench_kill "$pid"
}

for round in $(seq "$ROUNDS"); do
    bench_log "round $round/$ROUNDS: pgbench floors"
    for c in 16 32 64; do
        bench_settle "$DB"
        pgb send_minimal "$c" -M prepared -f "$P/send_minimal.sql" | emit "$round" limit ""
        for b in $((c / 8)) "$c"; do
            bench_settle "$DB"
            pgb send_batch8 "$b" -M prepared -f "$P/send_batch8.sql" | emit "$round" limit '"sends_per_tx":8,'
        done
    done
    bench_log "round $round/$ROUNDS: ours, group commit on"
    ours_with on "$round"
    bench_log "round $round/$ROUNDS: ours, group commit off"
    ours_with off "$round"
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(xs): return statistics.median(xs) if xs else float("nan")
def rng(xs): return f"{min(xs):,.0f}-{max(xs):,.0f}" if xs else "-"
def pg(name, clients, per_tx=1):
    return [r["tps"] * per_tx for r in rows if r["scenario"] == f"pgbench_{name}" and r["clients"] == clients]
def ours(gc, workers):
    return [r["achieved_per_s"] for r in rows if r.get("group_commit") == gc and r.get("workers") == workers]
loads = [r["load1"] for r in rows]
print(f"load average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f}\n")
print("| senders | group commit | ours sends/s | pgbench one-statement tx/s | ratio | pgbench batch8 sends/s at N/8 clients | ratio | at N clients | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for n in (16, 32, 64):
    m, b_same, b_ceil = pg("send_minimal", n), pg("send_batch8", n // 8, 8), pg("send_batch8", n, 8)
    for gc in ("on", "off"):
        o = ours(gc, n)
        print(f"| {n} | {gc} | {med(o):,.0f} ({rng(o)}) | {med(m):,.0f} ({rng(m)}) | {med(o)/med(m):.2f} | "
              f"{med(b_same):,.0f} ({rng(b_same)}) | {med(o)/med(b_same):.2f} | {med(b_ceil):,.0f} ({rng(b_ceil)}) | {med(o)/med(b_ceil):.2f} |")
print()
print("| group commit | rate | achieved/s | send p99 ms | send-to-receive p99 ms (each round) | gates passed |")
print("|---|---|---|---|---|---|")
for gc in ("on", "off"):
    s = [r for r in rows if r.get("group_commit") == gc and r.get("rate")]
    if not s: continue
    p99 = [r["send_to_receive"]["p99_ms"] for r in s if r.get("send_to_receive", {}).get("p99_ms") is not None]
    lat = [r["send_latency"]["p99_ms"] for r in s if r.get("send_latency", {}).get("p99_ms") is not None]
    gates = sum(1 for r in s if r.get("gate_ok"))
    print(f"| {gc} | 500/s | {med([r['achieved_per_s'] for r in s]):,.1f} | {med(lat):.2f} | "
          f"{med(p99):.2f} ({', '.join(f'{x:.1f}' for x in p99)}) | {gates}/{len(s)} |")
gates = [r for r in rows if r.get("contender") == "ours"]
print(f"\nevery measurement of ours passed its gates: {all(r.get('gate_ok') for r in gates)} ({len(gates)} measurements)")
EOF
bench_log "done: $OUT"
