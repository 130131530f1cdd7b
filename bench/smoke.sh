#!/usr/bin/env bash
# CI smoke of the benchmark harness: S1 at 500 sockets, S2 at 100 sends/s for 5 s, S6
# (a notice to 1 and 300 online users) and the typing relay (20 pairs, 50 events/s for
# 2 s), with the correctness gates (every accepted message stored once, delivered once to
# each online recipient, per-conversation order kept; every notice and typing event
# reaches its whole audience once and nobody else). Self-contained: its own PostgreSQL
# cluster (fsync off: correctness, not speed), its own database and server on free
# ports; kills everything it started by pid. Exit status non-zero when a gate fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

export CHAT_JWT_SECRET="smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# CI uses the debug binaries the test run already built (BENCH_PROFILE=debug): the
# smoke checks correctness, not speed. By hand it defaults to a release build.
bench_build

bench_start_postgres "${BENCH_SMOKE_PGDATA:-/tmp/chat-bench-smoke-pg}" postgres fast
DB=$(chat_pg_url_with_db "$DATABASE_URL" "smoke_$$")
psql -X -q "$BENCH_PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS smoke_$$" >/dev/null
"$SERVER" migrate --database-url "$DB" >/dev/null 2>&1
# The seed with 20,000 messages instead of 2,000,000 (same users and conversations).
sed -e 's/generate_series(1, 2000000) g/generate_series(1, 20000) g/' bench/seed/seed.sql |
    psql -X -q -v ON_ERROR_STOP=1 "$DB" >/dev/null

PORT=$(bench_free_port 19500)
DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$PORT" RUST_LOG=warn bench_spawn "$SERVER" serve 2>/tmp/chat-bench-smoke-server.log
PID=$LAST_PID
for _ in $(seq 100); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

status=0
common=(--kind ours --addr "127.0.0.1:$PORT" --server-pid "$PID")
"$BENCH" idle "${common[@]}" --sockets 500 --hold 2 || status=1
"$BENCH" send "${common[@]}" --rate 100 --duration 5 --support 50 --dms 50 --admins 2 --check-history || status=1
"$BENCH" notices "${common[@]}" --sockets 300 || status=1
# A bound of 1 s: no typing event may be dropped or go astray on a debug build either.
"$BENCH" typing "${common[@]}" --pairs 20 --rates 50 --duration 2 --p99-ms 1000 || status=1
psql -X -q "$BENCH_PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS smoke_$$ WITH (FORCE)" >/dev/null 2>&1 || true
exit "$status"
