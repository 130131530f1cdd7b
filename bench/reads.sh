#!/usr/bin/env bash
# S3/S4/S5 alone: pgbench of the server's own read SQL at 16 clients, then our server at
# 16 closed-loop workers, one run on the seeded benchmark cluster (bench/run.sh seeds it).
#
#   bench/reads.sh               # the ratios
#   PROFILE=1 bench/reads.sh     # also `perf record -g` of the server during S3
#                                # (perf report -i /tmp/chat-bench-perf-s3.data)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
export CHAT_JWT_SECRET="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
bench_build
bench_start_postgres /tmp/chat-bench-pg bench durable
DB=$DATABASE_URL
P=$PWD/bench/pgbench
# As bench/run.sh: pages prepared, as the server runs them; the list and the queue planned
# per request (bench/pgbench/README.md).
declare -A scripts=([s3]="-M prepared -f $P/page_newest.sql@1 -f $P/page_deep.sql@1"
    [s4]="-M extended -f $P/list.sql" [s5]="-M extended -f $P/queue.sql")
for r in s3 s4 s5; do
    # shellcheck disable=SC2086 # the script list is meant to split
    tps=$(cd /tmp && pgbench -n -c 16 -j 2 -T 8 -D nconv=1000 ${scripts[$r]} "$DB" 2>/dev/null |
        awk '/^tps = / {print $3; exit}')
    bench_log "pgbench $r, 16 clients: $tps tx/s"
done
PORT=$(bench_free_port 19200)
DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$PORT" CHAT_DB_POOL_SIZE=32 CHAT_RATE_LIMITS=off RUST_LOG=warn \
    bench_spawn "$SERVER" serve 2>>bench/results/ours.log
PID=$LAST_PID
for _ in $(seq 50); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
for r in s3 s4 s5; do
    if [[ ${PROFILE:-0} == 1 && $r == s3 ]]; then
        perf record -F 499 -g -p "$PID" -o /tmp/chat-bench-perf-s3.data -- sleep 9 >/dev/null 2>&1 &
        bench_spawn_pid=$!
    fi
    "$BENCH" read --kind ours --addr "127.0.0.1:$PORT" --server-pid "$PID" \
        --read "$r" --workers 16 --duration 8
    if [[ ${PROFILE:-0} == 1 && $r == s3 ]]; then wait "$bench_spawn_pid" || true; fi
done
