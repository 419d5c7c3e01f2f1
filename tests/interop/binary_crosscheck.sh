#!/usr/bin/env bash
# interop.binary_crosscheck: the binary node codec against Baileys, both ways.
#   1. Baileys encodes random nodes (binary_gen.mjs); C++ checks encode, decode and re-encode.
#   2. C++ encodes random nodes (binary_crosscheck gen); Baileys decodes and re-encodes them.
# Usage: binary_crosscheck.sh /path/to/binary_crosscheck [COUNT] [SEED]
# Seed and count default to 1 and 10000; WA_CROSSCHECK_SEED / WA_CROSSCHECK_COUNT override;
# NODE names the node binary (default: node on PATH).
set -euo pipefail

tool=$1
count=${WA_CROSSCHECK_COUNT:-${2:-10000}}
seed=${WA_CROSSCHECK_SEED:-${3:-1}}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${NODE:-node}" "$here/binary_gen.mjs" --seed "$seed" --count "$count" --out "$work/baileys.jsonl"
"$tool" check "$work/baileys.jsonl"
"$tool" gen --seed "$seed" --count "$count" --out "$work/cpp.jsonl"
"${NODE:-node}" "$here/binary_verify.mjs" "$work/cpp.jsonl"
echo "interop.binary_crosscheck: passed ($count nodes each way, seed $seed)"
