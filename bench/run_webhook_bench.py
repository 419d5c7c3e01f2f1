#!/usr/bin/env python3
"""Webhook latency (issue 8): from a simulated phone's message to the signed webhook POST reaching
a local receiver. A real wagate with a linked sandbox session whose webhook points at a minimal
Node receiver (bench/webhooks/receiver.mjs, 204 at once, arrival time per event); wasim phones
send texts to the session's number at a fixed rate (open loop) through wasim's control API
(POST /v1/phones/{phone}/messages) from several threads, each with its own keep-alive
connection. Latency per message = its arrival at the receiver - the moment wasim answered the
send (201: the phone has encrypted and queued the message); also given from the moment the send
was due (includes the control API call). Same machine, same wall clock.

Usage: bench/run_webhook_bench.py BUILD_DIR OUT_DIR
  env: WA_BENCH_WEBHOOK_RATE (default 1000 /s), WA_BENCH_WEBHOOK_SECONDS (10),
       WA_BENCH_WEBHOOK_PHONES (4 sending phones), WA_BENCH_WEBHOOK_THREADS (16)
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(repo, "tests", "integration"))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(repo, "build", "release"))
out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(build, "bench-results", "webhooks"))
os.environ["WA_WAGATE_BIN"] = os.path.join(build, "src", "bin", "wagate")
os.environ["WA_WASIM_BIN"] = os.path.join(build, "src", "bin", "wasim")
import harness  # noqa: E402  (reads WA_WAGATE_BIN / WA_WASIM_BIN)
from test_accounts import Api  # noqa: E402

RATE = float(os.environ.get("WA_BENCH_WEBHOOK_RATE", "1000"))
SECONDS = float(os.environ.get("WA_BENCH_WEBHOOK_SECONDS", "10"))
PHONES = int(os.environ.get("WA_BENCH_WEBHOOK_PHONES", "4"))
THREADS = int(os.environ.get("WA_BENCH_WEBHOOK_THREADS", "16"))
SESSION_PHONE = "15550009000"
os.makedirs(out, exist_ok=True)


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def get_json(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return body


def main():
    tmp = tempfile.mkdtemp(prefix="wa-webhook-bench-")
    os.makedirs(os.path.join(tmp, "wasim"))
    procs = []
    wasim = harness.Wasim(os.path.join(tmp, "wasim"))
    procs.append(wasim.stop)
    try:
        senders = [f"1555001{i:04d}" for i in range(PHONES)]
        for phone in [SESSION_PHONE] + senders:
            status, body = wasim.request("POST", "/v1/phones", {"phone": phone, "name": phone})
            assert status == 201, body
        port = harness.free_port()
        receiver = subprocess.Popen(["node", os.path.join(repo, "bench", "webhooks", "receiver.mjs"), str(port)],
                                    stdout=subprocess.PIPE, text=True)
        procs.append(lambda: harness.stop_process(receiver))
        assert receiver.stdout.readline().startswith("listening"), "receiver did not start"

        w = harness.Wagate(os.path.join(tmp, "data"), *wasim.gateway_args(),
                           "--set", "plans.starter.requests_per_minute=1000000",
                           "--set", "plans.starter.messages_per_month=1000000000",
                           "--set", "webhooks.allow_private=127.0.0.0/8", "--set", "log.level=warn")
        procs.append(w.stop)
        api = Api(w)
        _, key = api.account_with_key("bench@example.com")
        key = key["secret"]
        status, _, session = api.call("POST", "/v1/sessions", {"name": "bench", "sandbox": True,
                                                               "webhook_url": f"http://127.0.0.1:{port}/hook"}, key=key)
        assert status == 201, session
        sid = session["id"]
        qr = harness.wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                              timeout=30, interval=0.1, what="a QR code")
        status, body = wasim.request("POST", f"/v1/phones/{SESSION_PHONE}/scan", {"qr": qr["qr"]})
        assert status == 200, body
        harness.wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                         timeout=30, interval=0.1, what="the session connected")
        # One warm-up message per sender (first contact: sessions, prekeys) before measuring.
        ctl_host, ctl_port = wasim.control_url.split("//")[1].split(":")
        ctl_port = int(ctl_port.split("/")[0])
        for s in senders:
            status, body = wasim.request("POST", f"/v1/phones/{s}/messages", {"to": SESSION_PHONE, "text": f"warmup {s}"})
            assert status == 201, body
        harness.wait_for(lambda: all(f"warmup {s}" in get_json(port, "/results")["arrivals"] for s in senders),
                         timeout=60, interval=0.2, what="warm-up messages at the receiver")

        total = int(RATE * SECONDS)
        sent = {}  # text -> (due, accepted)
        errors = []
        lock = threading.Lock()
        next_index = [0]
        t0 = time.time() + 0.5

        def worker():
            conn = http.client.HTTPConnection(ctl_host, ctl_port, timeout=30)
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= total:
                    break
                due = t0 + i / RATE
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                text = f"bench {i}"
                body = json.dumps({"to": SESSION_PHONE, "text": text})
                try:
                    conn.request("POST", f"/v1/phones/{senders[i % len(senders)]}/messages", body,
                                 {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    accepted = time.time()
                    if r.status != 201:
                        errors.append(r.status)
                        continue
                except (OSError, http.client.HTTPException) as e:
                    errors.append(str(e))
                    conn.close()
                    conn = http.client.HTTPConnection(ctl_host, ctl_port, timeout=30)
                    continue
                with lock:
                    sent[text] = (due, accepted)
            conn.close()

        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        send_end = max((a for _, a in sent.values()), default=t0)
        achieved = len(sent) / max(1e-9, send_end - t0)

        def all_arrived():
            arrivals = get_json(port, "/results")["arrivals"]
            return sum(1 for t in sent if t in arrivals) == len(sent) and arrivals
        try:
            arrivals = harness.wait_for(all_arrived, timeout=120, interval=0.5, what="every webhook")
        except AssertionError:
            arrivals = get_json(port, "/results")["arrivals"]
        from_accept = [arrivals[t][0] - a * 1000 for t, (d, a) in sent.items() if t in arrivals]
        from_due = [arrivals[t][0] - d * 1000 for t, (d, a) in sent.items() if t in arrivals]
        # Where the time goes: into the gateway (its event time, ms resolution) and out of it.
        to_event = [arrivals[t][1] - a * 1000 for t, (d, a) in sent.items() if t in arrivals]
        event_to_receiver = [arrivals[t][0] - arrivals[t][1] for t in sent if t in arrivals]
        send_ms = [(a - d) * 1000 for d, a in sent.values()]
        result = {
            "target_rate": RATE, "seconds": SECONDS, "phones": PHONES, "threads": THREADS,
            "sent": len(sent), "send_errors": len(errors), "achieved_send_rate": achieved,
            "delivered": len(from_accept),
            "latency_from_accepted_ms": {"p50": percentile(from_accept, 50), "p99": percentile(from_accept, 99),
                                         "max": max(from_accept, default=float("nan"))},
            "latency_from_due_ms": {"p50": percentile(from_due, 50), "p99": percentile(from_due, 99),
                                    "max": max(from_due, default=float("nan"))},
            "accepted_to_event_ms": {"p50": percentile(to_event, 50), "p99": percentile(to_event, 99)},
            "event_to_receiver_ms": {"p50": percentile(event_to_receiver, 50),
                                     "p99": percentile(event_to_receiver, 99)},
            "control_api_ms": {"p50": percentile(send_ms, 50), "p99": percentile(send_ms, 99)},
            "load_average": os.getloadavg(),
        }
    finally:
        for stop in reversed(procs):
            stop()
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    a, d, c = result["latency_from_accepted_ms"], result["latency_from_due_ms"], result["control_api_ms"]
    lines = [
        f"target {RATE:.0f} messages/s for {SECONDS:.0f} s from {PHONES} phones, {THREADS} client threads",
        f"sent {result['sent']} (errors {result['send_errors']}), achieved {achieved:.0f}/s; "
        f"webhooks received {result['delivered']}",
        "",
        "| latency to the receiver | p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---|---|",
        f"| from wasim's 201 (send accepted) | {a['p50']:.1f} | {a['p99']:.1f} | {a['max']:.1f} |",
        f"| from the send's due time (incl. the control API call) | {d['p50']:.1f} | {d['p99']:.1f} | {d['max']:.1f} |",
        f"| split: 201 -> the gateway's event (its timestamp, 1 ms resolution) | {result['accepted_to_event_ms']['p50']:.1f} | {result['accepted_to_event_ms']['p99']:.1f} | |",
        f"| split: the gateway's event -> the receiver | {result['event_to_receiver_ms']['p50']:.1f} | {result['event_to_receiver_ms']['p99']:.1f} | |",
        "",
        f"control API call: p50 {c['p50']:.1f} ms, p99 {c['p99']:.1f} ms; load average "
        f"{' '.join(f'{x:.2f}' for x in result['load_average'])}",
    ]
    summary = "\n".join(lines)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
