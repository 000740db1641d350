#!/usr/bin/env bash
# Bounded fuzzing of the parsers of untrusted input (fuzz/fuzz_targets/): each target runs for
# FUZZ_SECONDS (default 60) from a scratch copy of its committed seeds in fuzz/corpus/, so runs
# never add to the committed corpus. cargo fuzz exits non-zero on a crash, which fails this
# script; the crashing input is left in fuzz/artifacts/<target>/.
#
# cargo-fuzz passes nightly-only flags to rustc (sanitizer coverage). Only the stable toolchain
# is installable here, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
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
  echo "fuzzing $target for ${seconds}s"
  cargo fuzz run "$target" "$scratch" -- -max_total_time="$seconds" -print_final_stats=1
done
