#!/usr/bin/env bash
# Installs the client libraries the e2e suite drives (crates/gatehouse/tests/e2e/libraries.rs)
# from their registries, pinned: a Python venv in target/ci-venv from
# crates/gatehouse/tests/clients/python/requirements.txt, and the Node packages of
# crates/gatehouse/tests/clients/node/package-lock.json in target/ci-node (npm ci). Each is
# reinstalled only when its pin file changed (Chromium and chromium-driver, for the console's
# browser tests, are installed from Debian when missing), so a warm run costs nothing. Called by .ci/run,
# which then points the tests at them with GATEHOUSE_TEST_PYTHON and GATEHOUSE_TEST_NODE_MODULES.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=crates/gatehouse/tests/clients
venv=target/ci-venv
node=target/ci-node

# The console's browser tests (console_browser.rs) drive Debian's Chromium through its driver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "browser: $(chromium --version 2>/dev/null | head -1), $(chromedriver --version | head -1)"

if ! cmp -s "$clients/python/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    -r "$clients/python/requirements.txt"
  cp "$clients/python/requirements.txt" "$venv/requirements.txt"
fi
"$venv/bin/python" -c 'import authlib, requests_oauthlib, requests, standardwebhooks.webhooks, selenium; print("python clients: Authlib", authlib.__version__, "requests-oauthlib", requests_oauthlib.__version__, "requests", requests.__version__)'

if ! cmp -s "$clients/node/package-lock.json" "$node/package-lock.json"; then
  rm -rf "$node"
  mkdir -p "$node"
  cp "$clients/node/package.json" "$clients/node/package-lock.json" "$node/"
  (cd "$node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
echo "node clients: $(cd "$node" && npm ls --depth=0 2>/dev/null | tail -n +2 | sed 's/^[^a-z@]*//' | paste -sd' ')"
