#!/usr/bin/env bash
# Where the CPU goes during a load (issue 14's misses): `perf record -a` of the whole
# machine while the load runs against the server (group commit on), then the CPU share
# of each process kind (PostgreSQL backends, the server, the load generator, the rest),
# the server's CPU by library and PostgreSQL's hottest symbols.
#
#   bench/profile_send.sh                        # 64 closed-loop senders, 10 s
#   BENCH_WORKERS=16 bench/profile_send.sh
#   BENCH_LOAD=reads bench/profile_send.sh       # S3, S4, S5 at 200/s each beside 1,000 sends/s
#   BENCH_LOAD=s2 BENCH_RATE=1000 bench/profile_send.sh       # S2: open-loop sends, 8 admins online
#   BENCH_LOAD=typing BENCH_RATE=4000 bench/profile_send.sh   # typing between 2,000 pairs
#   BENCH_LOAD=notices BENCH_SECONDS=14 bench/profile_send.sh # notices to 10,000 online users
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

SECS=${BENCH_SECONDS:-10}
WORKERS=${BENCH_WORKERS:-64}
LOAD=${BENCH_LOAD:-send}
RATE=${BENCH_RATE:-4000}
PGDATA_DIR=${BENCH_PGDATA:-/tmp/chat-bench-pg}
OUT=${BENCH_PROFILE_OUT:-/tmp/chat-$LOAD-profile}
mkdir -p "$OUT"
export CHAT_JWT_SECRET="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

bench_build
bench_seeded_postgres "$PGDATA_DIR"
DB=$DATABASE_URL

PORT=$(bench_free_port 19300)
METRICS_PORT=$(bench_free_port $((PORT + 1)))
DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$PORT" CHAT_METRICS_BIND="127.0.0.1:$METRICS_PORT" CHAT_DB_POOL_SIZE=32 CHAT_RATE_LIMITS=off RUST_LOG=${RUST_LOG:-warn} \
    CHAT_GROUP_COMMIT=on bench_spawn "$SERVER" serve 2>>"$OUT/server.log"
pid=$LAST_PID
for _ in $(seq 100); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
bench_settle "$DB"
args=(--kind ours --addr "127.0.0.1:$PORT" --server-pid "$pid")
loads=()
case $LOAD in
send)
    "$BENCH" send "${args[@]}" --workers "$WORKERS" --duration "$SECS" --support 1000 --dms 0 --no-ws \
        >"$OUT/load.jsonl" &
    loads+=("$!")
    ;;
reads)
    "$BENCH" send "${args[@]}" --rate 1000 --duration "$SECS" --no-ws >"$OUT/load.jsonl" &
    loads+=("$!")
    # Each load its own file: a second writer of one file would overwrite the first's lines.
    for r in s3 s4 s5; do
        "$BENCH" read "${args[@]}" --read "$r" --rate 200 --duration "$SECS" >"$OUT/load-$r.jsonl" &
        loads+=("$!")
    done
    ;;
s2)
    # S2: open-loop REST sends at BENCH_RATE with the receivers and 8 admins online.
    "$BENCH" send "${args[@]}" --rate "$RATE" --duration "$SECS" --admins 8 >"$OUT/load.jsonl" &
    loads+=("$!")
    ;;
typing)
    "$BENCH" typing "${args[@]}" --pairs 2000 --rates "$RATE" --duration "$SECS" >"$OUT/load.jsonl" &
    loads+=("$!")
    ;;
notices)
    # 10,000 sockets connect (about 2 s), then notices to all of them one after another.
    "$BENCH" notices "${args[@]}" --sockets 10000 --audiences 10000 --repeat "${BENCH_REPEAT:-40}" >"$OUT/load.jsonl" &
    loads+=("$!")
    ;;
