#!/usr/bin/env bash
# `make bench`: every benchmark on the release build, ours and Baileys' side by side where both
# exist, in one run. Results go to stdout and to build/release/bench-results/<name>.txt; the
# numbers quoted in docs/benchmarks.md come from this script.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build/release"
out="$build/bench-results"
mkdir -p "$out"
export PATH="$repo/.tools/node/bin:$PATH"

run() {
  local name=$1
  shift
  echo "### $name"
  "$@" 2>&1 | tee "$out/$name.txt"
  echo
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo

run codec "$repo/bench/run-codec-bench.sh" "$build"
run noise "$build/src/wa/noise/wa_noise_bench" --benchmark_min_time=1
