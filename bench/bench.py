#!/usr/bin/env python3
"""gatehouse benchmark: throughput, latency and memory of every hot path, side by side with the
argon2id rate of this machine and, with --peer, the @jmondi/oauth2-server peer.

Run it through bench/run.sh, which installs wrk and builds the release binaries. Load comes from
wrk, driven by ../shared/bench/run_peer.py (its run_wrk measures req/s, p50/p99, errors, the
server's peak RSS and CPU per request); this script starts the servers, provisions them through
gatehouse's CLI, and prints one table with medians over runs and the ratios the targets name.
Each run (not --ab) also writes one JSON document, bench/results/<UTC date>-<short commit>.json and
a copy bench/results/latest.json (machine facts, options, raw rates, every row, the ratios the
targets name), and draws it with bench/plot.py into SVGs beside it; rows are also appended as JSON
lines to target/bench/results.jsonl.
"""
import argparse
import base64
import concurrent.futures as cf
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The shared load driver: ../shared/bench next to the checkout, or GATEHOUSE_BENCH_SHARED (a git
# worktree elsewhere has no such neighbour).
SHARED_BENCH = os.environ.get("GATEHOUSE_BENCH_SHARED") or os.path.normpath(
    os.path.join(ROOT, "..", "shared", "bench"))
sys.path.insert(0, SHARED_BENCH)
import run_peer as rp  # noqa: E402  (the shared load driver)

# GATEHOUSE_BENCH_BIN runs another build (for a same-run A/B of two commits).
BIN = os.environ.get("GATEHOUSE_BENCH_BIN") or os.path.join(ROOT, "target", "release", "gatehouse")
ARGON2_RATE = os.path.join(ROOT, "target", "release", "examples", "argon2_rate")
OUT_DIR = os.path.join(ROOT, "target", "bench")
READ_LUA = os.path.join(ROOT, "bench", "wrk", "read.lua")
OVERLOAD_LUA = os.path.join(ROOT, "bench", "wrk", "overload.lua")
TOKEN_LUA = rp.LUA
CLIENT, SECRET, SCOPE, USERS = "bench-client", "bench-secret", "read", 1000
# A second client whose access tokens are opaque (random, resolved by introspection); a client
# introspects only its own tokens, so the opaque-token case runs as this client.
OPAQUE_CLIENT = "bench-opaque"
# Open idle keep-alive connections for the memory case (the server's --max-connections default,
# 1024, admits them; the per-address cap is off in every bench server).
IDLE_CONNECTIONS = 1000
NCPU = os.cpu_count() or 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, form=None, auth=None, timeout=30):
    data = None if form is None else urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Gatehouse:
    """A `gatehouse serve` process on its own database."""

    def __init__(self, database, env, bin=None):
        self.bin = bin or BIN
        # Every benchmark connection comes from 127.0.0.1: the per-address cap (64 by default)
        # would close those beyond it at c=64 and up, so it is off here.
        self.database, self.env = database, dict(os.environ, **env, GATEHOUSE_DATABASE_URL=database,
                                                 GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS="0")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def cli(self, *args, stdin=None):
        subprocess.run([self.bin, *args], input=stdin, env=self.env, check=True, text=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def provision(self):
        self.cli("client", "add", CLIENT, "--secret", SECRET, "--scopes", "read write",
                 "--grant-types", "password,refresh_token")
        # The CLI hashes each password with the configured argon2id parameters.
        with cf.ThreadPoolExecutor(NCPU) as ex:
            list(ex.map(lambda i: self.cli("user", "add", f"user{i}", "--password-stdin", "--allow-weak-password",
                                           stdin=f"password-{i}\n"), range(USERS)))

    def start(self, extra_env=None):
        """Starts the server; returns milliseconds from spawn to the first answered request."""
        t0 = time.monotonic()
        env = dict(self.env, **(extra_env or {}))
        # The server's log goes to target/bench/, for when a run goes wrong.
        log = open(os.path.join(OUT_DIR, f"server-{self.port}.log"), "ab")
        self.proc = subprocess.Popen([self.bin, "serve", "--listen", f"127.0.0.1:{self.port}"], env=env,
                                     stdout=log, stderr=log)
        log.close()
        while True:
            try:
                if http("GET", self.base + "/healthz", timeout=1)[0] == 200:
                    return (time.monotonic() - t0) * 1000
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit(f"gatehouse exited with {self.proc.returncode}")
            time.sleep(0.002)

    def rss_mib(self):
        return rp.status_kib(self.proc.pid, "VmRSS") / 1024

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def wrk_args(port, path, threads=1, client=CLIENT):
    return argparse.Namespace(host="127.0.0.1", port=port, path=path, threads=threads, timeout=10,
                              client_id=client, client_secret=SECRET, scope=SCOPE, users=USERS)


def fetch_refresh_pool(base, path, auth, scope, users, n, offset):
    """The refresh tokens of `n` password grants, 8 at a time (as the shared driver's
    `fetch_refresh_pool` gets them), waiting out a 503's Retry-After as RFC 9110 §10.2.3 asks
    of a client: eight logins at once for seconds on end are a standing 4× overload of a 2-core
    machine's hash pool, which gatehouse sheds by design (a burst on an idle server it queues)."""
    def one(i):
        u = (offset + i) % users
        form = {"grant_type": "password", "username": f"user{u}", "password": f"password-{u}"}
        if scope:
            form["scope"] = scope
        for _ in range(30):
            st, body = http("POST", base + path, form, auth)
            if st == 503:
                time.sleep(1)
                continue
            if st != 200:
                raise RuntimeError(f"password grant for pool failed: HTTP {st} {body[:200]!r}")
            return json.loads(body)["refresh_token"]
        raise RuntimeError("password grant for pool: still shed after 30 tries")

    with cf.ThreadPoolExecutor(8) as ex:
        return list(ex.map(one, range(n)))


def measure(port, mode, path, conns, opts, pool=None, lua=TOKEN_LUA, client=CLIENT):
    """Median over opts.runs wrk runs of `mode` at `conns` connections (after a warm-up), as
    `client` (whose secret is SECRET)."""
    rp.LUA = lua
    pids = rp.listening_pids(port)
    args = wrk_args(port, path, client=client)
    auth = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
    runs = []
    with tempfile.TemporaryDirectory() as td:
        for i in range(-1, opts.runs):
            pool_file = None
            if mode == "refresh":
                toks = fetch_refresh_pool(f"http://127.0.0.1:{port}", path, auth, SCOPE, USERS,
                                             2 * conns, measure.offset)
                measure.offset += 2 * conns
                pool_file = os.path.join(td, "pool.txt")
                with open(pool_file, "w") as f:
                    f.write("\n".join(toks) + "\n")
            elif pool is not None:
                pool_file = pool
            r = rp.run_wrk(args, mode, conns, 2 if i < 0 else opts.duration, pool_file, pids)
            if i >= 0:
                runs.append(r)
    for r in runs:
        # Answers that were not errors per second: for the password grant beyond saturation the
        # 503s of the bounded hash queue are errors to wrk, and only the tokens count.
        r["ok_rps"] = r["rps"] * (r["requests"] - r["errors"]) / max(1, r["requests"])
    med = lambda k: statistics.median(r[k] for r in runs)
    return {"rps": med("rps"), "ok_rps": med("ok_rps"), "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
            "errors": sum(r["errors"] for r in runs), "requests": sum(r["requests"] for r in runs),
            "shed": sum(r["err_detail"]["non2xx"] for r in runs),
            "server_cpu_ms_per_req": med("server_cpu_ms_per_req"), "wrk_cores": med("wrk_cores"),
            "other_cores": med("other_cores"),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "runs": runs}


measure.offset = 0


def argon2_rate(seconds):
    out = subprocess.run([ARGON2_RATE, str(NCPU), str(seconds)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def overload_run(port, conns, seconds, pids, polite=False):
    """wrk with bench/wrk/overload.lua at `conns` connections (one per wrk thread): accepted and
    shed answers counted and timed apart, and the server's peak RSS meanwhile. `polite` clients
    wait a shed answer's Retry-After before their next request."""
    auth = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
    cmd = ["wrk", f"-t{conns}", f"-c{conns}", f"-d{seconds}s", "--timeout=10s", "-s", OVERLOAD_LUA,
           f"http://127.0.0.1:{port}", "--", "/oauth/token", auth, SCOPE, str(USERS),
           "polite" if polite else "rude"]
    sampler = rp.Sampler(pids)
    sampler.start()
    p = subprocess.run(cmd, capture_output=True, text=True)
    sampler.stop.set()
    sampler.join()
    m = re.search(r"^OVERLOAD (.*)$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed rc={p.returncode}\n{p.stdout}\n{p.stderr}")
    r = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    secs = r["duration_us"] / 1e6
    return {"ok_rps": r["ok"] / secs, "shed_rps": r["shed"] / secs, "ok": int(r["ok"]), "shed": int(r["shed"]),
            "other": int(r["other"] + r["socket_errors"]),
            "ok_p50_ms": r["ok_p50_us"] / 1000, "ok_p99_ms": r["ok_p99_us"] / 1000, "ok_max_ms": r["ok_max_us"] / 1000,
            "shed_p50_ms": r["shed_p50_us"] / 1000, "shed_p99_ms": r["shed_p99_us"] / 1000,
            "shed_max_ms": r["shed_max_us"] / 1000, "peak_rss_mib": sampler.peak_kib / 1024}


def overload(g, label, opts):
    """The password grant at its saturation concurrency (one connection per hash worker, which
    keeps every worker busy) and at four times it; medians over opts.runs runs of each."""
    sat = NCPU  # the server's default hash pool: one worker per CPU
    pids = rp.listening_pids(g.port)
    overload_run(g.port, sat, 2, pids)  # warm-up
    runs = []
    for _ in range(opts.runs):
        runs.append((overload_run(g.port, sat, opts.duration, pids),
                     overload_run(g.port, 4 * sat, opts.duration, pids),
                     overload_run(g.port, 4 * sat, opts.duration, pids, polite=True)))
    med = lambda i, k: statistics.median(r[i][k] for r in runs)
    return {"server": label, "case": "overload", "sat_conns": sat, "over_conns": 4 * sat,
            "polite_ok_rps": med(2, "ok_rps"), "polite_ok_p99_ms": med(2, "ok_p99_ms"),
            "polite_shed_p99_ms": med(2, "shed_p99_ms"), "polite_shed_rps": med(2, "shed_rps"),
            "polite_peak_rss_mib": max(r[2]["peak_rss_mib"] for r in runs),
            "sat_rps": med(0, "ok_rps"), "sat_p50_ms": med(0, "ok_p50_ms"), "sat_p99_ms": med(0, "ok_p99_ms"),
            "sat_shed": sum(r[0]["shed"] for r in runs), "sat_other": sum(r[0]["other"] for r in runs),
            "over_ok_rps": med(1, "ok_rps"), "over_shed_rps": med(1, "shed_rps"),
            "over_ok_p50_ms": med(1, "ok_p50_ms"), "over_ok_p99_ms": med(1, "ok_p99_ms"),
            "over_shed_p50_ms": med(1, "shed_p50_ms"), "over_shed_p99_ms": med(1, "shed_p99_ms"),
            "over_shed_max_ms": max(r[1]["shed_max_ms"] for r in runs),
            "over_other": sum(r[1]["other"] for r in runs),
            "over_peak_rss_mib": max(r[1]["peak_rss_mib"] for r in runs)}


def bench_gatehouse(label, database, opts, rows, env):
    g = Gatehouse(database, env)
    print(f"\n## {label}: provisioning {USERS} users through the CLI", flush=True)
    g.provision()
    g.cli("client", "add", OPAQUE_CLIENT, "--secret", SECRET, "--scopes", "read write",
          "--grant-types", "password,refresh_token", "--token-format", "opaque")
    start_ms = g.start()
    time.sleep(1)
    idle = g.rss_mib()
    print(f"   start to first answer {start_ms:.0f} ms, idle RSS {idle:.1f} MiB", flush=True)
    rows.append({"server": label, "case": "startup", "start_ms": start_ms, "idle_rss_mib": idle})
    # One login as each client: a JWT access token and a refresh token (bench-client), an opaque
    # access token (bench-opaque), each the token of its introspection case.
    tokens = {}
    for client, kinds in ((CLIENT, ("access_token", "refresh_token")), (OPAQUE_CLIENT, ("access_token",))):
        auth = "Basic " + base64.b64encode(f"{client}:{SECRET}".encode()).decode()
        status, body = http("POST", g.base + "/oauth/token",
                            {"grant_type": "password", "username": "user0", "password": "password-0"}, auth)
        for kind in kinds:
            tokens[(client, kind)] = json.loads(body).get(kind, "") if status == 200 else ""
    token_files = {}
    for key, token in tokens.items():
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(token + "\n")
            token_files[key] = f.name
    cases = [("password", "password", "/oauth/token", None, TOKEN_LUA, CLIENT),
             ("refresh", "refresh", "/oauth/token", None, TOKEN_LUA, CLIENT),
             ("introspect (JWT)", "introspect", "/oauth/introspect", token_files[(CLIENT, "access_token")],
              READ_LUA, CLIENT),
             ("introspect (opaque)", "introspect", "/oauth/introspect",
              token_files[(OPAQUE_CLIENT, "access_token")], READ_LUA, OPAQUE_CLIENT),
             ("introspect (refresh token)", "introspect", "/oauth/introspect",
              token_files[(CLIENT, "refresh_token")], READ_LUA, CLIENT),
             ("jwks", "get", "/.well-known/jwks.json", None, READ_LUA, CLIENT),
             ("discovery", "get", "/.well-known/openid-configuration", None, READ_LUA, CLIENT)]
    for name, mode, path, pool, lua, client in cases:
        if opts.cases and name.split()[0] not in opts.cases:
            continue
        if mode != "password" and http("GET" if mode == "get" else "POST", g.base + path)[0] == 404:
            print(f"   {name}: endpoint {path} not present, skipped", flush=True)
            continue
        for conns in opts.conns:
            r = measure(g.port, mode, path, conns, opts, pool, lua, client)
            r.update(server=label, case=name, conns=conns)
            rows.append(r)
            print(f"   {name:18s} c={conns:<3d} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                  f"p99 {r['p99_ms']:8.2f} ms  errors {r['errors']}/{r['requests']}  "
                  f"peak RSS {r['peak_rss_mib']:.1f} MiB  server {r['server_cpu_ms_per_req']:.3f} ms CPU/req, "
                  f"wrk {r['wrk_cores']:.2f} cores, others {r['other_cores']:.2f} cores"
                  + (f"  [{r['ok_rps']:.1f} tokens/s]" if mode == "password" else ""), flush=True)
    if not opts.cases or "password" in opts.cases:
        # The same password grants from clients that wait a shed answer's Retry-After (default
        # server settings): the rate a well-behaved client population gets.
        pids = rp.listening_pids(g.port)
        for conns in opts.conns:
            runs = [overload_run(g.port, conns, opts.duration, pids, polite=True) for _ in range(opts.runs)]
            med = lambda k: statistics.median(r[k] for r in runs)
            r = {"server": label, "case": "password (honours Retry-After)", "conns": conns,
                 "ok_rps": med("ok_rps"), "ok_p50_ms": med("ok_p50_ms"), "ok_p99_ms": med("ok_p99_ms"),
                 "shed": sum(x["shed"] for x in runs), "other": sum(x["other"] for x in runs),
                 "peak_rss_mib": max(x["peak_rss_mib"] for x in runs)}
            rows.append(r)
            print(f"   password, clients honour Retry-After, c={conns}: {r['ok_rps']:.1f} tokens/s, "
                  f"accepted p50 {r['ok_p50_ms']:.1f} ms p99 {r['ok_p99_ms']:.1f} ms, {r['shed']} shed, "
                  f"other {r['other']}, peak RSS {r['peak_rss_mib']:.1f} MiB", flush=True)
    if not opts.no_overload:
        over = overload(g, label, opts)
        rows.append(over)
        print(f"   overload: saturation c={over['sat_conns']}: {over['sat_rps']:.1f} tokens/s, accepted p99 "
              f"{over['sat_p99_ms']:.1f} ms; at c={over['over_conns']}: {over['over_ok_rps']:.1f} tokens/s, accepted p99 "
              f"{over['over_ok_p99_ms']:.1f} ms, {over['over_shed_rps']:.0f} shed/s with p99 {over['over_shed_p99_ms']:.2f} ms "
              f"(max {over['over_shed_max_ms']:.2f}), other answers {over['over_other']}, "
              f"peak RSS {over['over_peak_rss_mib']:.1f} MiB; clients honouring Retry-After at c={over['over_conns']}: "
              f"{over['polite_ok_rps']:.1f} tokens/s, accepted p99 {over['polite_ok_p99_ms']:.1f} ms, "
              f"{over['polite_shed_rps']:.1f} shed/s with p99 {over['polite_shed_p99_ms']:.2f} ms", flush=True)
    if not opts.cases or "connections" in opts.cases:
        # Last, on the server the whole run has used: the RSS the target names ("at 1,000 open
        # connections") is the one after the load, and the run's other rows stay as they were.
        r = idle_connections(g, label, IDLE_CONNECTIONS)
        rows.append(r)
        print(f"   {r['conns']} open idle connections ({r['answered']} answered): RSS {r['rss_before_mib']:.1f} MiB "
              f"before, {r['rss_open_mib']:.1f} MiB with them open ({r['kib_per_conn']:.1f} KiB each), "
              f"{r['rss_after_mib']:.1f} MiB after they closed", flush=True)
    g.stop()
    for f in token_files.values():
        os.unlink(f)


def idle_connections(g, label, n):
    """Opens `n` keep-alive connections to `g`, sends one discovery request on each and reads its
    answer, then, with all of them still open and idle, reads the server's VmRSS; then closes them.
    Takes a second or two, well inside the server's 10 s header timeout that closes an idle
    HTTP/1.1 connection."""
    before = g.rss_mib()
    hwm0 = rp.status_kib(g.proc.pid, "VmHWM") / 1024
    req = (f"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1:{g.port}\r\n"
           "Accept: application/json\r\n\r\n").encode()
    socks, answered, t0 = [], 0, time.monotonic()
    try:
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", g.port), timeout=10))
        for s in socks:
            s.sendall(req)
        for s in socks:
            answered += read_answer(s) == 200
        elapsed = time.monotonic() - t0
        time.sleep(0.5)
        open_rss = g.rss_mib()
        alive = sum(1 for s in socks if connection_open(s))
    finally:
        for s in socks:
            s.close()
    time.sleep(1)
    after = g.rss_mib()
    return {"server": label, "case": "idle connections", "conns": n, "answered": answered, "still_open": alive,
            "open_s": elapsed, "rss_before_mib": before, "rss_open_mib": open_rss, "rss_after_mib": after,
            "kib_per_conn": 1024 * (open_rss - before) / n,
            "hwm_mib": max(hwm0, rp.status_kib(g.proc.pid, "VmHWM") / 1024), "peak_rss_mib": open_rss}


def read_answer(s):
    """Reads one HTTP/1.1 answer with a Content-Length body from `s`; returns its status (0 if the
    connection closed first)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return 0
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(None, 2)[1])


def connection_open(s):
    """Whether the server still holds `s` open (a closed one reads as end of file at once)."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


# Cheap argon2id for the A/B servers: it measures no hashing, and the token pools of the refresh
# runs come from password grants.
CHEAP_ARGON2 = {"GATEHOUSE_ARGON2_MEMORY_KIB": "256", "GATEHOUSE_ARGON2_ITERATIONS": "1",
                "GATEHOUSE_ARGON2_PARALLELISM": "1", "GATEHOUSE_HASH_QUEUE": "16"}


def login_tokens(g):
    """The access and refresh token of one password grant of user0 at `g`."""
    auth = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
    status, body = http("POST", g.base + "/oauth/token",
                        {"grant_type": "password", "username": "user0", "password": "password-0"}, auth)
    if status != 200:
        sys.exit(f"login at {g.base} failed: {status} {body!r}")
    tokens = json.loads(body)
    return tokens["access_token"], tokens["refresh_token"]


def bench_ab(opts, rows, label, databases, env):
    """Same-run A/B of two builds (`--ab BASE_BIN` against this one) on the password grant with
    cheap hashes (what a login costs besides its hash), the refresh grant and on
    introspection of a JWT access token and of a refresh token: both servers provisioned once,
    then each cell measured for one build and then the other, the order alternating by round, so
    both see the same moments of a shared machine. Prints the median req/s of each and the ratio."""
    builds = [("this", BIN), ("base", opts.ab)]
    servers, files = {}, []
    for (name, bin), database in zip(builds, databases):
        # Cheap hashes and a deep queue: the password case then measures what a login costs
        # besides its hash (the database writes, the event), which is what a change moves.
        g = Gatehouse(database, dict(env, **dict(CHEAP_ARGON2, GATEHOUSE_HASH_QUEUE="256")), bin)
        print(f"\n## A/B {label} {name} ({bin}): provisioning {USERS} users through the CLI", flush=True)
        g.provision()
        g.start()
        access, refresh = login_tokens(g)
        pools = {}
        for kind, token in (("access", access), ("refresh", refresh)):
            with tempfile.NamedTemporaryFile("w", delete=False) as f:
                f.write(token + "\n")
                pools[kind] = f.name
                files.append(f.name)
        servers[name] = (g, pools)
    cases = [("password (cheap argon2)", "password", "/oauth/token", None, TOKEN_LUA),
             ("refresh", "refresh", "/oauth/token", None, TOKEN_LUA),
             ("introspect (JWT access token)", "introspect", "/oauth/introspect", "access", READ_LUA),
             ("introspect (refresh token)", "introspect", "/oauth/introspect", "refresh", READ_LUA)]
    once = argparse.Namespace(runs=1, duration=opts.duration)
    got = {}
    for rnd in range(opts.runs):
        order = builds if rnd % 2 == 0 else builds[::-1]
        for case, mode, path, pool, lua in cases:
            if opts.cases and case.split()[0] not in opts.cases:
                continue
            for conns in opts.conns:
                for name, _ in order:
                    g, pools = servers[name]
                    r = measure(g.port, mode, path, conns, once, pools.get(pool), lua)
                    got.setdefault((case, conns, name), []).append(r)
                    print(f"   round {rnd + 1} {case:30s} c={conns:<3d} {name:4s} {r['rps']:9.1f} req/s  "
                          f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}/{r['requests']}  "
                          f"server {r['server_cpu_ms_per_req']:.3f} ms CPU/req", flush=True)
    for g, _ in servers.values():
        g.stop()
    for f in files:
        os.unlink(f)
    print(f"\nA/B {label}: median req/s over {opts.runs} interleaved rounds of {opts.duration} s")
    print("| case | conns | this req/s | base req/s | this ÷ base | this CPU ms/req | base CPU ms/req "
          "| CPU this ÷ base, pairs | errors this/base |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (case, conns, name) in sorted(got):
        if name != "this":
            continue
        this, base = got[(case, conns, "this")], got[(case, conns, "base")]
        med = lambda runs, k: statistics.median(r[k] for r in runs)
        ratio = med(this, "rps") / max(med(base, "rps"), 1e-9)
        # Ratios of the interleaved pairs too: the spread says how much the machine moved.
        pairs = sorted(a["rps"] / max(b["rps"], 1e-9) for a, b in zip(this, base))
        # Server CPU per request moves less with the machine's load than req/s does.
        cpu = "server_cpu_ms_per_req"
        cpu_pairs = sorted(a[cpu] / max(b[cpu], 1e-9) for a, b in zip(this, base))
        row = {"server": f"A/B {label}", "case": case, "conns": conns, "this_rps": med(this, "rps"),
               "base_rps": med(base, "rps"), "ratio": ratio, "pair_ratios": pairs,
               "this_cpu_ms": med(this, cpu), "base_cpu_ms": med(base, cpu), "cpu_pair_ratios": cpu_pairs}
        rows.append(row)
        show = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
        print(f"| {case} | {conns} | {row['this_rps']:.1f} | {row['base_rps']:.1f} | {ratio:.3f} "
              f"(pairs {show(pairs)}) | {row['this_cpu_ms']:.3f} | {row['base_cpu_ms']:.3f} | "
              f"{show(cpu_pairs)} | {sum(r['errors'] for r in this)}/{sum(r['errors'] for r in base)} |",
              flush=True)


def bench_peer(opts, rows):
    src = os.path.join(SHARED_BENCH, "peer-jmondi")
    dst = os.path.join(OUT_DIR, "peer-jmondi")
    os.makedirs(dst, exist_ok=True)
    for name in ("package.json", "package-lock.json", "server.js", "start.sh"):
        shutil.copy2(os.path.join(src, name), dst)
    port = free_port()
    print(f"\n## peer @jmondi/oauth2-server on {port} (first start hashes {USERS} users)", flush=True)
    proc = subprocess.Popen(["bash", "start.sh"], cwd=dst, env=dict(os.environ, PORT=str(port)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not rp.listening_pids(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("the peer did not start")
        time.sleep(0.5)
    for name, mode in (("password", "password"), ("refresh", "refresh")):
        for conns in opts.conns:
            r = measure(port, mode, "/token", conns, opts)
            r.update(server="peer", case=name, conns=conns)
            rows.append(r)
            print(f"   {name:18s} c={conns:<3d} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                  f"p99 {r['p99_ms']:8.2f} ms  errors {r['errors']}/{r['requests']}", flush=True)
    proc.terminate()
    proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one 5 s run per cell")
    ap.add_argument("--peer", action="store_true", help="also run the @jmondi peer from ../shared/bench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", default="16,64")
    ap.add_argument("--cases", default="", help="comma-separated subset: password,refresh,introspect,jwks,discovery,connections "
                    "(default: all); the overload scenario always runs")
    ap.add_argument("--ab", metavar="BASE_BIN",
                    help="same-run A/B of this build against BASE_BIN (another commit's release binary) on "
                    "the refresh grant and introspection, interleaved; --runs rounds, --cases refresh,introspect")
    ap.add_argument("--no-overload", action="store_true",
                    help="skip the overload scenario (for a quick A/B of the read and refresh cases)")
    opts = ap.parse_args()
    if opts.quick:
        opts.runs, opts.duration = 1, 5
    opts.conns = [int(c) for c in opts.conns.split(",")]
    opts.cases = [c for c in opts.cases.split(",") if c]
    os.makedirs(OUT_DIR, exist_ok=True)
    rows = []
    if opts.ab:
        ab_main(opts, rows)
        return
    started = time.gmtime()
    facts = run_facts(opts)
    rate = argon2_rate(5)
    first_rate = rate
    print(f"raw argon2id verify rate, {rate['threads']} threads, m={rate['memory_kib']} t={rate['iterations']} "
          f"p={rate['parallelism']}: {rate['per_second']:.1f}/s", flush=True)
    with tempfile.TemporaryDirectory() as td:
        bench_gatehouse("gatehouse sqlite", f"sqlite://{td}/bench.db", opts, rows, {})
    pg = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if pg:
        db = "gh_bench_" + str(os.getpid())
        admin = pg.rsplit("/", 1)[0]
        subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {db}"], check=True)
        try:
            bench_gatehouse("gatehouse postgres", f"{admin}/{db}", opts, rows,
                            {"GATEHOUSE_SECRET_KEY": base64.b64encode(os.urandom(32)).decode()})
        finally:
            subprocess.run(["psql", pg, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])
    if opts.peer:
        bench_peer(opts, rows)
    # Measured again at the end, and the faster of the two is the baseline: on a shared machine
    # a slow moment at the start must not flatter the password grant's ratio.
    again = argon2_rate(5)
    print(f"raw argon2id verify rate again at the end: {again['per_second']:.1f}/s", flush=True)
    rate = max(rate, again, key=lambda r: r["per_second"])
    signing = signing_rate(5)
    report(rows, rate)
    doc = results_document(facts, opts, started, {"start": first_rate, "end": again, "used": rate}, signing, rows)
    paths = write_results(doc)
    with open(os.path.join(OUT_DIR, "results.jsonl"), "a") as f:
        for r in rows:
            r.pop("runs", None)
            f.write(json.dumps(dict(r, ts=time.strftime("%Y-%m-%dT%H:%M:%S"), argon2=rate)) + "\n")
    print("\nresults: " + ", ".join(os.path.relpath(p_, ROOT) for p_ in paths), flush=True)


def command_output(cmd, **kw):
    """The stripped standard output (or, failing that, error output) of `cmd`, or None."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw)
    except (OSError, subprocess.SubprocessError):
        return None
    out = (p.stdout.strip() or p.stderr.strip()).splitlines()
    return out[0] if out else None


def run_facts(opts):
    """What a reader needs to weigh the run's figures: the machine, the software around the
    server, the commit the tree was at (and whether it had uncommitted changes), the options."""
    cpu = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    os_name = None
    try:
        with open("/etc/os-release") as f:
            os_name = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line).get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    pg = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    git = lambda *a: command_output(["git", "-C", ROOT, *a])
    status = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True).stdout
    return {
        "machine": {"cpu_model": cpu, "cores": NCPU, "memory_mib": round(mem_kib / 1024),
                    "kernel": os.uname().release, "os": os_name,
                    "loadavg_start": open("/proc/loadavg").read().split()[:3]},
        "software": {"rustc": command_output(["rustc", "--version"], cwd=ROOT),
                     "postgresql": command_output(["psql", pg, "-Atc", "SHOW server_version"]) if pg else None,
                     "node": command_output(["node", "--version"]) if opts.peer else None,
                     "wrk": command_output(["wrk", "-v"]), "python": sys.version.split()[0]},
        "git": {"commit": git("rev-parse", "HEAD"), "short": git("rev-parse", "--short", "HEAD"),
                "branch": git("rev-parse", "--abbrev-ref", "HEAD"), "dirty": bool(status.strip())},
        "binary": os.path.relpath(BIN, ROOT) if BIN.startswith(ROOT) else BIN,
    }


# The targets of issue 18 the derived ratios are read against.
TARGETS = {"password_of_raw_min": 0.90, "overload_p99_ratio_max": 2.0, "peak_rss_mib_max": 64,
           "postgres_refresh_rps_min": 4000, "postgres_introspect_jwt_rps_min": 20000,
           "postgres_introspect_opaque_rps_min": 8000, "postgres_password_of_sqlite_min": 0.90}


def signing_rate(seconds):
    """The raw signing rate, when this tree has a `signing_rate` example built beside
    `argon2_rate` (it prints one JSON line, as `argon2_rate` does); None otherwise."""
    exe = os.path.join(os.path.dirname(ARGON2_RATE), "signing_rate")
    if not os.path.exists(exe):
        return None
    out = subprocess.run([exe, str(NCPU), str(seconds)], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except ValueError:
        return None


def ok_rate(r):
    """Successful answers per second of a row (tokens/s for the password grant)."""
    return r.get("ok_rps", r.get("rps"))


def derived_ratios(rows, rate):
    """The ratios issue 18's targets name, from the rows of one run."""
    raw = rate["per_second"]
    out = {"password_of_raw": [], "vs_peer": [], "overload_p99": [], "postgres_vs_sqlite": [], "peak_rss_mib": []}
    for r in rows:
        if r.get("case") in ("password", "password (honours Retry-After)"):
            out["password_of_raw"].append({"server": r["server"], "case": r["case"], "conns": r["conns"],
                                           "tokens_per_s": r["ok_rps"], "raw_per_s": raw,
                                           "ratio": r["ok_rps"] / raw})
    peer = {(r["case"], r["conns"]): r for r in rows if r.get("server") == "peer" and "rps" in r}
    for r in rows:
        key = (r.get("case"), r.get("conns"))
        if r.get("server", "").startswith("gatehouse") and key in peer and ok_rate(peer[key]) > 0:
            out["vs_peer"].append({"server": r["server"], "case": key[0], "conns": key[1], "ours": ok_rate(r),
                                   "peer": ok_rate(peer[key]), "ratio": ok_rate(r) / ok_rate(peer[key])})
    for r in rows:
        if r.get("case") == "overload" and r["sat_p99_ms"] > 0:
            for clients, key in (("retry at once", "over_ok_p99_ms"), ("honour Retry-After", "polite_ok_p99_ms")):
                out["overload_p99"].append({"server": r["server"], "clients": clients, "conns": r["over_conns"],
                                            "sat_conns": r["sat_conns"], "accepted_p99_ms": r[key],
                                            "sat_p99_ms": r["sat_p99_ms"], "ratio": r[key] / r["sat_p99_ms"]})
    by = {(r["server"], r["case"], r.get("conns")): r for r in rows if "conns" in r and ok_rate(r) is not None}
    for (server, case, conns), r in by.items():
        other = by.get(("gatehouse postgres", case, conns))
        if server == "gatehouse sqlite" and other and ok_rate(r) > 0:
            out["postgres_vs_sqlite"].append({"case": case, "conns": conns, "sqlite": ok_rate(r),
                                              "postgres": ok_rate(other), "ratio": ok_rate(other) / ok_rate(r)})
    for server in dict.fromkeys(r["server"] for r in rows):
        peaks = [v for r in rows if r["server"] == server
                 for k, v in r.items() if k.endswith("peak_rss_mib") or k == "rss_open_mib"]
        if peaks:
            out["peak_rss_mib"].append({"server": server, "peak_rss_mib": max(peaks)})
    return out


def results_document(facts, opts, started, argon2, signing, rows):
    """The run as one JSON document: facts, options, raw rates, every row, the derived ratios."""
    name = time.strftime("%Y-%m-%d", started) + "-" + (facts["git"]["short"] or "nogit")
    options = {k: v for k, v in vars(opts).items() if k != "ab"}
    options["postgres"] = bool(os.environ.get("GATEHOUSE_TEST_POSTGRES_URL"))
    facts["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    return {"schema": 1, "name": name, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **facts, "options": options,
            "argon2": argon2, "signing": signing, "targets": TARGETS, "rows": rows,
            "ratios": derived_ratios(rows, argon2["used"])}


def write_results(doc):
    """bench/results/NAME.json and latest.json, and their plots; returns the paths written."""
    import plot  # bench/plot.py, next to this file
    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    written = []
    for stem in (doc["name"], "latest"):
        path = os.path.join(out, stem + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        written.append(path)
        written += plot.draw(doc, os.path.join(out, stem))
    return written


def ab_main(opts, rows):
    """`--ab`: the A/B on SQLite, and on PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set."""
    with tempfile.TemporaryDirectory() as td:
        bench_ab(opts, rows, "sqlite", [f"sqlite://{td}/this.db", f"sqlite://{td}/base.db"], {})
    pg = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if pg:
        admin = pg.rsplit("/", 1)[0]
        dbs = [f"gh_ab_{side}_{os.getpid()}" for side in ("this", "base")]
        for db in dbs:
            subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {db}"], check=True)
        try:
            bench_ab(opts, rows, "postgres", [f"{admin}/{db}" for db in dbs],
                     {"GATEHOUSE_SECRET_KEY": base64.b64encode(os.urandom(32)).decode()})
        finally:
            for db in dbs:
                subprocess.run(["psql", pg, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])
    with open(os.path.join(OUT_DIR, "results.jsonl"), "a") as f:
        for r in rows:
            f.write(json.dumps(dict(r, ts=time.strftime("%Y-%m-%dT%H:%M:%S"))) + "\n")


def report(rows, rate):
    print("\n| server | case | conns | req/s | p50 ms | p99 ms | errors/requests | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "rps" in r:
            print(f"| {r['server']} | {r['case']} | {r['conns']} | {r['rps']:.1f} | {r['p50_ms']:.2f} | "
                  f"{r['p99_ms']:.2f} | {r['errors']}/{r['requests']} | {r['peak_rss_mib']:.1f} |")
    print("\nratios (measured in this run):")
    for r in rows:
        if r.get("case") == "password" and r["server"].startswith("gatehouse"):
            print(f"- {r['server']} password grant c={r['conns']}: {r['ok_rps']:.1f} tokens/s = "
                  f"{100 * r['ok_rps'] / rate['per_second']:.1f} % of the raw argon2id rate ({rate['per_second']:.1f}/s)"
                  f" ({r['shed']} shed with 503; clients retry at once)")
        if r.get("case") == "password (honours Retry-After)":
            print(f"- {r['server']} password grant c={r['conns']}, clients honour Retry-After: {r['ok_rps']:.1f} tokens/s = "
                  f"{100 * r['ok_rps'] / rate['per_second']:.1f} % of the raw argon2id rate; accepted p99 {r['ok_p99_ms']:.1f} ms")
    peer = {(r["case"], r["conns"]): r for r in rows if r.get("server") == "peer" and "rps" in r}
    for r in rows:
        key = (r.get("case"), r.get("conns"))
        # Successful answers only: a shed 503 is not a token.
        ours = r.get("ok_rps", r.get("rps"))
        theirs = peer[key].get("ok_rps", peer[key]["rps"]) if key in peer else 0
        if r.get("server", "").startswith("gatehouse") and theirs > 0:
            print(f"- {r['server']} ÷ peer, {key[0]} c={key[1]}: {ours / theirs:.2f}× (successful answers/s)")
    for r in rows:
        if r.get("case") == "overload":
            print(f"- {r['server']} overload (c={r['over_conns']} = 4 × c={r['sat_conns']}): accepted p99 "
                  f"{r['over_ok_p99_ms']:.1f} ms = {r['over_ok_p99_ms'] / r['sat_p99_ms']:.2f}× the saturation p99 "
                  f"({r['sat_p99_ms']:.1f} ms); shed p99 {r['over_shed_p99_ms']:.2f} ms, max {r['over_shed_max_ms']:.2f} ms; "
                  f"tokens/s {r['over_ok_rps']:.1f} vs {r['sat_rps']:.1f} at saturation; "
                  f"peak RSS {r['over_peak_rss_mib']:.1f} MiB (clients retry at once)")
            print(f"- {r['server']} overload, clients honour Retry-After: accepted p99 {r['polite_ok_p99_ms']:.1f} ms = "
                  f"{r['polite_ok_p99_ms'] / r['sat_p99_ms']:.2f}× the saturation p99; shed p99 {r['polite_shed_p99_ms']:.2f} ms; "
                  f"{r['polite_ok_rps']:.1f} tokens/s; peak RSS {r['polite_peak_rss_mib']:.1f} MiB")
        if r.get("case") == "startup":
            print(f"- {r['server']}: start to first answer {r['start_ms']:.0f} ms; idle RSS {r['idle_rss_mib']:.1f} MiB")
        if r.get("case") == "idle connections":
            print(f"- {r['server']}: RSS with {r['conns']} open idle connections {r['rss_open_mib']:.1f} MiB "
                  f"({r['kib_per_conn']:.1f} KiB each over the {r['rss_before_mib']:.1f} MiB before)")
    ratios = derived_ratios(rows, rate)
    for x in ratios["postgres_vs_sqlite"]:
        print(f"- PostgreSQL ÷ SQLite, {x['case']} c={x['conns']}: {x['ratio']:.2f}× "
              f"({x['postgres']:.1f} / {x['sqlite']:.1f} successful answers/s)")
    for x in ratios["peak_rss_mib"]:
        print(f"- {x['server']}: peak RSS across the run {x['peak_rss_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
