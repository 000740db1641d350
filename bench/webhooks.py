#!/usr/bin/env python3
"""Webhook delivery latency and what a subscribed endpoint costs the login path.

Starts the release build on a fresh SQLite database (and PostgreSQL when
GATEHOUSE_TEST_POSTGRES_URL is set) with cheap hashes, a local receiver, and one endpoint
subscribed to every event kind, then:
  - latency: N sequential failed logins; from each answer to its delivery's arrival at the
    receiver (the event is stored before the answer), p50 and p99, at the default poll interval
    and at 20 ms;
  - cost: the password grant under wrk (cheap hashes, so the rest of the login path shows) with no
    endpoint, then with the endpoint, interleaved, median req/s and server CPU per request.
Run: python3 bench/webhooks.py [--logins 200] [--runs 3] [--duration 5]
"""
import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ARRIVALS = {}


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        ARRIVALS.setdefault(self.headers.get("webhook-id"), time.monotonic())
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def latency(g, logins, receiver_url):
    """Milliseconds from each failed login's answer to its delivery's arrival."""
    ARRIVALS.clear()
    auth = "Basic " + base64.b64encode(f"{bench.CLIENT}:{bench.SECRET}".encode()).decode()
    answered = []
    for i in range(logins):
        bench.http("POST", g.base + "/oauth/token",
                   {"grant_type": "password", "username": "user0", "password": f"wrong-{i}"}, auth)
        answered.append(time.monotonic())
        time.sleep(0.01)
    deadline = time.monotonic() + 30
    while len(ARRIVALS) < logins and time.monotonic() < deadline:
        time.sleep(0.05)
    arrivals = sorted(ARRIVALS.values())
    if len(arrivals) < logins:
        sys.exit(f"only {len(arrivals)} of {logins} deliveries arrived")
    # Deliveries can overtake each other; pair the k-th answer with the k-th arrival.
    return [(a - s) * 1000 for s, a in zip(answered, arrivals)]


def run(label, database, env, opts, receiver_url, rows):
    for poll in ("250", "20"):
        # The failed logins all come from 127.0.0.1 for one user: the per-address throttle and
        # the lockout would turn most of them into other events.
        g = bench.Gatehouse(database, dict(env, **bench.CHEAP_ARGON2, GATEHOUSE_WEBHOOK_ALLOW_PRIVATE="on",
                                           GATEHOUSE_WEBHOOK_POLL_INTERVAL_MS=poll,
                                           GATEHOUSE_IP_ALLOWLIST="127.0.0.1/32", GATEHOUSE_BRUTE_FORCE="off"))
        if poll == "250":
            g.provision()
            g.cli("webhook", "add", receiver_url, "--events", "login_failure")
        g.start()
        ms = latency(g, opts.logins, receiver_url)
        print(f"{label}: webhook latency, poll {poll} ms, {opts.logins} events: p50 {pct(ms, 50):.1f} ms, "
              f"p99 {pct(ms, 99):.1f} ms", flush=True)
        rows.append((label, f"latency poll {poll} ms", pct(ms, 50), pct(ms, 99)))
        g.stop()
    # The login path without and with an endpoint subscribed to everything.
    g = bench.Gatehouse(database, dict(env, **dict(bench.CHEAP_ARGON2, GATEHOUSE_HASH_QUEUE="256"),
                                       GATEHOUSE_WEBHOOK_ALLOW_PRIVATE="on"))
    g.start()
    hook = webhook_id(g)
    g.cli("webhook", "update", hook, "--events", "*")
    once = argparse.Namespace(runs=1, duration=opts.duration)
    got = {"none": [], "endpoint": []}
    for rnd in range(opts.runs):
        for state in (("none", "endpoint") if rnd % 2 == 0 else ("endpoint", "none")):
            g.cli("webhook", "update", hook, "--enabled", "true" if state == "endpoint" else "false")
            time.sleep(0.5)
            r = bench.measure(g.port, "password", "/oauth/token", 16, once)
            got[state].append(r)
            print(f"   round {rnd + 1} {state:8s} {r['rps']:8.1f} req/s  {r['server_cpu_ms_per_req']:.3f} ms CPU/req",
                  flush=True)
    g.stop()
    med = lambda s, k: statistics.median(r[k] for r in got[s])
    print(f"{label}: password grant (cheap hashes) c=16: no endpoint {med('none', 'rps'):.1f} req/s, "
          f"{med('none', 'server_cpu_ms_per_req'):.3f} ms CPU/req; endpoint on every event "
          f"{med('endpoint', 'rps'):.1f} req/s, {med('endpoint', 'server_cpu_ms_per_req'):.3f} ms CPU/req; "
          f"ratio {med('endpoint', 'rps') / max(med('none', 'rps'), 1e-9):.3f}", flush=True)


def webhook_id(g):
    out = subprocess.run([g.bin, "webhook", "list"], env=g.env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["entry"][0]["resource"]["id"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logins", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    opts = ap.parse_args()
    os.makedirs(bench.OUT_DIR, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    rows = []
    with tempfile.TemporaryDirectory() as td:
        run("sqlite", f"sqlite://{td}/webhooks.db", {}, opts, url, rows)
    pg = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if pg:
        db = "gh_webhooks_" + str(os.getpid())
        admin = pg.rsplit("/", 1)[0]
        subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {db}"], check=True)
        try:
            run("postgres", f"{admin}/{db}",
                {"GATEHOUSE_SECRET_KEY": base64.b64encode(os.urandom(32)).decode()}, opts, url, rows)
        finally:
            subprocess.run(["psql", pg, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"])


if __name__ == "__main__":
    main()
