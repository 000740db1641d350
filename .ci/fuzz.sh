#!/usr/bin/env bash
# Bounded fuzzing of the parsers of untrusted input (fuzz/fuzz_targets/): each target runs from a
# scratch copy of its committed seeds in fuzz/corpus/, so runs never add to the committed corpus.
# cargo fuzz exits non-zero on a crash, which fails this script; the crashing input is left in
# fuzz/artifacts/<target>/.
#
# CI runs are reproducible: a fixed seed (FUZZ_SEED, default 1) and a fixed number of executions
# per target (FUZZ_RUNS, default 1000000), with FUZZ_SECONDS (default 120) only as a time cap. The
# same commit explores the same inputs every time, so a red run is a regression that can be
# replayed, never a lucky find that blocks an unrelated change. Exploratory fuzzing is the same
# script with a random seed and more time, for example
#   FUZZ_SEED=0 FUZZ_RUNS=-1 FUZZ_SECONDS=3600 .ci/fuzz.sh
# (seed 0 lets libFuzzer pick one; runs -1 means unbounded). Every crash it finds is fixed and its
# input added to fuzz/corpus/<target>/ so that the CI run replays it from then on.
#
# cargo-fuzz passes nightly-only flags to rustc (sanitizer coverage). Only the stable toolchain
# is installable here, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-120}"
seed="${FUZZ_SEED:-1}"
runs="${FUZZ_RUNS:-1000000}"
targets=(token_request basic_header client_assertion)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cargo fuzz build
for target in "${targets[@]}"; do
  scratch="fuzz/scratch/$target"
  rm -rf "$scratch"
  mkdir -p "$scratch"
  cp fuzz/corpus/"$target"/* "$scratch"/
  echo "fuzzing $target: seed $seed, $runs runs, at most ${seconds}s"
  cargo fuzz run "$target" "$scratch" -- \
    -seed="$seed" -runs="$runs" -max_total_time="$seconds" -print_final_stats=1
done
