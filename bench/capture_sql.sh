#!/usr/bin/env bash
# Captures the SQL the server runs for the benchmark's requests and writes the pgbench
# scripts of bench/pgbench (README.md there): the bench seed's cluster with
# `log_statement = 'all'` on its database, the release server with group commit off (a
# send alone, as `send.sql` measures it), one request of each kind, then
# bench/pgbench/capture.py over each request's slice of PostgreSQL's log.
#
#   bench/capture_sql.sh        # then review `git diff bench/pgbench`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh
trap 'psql -X -q "${DB:-}" -c "ALTER DATABASE bench RESET log_statement" >/dev/null 2>&1 || true; bench_cleanup' EXIT
trap 'exit 130' INT TERM

PGDATA_DIR=${BENCH_PGDATA:-/tmp/chat-bench-pg}
export CHAT_JWT_SECRET="capture-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
bench_build
bench_seeded_postgres "$PGDATA_DIR"
DB=$DATABASE_URL
LOG=$PGDATA_DIR/server.log
psql -X -q "$DB" -c "ALTER DATABASE bench SET log_statement = 'all'"

PORT=$(bench_free_port 19400)
DATABASE_URL=$DB CHAT_BIND="127.0.0.1:$PORT" CHAT_RATE_LIMITS=off CHAT_GROUP_COMMIT=off RUST_LOG=warn \
    bench_spawn "$SERVER" serve
for _ in $(seq 100); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
token() { "$SERVER" token --user-id "$@" 2>/dev/null | tail -1; }
big_dm_user=$(token 11) hub_user=$(token 200000) admin=$(token 1 --admin) support_user=$(token 1001)

OUT=$(mktemp -d)
request() { # request NAME TOKEN PATH [JSON]: one request, its slice of the log in $OUT/NAME.log
    local name=$1 bearer=$2 path=$3 body=${4:-} from
    from=$(wc -l <"$LOG")
    if [[ -n $body ]]; then
        curl -fsS -o /dev/null -H "Authorization: Bearer $bearer" -H 'content-type: application/json' -d "$body" "127.0.0.1:$PORT$path"
    else
        curl -fsS -o /dev/null -H "Authorization: Bearer $bearer" "127.0.0.1:$PORT$path"
    fi
    tail -n +"$((from + 1))" "$LOG" >"$OUT/$name.log"
}
request newest "$big_dm_user" "/api/user/chat/direct-messages/101001/messages?limit=50"
request deep "$big_dm_user" "/api/user/chat/direct-messages/101001/messages?limit=50&before=1001"
request list "$hub_user" "/api/user/chat/direct-messages?limit=50"
request queue "$admin" "/api/admin/chat/support?status=open&limit=50"
request send "$support_user" /api/user/chat/support/messages '{"content":"capture"}'
python3 bench/pgbench/capture.py "$OUT" bench/pgbench
rm -rf "$OUT"
bench_log "captured into bench/pgbench; review with git diff bench/pgbench"
