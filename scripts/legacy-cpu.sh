#!/usr/bin/env bash
# Runs a command against DATABASE_URL and reports its wall time and the CPU time of
# the PostgreSQL backends serving it (the steadier figure on a shared machine).
# Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/db scripts/legacy-cpu.sh CMD...
# The CPU is sampled from /proc every 100 ms, so the server must run on this machine
# and the caller must be allowed to read its processes (root, or the postgres user).
set -euo pipefail
db="${DATABASE_URL##*/}"
admin="${DATABASE_URL%/*}/postgres"
tick=$(getconf CLK_TCK)
declare -A cpu
start=$(date +%s.%N)
"$@" > "${LEGACY_CPU_OUT:-/dev/null}" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
    for backend in $(psql -Atq "$admin" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" 2>/dev/null); do
        if [[ -r /proc/$backend/stat ]]; then
            read -r -a f < "/proc/$backend/stat" || continue
            cpu[$backend]=$(( f[13] + f[14] ))
        fi
    done
    sleep 0.1
done
wait "$pid"
end=$(date +%s.%N)
total=0
for t in "${cpu[@]}"; do total=$(( total + t )); done
printf 'wall %.1f s, backend CPU %.1f s (%s)\n' "$(echo "$end - $start" | bc)" "$(echo "scale=2; $total / $tick" | bc)" "$*"
