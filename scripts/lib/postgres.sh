# shellcheck shell=bash
# Sourced by scripts/run and scripts/test: finds (or starts) a PostgreSQL server
# we can CREATE DATABASE on, and exports DATABASE_URL pointing at it.
#
#   ensure_postgres [dbname]     # dbname defaults to "chat"
#   stop_throwaway_postgres      # stops the throwaway cluster iff this shell started it
#
# Discovery order (first that works wins):
#   a. DATABASE_URL already set           -> kept as is
#   b. login as postgres@127.0.0.1:5432   -> postgres://postgres@127.0.0.1:5432/<dbname>
#   c. throwaway cluster from the system's PostgreSQL binaries (installed via apt if
#      missing and we are root), trust auth, 127.0.0.1 only, on a free port >= 54320,
#      data in ${CHAT_PGDATA_DIR:-<repo>/.local/pg}; reused across invocations.
#
# Knobs (environment):
#   CHAT_PG_PROBE_PORT  port checked in step b (default 5432; tests point it elsewhere)
#   CHAT_PGDATA_DIR     data directory of the throwaway cluster
#   CHAT_PG_START_PORT  first port tried for the throwaway cluster (default 54320)
#   CHAT_PG_FSYNC_OFF   1 = start the throwaway cluster with fsync off (tests only; default 0)
#
# Besides DATABASE_URL it sets CHAT_PG_SOURCE (env|system|throwaway) and CHAT_PSQL
# (path of a psql binary, or empty when none was found).
#
# Safe under `set -euo pipefail`: every command that may fail is tested explicitly.

_CHAT_PG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_CHAT_PG_REPO=$(cd "$_CHAT_PG_LIB_DIR/../.." && pwd)
_CHAT_PG_BINDIR=""          # dir holding initdb/pg_ctl/postgres (step c)
_CHAT_PG_STARTED_DATADIR="" # set only when this shell started the cluster
CHAT_PSQL=""

_chat_pg_log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# URL with the password (if any) masked, for log lines.
_chat_pg_redact() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

