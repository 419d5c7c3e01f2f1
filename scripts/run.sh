#!/usr/bin/env bash
# `make run`: wagate on LISTEN with its data under DATA_DIR, and a wasim beside it as the sandbox
# (sandbox.wasim=auto: wagate starts the wasim next to its binary and stops it on exit; sessions
# created with "sandbox": true link a simulated phone, docs/sandbox.md). Real WhatsApp sessions
# work at the same time. Ctrl-C stops both.
set -euo pipefail
bin="${1:?build dir}"
listen="${2:?listen}"
data="${3:?data dir}"
mkdir -p "$data"
exec "$bin/wagate" serve --listen "$listen" --data-dir "$data" --set sandbox.wasim=auto
