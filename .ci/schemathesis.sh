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

# start NAME PID_VAR COMMAND...: runs COMMAND with cheap argon2 (keeps the run short) in the
# background, its stdout on a fifo and its log in $work/NAME.log; stores its pid in PID_VAR (for
# `cleanup`) and, once it prints its listening line, its base URL in `started_base`.
start() {
  local name=$1 pid_var=$2 fd line
  shift 2
  mkfifo "$work/$name-stdout"
  GATEHOUSE_ARGON2_MEMORY_KIB=256 GATEHOUSE_ARGON2_ITERATIONS=1 \
    "$@" >"$work/$name-stdout" 2>"$work/$name.log" &
  printf -v "$pid_var" '%s' "$!"
  exec {fd}<"$work/$name-stdout"
  read -r -t 60 line <&"$fd" || { echo "the $name server did not start:"; cat "$work/$name.log"; exit 1; }
  cat <&"$fd" >/dev/null &
  started_base="${line#gatehouse listening on }"
}

# fuzz BASE [ST-OPTIONS...]: schemathesis against the document the server at BASE serves.
fuzz() {
  local base=$1
  shift
  timeout "$TIME_LIMIT" "$VENV/bin/st" run "$base/openapi.json" \
    --url "$base" \
    "$@" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --no-color
}

# `gatehouse demo` seeds a throwaway SQLite database with the client and user that the
# document's examples name, and serves it on a free port.
start server server_pid "$bin" demo --listen 127.0.0.1:0
base=$started_base
echo "server at $base"

# A fixed seed, as for fuzzing (.ci/fuzz.sh): the same commit generates the same cases, so a red
# run replays; SCHEMATHESIS_SEED picks another for exploratory runs.
SEED="${SCHEMATHESIS_SEED:-1}"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
status=0
# Run from the temporary directory: schemathesis keeps a cache of past failures in the working
# directory, and each CI run should start clean.
cd "$work"
fuzz "$base" || status=$?
if [[ $status -ne 0 ]]; then
  echo "schemathesis failed ($status); server log:"
  tail -50 "$work/server.log"
  exit $status
fi

# The demo has no admin token, so its admin API answers 404 only. A second server on a fresh
# SQLite file turns it on, and schemathesis fuzzes /Client and /User with the token.
admin_token="schemathesis-admin-token-$RANDOM$RANDOM"
start admin admin_pid env GATEHOUSE_ADMIN_TOKEN="$admin_token" \
  "$bin" serve --listen 127.0.0.1:0 \
  --database "sqlite://$work/admin.db" --secret-key-file "$work/admin.key"
admin_base=$started_base
echo "admin API server at $admin_base"
fuzz "$admin_base" \
  -H "Authorization: Bearer $admin_token" \
  --include-path-regex '^/(Client|User)' || status=$?
kill "$admin_pid" 2>/dev/null || true
wait "$admin_pid" 2>/dev/null || true
admin_pid=""
if [[ $status -ne 0 ]]; then
  echo "schemathesis (admin API) failed ($status); server log:"
  tail -50 "$work/admin.log"
fi
exit $status