*) bench_log "unknown BENCH_LOAD=$LOAD (send, s2, reads, typing, notices)"; exit 2 ;;
esac
# Skip the first seconds (connections opening), stop before the end.
sleep 3
curl -fs "127.0.0.1:$METRICS_PORT/metrics" >"$OUT/metrics.before" || : >"$OUT/metrics.before"
perf record -a -g -F 499 -o "$OUT/perf.data" -- sleep $((SECS - 4)) 2>"$OUT/perf-record.log"
curl -fs "127.0.0.1:$METRICS_PORT/metrics" >"$OUT/metrics.after" || : >"$OUT/metrics.after"
# perf names threads; remember which process each belongs to.
ls "/proc/$pid/task" >"$OUT/server.tids"
: >"$OUT/bench.tids"
for l in "${loads[@]}"; do ls "/proc/$l/task" >>"$OUT/bench.tids" 2>/dev/null || true; done
wait "${loads[@]}" || true
bench_kill "$pid"

# By process: the server's threads (actix workers, its Tokio runtime, the group-commit
# writers) and the load generator's share thread names, so group by pid.
perf report -i "$OUT/perf.data" --no-children --sort pid --stdio 2>/dev/null |
    grep -E '^ +[0-9]' >"$OUT/by-pid.txt"
python3 - "$OUT/by-pid.txt" "$OUT/server.tids" "$OUT/bench.tids" >"$OUT/by-command.txt" <<'PY'
import re, sys
server, bench = set(open(sys.argv[2]).read().split()), set(open(sys.argv[3]).read().split())
share = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)%\s+(\d+):(\S*)", line)
    if not m:
        continue
    pct, pid, comm = float(m.group(1)), m.group(2), m.group(3)
    kind = ("chat-server" if pid in server else "chat-bench (load generator)" if pid in bench
            else "postgres" if comm.startswith("postgres") else "other")
    share[kind] = share.get(kind, 0) + pct
for kind, pct in sorted(share.items(), key=lambda kv: -kv[1]):
    print(f"{pct:6.2f}%  {kind}")
PY
perf report -i "$OUT/perf.data" --no-children --tid "$(paste -sd, "$OUT/server.tids")" --sort dso --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -15 >"$OUT/server-by-dso.txt" || true
perf report -i "$OUT/perf.data" --no-children --comm postgres --sort sym --stdio 2>/dev/null |
    grep -E '^ +[0-9]' | head -15 >"$OUT/postgres-by-symbol.txt" || true
for f in "$OUT"/load*.jsonl; do
    python3 - "$f" <<'PY' >&2
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        r = json.loads(line)
        lat = r.get("send_latency") or r.get("latency") or {}
        print(f"load: {r['scenario']} {r.get('achieved_per_s', 0):,.1f}/s, refused {r.get('refused')}, shed {r.get('shed')}, "
              f"p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms, p99.9 {lat.get('p999_ms')} ms")
PY
done
bench_log "CPU by process kind:"
cat "$OUT/by-command.txt" >&2
bench_log "the server's CPU by library:"
cat "$OUT/server-by-dso.txt" >&2
bench_log "PostgreSQL's CPU by symbol:"
cat "$OUT/postgres-by-symbol.txt" >&2

# Where a send's time goes (its stages, docs/operations.md "Logs"), over the profiled
# seconds: each stage's mean from the histograms' sums and counts.
python3 - "$OUT/metrics.before" "$OUT/metrics.after" >"$OUT/send-stages.txt" <<'PY'
import re, sys
def read(path):
    got = {}
    for line in open(path):
        m = re.match(r'chat_send_stage_seconds_(sum|count)\{stage="(\w+)"\} (\S+)', line)
        if m:
            got[(m.group(2), m.group(1))] = float(m.group(3))
    return got
before, after = read(sys.argv[1]), read(sys.argv[2])
order = ["parse", "handoff", "queue", "statement", "commit", "wake", "announce"]
seen = {s for s, _ in after}
stages = [s for s in order if s in seen] + sorted(seen - set(order))
total = 0.0
for stage in stages:
    n = after.get((stage, "count"), 0) - before.get((stage, "count"), 0)
    took = after.get((stage, "sum"), 0) - before.get((stage, "sum"), 0)
    if n:
        total += took / n
        print(f"{stage:>10}  {took / n * 1000:8.3f} ms mean over {n:.0f} sends")
if stages:
    print(f"{'total':>10}  {total * 1000:8.3f} ms")
PY
if [[ -s $OUT/send-stages.txt ]]; then
    bench_log "a send's stages (means over the profiled seconds):"
    cat "$OUT/send-stages.txt" >&2
fi
