#!/usr/bin/env bash
# Binary node codec benchmark, ours and Baileys' side by side on the same 10,000 nodes.
# Usage: bench/run-codec-bench.sh BUILD_DIR   (a release build with WA_BUILD_BENCH=ON, e.g.
#   cmake --preset release -B build/release && cmake --build build/release --target wa_binary_bench)
set -euo pipefail
build=${1:?usage: bench/run-codec-bench.sh BUILD_DIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
data="$build/bench-data/binary_nodes_seed42.jsonl"
mkdir -p "$(dirname "$data")"
if [ ! -s "$data" ]; then
  node "$repo/tests/interop/binary_gen.mjs" --seed 42 --count 10000 --out "$data"
fi
echo "== wa::binary (C++)"
WA_CODEC_BENCH_FILE="$data" "$build/src/wa/binary/wa_binary_bench" --benchmark_min_time=2
echo "== Baileys"
node "$repo/bench/baileys_codec.mjs" "$data" 3
