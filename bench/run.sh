#!/usr/bin/env bash
# The benchmark: a throwaway PostgreSQL, the deterministic seed, calibration (the
# limits: pg_test_fsync, pgbench of the server's own SQL and of the floor scripts, the
# bare relay), then ours and the Socket.IO peer interleaved A B A B A B; kills everything
# it started (by pid) and writes bench/results/<date>.jsonl and docs/performance.md.
#
#   bench/run.sh                    # full run (about 45 minutes)
#   BENCH_SECONDS=5 BENCH_ROUNDS=1 bench/run.sh   # quick look
#
# Knobs: BENCH_SECONDS (per measurement, default 20), BENCH_ROUNDS (A/B rounds, 3),
# BENCH_IDLE_SOCKETS (S1, S6 and S7 sockets, default 10000), BENCH_TYPING_PAIRS (2000),
# BENCH_TYPING_RATES (typing events/s, one step each, 1000,2000,4000,8000,16000),
# BENCH_TYPING_SECONDS (per step, 10), BENCH_RESEED=1 (drop and seed again),
# BENCH_PROFILE=debug (debug binaries: a trial of the harness, not a measurement),
# BENCH_PGDATA (the cluster's directory, /tmp/chat-bench-pg), BENCH_RESULTS and
# BENCH_DOC (where the results and the page go; a trial writes elsewhere),
# BENCH_SLOW_SEND_MS (ours logs each send this slow with its stages, 20).
#
# Each contender is started afresh at the start of its part of every round, so that S1
# (RSS per idle socket) measures a process that no earlier scenario has grown. Ours logs
# (JSON) to RESULTS with .ours.log for .jsonl; the page looks the slowest sends up there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

SECS=${BENCH_SECONDS:-20}
ROUNDS=${BENCH_ROUNDS:-3}
IDLE=${BENCH_IDLE_SOCKETS:-10000}
PAIRS=${BENCH_TYPING_PAIRS:-2000}
TYPING_RATES=${BENCH_TYPING_RATES:-1000,2000,4000,8000,16000}
TYPING_SECS=${BENCH_TYPING_SECONDS:-10}
OUT=${BENCH_RESULTS:-bench/results/$(date +%F).jsonl}
DOC=${BENCH_DOC:-docs/performance.md}
SLOW_SEND_MS=${BENCH_SLOW_SEND_MS:-20}
OURS_LOG=${OUT%.jsonl}.ours.log
PGDATA_DIR=${BENCH_PGDATA:-/tmp/chat-bench-pg}
mkdir -p bench/results "$(dirname "$OUT")"
TMP=$(mktemp -d)
export CHAT_JWT_SECRET="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

bench_log "building (${BENCH_PROFILE:-release})"
bench_build
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

