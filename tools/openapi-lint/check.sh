#!/usr/bin/env bash
# The contract as its consumers' own tools read it (run by scripts/test):
#   1. swagger-cli validate   openapi/openapi.json against the OpenAPI 3.1 schema, $refs resolved
#   2. redocly lint           the recommended ruleset, 0 errors
#   3. @asyncapi/parser       openapi/asyncapi.yaml (its payloads $ref openapi.json)
#   4. openapi-typescript + tsc --strict on client/app.ts, a small program using the
#      generated client (REST calls and a switch over the server's WebSocket frames)
# Every step runs; the exit code is non-zero if any failed. Needs node_modules (npm ci).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
spec=../../openapi/openapi.json
bin=node_modules/.bin
status=0
run() {
    echo "openapi-lint: $1" >&2
    shift
    "$@" || { echo "openapi-lint: FAILED" >&2; status=1; }
}
run "swagger-cli validate" "$bin/swagger-cli" validate "$spec"
run "redocly lint" "$bin/redocly" lint "$spec" --format=summary
run "asyncapi parser" node asyncapi-validate.mjs ../../openapi/asyncapi.yaml
run "openapi-typescript" "$bin/openapi-typescript" "$spec" -o client/api.d.ts --silent
run "tsc --strict (client/app.ts)" "$bin/tsc" -p client
exit $status
