#!/usr/bin/env python3
"""Where gatehouse's RSS goes under the bench's load: allocator retention or growth.

Runs the release server on a fresh SQLite database (100 users, the default argon2id
parameters, a hash queue of 64 so the refresh pool's logins are not shed) once per allocator
variant, drives the bench's cases one after the other with wrk (password c=16, refresh,
introspection, JWKS, discovery at c=64; then the read cases a second time), opens 1,000 idle
connections, lets the server idle, and, for glibc, calls malloc_trim(0) in the server through gdb.
After each step it prints VmRSS, the anonymous part of it, the thread count and the number of
glibc malloc arenas (64 MiB-aligned anonymous heaps).

Retention shows as RSS that stays up when the load stops and drops at malloc_trim; growth as RSS
that climbs again when the same load repeats.

  GATEHOUSE_BENCH_SHARED=/work/shared/bench python3 bench/memory.py [VARIANT ...]
  VARIANT: glibc | arena2 (MALLOC_ARENA_MAX=2) | jemalloc | mimalloc (LD_PRELOAD of Debian's
  libjemalloc2 / libmimalloc2.0, which must be installed)       default: all four
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the bench's server and wrk helpers)

LIB = "/usr/lib/x86_64-linux-gnu"
VARIANTS = {"glibc": {}, "arena2": {"MALLOC_ARENA_MAX": "2"},
            "jemalloc": {"LD_PRELOAD": f"{LIB}/libjemalloc.so.2"},
            "mimalloc": {"LD_PRELOAD": f"{LIB}/libmimalloc.so.2"}}
HEAP = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: a non-main arena's heap is one such region


def snapshot(pid):
    """VmRSS, RssAnon, VmHWM (MiB), threads and glibc arenas of `pid`."""
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.split()
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            maps.append((lo, hi, parts[1], len(parts) < 6))
    arenas = 0
    for i, (lo, hi, perm, anon) in enumerate(maps):
        if anon and perm == "rw-p" and lo % HEAP == 0:
            end = hi
            if i + 1 < len(maps) and maps[i + 1][0] == hi and maps[i + 1][2] == "---p":
                end = maps[i + 1][1]
            arenas += end - lo == HEAP
    mib = lambda k: int(st[k][0]) / 1024
    return {"rss": mib("VmRSS"), "anon": mib("RssAnon"), "hwm": mib("VmHWM"), "threads": int(st["Threads"][0]),
            "arenas": arenas + 1}


def malloc_trim(pid):
    """Calls glibc's malloc_trim(0) inside `pid` through gdb; returns whether it ran."""
    p = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (int) malloc_trim(0)"],
                       capture_output=True, text=True, timeout=120)
    return p.returncode == 0


def run(variant, env, opts):
    bench.USERS = opts.users
    with tempfile.TemporaryDirectory() as td:
        g = bench.Gatehouse(f"sqlite://{td}/m.db", dict(env, GATEHOUSE_HASH_QUEUE="64"))
        g.provision()
        g.start()
        time.sleep(1)
        steps = [("idle after start", snapshot(g.proc.pid))]
        auth = "Basic " + base64.b64encode(f"{bench.CLIENT}:{bench.SECRET}".encode()).decode()
        status, body = bench.http("POST", g.base + "/oauth/token",
                                  {"grant_type": "password", "username": "user0", "password": "password-0"}, auth)
        with tempfile.NamedTemporaryFile("w", delete=False, dir=td) as f:
            f.write(json.loads(body)["access_token"] + "\n")
        token = f.name
        once = argparse.Namespace(runs=1, duration=opts.duration)
        cases = [("password c=16", "password", "/oauth/token", 16, None, bench.TOKEN_LUA),
                 ("refresh c=64", "refresh", "/oauth/token", 64, None, bench.TOKEN_LUA),
                 ("introspect c=64", "introspect", "/oauth/introspect", 64, token, bench.READ_LUA),
                 ("jwks c=64", "get", "/.well-known/jwks.json", 64, None, bench.READ_LUA),
                 ("discovery c=64", "get", "/.well-known/openid-configuration", 64, None, bench.READ_LUA)]
        for rnd in (1, 2):
            for name, mode, path, conns, pool, lua in cases:
                if rnd == 2 and mode in ("password", "refresh"):
                    continue
                r = bench.measure(g.port, mode, path, conns, once, pool, lua)
                time.sleep(2)  # the password case's queued requests drain before the next pool
                s = snapshot(g.proc.pid)
                s["peak"] = r["peak_rss_mib"]
                steps.append((f"{name}{' (again)' if rnd == 2 else ''}", s))
        r = bench.idle_connections(g, variant, 1000)
        s = snapshot(g.proc.pid)
        s["peak"] = r["rss_open_mib"]
        steps.append(("1,000 idle connections, closed", s))
        time.sleep(opts.idle)
        steps.append((f"idle {opts.idle} s", snapshot(g.proc.pid)))
        if not env and malloc_trim(g.proc.pid):
            time.sleep(0.5)
            steps.append(("after malloc_trim(0)", snapshot(g.proc.pid)))
        g.stop()
    print(f"\n### {variant} {env or ''}")
    print("| step | peak RSS during, MiB | RSS after, MiB | anon MiB | threads | glibc arenas |")
    print("|---|---|---|---|---|---|")
    for name, s in steps:
        peak = f"{s['peak']:.1f}" if "peak" in s else ""
        print(f"| {name} | {peak} | {s['rss']:.1f} | {s['anon']:.1f} | {s['threads']} | "
              f"{s['arenas'] if not env.get('LD_PRELOAD') else '-'} |", flush=True)
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="*", metavar="VARIANT", help=" | ".join(VARIANTS) + " (default: all)")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--idle", type=int, default=10)
    opts = ap.parse_args()
    for v in opts.variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")
    opts.variants = opts.variants or list(VARIANTS)
    os.makedirs(bench.OUT_DIR, exist_ok=True)
    for v in opts.variants:
        run(v, VARIANTS[v], opts)


if __name__ == "__main__":
    main()