tag() { sed "s/^{/{$1,/"; } # tag FIELDS < json lines -> the same lines with FIELDS first
emit() { # emit ROUND CONTENDER < json lines -> results file (tagged)
    local round=$1 who=$2 line
    while IFS= read -r line; do
        [[ $line == \{* ]] || continue
        printf '{"round":%s,"contender":"%s",%s\n' "$round" "$who" "${line#\{}" | tee -a "$OUT"
    done
}
: >"$OUT"
: >"$OURS_LOG"
printf '{"round":0,"contender":"ours","scenario":"server_settings","slow_send_ms":%s}\n' "$SLOW_SEND_MS" | tee -a "$OUT"

# ---- calibration: the limits -------------------------------------------------------
bench_log "pg_test_fsync (commit floor)"
fsync_ops=$(cd "$PGDATA_DIR/.." && /usr/lib/postgresql/15/bin/pg_test_fsync -s 2 -f "$PGDATA_DIR.fsync-test" 2>/dev/null |
    awk '/fdatasync/ && /ops\/sec/ {print $(NF-3); exit}' || true)
rm -f "$PGDATA_DIR.fsync-test"
if [[ -n $fsync_ops ]]; then
    printf '{"round":0,"contender":"limit","scenario":"commit_floor","fdatasync_ops_per_s":%s,"floor_ms":%s}\n' \
        "$fsync_ops" "$(awk -v o="$fsync_ops" 'BEGIN{printf "%.3f", 1000/o}')" | tee -a "$OUT"
fi

# pgb NAME CLIENTS PGBENCH-ARGS... -> one JSON line with tps and latency percentiles. With
# -R (a fixed rate) pgbench logs each latency from the transaction's scheduled start, so
# they are open-loop latencies like chat-bench's.
pgb() {
    local name=$1 clients=$2 dir
    shift 2
    dir=$(mktemp -d)
    (cd "$dir" && pgbench -n -c "$clients" -j 2 -T "$SECS" -D nconv=1000 -l "$@" "$DB") >"$dir/out" 2>&1 || {
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
# S0: the server's own send SQL (a lone send: its one prepared statement in a
# transaction), and the floor: the same effect in one prepared statement, and 8
# sends per statement and commit (group commit; sends/s = tps x 8) with as many sends in
# flight (c/8 clients) and with c clients (the ceiling).
for c in 16 32 64; do
    pgb send "$c" -M prepared -f "$P/send.sql" | emit 0 limit
    pgb send_minimal "$c" -M prepared -f "$P/send_minimal.sql" | emit 0 limit
    for b in $((c / 8)) "$c"; do
        pgb send_batch8 "$b" -M prepared -f "$P/send_batch8.sql" | tag '"sends_per_tx":8' | emit 0 limit
    done
done
# The latency floor of S2: the one-statement send at the same open-loop rates, on as
# many connections as the server's pool.
for rate in 250 500 1000; do
    pgb send_minimal_rated 32 -M prepared -R "$rate" -f "$P/send_minimal.sql" | tag "\"rate\":$rate" | emit 0 limit
done
pgb s3 16 -M prepared -f "$P/page_newest.sql@1" -f "$P/page_deep.sql@1" | emit 0 limit
pgb s4 16 -M extended -f "$P/list.sql" | emit 0 limit
pgb s5 16 -M extended -f "$P/queue.sql" | emit 0 limit
# The reads' floor: the one statement that returns the same rows, prepared, autocommit.
pgb s3_minimal 16 -M prepared -f "$P/page_newest_minimal.sql@1" -f "$P/page_deep_minimal.sql@1" | emit 0 limit
pgb s4_minimal 16 -M prepared -f "$P/list_minimal.sql" | emit 0 limit
pgb s5_minimal 16 -M prepared -f "$P/queue_minimal.sql" | emit 0 limit

# ---- the contenders ----------------------------------------------------------------
# start_X stops X's previous process, if any, and starts a new one on a free port.
RELAY_PID="" OURS_PID="" PEER_PID=""
start_relay() {
    [[ -z $RELAY_PID ]] || bench_stop "$RELAY_PID"
    RELAY_PORT=$(bench_free_port 19100)
    bench_spawn "$BENCH" relay --bind "127.0.0.1:$RELAY_PORT" 2>/dev/null
    RELAY_PID=$LAST_PID
    bench_wait_listening "$RELAY_PORT"
}
start_ours() {
    [[ -z $OURS_PID ]] || bench_stop "$OURS_PID"
    OURS_PORT=$(bench_free_port 19200)
    DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$OURS_PORT" CHAT_DB_POOL_SIZE=32 CHAT_RATE_LIMITS=off \
        CHAT_SLOW_SEND_MS=$SLOW_SEND_MS CHAT_LOG_FORMAT=json RUST_LOG=warn,chat::slow_send=info \
        bench_spawn "$SERVER" serve 2>>"$OURS_LOG"
    OURS_PID=$LAST_PID
    for _ in $(seq 100); do curl -fs "127.0.0.1:$OURS_PORT/readyz" >/dev/null && break; sleep 0.2; done
}
start_peer() {
    [[ -z $PEER_PID ]] || bench_stop "$PEER_PID"
    PEER_PORT=$(bench_free_port 19300)
    DATABASE_URL=$DB PEER_BIND="127.0.0.1:$PEER_PORT" PEER_DB_POOL_SIZE=32 \
        bench_spawn node bench/peers/socketio/server.js 2>>bench/results/peer.log
    PEER_PID=$LAST_PID
    bench_wait_listening "$PEER_PORT"
}

ours() { "$BENCH" "$1" --kind ours --addr "127.0.0.1:$OURS_PORT" --server-pid "$OURS_PID" "${@:2}"; }
peer() { "$BENCH" "$1" --kind peer --addr "127.0.0.1:$PEER_PORT" --server-pid "$PEER_PID" "${@:2}"; }
relay() { "$BENCH" "$1" --kind relay --addr "127.0.0.1:$RELAY_PORT" --server-pid "$RELAY_PID" "${@:2}"; }

# Fan-out where the database does not decide, the same for every contender: a notice to
# 1, 1,000 and all IDLE online users (three of each), and the typing relay's steps.
FAN=$((IDLE < 10000 ? IDLE : 10000))
fanout() { # fanout CONTENDER ROUND
    bench_settle "$DB"
    "$1" notices --sockets "$FAN" --audiences "1,1000,$FAN" --repeat 3 | emit "$2" "$1" || true
    "$1" typing --pairs "$PAIRS" --rates "$TYPING_RATES" --duration "$TYPING_SECS" | emit "$2" "$1" || true
}

for round in $(seq "$ROUNDS"); do
    bench_log "round $round/$ROUNDS: relay"
    bench_settle "$DB"
    start_relay
    relay idle --sockets "$IDLE" --hold 5 | emit "$round" relay || true
    for admins in 8; do
        relay send --rate 1000 --duration "$SECS" --admins "$admins" | emit "$round" relay || true
    done
    fanout relay "$round"

    bench_log "round $round/$ROUNDS: A = ours"
    bench_settle "$DB"
    start_ours
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
    # Reads under write load: S3, S4 and S5 at 200/s each at once (open loop) while S2
    # sends 1,000/s; the sends' own row says whether they kept their rate.
    ours send --rate 1000 --duration $((SECS + 4)) --no-ws >"$TMP/s2" 2>/dev/null &
    bg=$!
    sleep 2
    readers=()
    for r in s3 s4 s5; do
        ours read --read "$r" --rate 200 --duration "$SECS" >"$TMP/$r" 2>/dev/null &
        readers+=("$!")
    done
    wait "${readers[@]}" "$bg" || true
    for r in s3 s4 s5; do
        sed 's/"scenario":"\(s[345]\)_read"/"scenario":"\1_read_under_s2"/' "$TMP/$r" | emit "$round" ours
    done
    sed 's/"scenario":"s2_send"/"scenario":"s2_beside_reads"/' "$TMP/s2" | emit "$round" ours
    fanout ours "$round"
    bench_settle "$DB"
    ours storm --clients "$FAN" --window 10 | emit "$round" ours || true
    # The same sends with each committing alone (CHAT_GROUP_COMMIT=off): what group
    # commit buys, at saturation and at S2's rates, in this round.
    bench_settle "$DB"
    CHAT_GROUP_COMMIT=off start_ours
    for w in 16 32 64; do
        ours send --workers "$w" --duration "$SECS" --support 1000 --dms 0 --no-ws |
            sed 's/"scenario":"s2b_saturation"/"scenario":"s2b_saturation_alone"/' | emit "$round" ours || true
    done
    for rate in 250 500 1000; do
        ours send --rate "$rate" --duration "$SECS" --admins 8 --check-history |
            sed 's/"scenario":"s2_send"/"scenario":"s2_send_alone"/' | emit "$round" ours || true
    done

    bench_log "round $round/$ROUNDS: B = peer"
    bench_settle "$DB"
    start_peer
    peer idle --sockets "$IDLE" --hold 5 | emit "$round" peer || true
    for w in 16 32 64; do
        peer send --workers "$w" --duration "$SECS" --support 1000 --dms 0 --admins 0 | emit "$round" peer || true
    done
    for rate in 250 500 1000; do
        peer send --rate "$rate" --duration "$SECS" --admins 8 | emit "$round" peer || true
    done
    fanout peer "$round"
done
rm -rf "$TMP"

bench_log "writing $DOC"
[[ -f $DOC ]] || cp docs/performance.md "$DOC" # a trial's page starts as a copy of ours
python3 bench/report.py "$OUT" "$DOC" "$OURS_LOG"
bench_log "done: $OUT, $DOC"
