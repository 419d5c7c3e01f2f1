#!/usr/bin/env bash
# Sessions benchmark (issues 4 and 5): N wa::Clients (bench/sessions, wa_sessions_bench; once per
# store: the gateway's SQLite state, the in-memory one) and then M Baileys sockets
# (bench/baileys_sessions.mjs) linked to the same wasim, once per transport;
# bench/summarize_sessions.mjs prints the per-session comparison. One wasim per transport, started
# here, so that both tools see the same simulator and wasim's own figures start clean.
# Usage: bench/run-sessions-bench.sh BUILD_DIR [OUT_DIR]
#   (a release build: cmake --build BUILD_DIR --target wasim wa_sessions_bench)
# Environment:
#   WA_BENCH_SESSIONS              wa::Client sessions (default 1000)
#   WA_BENCH_SESSIONS_BAILEYS      Baileys sockets (default 200; 0 skips Baileys)
#   WA_BENCH_SESSIONS_TRANSPORTS   "ws", "wss" or "ws wss" (default wss)
#   WA_BENCH_SESSIONS_IDLE         idle window in seconds (default 60)
#   WA_BENCH_SESSIONS_CONCURRENCY  sessions linking or logging in at once (default 64)
#   WA_BENCH_SESSIONS_STORES       wa::Client state: "sqlite", "memory" or "sqlite memory"
#                                  (default sqlite)
#   WA_BENCH_SESSIONS_MESSAGES     texts each session sends (default 20; 0 skips the send phase)
#   WA_BENCH_SESSIONS_RECIPIENTS   recipient phones the senders share (default 50)
#   WA_BENCH_SESSIONS_SEND_CONCURRENCY  sessions sending at once (default 64)
set -euo pipefail
build=${1:?usage: bench/run-sessions-bench.sh BUILD_DIR [OUT_DIR]}
build=$(cd "$build" && pwd)
out=${2:-$build/bench-results/sessions}
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$repo/.tools/node/bin:$PATH"
n=${WA_BENCH_SESSIONS:-1000}
nb=${WA_BENCH_SESSIONS_BAILEYS:-200}
transports=${WA_BENCH_SESSIONS_TRANSPORTS:-wss}
idle=${WA_BENCH_SESSIONS_IDLE:-60}
conc=${WA_BENCH_SESSIONS_CONCURRENCY:-64}
stores=${WA_BENCH_SESSIONS_STORES:-sqlite}
messages=${WA_BENCH_SESSIONS_MESSAGES:-20}
recipients=${WA_BENCH_SESSIONS_RECIPIENTS:-50}
send_conc=${WA_BENCH_SESSIONS_SEND_CONCURRENCY:-64}
wasim_bin="$build/src/bin/wasim"
bench_bin="$build/bench/sessions/wa_sessions_bench"
for bin in "$wasim_bin" "$bench_bin"; do
  if [ ! -x "$bin" ]; then
    echo "run-sessions-bench: $bin is missing (cmake --build $build --target wasim wa_sessions_bench)" >&2
    exit 2
  fi
done
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

wasim_pid=
data=
stop_wasim() {
  if [ -n "$wasim_pid" ] && kill -0 "$wasim_pid" 2>/dev/null; then
    kill -TERM "$wasim_pid"
    wait "$wasim_pid" 2>/dev/null || true
  fi
  wasim_pid=
  [ -n "$data" ] && rm -rf "$data"
  data=
}
trap stop_wasim EXIT

rc=0
results=()
for transport in $transports; do
  data=$(mktemp -d /tmp/wa-sessions-wasim-XXXXXX)
  "$wasim_bin" --port 0 --control-port 0 --data-dir "$data" --log-level warn > "$data/stdout" 2> "$out/wasim-$transport.log" &
  wasim_pid=$!
  for _ in $(seq 100); do
    grep -q '^wasim TLS certificate' "$data/stdout" 2>/dev/null && break
    sleep 0.1
  done
  chat=$(sed -n 's/^wasim chat endpoint \([^ ]*\).*/\1/p' "$data/stdout")
  ctl=$(sed -n 's/^wasim control API \([^ ]*\).*/\1/p' "$data/stdout")
  cert=$(sed -n 's/^wasim TLS certificate \([^ ]*\).*/\1/p' "$data/stdout")
  if [ -z "$chat" ] || [ -z "$ctl" ] || [ -z "$cert" ]; then
    echo "run-sessions-bench: wasim did not start" >&2
    exit 1
  fi
  # Each run its own phones (senders 17s0..., recipients 17s1...) on the shared wasim.
  s=0
  for store in $stores; do
    echo "== $transport: $n wa::Client sessions ($store state) on wasim (pid $wasim_pid)"
    "$bench_bin" --control "$ctl" --chat-url "$chat" --ca-file "$cert" --wasim-pid "$wasim_pid" \
      --sessions "$n" --transport "$transport" --idle-seconds "$idle" --concurrency "$conc" \
      --store "$store" --messages "$messages" --recipients "$recipients" \
      --send-concurrency "$send_conc" --phone-prefix "17${s}0" --recipient-prefix "17${s}1" \
      --json "$out/wa-$transport-$store.json" > /dev/null || rc=$?
    results+=("$out/wa-$transport-$store.json")
    s=$((s + 1))
  done
  if [ "$nb" -gt 0 ]; then
    echo "== $transport: $nb Baileys sockets on the same wasim"
    node --expose-gc "$repo/bench/baileys_sessions.mjs" --control "$ctl" --chat-url "$chat" \
      --ca-file "$cert" --wasim-pid "$wasim_pid" --sessions "$nb" --transport "$transport" \
      --idle-seconds "$idle" --concurrency "$conc" --phone-prefix 1800 --recipient-prefix 1801 \
      --messages "$messages" --recipients "$recipients" --send-concurrency "$send_conc" \
      --json "$out/baileys-$transport.json" > /dev/null || rc=$?
    results+=("$out/baileys-$transport.json")
  fi
  stop_wasim
done
echo
node "$repo/bench/summarize_sessions.mjs" "${results[@]}" | tee "$out/summary.md"
exit "$rc"
