#!/usr/bin/env bash
# The database time of one admin stats request (docs/performance.md, "Admin stats over
# a year"): the sum of the `duration:` lines PostgreSQL logs for the request, with the
# database's `log_min_duration_statement = 0`, and the HTTP time seen by curl.
#
#   bench/stats_db_time.sh '/api/admin/chat/stats/assignees?from=2025-12-01&to=2026-12-01'
#
# Environment: TOKEN (an admin token: `chat-server token --user-id 1 --admin`),
# BASE (default http://127.0.0.1:8080), PGLOG (default the Debian cluster's log),
# DB (the database's name in the log, default stats_bench). Run one request at a time.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
PGLOG=${PGLOG:-/var/log/postgresql/postgresql-15-main.log}
DB=${DB:-stats_bench}
before=$(wc -l < "$PGLOG")
http=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE$1")
# PostgreSQL writes its log lines as the statements end; give the last one a moment.
sleep 0.3
db=$(tail -n +"$((before + 1))" "$PGLOG" | grep "@$DB " | grep -o 'duration: [0-9.]* ms' \
    | awk '{s += $2} END {printf "%.1f", s}')
echo "$1: ${db} ms database, ${http} s HTTP"
