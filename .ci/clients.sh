#!/usr/bin/env bash
# Installs the client libraries the e2e suite drives (crates/gatehouse/tests/e2e/libraries.rs)
# from their registries, pinned: a Python venv in target/ci-venv from
# crates/gatehouse/tests/clients/python/requirements.txt, and the Node packages of
# crates/gatehouse/tests/clients/node/package-lock.json in target/ci-node (npm ci). Each is
# reinstalled only when its pin file changed, so a warm run costs nothing. Called by .ci/run,
# which then points the tests at them with GATEHOUSE_TEST_PYTHON and GATEHOUSE_TEST_NODE_MODULES.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=crates/gatehouse/tests/clients
venv=target/ci-venv
node=target/ci-node

if ! cmp -s "$clients/python/requirements.txt" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    -r "$clients/python/requirements.txt"
  cp "$clients/python/requirements.txt" "$venv/requirements.txt"
fi
"$venv/bin/python" -c 'import authlib, requests_oauthlib, requests, standardwebhooks.webhooks; print("python clients: Authlib", authlib.__version__, "requests-oauthlib", requests_oauthlib.__version__, "requests", requests.__version__)'

if ! cmp -s "$clients/node/package-lock.json" "$node/package-lock.json"; then
  rm -rf "$node"
  mkdir -p "$node"
  cp "$clients/node/package.json" "$clients/node/package-lock.json" "$node/"
  (cd "$node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
echo "node clients: $(cd "$node" && npm ls --depth=0 2>/dev/null | tail -n +2 | sed 's/^[^a-z@]*//' | paste -sd' ')"
