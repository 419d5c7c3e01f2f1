#!/usr/bin/env bash
# `make run`: wagate on LISTEN with its data under DATA_DIR, and a wasim beside it as the sandbox
# (sessions created with "sandbox": true link a simulated phone; docs/sandbox.md). Real WhatsApp
# sessions work at the same time. Ctrl-C stops both.
set -euo pipefail
bin="${1:?build dir}"
listen="${2:?listen}"
data="${3:?data dir}"
mkdir -p "$data/wasim"
out="$data/wasim/endpoints.txt"
: > "$out"
"$bin/wasim" --host 127.0.0.1 --port 0 --control-port 0 --data-dir "$data/wasim" --log-level warn > "$out" &
wasim_pid=$!
trap 'kill "$wasim_pid" 2>/dev/null || true; wait "$wasim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "wasim TLS certificate" "$out" && break
  kill -0 "$wasim_pid" 2>/dev/null || { echo "run: wasim did not start" >&2; exit 1; }
  sleep 0.1
done
chat=$(sed -n 's/^wasim chat endpoint \([^ ]*\).*/\1/p' "$out")
control=$(sed -n 's/^wasim control API \([^ ]*\).*/\1/p' "$out")
root=$(sed -n 's/^wasim noise root public key \([0-9a-f]\{64\}\).*/\1/p' "$out")
cert=$(sed -n 's/^wasim TLS certificate \([^ ]*\).*/\1/p' "$out")
if [ -z "$chat" ] || [ -z "$root" ]; then
  echo "run: wasim did not print its endpoints (see $out)" >&2
  exit 1
fi
echo "Sandbox: wasim control API on $control (create a phone, then scan a session's QR with it; docs/sandbox.md)"
"$bin/wagate" serve --listen "$listen" --data-dir "$data" \
  --set "sandbox.chat_url=$chat" --set "sandbox.root_key=$root" --set "sandbox.ca_file=$cert" \
  --set "sandbox.control_url=$control" &
wagate_pid=$!
trap 'kill -TERM "$wagate_pid" 2>/dev/null || true; wait "$wagate_pid" 2>/dev/null || true; kill "$wasim_pid" 2>/dev/null || true; wait "$wasim_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
wait "$wagate_pid"
