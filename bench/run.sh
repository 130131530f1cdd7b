#!/usr/bin/env bash
# The benchmark: a throwaway PostgreSQL, the deterministic seed, calibration (the
# limits: pg_test_fsync, pgbench of the server's own SQL, the bare relay), then ours and
# the Socket.IO peer interleaved A B A B A B; kills everything it started (by pid) and
# writes bench/results/<date>.jsonl and docs/performance.md.
#
#   bench/run.sh                    # full run (about 25 minutes)
#   BENCH_SECONDS=5 BENCH_ROUNDS=1 bench/run.sh   # quick look
#
# Knobs: BENCH_SECONDS (per measurement, default 20), BENCH_ROUNDS (A/B rounds, 3),
# BENCH_IDLE_SOCKETS (S1, default 10000), BENCH_RESEED=1 (drop and seed again).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

SECS=${BENCH_SECONDS:-20}
ROUNDS=${BENCH_ROUNDS:-3}
IDLE=${BENCH_IDLE_SOCKETS:-10000}
OUT=bench/results/$(date +%F).jsonl
PGDATA_DIR=/tmp/chat-bench-pg
mkdir -p bench/results
export CHAT_JWT_SECRET="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

bench_log "building (release)"
cargo build --release -q -p chat-server -p chat-bench
SERVER=target/release/chat-server
BENCH=target/release/chat-bench
if [[ ! -d bench/peers/socketio/node_modules ]]; then
    (cd bench/peers/socketio && npm ci --no-audit --no-fund --loglevel=error)
fi

bench_start_postgres "$PGDATA_DIR" bench durable
DB=$DATABASE_URL
rows=$(psql -X -qAt "$BENCH_PG_ADMIN_URL" -c "select 1 from pg_database where datname = 'bench'")
if [[ ${BENCH_RESEED:-0} == 1 && $rows == 1 ]]; then
    psql -X -q "$BENCH_PG_ADMIN_URL" -c "drop database bench"
    rows=""
fi
if [[ $rows != 1 ]] || [[ $(psql -X -qAt "$DB" -c "select count(*) from dm_messages where id <= 2000000" 2>/dev/null || echo 0) != 2000000 ]]; then
    bench_log "seeding (about 2 minutes)"
    "$SERVER" migrate --database-url "$DB" >/dev/null 2>&1
    psql -X -q -v ON_ERROR_STOP=1 "$DB" -f bench/seed/seed.sql >/dev/null
fi
"$SERVER" migrate --database-url "$DB" >/dev/null 2>&1

