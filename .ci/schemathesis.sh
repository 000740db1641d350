#!/usr/bin/env bash
# Fuzzes the live server against its own OpenAPI document with schemathesis: no 5xx, and every
# response matches the documented status codes, content types and schemas. Bounded: a few
# examples per operation and a wall-clock limit. Called by .ci/run; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
# The binary cargo builds below, wherever CARGO_TARGET_DIR puts it.
bin="${CARGO_TARGET_DIR:-$root/target}/debug/gatehouse"

ST_VERSION="${ST_VERSION:-4.32.5}"
VENV="$PWD/target/schemathesis-venv"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-50}"
TIME_LIMIT="${ST_TIME_LIMIT:-600}"

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

cargo build --locked --bin gatehouse
work=$(mktemp -d)
server_pid=""
admin_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [[ -n "$admin_pid" ]]; then kill "$admin_pid" 2>/dev/null || true; wait "$admin_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# `gatehouse demo` seeds a throwaway SQLite database with the client and user that the
# document's examples name, and serves it on a free port; cheap argon2 keeps the run short.
mkfifo "$work/stdout"
GATEHOUSE_ARGON2_MEMORY_KIB=256 GATEHOUSE_ARGON2_ITERATIONS=1 \
  "$bin" demo --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
exec 3<"$work/stdout"
read -r -t 60 first <&3 || { echo "the server did not start:"; cat "$work/server.log"; exit 1; }
cat <&3 >/dev/null &
base="${first#gatehouse listening on }"
echo "server at $base"

# A fixed seed, as for fuzzing (.ci/fuzz.sh): the same commit generates the same cases, so a red
# run replays; SCHEMATHESIS_SEED picks another for exploratory runs.
SEED="${SCHEMATHESIS_SEED:-1}"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
status=0
# Run from the temporary directory: schemathesis keeps a cache of past failures in the working
# directory, and each CI run should start clean.
cd "$work"
timeout "$TIME_LIMIT" "$VENV/bin/st" run "$base/openapi.json" \
  --url "$base" \
  --checks "$CHECKS" \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --no-color || status=$?
if [[ $status -ne 0 ]]; then
  echo "schemathesis failed ($status); server log:"
  tail -50 "$work/server.log"
  exit $status
fi

# The demo has no admin token, so its admin API answers 404 only. A second server on a fresh
# SQLite file turns it on, and schemathesis fuzzes /Client and /User with the token.
admin_token="schemathesis-admin-token-$RANDOM$RANDOM"
mkfifo "$work/admin-stdout"
GATEHOUSE_ARGON2_MEMORY_KIB=256 GATEHOUSE_ARGON2_ITERATIONS=1 GATEHOUSE_ADMIN_TOKEN="$admin_token" \
  "$bin" serve --listen 127.0.0.1:0 \
  --database "sqlite://$work/admin.db" --secret-key-file "$work/admin.key" \
  >"$work/admin-stdout" 2>"$work/admin.log" &
admin_pid=$!
exec 4<"$work/admin-stdout"
read -r -t 60 first <&4 || { echo "the admin server did not start:"; cat "$work/admin.log"; exit 1; }
cat <&4 >/dev/null &
admin_base="${first#gatehouse listening on }"
echo "admin API server at $admin_base"
timeout "$TIME_LIMIT" "$VENV/bin/st" run "$admin_base/openapi.json" \
  --url "$admin_base" \
  -H "Authorization: Bearer $admin_token" \
  --include-path-regex '^/(Client|User)' \
  --checks "$CHECKS" \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --no-color || status=$?
kill "$admin_pid" 2>/dev/null || true
wait "$admin_pid" 2>/dev/null || true
admin_pid=""
if [[ $status -ne 0 ]]; then
  echo "schemathesis (admin API) failed ($status); server log:"
  tail -50 "$work/admin.log"
fi
exit $status
