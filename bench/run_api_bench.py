#!/usr/bin/env python3
"""Accepted sends (issue 6): POST /v1/sessions/{id}/messages against a real wagate on this machine,
each 202 after the message is durably committed (SQLite, WAL, synchronous=FULL, group commit).
Phase 1: as fast as answered (closed loop, C connections) -> throughput. Phase 2: a fixed 5,000/s
(open loop; latency from each request's due time) -> p50/p99. The session is not linked (its
WhatsApp URL leads nowhere), so messages stay queued and nothing but the API path is measured.

Usage: bench/run_api_bench.py BUILD_DIR OUT_DIR
  env WA_BENCH_API_SECONDS: seconds per phase (default 10)
  env WA_BENCH_API_PIN=1: wagate (all its threads) on CPU 0, the load generator on CPU 1 (taskset)

Besides latency it reports the CPU time wagate and the load generator used per 1,000 requests
(from /proc and getrusage): on a shared machine those move less with the load than wall time.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

from bench_common import REPO as repo, setup  # noqa: E402
build, out = setup("api")
import harness  # noqa: E402  (reads WA_WAGATE_BIN / WA_WASIM_BIN, set by setup)
from test_accounts import Api  # noqa: E402

seconds = os.environ.get("WA_BENCH_API_SECONDS", "10")
pin = os.environ.get("WA_BENCH_API_PIN", "") == "1"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


load = os.path.join(build, "bench", "api", "wa_http_load")
data = tempfile.mkdtemp(prefix="wa-api-bench-")
w = harness.Wagate(data, "--set", "whatsapp.url=ws://127.0.0.1:9/ws/chat",
                   "--set", "plans.starter.requests_per_minute=1000000",
                   "--set", "plans.starter.messages_per_month=1000000000", "--set", "log.level=warn")
try:
    if pin:
        subprocess.run(["taskset", "-a", "-cp", "0", str(w.proc.pid)], check=True, stdout=subprocess.DEVNULL)
    api = Api(w)
    _, key = api.account_with_key("bench@example.com")
    status, _, session = api.call("POST", "/v1/sessions", {"name": "bench"}, key=key["secret"])
    assert status == 201, session
    url = f"{w.url}/v1/sessions/{session['id']}/messages"
    common = [load, "--url", url, "--header", "Authorization: Bearer " + key["secret"],
              "--body", '{"to":"+15550002222","text":"load test message {n}"}', "--duration", seconds]
    results = {}
    for name, extra in (("max", ["--connections", "64"]), ("rate_5000", ["--connections", "64", "--rate", "5000"])):
        path = os.path.join(out, f"{name}.json")
        server_before, load_before = cpu_seconds(w.proc.pid), children_cpu()
        cmd = (["taskset", "-c", "1"] if pin else []) + common + extra + ["--json", path]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        server_cpu, load_cpu = cpu_seconds(w.proc.pid) - server_before, children_cpu() - load_before
        with open(path) as f:
            results[name] = json.load(f)
        # All requests the phase sent (warm-up included), as the CPU figures cover them all.
        sent = max(1, results[name]["answers_total"])
        results[name]["cpu_ms_per_1000"] = {"wagate": server_cpu * 1e6 / sent, "load": load_cpu * 1e6 / sent}
    rss_kb = 0
    with open(f"/proc/{w.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
finally:
    w.stop()
    shutil.rmtree(data, ignore_errors=True)

m, r = results["max"], results["rate_5000"]
lines = [
    "| phase | requests | 202s | throughput (/s) | p50 (ms) | p99 (ms) | max (ms) | CPU ms / 1,000: wagate | load gen |",
    "|---|---|---|---|---|---|---|---|---|",
    f"| as fast as answered, 64 connections | {m['requests']} | {m['statuses'].get('202', 0)} | {m['throughput_rps']:.0f} | {m['latency_ms']['p50']:.2f} | {m['latency_ms']['p99']:.2f} | {m['latency_ms']['max']:.2f} | {m['cpu_ms_per_1000']['wagate']:.0f} | {m['cpu_ms_per_1000']['load']:.0f} |",
    f"| fixed 5,000/s, 64 connections | {r['requests']} | {r['statuses'].get('202', 0)} | {r['throughput_rps']:.0f} | {r['latency_ms']['p50']:.2f} | {r['latency_ms']['p99']:.2f} | {r['latency_ms']['max']:.2f} | {r['cpu_ms_per_1000']['wagate']:.0f} | {r['cpu_ms_per_1000']['load']:.0f} |",
    "",
    f"{'Pinned: wagate on CPU 0, load generator on CPU 1.' if pin else 'Not pinned: both may use both cores.'} "
    f"Load average at the end: {open('/proc/loadavg').read().split()[0]}.",
    f"Targets: at least 10,000 accepted/s (measured {m['throughput_rps']:.0f}); p99 under 5 ms at 5,000/s "
    f"(measured {r['latency_ms']['p99']:.2f} ms). wagate RSS after the run: {rss_kb // 1024} MiB.",
]
summary = "\n".join(lines)
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(summary + "\n")
print(summary)
