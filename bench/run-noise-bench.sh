#!/usr/bin/env bash
# Noise benchmarks, ours and Baileys' side by side on the same recorded server hellos (see
# src/wa/noise/handshake_bench.cc and bench/baileys_noise.mjs for what each number covers).
# Usage: bench/run-noise-bench.sh BUILD_DIR   (a release build with WA_BUILD_BENCH=ON, e.g.
#   cmake --preset release -B build/release && cmake --build build/release --target wa_noise_bench)
set -euo pipefail
build=${1:?usage: bench/run-noise-bench.sh BUILD_DIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
data="$build/bench-data/noise_transcripts.json"
mkdir -p "$(dirname "$data")"
# The C++ benchmark records the server hellos into $data when it is missing.
echo "== wa::noise (C++)"
WA_NOISE_TRANSCRIPTS="$data" "$build/src/wa/noise/wa_noise_bench" --benchmark_min_time=1
echo "== Baileys"
node "$repo/bench/baileys_noise.mjs" "$data" 3
