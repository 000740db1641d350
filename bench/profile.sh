#!/usr/bin/env bash
# Instruction counts of the password grant's work besides argon2, under callgrind: repeatable on
# a busy machine where wall-clock benchmarks are not. Starts the release binary under valgrind
# on a fresh SQLite database with cheap argon2 parameters (the hash is argon2's own business
# and the argon2_rate example measures it), warms up, zeroes the counters, sends N sequential
# password grants, dumps, and prints instructions per request: in total, inside argon2, and
# the rest, with the top functions of the rest.
#   bench/profile.sh [N] [BINARY]      (default 200 requests, target/release/gatehouse)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
BIN=${2:-target/release/gatehouse}
BIN=$(realpath "$BIN")
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
export GATEHOUSE_DATABASE_URL="sqlite://$dir/p.db" GATEHOUSE_ARGON2_MEMORY_KIB=256 \
  GATEHOUSE_ARGON2_ITERATIONS=1 GATEHOUSE_ARGON2_PARALLELISM=1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" client add bench-client --secret bench-secret --scopes "read write" \
  --grant-types password,refresh_token >/dev/null
for i in 0 1 2 3 4 5 6 7 8 9; do echo "password-$i" | "$BIN" user add "user$i" --password-stdin --allow-weak-password >/dev/null; done
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --dump-instr=no \
  "$BIN" serve --listen "127.0.0.1:$port" 2>"$dir/vg.log" &
pid=$!
python3 - "$port" "$N" "$pid" <<'PY'
import base64, subprocess, sys, time, urllib.parse, urllib.request
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
auth = "Basic " + base64.b64encode(b"bench-client:bench-secret").decode()
def grant(i):
    body = urllib.parse.urlencode({"grant_type": "password", "username": f"user{i % 10}",
                                   "password": f"password-{i % 10}"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/oauth/token", data=body, method="POST")
    req.add_header("Authorization", auth)
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
deadline = time.time() + 120
while True:
    try:
        grant(0); break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.2)
for i in range(20): grant(i)
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
for i in range(n): grant(i)
subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
PY
kill "$pid"; wait "$pid" 2>/dev/null || true
out=$(ls -S "$dir"/cg.out* | head -1)
for f in "$dir"/cg.out.*; do [ -s "$f" ] && out=$f; done
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
argon=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | grep -E 'argon2::Argon2::(hash_password_into_with_memory|hash_password_into) ' | head -1 | awk '{gsub(",","",$1); print $1}')
argon=${argon:-0}
echo "requests: $N"
echo "instructions per request: total $((total / N)), argon2 $((argon / N)), besides argon2 $(((total - argon) / N))"
echo "top functions (exclusive, all threads):"
callgrind_annotate --inclusive=no "$out" 2>/dev/null | grep -E "^ *[0-9,]+ \(" | head -25
