#!/usr/bin/env bash
# Regression check for requests cut off mid-transaction on PostgreSQL (fixed by running handlers
# to completion on their own task, crates/gatehouse-http/src/lib.rs run_to_completion): rounds of a
# refresh flood that wrk ends abruptly (connections dropped mid-request), each followed by 16
# ordinary password grants, which must all answer 200 within a second. Before the fix, the third
# round hung on a row lock held by a connection left inside a transaction.
#   GATEHOUSE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bench/disconnects.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_TEST_POSTGRES_URL:=postgres://postgres@127.0.0.1:5432/test}"
BIN=${BIN:-$PWD/target/release/gatehouse}
db=gh_flood_$$
psql "$GATEHOUSE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db"
export GATEHOUSE_DATABASE_URL="${GATEHOUSE_TEST_POSTGRES_URL%/*}/$db" GATEHOUSE_SECRET_KEY=$(head -c32 /dev/urandom | base64) GATEHOUSE_ARGON2_MEMORY_KIB=1024 GATEHOUSE_ARGON2_ITERATIONS=1 GATEHOUSE_HASH_QUEUE=16 GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS=0
$BIN client add bench-client --secret bench-secret --scopes "read write" --grant-types password,refresh_token >/dev/null 2>&1
for i in $(seq 0 49); do echo "password-$i" | $BIN user add "user$i" --password-stdin --allow-weak-password >/dev/null 2>&1; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$BIN serve --listen 127.0.0.1:$port >"${TMPDIR:-/tmp}/gatehouse-disconnects.log" 2>&1 &
pid=$!
sleep 1
AUTH="Basic $(printf bench-client:bench-secret | base64)"
for round in 1 2 3 4 5; do
  (cd $PWD/../shared/bench && python3 -c "
import run_peer as rp, base64
auth = 'Basic ' + base64.b64encode(b'bench-client:bench-secret').decode()
toks = rp.fetch_refresh_pool('http://127.0.0.1:$port', '/oauth/token', auth, 'read', 50, 128, 0)
open('${TMPDIR:-/tmp}/gatehouse-disconnects-pool.txt','w').write(chr(10).join(toks)+chr(10))")
  wrk -t2 -c64 -d3s -s $PWD/../shared/bench/wrk/token.lua http://127.0.0.1:$port -- refresh /oauth/token "$AUTH" read 50 ${TMPDIR:-/tmp}/gatehouse-disconnects-pool.txt 2 | grep Requests/sec
  python3 - $port <<'PY'
import sys, time, base64, urllib.request, urllib.parse, concurrent.futures as cf
port = int(sys.argv[1])
auth = "Basic " + base64.b64encode(b"bench-client:bench-secret").decode()
def one(i):
    body = urllib.parse.urlencode({"grant_type":"password","username":f"user{i}","password":f"password-{i}"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/oauth/token", data=body, method="POST", headers={"Authorization": auth})
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=20) as r: return r.status, time.time()-t
    except urllib.error.HTTPError as e: return e.code, time.time()-t
with cf.ThreadPoolExecutor(2) as ex: res = list(ex.map(one, range(16)))
print("after flood:", sorted(set(s for s,_ in res)), "slowest %.2f s" % max(t for _,t in res))
PY
done
kill $pid
grep -c "slow statement\|timed out" "${TMPDIR:-/tmp}/gatehouse-disconnects.log" || true
psql "$GATEHOUSE_TEST_POSTGRES_URL" -qc "DROP DATABASE $db WITH (FORCE)"
