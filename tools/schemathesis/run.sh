#!/usr/bin/env bash
# Contract fuzzing with schemathesis (a client nobody on the team wrote): starts the
# debug `chat-server` on a free port against a fresh database with the demo data,
# then runs every check against the served OpenAPI document for a bounded time:
#   1. the user routes with two peers (alice, bob) that must not see each other's
#      objects (object-level authorization check), and
#   2. the admin routes with an admin token.
# Fails on any server error, schema mismatch or schema-valid request refused.
#
# Needs DATABASE_URL (a server where databases may be created; scripts/test sets it),
# target/debug/chat-server (scripts/test builds it), python3 with venv (installed
# with apt-get when missing and root). ST_MAX_TIME bounds each run (default 45 s).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
max_time=${ST_MAX_TIME:-45}
bin=${CHAT_SERVER_BIN:-$repo/target/debug/chat-server}
venv=$repo/.local/schemathesis-venv

log() { printf 'schemathesis: %s\n' "$*" >&2; }

ensure_venv() {
    if [[ -x $venv/bin/st && $venv/.stamp -nt $here/requirements.txt ]]; then
        return 0
    fi
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv with apt-get"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
        fi
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    touch "$venv/.stamp"
}

[[ -x $bin ]] || { log "$bin not found (cargo build -p chat-server)"; exit 1; }
[[ -n ${DATABASE_URL:-} ]] || { log "DATABASE_URL is not set"; exit 1; }
ensure_venv

work=$(mktemp -d)
db="st_$(date +%s)_$$"
# shellcheck source=scripts/lib/postgres.sh
source "$repo/scripts/lib/postgres.sh"
admin_url=$(chat_pg_url_with_db "$DATABASE_URL" postgres)
_chat_pg_find_psql || true
DATABASE_URL=$(chat_pg_url_with_db "$DATABASE_URL" "$db")
export DATABASE_URL
export CHAT_JWT_SECRET=schemathesis-only-secret-0123456789abcdef
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CHAT_BIND=127.0.0.1:$port
server_pid=""
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [[ -n $CHAT_PSQL ]] && "$CHAT_PSQL" -X -q "$admin_url" -c "drop database if exists \"$db\"" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
"$bin" seed-demo >/dev/null 2>"$work/seed.log" || { cat "$work/seed.log" >&2; exit 1; }
"$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!

base=http://$CHAT_BIND
for _ in $(seq 1 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done

# Demo accounts of `seed-demo`: alice (1) and bob (2) are users, ada (6) an admin.
alice=$("$bin" token --user-id 1)
bob=$("$bin" token --user-id 2)
admin=$("$bin" token --user-id 6 --admin)
cat >"$work/auth.json" <<JSON
{"auth": [
  {"name": "alice", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $alice"}]},
  {"name": "bob", "fixedHeaders": [{"name": "Authorization", "value": "Bearer $bob"}]}
]}
JSON
cp "$here/schemathesis.toml" "$work/admin.toml"
cat "$here/schemathesis.toml" - >"$work/users.toml" <<TOML

[auth.wfc]
path = "$work/auth.json"
peers = ["alice", "bob"]
TOML

status=0
# One worker: hypothesis's lambda-source cache is not thread-safe (a runtime error with 2).
st_run() {
    local config=$1
    shift
    (cd "$work" && "$venv/bin/st" --no-color --config-file "$config" run "$base/api-docs/openapi.json" \
        --checks all --max-time "$max_time" --workers 1 --request-timeout 10 "$@") || status=1
}
# The WebSocket upgrade is not a REST operation (its tests are the socket tests).
log "user routes, peers alice and bob (${max_time}s)"
st_run "$work/users.toml" --exclude-path-regex '^/api/(admin/|chat/ws$)'
log "admin routes (${max_time}s)"
st_run "$work/admin.toml" --include-path-regex '^/api/admin/' -H "Authorization: Bearer $admin"

exit $status
