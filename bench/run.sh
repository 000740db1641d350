#!/usr/bin/env bash
# One command for gatehouse's benchmark: builds the release binary, starts gatehouse on a fresh
# SQLite database (and on PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set), provisions a
# client and 1,000 users through the CLI, drives load with wrk, and prints the table.
#   bench/run.sh            full run (several minutes)
#   bench/run.sh --quick    one short run per cell
#   bench/run.sh --peer     also the @jmondi/oauth2-server peer from ../shared/bench, with ratios
#   bench/run.sh --plot bench/results/X.json   redraw X's SVGs from the JSON, running nothing
# Each run writes bench/results/<UTC date>-<short commit>.json (and latest.json) and its plots.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--plot" ]; then
  shift
  exec python3 bench/plot.py "$@"
fi
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
cargo build --release --locked -p gatehouse
cargo build --release --locked -p gatehouse-core --example argon2_rate --example signing_rate
exec python3 bench/bench.py "$@"
