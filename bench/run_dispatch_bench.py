#!/usr/bin/env python3
"""Dispatch latency (issue 7): from the 202 of POST /v1/sessions/{id}/messages to the message
stanza's frame leaving the gateway's socket, with pacing off, at a fixed rate over many linked
sandbox sessions of a real wagate and wasim on this machine.

The measure is wagate's own histogram `wagate_outbox_dispatch_seconds` (steady clock: from the
moment the enqueue commit completed, when the 202 can go out, to the completion of the socket
write carrying the stanza), read from /metrics before and after the measured window; p50/p99 are
interpolated linearly within its buckets (0.25 ms wide up to 5 ms). Cross-check per message,
independent of that instrumentation: the 202's arrival at this client -> the recipient phone in
wasim decrypting the message (its inbox `timestamp`, unix ms; the same wall clock). That adds the
HTTP answer's way back, wasim's routing and the phone's decryption, so it is an upper bound.

Setup: SESSIONS sessions (sandbox, speed 0..0 ms, no typing, no caps), each linked to its own
wasim phone and sending to one of RECIPIENTS phones; a warm-up message per session (Signal
sessions, device lists) and a warm-up second at the rate; then an open loop of RATE POSTs/s
spread round-robin over the sessions for SECONDS, from THREADS threads with keep-alive
connections (each request's latency is counted from its due time, so a slow answer does not slow
the offered load).

Usage: bench/run_dispatch_bench.py BUILD_DIR OUT_DIR
  env: WA_BENCH_DISPATCH_SECONDS (default 10), WA_BENCH_DISPATCH_RATE (1000),
       WA_BENCH_DISPATCH_SESSIONS (100), WA_BENCH_DISPATCH_RECIPIENTS (10),
       WA_BENCH_DISPATCH_THREADS (16), WA_BENCH_DISPATCH_TMP (where the data dirs go; default the
       system temp dir; /dev/shm takes fsync out of the picture)
"""
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import REPO as repo, setup, percentile, stats  # noqa: E402
build, out = setup("dispatch")
import harness  # noqa: E402  (reads WA_WAGATE_BIN / WA_WASIM_BIN, set by setup)
from test_accounts import Api  # noqa: E402

SECONDS = float(os.environ.get("WA_BENCH_DISPATCH_SECONDS", "10"))
RATE = float(os.environ.get("WA_BENCH_DISPATCH_RATE", "1000"))
SESSIONS = int(os.environ.get("WA_BENCH_DISPATCH_SESSIONS", "100"))
RECIPIENTS = int(os.environ.get("WA_BENCH_DISPATCH_RECIPIENTS", "10"))
THREADS = int(os.environ.get("WA_BENCH_DISPATCH_THREADS", "16"))
TMP = os.environ.get("WA_BENCH_DISPATCH_TMP") or None
METRIC = "wagate_outbox_dispatch_seconds"


def own_phone(i):
    return f"1555100{i:04d}"


def recipient_phone(i):
    return f"1555200{i % RECIPIENTS:04d}"


