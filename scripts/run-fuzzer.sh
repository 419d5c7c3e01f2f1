#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time over a working copy of its seed corpus.
# Usage: scripts/run-fuzzer.sh BINARY CORPUS_DIR WORK_DIR SECONDS
#   CORPUS_DIR  committed seeds (tests/fuzz/<fuzzer>/), never written to
#   WORK_DIR    the working corpus (seeds copied in, kept between runs) and artifacts/
#   SECONDS     -max_total_time; the environment variable WA_FUZZ_SECONDS overrides it
# Exits non-zero on any finding (crash, leak, timeout, OOM): the fuzzer's own status, or any
# artifact file left in WORK_DIR/artifacts/.
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 BINARY CORPUS_DIR WORK_DIR SECONDS" >&2
  exit 2
fi
binary=$1
seeds=$2
work=$3
seconds=${WA_FUZZ_SECONDS:-$4}

if [ ! -x "$binary" ]; then
  echo "run-fuzzer: $binary is not an executable" >&2
  exit 2
fi

corpus="$work/corpus"
artifacts="$work/artifacts"
mkdir -p "$corpus" "$artifacts"
rm -f "$artifacts"/*
if [ -d "$seeds" ]; then
  cp -f "$seeds"/* "$corpus"/ 2>/dev/null || true
fi

status=0
"$binary" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$corpus" || status=$?

findings=$(find "$artifacts" -type f | wc -l)
if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
  echo "run-fuzzer: $(basename "$binary") failed (exit $status, $findings artifact(s) in $artifacts)" >&2
  find "$artifacts" -type f -exec ls -l {} + >&2 || true
  exit 1
fi
echo "run-fuzzer: $(basename "$binary") ran ${seconds}s, no findings"