emit() { # emit ROUND CONTENDER < json lines -> results file (tagged)
    local round=$1 who=$2 line
    while IFS= read -r line; do
        [[ $line == \{* ]] || continue
        printf '{"round":%s,"contender":"%s",%s\n' "$round" "$who" "${line#\{}" | tee -a "$OUT"
    done
}
: >"$OUT"

# ---- calibration: the limits -------------------------------------------------------
bench_log "pg_test_fsync (commit floor)"
fsync_ops=$(cd "$PGDATA_DIR/.." && /usr/lib/postgresql/15/bin/pg_test_fsync -s 2 -f "$PGDATA_DIR.fsync-test" 2>/dev/null |
    awk '/fdatasync/ && /ops\/sec/ {print $(NF-3); exit}' || true)
rm -f "$PGDATA_DIR.fsync-test"
if [[ -n $fsync_ops ]]; then
    printf '{"round":0,"contender":"limit","scenario":"commit_floor","fdatasync_ops_per_s":%s,"floor_ms":%s}\n' \
        "$fsync_ops" "$(awk -v o="$fsync_ops" 'BEGIN{printf "%.3f", 1000/o}')" | tee -a "$OUT"
fi

pgb() { # pgb NAME CLIENTS SCRIPT... -> one JSON line with tps and latency percentiles
    local name=$1 clients=$2 dir
    shift 2
    dir=$(mktemp -d)
    (cd "$dir" && pgbench -n -M extended -c "$clients" -j 2 -T "$SECS" -D nconv=1000 -l "$@" "$DB") >"$dir/out" 2>&1 || {
        cat "$dir/out" >&2
        rm -rf "$dir"
        return 0
    }
    local tps p50 p99 p999
    tps=$(awk '/^tps = / {print $3; exit}' "$dir/out")
    read -r p50 p99 p999 < <(cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n |
        awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000, a[int(NR*0.999)]/1000}')
    rm -rf "$dir"
    printf '{"scenario":"pgbench_%s","clients":%s,"tps":%s,"p50_ms":%s,"p99_ms":%s,"p999_ms":%s}\n' \
        "$name" "$clients" "$tps" "$p50" "$p99" "$p999"
}
P=$PWD/bench/pgbench
for c in 16 32 64; do pgb send "$c" -f "$P/send.sql" | emit 0 limit; done
pgb s3 16 -f "$P/page_newest.sql@1" -f "$P/page_deep.sql@1" | emit 0 limit
pgb s4 16 -f "$P/list.sql" | emit 0 limit
pgb s5 16 -f "$P/queue.sql" | emit 0 limit

# ---- the contenders ----------------------------------------------------------------
RELAY_PORT=$(bench_free_port 19100)
bench_spawn "$BENCH" relay --bind "127.0.0.1:$RELAY_PORT" 2>/dev/null
RELAY_PID=$LAST_PID
OURS_PORT=$(bench_free_port 19200)
DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$OURS_PORT" CHAT_DB_POOL_SIZE=32 CHAT_RATE_LIMITS=off RUST_LOG=warn \
    bench_spawn "$SERVER" serve 2>>bench/results/ours.log
OURS_PID=$LAST_PID
PEER_PORT=$(bench_free_port 19300)
DATABASE_URL=$DB PEER_BIND="127.0.0.1:$PEER_PORT" PEER_DB_POOL_SIZE=32 \
    bench_spawn node bench/peers/socketio/server.js 2>>bench/results/peer.log
PEER_PID=$LAST_PID
sleep 2
for _ in $(seq 50); do curl -fs "127.0.0.1:$OURS_PORT/readyz" >/dev/null && break; sleep 0.2; done

ours() { "$BENCH" "$1" --kind ours --addr "127.0.0.1:$OURS_PORT" --server-pid "$OURS_PID" "${@:2}"; }
peer() { "$BENCH" "$1" --kind peer --addr "127.0.0.1:$PEER_PORT" --server-pid "$PEER_PID" "${@:2}"; }
relay() { "$BENCH" "$1" --kind relay --addr "127.0.0.1:$RELAY_PORT" --server-pid "$RELAY_PID" "${@:2}"; }

for round in $(seq "$ROUNDS"); do
    bench_log "round $round/$ROUNDS: relay"
    relay idle --sockets "$IDLE" --hold 5 | emit "$round" relay || true
    for admins in 8; do
        relay send --rate 1000 --duration "$SECS" --admins "$admins" | emit "$round" relay || true
    done

    bench_log "round $round/$ROUNDS: A = ours"
    ours idle --sockets "$IDLE" --hold 5 | emit "$round" ours || true
    for w in 16 32 64; do
        ours send --workers "$w" --duration "$SECS" --support 1000 --dms 0 --no-ws | emit "$round" ours || true
    done
    # Below saturation (the latency targets) and at it.
    for rate in 250 500 1000; do
        ours send --rate "$rate" --duration "$SECS" --admins 8 --check-history | emit "$round" ours || true
    done
    for r in s3 s4 s5; do
        ours read --read "$r" --workers 16 --duration "$SECS" | emit "$round" ours || true
    done
    # S4/S5 latency while S2 sends at 1,000/s.
    ours send --rate 1000 --duration $((SECS + 4)) --no-ws >/dev/null 2>&1 &
    bg=$!
    sleep 2
    for r in s4 s5; do
        ours read --read "$r" --rate 200 --duration "$SECS" | sed 's/"scenario":"\(s[45]\)_read"/"scenario":"\1_read_under_s2"/' | emit "$round" ours || true
    done
    wait "$bg" || true
    ours notices --sockets "$((IDLE < 10000 ? IDLE : 10000))" | emit "$round" ours || true
    ours storm --clients 10000 --window 10 | emit "$round" ours || true

    bench_log "round $round/$ROUNDS: B = peer"
    peer idle --sockets "$IDLE" --hold 5 | emit "$round" peer || true
    for w in 16 32 64; do
        peer send --workers "$w" --duration "$SECS" --support 1000 --dms 0 --admins 0 | emit "$round" peer || true
    done
    for rate in 250 500 1000; do
        peer send --rate "$rate" --duration "$SECS" --admins 8 | emit "$round" peer || true
    done
done

bench_log "writing docs/performance.md"
python3 bench/report.py "$OUT" docs/performance.md
bench_log "done: $OUT, docs/performance.md"
