# shellcheck shell=bash
# Helpers shared by bench/run.sh and bench/smoke.sh: a throwaway PostgreSQL tuned for the
# benchmark (reusing scripts/lib/postgres.sh), free ports, and pid-tracked processes that
# are killed on exit (by pid, never by name).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_DIR/.." && pwd)
BENCH_PIDS=()

bench_log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }

# Builds chat-server and chat-bench and sets SERVER and BENCH to them: release unless
# BENCH_PROFILE=debug (CI's smoke, and trial runs on a busy machine: correct, not fast).
bench_build() {
    if [[ ${BENCH_PROFILE:-release} == debug ]]; then
        cargo build -q -p chat-server -p chat-bench
        SERVER=target/debug/chat-server
        BENCH=target/debug/chat-bench
    else
        cargo build --release -q -p chat-server -p chat-bench
        SERVER=target/release/chat-server
        BENCH=target/release/chat-bench
    fi
}

# Starts a command in the background and remembers its pid for bench_cleanup.
bench_spawn() {
    "$@" &
    BENCH_PIDS+=("$!")
    LAST_PID=$!
}

bench_kill() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Stops one process started by bench_spawn and forgets it (its pid may be reused later).
bench_stop() {
    local pid=$1 i
    bench_kill "$pid"
    for i in "${!BENCH_PIDS[@]}"; do
        [[ ${BENCH_PIDS[$i]} == "$pid" ]] && unset 'BENCH_PIDS[i]'
    done
    BENCH_PIDS=("${BENCH_PIDS[@]}")
}

# Waits (at most 20 s) until something listens on 127.0.0.1:$1.
bench_wait_listening() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]] && return 0
        sleep 0.2
    done
    bench_log "nothing listens on port $1 after 20 s; going on"
}

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do bench_kill "$pid"; done
    BENCH_PIDS=()
    if declare -F stop_throwaway_postgres >/dev/null; then stop_throwaway_postgres || true; fi
}

# Waits (at most 60 s) until no other session is working in database URL $1: what an
# overloaded scenario left queued in a server must not land in the next scenario.
bench_settle() {
    local i busy
    for ((i = 0; i < 120; i++)); do
        busy=$(psql -X -qAt "$1" -c "select count(*) from pg_stat_activity
            where datname = current_database() and backend_type = 'client backend' and state <> 'idle'
              and pid <> pg_backend_pid()" 2>/dev/null || echo 0)
        [[ $busy == 0 ]] && return 0
        sleep 0.5
    done
    bench_log "the database is still busy after 60 s; going on"
}

# A TCP port nobody listens on (probed, then used at once).
bench_free_port() {
    local port=${1:-18000}
    while ((port < 60000)); do
        # All states, not just listeners: an outgoing connection's local end blocks bind().
        if [[ -z $(ss -Htan "sport = :$port" 2>/dev/null) ]]; then
            printf '%s' "$port"
            return 0
        fi
        port=$((port + 1))
    done
    return 1
}

# Starts (or reuses) the benchmark's own throwaway cluster in $1 and exports DATABASE_URL
# (database $2). Never the shared server on 5432: a benchmark must own its database.
# $3 = fast (fsync off: smoke/CI only) or durable (default: the production setting).
bench_start_postgres() {
    local datadir=$1 db=$2 mode=${3:-durable}
    export CHAT_PGDATA_DIR=$datadir
    export CHAT_PG_PROBE_PORT=1 # nothing listens on port 1: skip step b of ensure_postgres
    unset DATABASE_URL
    if [[ $mode == fast ]]; then export CHAT_PG_FSYNC_OFF=1; else export CHAT_PG_FSYNC_OFF=0; fi
    # shellcheck source=../scripts/lib/postgres.sh
    source "$BENCH_REPO/scripts/lib/postgres.sh"
    ensure_postgres "$db"
    BENCH_PG_ADMIN_URL=$(chat_pg_url_with_db "$DATABASE_URL" postgres)
    # Same settings for every contender: room for three pools and pgbench's 64 clients.
    # The smoke (fast) checks correctness on a small seed: it needs no large cache, and
    # a small machine may not be able to allocate one.
    local want="max_connections=400 shared_buffers=2GB effective_cache_size=8GB wal_buffers=64MB max_wal_size=8GB checkpoint_timeout=30min"
    [[ $mode == fast ]] && want="max_connections=400 shared_buffers=128MB"
    local cur
    cur=$(psql -X -qAt "$BENCH_PG_ADMIN_URL" -c "show max_connections")
    if [[ $cur != 400 ]]; then
        local kv
        for kv in $want; do
            psql -X -q "$BENCH_PG_ADMIN_URL" -c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" >/dev/null
        done
        bench_log "restarting PostgreSQL with benchmark settings ($want)"
        _chat_pg_as_owner "$_CHAT_PG_BINDIR/pg_ctl" -D "$datadir" -l "$datadir/server.log" -m fast -w -t 60 restart >/dev/null 9>&-
    fi
}

# The durable throwaway cluster in $1 with the bench seed (2M messages; seeded once, about
# 2 minutes) migrated to this build; sets DATABASE_URL. For the scripts that measure the
# send path against the floor (send_floor.sh, profile_send.sh).
bench_seeded_postgres() {
    bench_start_postgres "$1" bench durable
    if [[ $(psql -X -qAt "$DATABASE_URL" -c "select count(*) from dm_messages where id <= 2000000" 2>/dev/null || echo 0) != 2000000 ]]; then
        bench_log "seeding (about 2 minutes)"
        "$SERVER" migrate --database-url "$DATABASE_URL" >/dev/null 2>&1
        psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$BENCH_REPO/bench/seed/seed.sql" >/dev/null
    fi
    "$SERVER" migrate --database-url "$DATABASE_URL" >/dev/null 2>&1
}
