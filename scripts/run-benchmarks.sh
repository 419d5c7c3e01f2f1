#!/usr/bin/env bash
# `make bench`: every benchmark on the release build, ours and Baileys' on the same inputs, in
# WA_BENCH_REPS (default 5) repetitions. Within a repetition each C++ benchmark is followed at
# once by its Baileys counterpart, so both see the same machine load; the summary gives medians
# over the repetitions, the ratio ours/Baileys and the issue's targets (bench/summarize.mjs).
# Raw results go to BUILD/bench-results/raw/, the summary to BUILD/bench-results/summary.md and
# stdout; docs/benchmarks.md quotes this script's output.
#
# Environment: WA_BENCH_BUILD (default build/release), WA_BENCH_REPS (default 5); the later
# phases have their own switches (WA_BENCH_SESSIONS, WA_BENCH_DISPATCH_SECONDS; 0 skips).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WA_BENCH_BUILD:-$repo/build/release}
reps=${WA_BENCH_REPS:-5}
out="$build/bench-results"
raw="$out/raw"
export PATH="$repo/.tools/node/bin:$PATH"

codec_bin="$build/src/wa/binary/wa_binary_bench"
noise_bin="$build/src/wa/noise/wa_noise_bench"
for bin in "$codec_bin" "$noise_bin"; do
  if [ ! -x "$bin" ]; then
    echo "run-benchmarks: $bin is missing; build the release preset first (make build)" >&2
    exit 2
  fi
done
if [ ! -d "$repo/tests/interop/node_modules/baileys" ]; then
  echo "run-benchmarks: Baileys is not installed in tests/interop (make deps)" >&2
  exit 2
fi

data="$build/bench-data"
codec_data="$data/binary_nodes_seed42.jsonl"
noise_data="$data/noise_transcripts.json"
mkdir -p "$data"
rm -rf "$raw"
mkdir -p "$raw"
if [ ! -s "$codec_data" ]; then
  node "$repo/tests/interop/binary_gen.mjs" --seed 42 --count 10000 --out "$codec_data"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)"
echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown); node $(node --version)"
for r in $(seq "$reps"); do
  cat /proc/loadavg > "$raw/load-$r.txt"
  echo "repetition $r/$reps (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  WA_CODEC_BENCH_FILE="$codec_data" "$codec_bin" --benchmark_min_time=1 --benchmark_format=json \
    > "$raw/codec-cpp-$r.json" 2> "$raw/codec-cpp-$r.err"
  node "$repo/bench/baileys_codec.mjs" "$codec_data" 2 --json > "$raw/codec-baileys-$r.jsonl"
  # Records the server hellos into $noise_data on the first run.
  WA_NOISE_TRANSCRIPTS="$noise_data" "$noise_bin" --benchmark_min_time=0.5 --benchmark_format=json \
    > "$raw/noise-cpp-$r.json" 2> "$raw/noise-cpp-$r.err"
  node "$repo/bench/baileys_noise.mjs" "$noise_data" 3 --json > "$raw/noise-baileys-$r.jsonl"
done
echo
node "$repo/bench/summarize.mjs" "$raw" | tee "$out/summary.md"

# ---- Sessions (issues 4 and 5): N wa::Clients, then Baileys sockets, on one wasim ------------
# WA_BENCH_SESSIONS wa::Client sessions (default 1000, a few minutes; 0 skips this phase) and
# WA_BENCH_SESSIONS_BAILEYS Baileys sockets (default 200) linked to the same wasim; the other
# knobs (transports, idle window, concurrency) are described in bench/run-sessions-bench.sh.
# Results go to BUILD/bench-results/sessions/ (JSON per run, summary.md).
if [ "${WA_BENCH_SESSIONS:-1000}" -gt 0 ]; then
  echo
  echo "sessions benchmark (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  WA_BENCH_SESSIONS=${WA_BENCH_SESSIONS:-1000} "$repo/bench/run-sessions-bench.sh" "$build" "$out/sessions"
fi

# ---- Dispatch latency (issue 7): 202 -> the stanza written, pacing off ---------------------
# WA_BENCH_DISPATCH_SECONDS of 1,000 POSTs/s over 100 linked sandbox sessions (default 10; 0
# skips this phase); rate, sessions, recipients and client threads are described in
# bench/run_dispatch_bench.py. Results go to BUILD/bench-results/dispatch/ (result.json, summary.md).
if [ "${WA_BENCH_DISPATCH_SECONDS:-10}" != "0" ]; then
  echo
  echo "dispatch latency benchmark (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  WA_BENCH_DISPATCH_SECONDS=${WA_BENCH_DISPATCH_SECONDS:-10} python3 "$repo/bench/run_dispatch_bench.py" "$build" "$out/dispatch"
fi