def histogram(w):
    """{le: cumulative count} and the total count of the dispatch histogram on /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", int(w.url.rsplit(":", 1)[1]), timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    buckets, count = {}, 0
    for line in text.splitlines():
        m = re.match(METRIC + r'_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = float(m.group(2))
        elif line.startswith(METRIC + "_count"):
            count = float(line.split()[1])
    return buckets, count


def quantile(before, after, q):
    """Linear interpolation within the bucket holding the q-quantile of after - before (seconds)."""
    les = sorted(after)
    cum = [after[le] - before.get(le, 0) for le in les]
    total = cum[-1]
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_le, lower_cum = 0.0, 0.0
    for le, c in zip(les, cum):
        if c >= rank:
            if le == float("inf"):
                return lower_le  # beyond the last finite bucket: its bound is all we know
            return lower_le + (le - lower_le) * (rank - lower_cum) / max(c - lower_cum, 1e-12)
        lower_le, lower_cum = le, c
    return les[-2]


def highest_bucket(before, after):
    """The upper bound of the highest bucket that gained observations (the max lies below)."""
    les = sorted(after)
    prev = 0.0
    top = None
    for le in les:
        c = after[le] - before.get(le, 0)
        if c > prev:
            top = le
        prev = c
    return top


def main():
    tmp = tempfile.mkdtemp(prefix="wa-dispatch-bench-", dir=TMP)
    os.makedirs(os.path.join(tmp, "wasim"))
    stops = []
    fs = subprocess.run(["df", "--output=fstype", tmp], capture_output=True, text=True).stdout.split()[-1]
    result = {"config": {"filesystem": fs, "rate": RATE, "seconds": SECONDS, "sessions": SESSIONS, "recipients": RECIPIENTS,
                         "threads": THREADS, "tmp": tmp}}
    try:
        wasim = harness.Wasim(os.path.join(tmp, "wasim"))
        stops.append(wasim.stop)
        for phone in [own_phone(i) for i in range(SESSIONS)] + [recipient_phone(i) for i in range(RECIPIENTS)]:
            status, body = wasim.request("POST", "/v1/phones", {"phone": phone, "name": phone})
            assert status == 201, body
        w = harness.Wagate(os.path.join(tmp, "data"), *wasim.gateway_args(),
                           "--set", "whatsapp.url=ws://127.0.0.1:9/ws/chat",
                           "--set", "plans.starter.requests_per_minute=1000000",
                           "--set", "plans.starter.messages_per_month=1000000000",
                           "--set", f"plans.starter.sessions={SESSIONS + 10}", "--set", "log.level=warn")
        stops.append(w.stop)
        api = Api(w)
        _, key = api.account_with_key("bench@example.com")
        key = key["secret"]

        def call(method, path, body=None):
            return api.call(method, path, body, key=key)

        def link(i):
            status, _, s = call("POST", "/v1/sessions", {
                "name": f"bench {i}", "sandbox": True, "speed": {"min_delay_ms": 0, "max_delay_ms": 0},
                "pacing": {"typing": False}})
            assert status == 201, s
            sid = s["id"]
            qr = harness.wait_for(lambda: (b := call("GET", f"/v1/sessions/{sid}/qr")[2])["qr"] and b,
                                  timeout=60, interval=0.1, what="a QR code")
            status, body = wasim.request("POST", f"/v1/phones/{own_phone(i)}/scan", {"qr": qr["qr"]})
            assert status == 200, body
            harness.wait_for(lambda: call("GET", f"/v1/sessions/{sid}")[2]["status"] == "connected",
                             timeout=60, interval=0.1, what=f"session {i} connected")
            return sid

        t_link = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            sids = list(pool.map(link, range(SESSIONS)))
        result["link_seconds"] = time.time() - t_link
        print(f"{SESSIONS} sessions linked in {result['link_seconds']:.1f} s", flush=True)

        host, port = w.url.split("//")[1].rsplit(":", 1)

        def post(conn, i, text):
            sid = sids[i % SESSIONS]
            conn.request("POST", f"/v1/sessions/{sid}/messages",
                         json.dumps({"to": "+" + recipient_phone(i % SESSIONS), "text": text}),
                         {"Content-Type": "application/json", "Authorization": "Bearer " + key})
            r = conn.getresponse()
            body = r.read()
            return json.loads(body) if r.status == 202 else None

        def open_loop(rate, seconds, label):
            total = int(rate * seconds)
            sent, errors = {}, []
            lock = threading.Lock()
            next_index = [0]
            t0 = time.time() + 0.3

            def worker():
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                while True:
                    with lock:
                        i = next_index[0]
                        next_index[0] += 1
                    if i >= total:
                        break
                    due = t0 + i / rate
                    delay = due - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    try:
                        m = post(conn, i, f"{label} {i}")
                        answered = time.time()
                    except (OSError, http.client.HTTPException) as e:
                        errors.append(str(e))
                        conn.close()
                        conn = http.client.HTTPConnection(host, int(port), timeout=30)
                        continue
                    if m is None:
                        errors.append(i)
                        continue
                    with lock:
                        sent[m["wa_id"]] = (i, m["id"], due, answered)
                conn.close()

            threads = [threading.Thread(target=worker) for _ in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            end = max((v[3] for v in sent.values()), default=t0)
            return sent, errors, len(sent) / max(1e-9, end - t0)

        def drained(expected):
            return harness.wait_for(lambda: histogram(w)[1] >= expected and True, timeout=180, interval=0.2,
                                    what=f"{expected} messages written by the gateway")

        # Warm-up: one message per session (first contact: prekeys, device lists), then a second
        # at the rate.
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for i in range(SESSIONS):
            assert post(conn, i, f"warmup {i}") is not None
        conn.close()
        drained(SESSIONS)
        warm, _, _ = open_loop(RATE, 1.0, "warm")
        drained(SESSIONS + len(warm))
        time.sleep(0.5)  # the last writes' observations land before the snapshot
        before, count_before = histogram(w)

        load_before = os.getloadavg()
        sent, errors, achieved = open_loop(RATE, SECONDS, "bench")
        load_during = os.getloadavg()
        try:
            drained(count_before + len(sent))
        except AssertionError as e:
            print(f"not everything was written: {e}", flush=True)
        after, count_after = histogram(w)

        # Cross-check at the recipients' phones.
        arrivals = {}
        for r in range(min(RECIPIENTS, SESSIONS)):
            status, inbox = wasim.request("GET", f"/v1/phones/{recipient_phone(r)}/messages")
            assert status == 200, inbox
            for m in inbox:
                arrivals[m["id"]] = m["timestamp"]
        e2e = [arrivals[wa] - v[3] * 1000 for wa, v in sent.items() if wa in arrivals]
        from_due = [arrivals[wa] - v[2] * 1000 for wa, v in sent.items() if wa in arrivals]
        call_ms = [(v[3] - v[2]) * 1000 for v in sent.values()]
        rss_kb = 0
        with open(f"/proc/{w.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
        result.update({
            "accepted": len(sent), "errors": len(errors), "achieved_rate": achieved,
            "observed": count_after - count_before,
            "histogram_ms": {"p50": quantile(before, after, 0.50) * 1000, "p99": quantile(before, after, 0.99) * 1000,
                             "p999": quantile(before, after, 0.999) * 1000,
                             "max_bucket": (highest_bucket(before, after) or float("nan")) * 1000},
            "e2e_202_to_phone_ms": stats(e2e), "due_to_phone_ms": stats(from_due), "call_ms": stats(call_ms),
            "arrived": len(e2e), "load_average_before": load_before, "load_average_during": load_during,
            "wagate_rss_mib": rss_kb // 1024,
            "buckets_delta": {str(le): after[le] - before.get(le, 0) for le in sorted(after)},
        })
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)

    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    h, e, c = result["histogram_ms"], result["e2e_202_to_phone_ms"], result["call_ms"]
    load = " ".join(f"{x:.2f}" for x in result["load_average_during"])
    lines = [
        f"{SESSIONS} sessions, {RECIPIENTS} recipient phones, target {RATE:.0f}/s for {SECONDS:.0f} s from {THREADS} "
        f"threads: accepted {result['accepted']} (errors {result['errors']}) at {result['achieved_rate']:.0f}/s; "
        f"observed by the histogram {result['observed']:.0f}, at the phones {result['arrived']}; load average at the "
        f"end of the window {load}; wagate RSS {result['wagate_rss_mib']} MiB; data dir on {result['config']['filesystem']}",
        "",
        "| measure | p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---|---|",
        f"| 202 -> stanza written (wagate histogram, interpolated in 0.25 ms buckets) | {h['p50']:.2f} | {h['p99']:.2f} "
        f"| <= {h['max_bucket']:.2f} (bucket) |",
        f"| cross-check: 202 at the client -> decrypted at the recipient phone | {e['p50']:.2f} | {e['p99']:.2f} "
        f"| {e['max']:.2f} |",
        f"| the POST itself (due time -> 202 at the client) | {c['p50']:.2f} | {c['p99']:.2f} | {c['max']:.2f} |",
        "",
        f"Target: p99 under 5 ms (measured {h['p99']:.2f} ms).",
    ]
    summary = "\n".join(lines)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
