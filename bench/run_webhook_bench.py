#!/usr/bin/env python3
"""Webhook latency (issue 8), against real processes on this machine (same wall clock).

Phase "phone" (the issue's measure): a wagate with a linked sandbox session whose webhook points
at a minimal Node receiver (bench/webhooks/receiver.mjs: 204 at once, arrival time per event);
wasim phones send texts to the session's number at a fixed rate (open loop) through wasim's
control API (POST /v1/phones/{phone}/messages) from several threads, each with its own
keep-alive connection. Latency per message = its message.received webhook's arrival at the
receiver - the moment wasim answered the send (201: the phone has encrypted and queued the
message). The event's own timestamp (set by the gateway when the message reached its message
handler, 1 ms resolution) splits it into "into the gateway" and "out as a webhook".

Phase "api" (the webhook pipeline alone at the same rate): a second, unlinked session with its
own webhook; POST /v1/sessions/{id}/messages at the fixed rate; each accepted message's
message.status "queued" event is committed before the 202, so latency = webhook arrival - the
202.

Usage: bench/run_webhook_bench.py BUILD_DIR OUT_DIR
  env: WA_BENCH_WEBHOOK_RATE (default 1000 /s), WA_BENCH_WEBHOOK_SECONDS (10),
       WA_BENCH_WEBHOOK_PHONES (4 sending phones), WA_BENCH_WEBHOOK_THREADS (16),
       WA_BENCH_WEBHOOK_PHASES ("phone,api")
"""
import http.client
import json
import os
import shutil
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
PHASES = os.environ.get("WA_BENCH_WEBHOOK_PHASES", "phone,api").split(",")
SESSION_PHONE = "15550009000"
os.makedirs(out, exist_ok=True)


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def stats(values):
    return {"p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values, default=float("nan")), "n": len(values)}


def get_json(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return body


def open_loop(host, port, request):
    """Calls request(conn, i) -> key or None for i in [0, RATE*SECONDS) at RATE/s from THREADS
    threads; returns ({key: (due, answered)}, errors, achieved rate)."""
    total = int(RATE * SECONDS)
    sent, errors = {}, []
    lock = threading.Lock()
    next_index = [0]
    t0 = time.time() + 0.5

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=30)
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
            try:
                key = request(conn, i)
                answered = time.time()
            except (OSError, http.client.HTTPException) as e:
                errors.append(str(e))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            if key is None:
                errors.append(i)
                continue
            with lock:
                sent[key] = (due, answered)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = max((a for _, a in sent.values()), default=t0)
    return sent, errors, len(sent) / max(1e-9, end - t0)


def collect(receiver_port, sent):
    def all_arrived():
        arrivals = get_json(receiver_port, "/results")["arrivals"]
        return sum(1 for k in sent if k in arrivals) == len(sent) and arrivals
    try:
        arrivals = harness.wait_for(all_arrived, timeout=180, interval=0.5, what="every webhook")
    except AssertionError:
        arrivals = get_json(receiver_port, "/results")["arrivals"]
    got = [k for k in sent if k in arrivals]
    return {
        "delivered": len(got),
        "from_answer_ms": stats([arrivals[k][0] - sent[k][1] * 1000 for k in got]),
        "from_due_ms": stats([arrivals[k][0] - sent[k][0] * 1000 for k in got]),
        "answer_to_event_ms": stats([arrivals[k][1] - sent[k][1] * 1000 for k in got]),
        "event_to_receiver_ms": stats([arrivals[k][0] - arrivals[k][1] for k in got]),
        "call_ms": stats([(a - d) * 1000 for d, a in sent.values()]),
    }


def main():
    tmp = tempfile.mkdtemp(prefix="wa-webhook-bench-")
    os.makedirs(os.path.join(tmp, "wasim"))
    stops = []
    results = {}
    try:
        wasim = harness.Wasim(os.path.join(tmp, "wasim"))
        stops.append(wasim.stop)
        senders = [f"1555001{i:04d}" for i in range(PHONES)]
        for phone in [SESSION_PHONE] + senders:
            status, body = wasim.request("POST", "/v1/phones", {"phone": phone, "name": phone})
            assert status == 201, body
        port = harness.free_port()
        receiver = subprocess.Popen(["node", os.path.join(repo, "bench", "webhooks", "receiver.mjs"), str(port)],
                                    stdout=subprocess.PIPE, text=True)
        stops.append(lambda: harness.stop_process(receiver))
        assert receiver.stdout.readline().startswith("listening"), "receiver did not start"

        w = harness.Wagate(os.path.join(tmp, "data"), *wasim.gateway_args(),
                           "--set", "plans.starter.requests_per_minute=1000000", "--set", "whatsapp.url=ws://127.0.0.1:9/ws/chat",
                           "--set", "plans.starter.messages_per_month=1000000000",
                           "--set", "webhooks.allow_private=127.0.0.0/8", "--set", "log.level=warn")
        stops.append(w.stop)
        api = Api(w)
        _, key = api.account_with_key("bench@example.com")
        key = key["secret"]
        hook = f"http://127.0.0.1:{port}/hook"

        if "phone" in PHASES:
            status, _, session = api.call("POST", "/v1/sessions", {"name": "bench", "sandbox": True,
                                                                   "webhook_url": hook}, key=key)
            assert status == 201, session
            sid = session["id"]
            qr = harness.wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                                  timeout=30, interval=0.1, what="a QR code")
            status, body = wasim.request("POST", f"/v1/phones/{SESSION_PHONE}/scan", {"qr": qr["qr"]})
            assert status == 200, body
            harness.wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                             timeout=30, interval=0.1, what="the session connected")
            # One warm-up message per sender (first contact: Signal sessions) before measuring.
            for s in senders:
                status, body = wasim.request("POST", f"/v1/phones/{s}/messages", {"to": SESSION_PHONE, "text": f"warmup {s}"})
                assert status == 201, body
            harness.wait_for(lambda: all(f"warmup {s}" in get_json(port, "/results")["arrivals"] for s in senders),
                             timeout=60, interval=0.2, what="warm-up messages at the receiver")
            ctl = wasim.control_url.split("//")[1].split("/")[0]
            ctl_host, ctl_port = ctl.rsplit(":", 1)

            def phone_send(conn, i):
                text = f"bench {i}"
                conn.request("POST", f"/v1/phones/{senders[i % len(senders)]}/messages",
                             json.dumps({"to": SESSION_PHONE, "text": text}), {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                return text if r.status == 201 else None

            sent, errors, achieved = open_loop(ctl_host, int(ctl_port), phone_send)
            results["phone"] = {"sent": len(sent), "errors": len(errors), "achieved_rate": achieved,
                                **collect(port, sent)}

        if "api" in PHASES:
            # Unlinked (its WhatsApp URL leads nowhere): messages stay queued, one event each.
            status, _, session = api.call("POST", "/v1/sessions", {"name": "bench-api", "sandbox": False,
                                                                   "webhook_url": hook}, key=key)
            assert status == 201, session
            url = f"/v1/sessions/{session['id']}/messages"
            api_host, api_port = w.url.split("//")[1].rsplit(":", 1)

            def api_send(conn, i):
                conn.request("POST", url, json.dumps({"to": "+15550002222", "text": f"api {i}"}),
                             {"Content-Type": "application/json", "Authorization": "Bearer " + key})
                r = conn.getresponse()
                body = r.read()
                return f"{json.loads(body)['id']}:queued" if r.status == 202 else None

            sent, errors, achieved = open_loop(api_host, int(api_port), api_send)
            results["api"] = {"sent": len(sent), "errors": len(errors), "achieved_rate": achieved,
                              **collect(port, sent)}
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)
    results["config"] = {"rate": RATE, "seconds": SECONDS, "phones": PHONES, "threads": THREADS,
                         "load_average_after": os.getloadavg()}
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(results, f, indent=2)

    def row(label, s):
        return f"| {label} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |"

    lines = [f"target {RATE:.0f}/s for {SECONDS:.0f} s, {THREADS} client threads; load average after "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", ""]
    if "phone" in results:
        p = results["phone"]
        lines += [f"phone -> session ({PHONES} phones): sent {p['sent']} (errors {p['errors']}) at {p['achieved_rate']:.0f}/s; "
                  f"webhooks received {p['delivered']}", "",
                  "| message.received, latency to the receiver | p50 (ms) | p99 (ms) | max (ms) |", "|---|---|---|---|",
                  row("from wasim's 201 (send accepted)", p["from_answer_ms"]),
                  row("from the send's due time", p["from_due_ms"]),
                  row("part: 201 -> the gateway's message handler (event time)", p["answer_to_event_ms"]),
                  row("part: event -> the receiver", p["event_to_receiver_ms"]), ""]
    if "api" in results:
        a = results["api"]
        lines += [f"API sends (unlinked session): accepted {a['sent']} (errors {a['errors']}) at {a['achieved_rate']:.0f}/s; "
                  f"webhooks received {a['delivered']}", "",
                  "| message.status queued, latency to the receiver | p50 (ms) | p99 (ms) | max (ms) |", "|---|---|---|---|",
                  row("from the 202", a["from_answer_ms"]),
                  row("from the send's due time", a["from_due_ms"]), ""]
    summary = "\n".join(lines)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