# Replace the database (path) component of a postgres URL, keeping any ?query.
chat_pg_url_with_db() {
    local url=$1 db=$2
    if [[ $url =~ ^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(/[^?#]*)?(\?.*)?$ ]]; then
        printf '%s/%s%s' "${BASH_REMATCH[1]}" "$db" "${BASH_REMATCH[3]}"
    else
        printf '%s' "$url"
    fi
}

# Database name of a postgres URL (empty when it has none).
chat_pg_url_db() {
    local url=$1
    if [[ $url =~ ^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*/([^?#]*) ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    fi
}

# Locate psql: PATH first, then next to the server binaries, then any installed version.
_chat_pg_find_psql() {
    CHAT_PSQL=""
    if command -v psql >/dev/null 2>&1; then
        CHAT_PSQL=$(command -v psql)
    elif [[ -n $_CHAT_PG_BINDIR && -x $_CHAT_PG_BINDIR/psql ]]; then
        CHAT_PSQL=$_CHAT_PG_BINDIR/psql
    else
        local d
        while IFS= read -r d; do
            if [[ -x $d/psql ]]; then CHAT_PSQL=$d/psql; break; fi
        done < <(_chat_pg_versioned_bindirs)
    fi
    [[ -n $CHAT_PSQL ]]
}

# /usr/lib/postgresql/*/bin, highest version first.
_chat_pg_versioned_bindirs() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -d $d ]] && printf '%s\n' "$d"
    done | sort -rV
}

# True when a real login (not just pg_isready) works. -X: ignore ~/.psqlrc;
# -w: never prompt for a password (a prompt would hang non-interactive runs).
_chat_pg_login_ok() {
    [[ -n $CHAT_PSQL ]] || return 1
    local out
    out=$(PGCONNECT_TIMEOUT=3 "$CHAT_PSQL" -X -w "$1" -tAc 'select 1' 2>/dev/null) || return 1
    [[ $out == 1 ]]
}

# Step b: the usual server on 127.0.0.1:${CHAT_PG_PROBE_PORT:-5432}.
_chat_pg_try_system() {
    local db=$1 port=${CHAT_PG_PROBE_PORT:-5432}
    _chat_pg_find_psql || return 1
    if _chat_pg_login_ok "postgres://postgres@127.0.0.1:$port/postgres"; then
        export DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db"
        export CHAT_PG_SOURCE=system
        _chat_pg_log "using running PostgreSQL on 127.0.0.1:$port (login as postgres works): $DATABASE_URL"
        return 0
    fi
    return 1
}

# Find initdb + pg_ctl (+ postgres) in one directory: PATH first, else highest
# /usr/lib/postgresql/<ver>/bin. Symlinks are resolved so all three match.
_chat_pg_find_server_bins() {
    _CHAT_PG_BINDIR=""
    local d
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")
        if [[ -x $d/pg_ctl && -x $d/postgres ]]; then _CHAT_PG_BINDIR=$d; return 0; fi
    fi
    while IFS= read -r d; do
        if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
            _CHAT_PG_BINDIR=$d
            return 0
        fi
    done < <(_chat_pg_versioned_bindirs)
    return 1
}

_chat_pg_apt_install() {
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        return 1
    fi
    _chat_pg_log "no PostgreSQL server binaries found; installing postgresql via apt-get"
    # policy-rc.d or a missing init system may stop the package from starting
    # its own cluster; that's fine, we start ours then.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql postgresql-client >&2
}

# Run a command as the cluster owner: postgres refuses to run as root.
# cd / so a cwd the postgres user can't read (e.g. /root) doesn't matter.
_chat_pg_as_owner() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

_chat_pg_ensure_postgres_user() {
    [[ $EUID -eq 0 ]] || return 0
    id -u postgres >/dev/null 2>&1 && return 0
    _chat_pg_log "creating system user 'postgres' to own the throwaway cluster"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
}

# Can the cluster owner reach (search) directory $1? access(2) checks every
# path component, so one test covers all ancestors.
_chat_pg_owner_can_reach() {
    [[ $EUID -eq 0 ]] || return 0
    runuser -u postgres -- test -x "$1" 2>/dev/null
}

# Pick the data directory; as root make sure user postgres can get to it.
# Prints the absolute data dir path.
_chat_pg_pick_datadir() {
    local datadir parent d
    datadir=$(realpath -m "${CHAT_PGDATA_DIR:-$_CHAT_PG_REPO/.local/pg}")
    parent=$(dirname "$datadir")
    mkdir -p "$parent"
    if ! _chat_pg_owner_can_reach "$parent"; then
        # Open traversal (o+x, not listing) only on directories inside the repo.
        d=$parent
        while [[ $d == "$_CHAT_PG_REPO" || $d == "$_CHAT_PG_REPO"/* ]]; do
            chmod o+x "$d" 2>/dev/null || true
            [[ $d == "$_CHAT_PG_REPO" ]] && break
            d=$(dirname "$d")
        done
    fi
    if ! _chat_pg_owner_can_reach "$parent"; then
        # An ancestor outside the repo (e.g. /work or /root) is closed to postgres.
        parent=/tmp/chat-pg-$EUID
        _chat_pg_log "user postgres cannot reach $(dirname "$datadir"); using $parent instead"
        mkdir -p "$parent"
        # /tmp is shared: refuse a directory someone else planted there.
        if [[ ! -O $parent ]]; then
            _chat_pg_log "error: $parent exists but is not owned by us"
            return 1
        fi
        chmod 755 "$parent"
        datadir=$parent/pg
    fi
    printf '%s' "$datadir"
}

_chat_pg_port_free() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        # Any socket on this port clashes with ours: a listener, and also the local end
        # of an outgoing connection (ports >= 32768 are Linux's ephemeral range, so a
        # busy test run's client sockets can hold them; bind() then says EADDRINUSE).
        [[ -z $(ss -Htan "sport = :$port" 2>/dev/null) ]] || return 1
    fi
    # Connect probe too (covers systems without ss); bounded so it can't hang.
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash, on purpose
    if timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null; then
        return 1
    fi
    return 0
}

# Prints the first free port in [$1, $1 + 200].
_chat_pg_free_port() {
    local port=$1 last
    last=$((port + 200))
    while ((port <= last)); do
        if _chat_pg_port_free "$port"; then
            printf '%s' "$port"
            return 0
        fi
        port=$((port + 1))
    done
    _chat_pg_log "error: no free port in $1..$last"
    return 1
}

# Poll until a login works on $1 (port); ~30 s at most.
_chat_pg_wait_login() {
    local port=$1 i
    for ((i = 0; i < 60; i++)); do
        _chat_pg_login_ok "postgres://postgres@127.0.0.1:$port/postgres" && return 0
        if [[ -z $CHAT_PSQL ]]; then
            # No psql at all: accepting connections is the best we can check.
            "$_CHAT_PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && return 0
        else
            "$_CHAT_PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 || true
        fi
        sleep 0.5
    done
    return 1
}

# Is the postmaster recorded in $1/postmaster.pid alive? Prints its port.
_chat_pg_running_port() {
    local datadir=$1 pid port comm state
    [[ -r $datadir/postmaster.pid ]] || return 1
    pid=$(sed -n 1p "$datadir/postmaster.pid" 2>/dev/null) || return 1
    port=$(sed -n 4p "$datadir/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || return 1
    # The PID may have been recycled by an unrelated process after a crash.
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == postgres || $comm == postmaster ]] || return 1
    # A killed postmaster nobody reaped lingers as a zombie (Z): not alive.
    state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    printf '%s' "$port"
}

_chat_pg_start_cluster() {
    local datadir=$1 port=$2 sockdir opts
    # Unix socket paths are limited to ~107 bytes; over that, TCP only.
    if ((${#datadir} + 20 > 100)); then sockdir=""; else sockdir=$datadir; fi
    opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$(printf '%q' "$sockdir")"
    if [[ ${CHAT_PG_FSYNC_OFF:-0} == 1 ]]; then
        # Test clusters only: losing data on an OS crash is fine there, speed matters.
        opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    # 9>&- : don't let the server inherit our lock fd (it would hold the lock forever).
    _chat_pg_as_owner "$_CHAT_PG_BINDIR/pg_ctl" -D "$datadir" -l "$datadir/server.log" \
        -o "$opts" -w -t 30 start >/dev/null 9>&-
}

# Step c. Runs with the lock held.
_chat_pg_throwaway_locked() {
    local db=$1 datadir=$2 port ver tries
    # "pg_ctl (PostgreSQL) 15.14 (Debian ...)" -> "15", the format of PG_VERSION.
    ver=$("$_CHAT_PG_BINDIR/pg_ctl" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')

    # Reuse a cluster left running by an earlier invocation.
    if port=$(_chat_pg_running_port "$datadir"); then
        if _chat_pg_wait_login "$port"; then
            export DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db"
            export CHAT_PG_SOURCE=throwaway
            if [[ ${CHAT_PG_FSYNC_OFF:-0} != 1 && -n $CHAT_PSQL ]] &&
                [[ $("$CHAT_PSQL" -X -w "postgres://postgres@127.0.0.1:$port/postgres" -tAc 'show fsync' 2>/dev/null || true) == off ]]; then
                _chat_pg_log "note: reused cluster runs with fsync=off (started by scripts/test)"
            fi
            _chat_pg_log "reusing throwaway PostgreSQL in $datadir (already running): $DATABASE_URL"
            return 0
        fi
        _chat_pg_log "throwaway cluster in $datadir is running but refuses logins; restarting it"
        _chat_pg_as_owner "$_CHAT_PG_BINDIR/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null 9>&- ||
            _chat_pg_as_owner "$_CHAT_PG_BINDIR/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 9>&- || true
    fi
    # With no live server, postmaster.pid and the socket lock files in the data dir
    # are stale (crash, reboot); postgres would refuse to start if their PID was reused.
    if ! _chat_pg_running_port "$datadir" >/dev/null; then
        rm -f "$datadir/postmaster.pid" "$datadir"/.s.PGSQL.*
    fi

    # Only ever wipe what is recognisably our own throwaway cluster.
    if [[ -f $datadir/PG_VERSION && $(cat "$datadir/PG_VERSION") != "$ver" ]]; then
        if [[ -f $datadir/chat-throwaway ]]; then
            _chat_pg_log "throwaway cluster in $datadir is PostgreSQL $(cat "$datadir/PG_VERSION"), binaries are $ver; recreating it"
            rm -rf "$datadir"
        else
            _chat_pg_log "error: $datadir holds a PostgreSQL $(cat "$datadir/PG_VERSION") cluster not made by us"
            return 1
        fi
    fi

    if [[ ! -f $datadir/PG_VERSION ]]; then
        if [[ -d $datadir && -n $(ls -A "$datadir") ]]; then
            _chat_pg_log "error: $datadir is not empty and not a PostgreSQL data directory; remove it or set CHAT_PGDATA_DIR"
            return 1
        fi
        # Explicit checks: this runs under `|| rc=$?`, where set -e is off.
        mkdir -p "$datadir" && chmod 700 "$datadir" || return 1
        if [[ $EUID -eq 0 ]]; then chown postgres: "$datadir" || return 1; fi
        _chat_pg_log "initialising throwaway PostgreSQL $ver cluster in $datadir"
        # --no-sync only skips flushing initdb's own files; the server keeps fsync on
        # unless CHAT_PG_FSYNC_OFF=1.
        if ! _chat_pg_as_owner "$_CHAT_PG_BINDIR/initdb" -D "$datadir" -U postgres --auth=trust \
            --no-sync -E UTF8 --locale=C >"/tmp/chat-initdb-$EUID.log" 2>&1 9>&-; then
            cat "/tmp/chat-initdb-$EUID.log" >&2
            _chat_pg_log "error: initdb failed"
            return 1
        fi
        : >"$datadir/chat-throwaway" # marker: safe for us to recreate this dir
    fi

    # The port may get taken between probe and bind; then try from the next one on.
    local from=${CHAT_PG_START_PORT:-54320}
    for tries in 1 2 3; do
        port=$(_chat_pg_free_port "$from") || return 1
        from=$((port + 1))
        if _chat_pg_start_cluster "$datadir" "$port"; then
            printf '%s\n' "$port" >"$datadir/chat-port"
            _CHAT_PG_STARTED_DATADIR=$datadir
            if ! _chat_pg_wait_login "$port"; then
                _chat_pg_log "error: throwaway cluster started on port $port but no login within 30 s; see $datadir/server.log"
                return 1
            fi
            export DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db"
            export CHAT_PG_SOURCE=throwaway
            _chat_pg_log "started throwaway PostgreSQL $ver in $datadir (no server on 127.0.0.1:${CHAT_PG_PROBE_PORT:-5432}): $DATABASE_URL"
            return 0
        fi
        _chat_pg_log "pg_ctl start on port $port failed (attempt $tries); server.log says:"
        tail -n 5 "$datadir/server.log" >&2 2>/dev/null || true
    done
    return 1
}

_chat_pg_throwaway() {
    local db=$1 datadir rc=0
    _chat_pg_ensure_postgres_user || return 1
    datadir=$(_chat_pg_pick_datadir) || return 1
    _chat_pg_find_psql || true
    # Serialise concurrent scripts/run + scripts/test on the same data dir.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$(dirname "$datadir")/.$(basename "$datadir").lock"
        flock -w 120 9 || { _chat_pg_log "error: timed out waiting for the cluster lock"; exec 9>&-; return 1; }
    fi
    _chat_pg_throwaway_locked "$db" "$datadir" || rc=$?
    if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
    return "$rc"
}

ensure_postgres() {
    local db=${1:-chat}

    # a. Caller's choice wins.
    if [[ -n ${DATABASE_URL:-} ]]; then
        export DATABASE_URL
        export CHAT_PG_SOURCE=env
        _chat_pg_find_psql || true
        _chat_pg_log "using DATABASE_URL from the environment: $(_chat_pg_redact "$DATABASE_URL")"
        return 0
    fi

    # b. A server already running on the standard port that lets us in.
    _chat_pg_try_system "$db" && return 0

    # c. Our own throwaway cluster.
    if ! _chat_pg_find_server_bins; then
        if _chat_pg_apt_install; then
            # Debian's package may have created and started a cluster on 5432.
            _chat_pg_try_system "$db" && return 0
        fi
        if ! _chat_pg_find_server_bins; then
            if [[ -n $CHAT_PSQL ]]; then
                _chat_pg_log "error: no PostgreSQL login on 127.0.0.1:${CHAT_PG_PROBE_PORT:-5432} and no server binaries (initdb/pg_ctl) to start one."
            else
                _chat_pg_log "error: no psql to probe 127.0.0.1:${CHAT_PG_PROBE_PORT:-5432} and no server binaries (initdb/pg_ctl) to start one."
            fi
            _chat_pg_log "       install PostgreSQL (e.g. apt-get install postgresql) or set DATABASE_URL."
            return 1
        fi
    fi
    _chat_pg_throwaway "$db"
}

# Stop the throwaway cluster, but only if this shell started it, and leave it
# running if someone else (e.g. a chat-server from scripts/run) is connected.
stop_throwaway_postgres() {
    local datadir=$_CHAT_PG_STARTED_DATADIR port others
    [[ -n $datadir ]] || return 0
    _CHAT_PG_STARTED_DATADIR=""
    if port=$(_chat_pg_running_port "$datadir") && [[ -n $CHAT_PSQL ]]; then
        others=$("$CHAT_PSQL" -X -w "postgres://postgres@127.0.0.1:$port/postgres" -tAc \
            "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()" \
            2>/dev/null || echo 0)
        if [[ $others =~ ^[0-9]+$ ]] && ((others > 0)); then
            _chat_pg_log "leaving throwaway PostgreSQL in $datadir running: $others other client(s) connected"
            return 0
        fi
    fi
    _chat_pg_log "stopping throwaway PostgreSQL in $datadir"
    _chat_pg_as_owner "$_CHAT_PG_BINDIR/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null 9>&- || true
}
