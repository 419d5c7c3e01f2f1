#!/usr/bin/env python3
"""Webhook latency (issue 8), against real processes on this machine (same wall clock).

What is measured, per message: from the moment wagate's engine read the message's stanza off its
WhatsApp connection (the frame decrypted and decoded, before any queueing, decryption or store
work; the engine notes the system clock then, and it becomes the message's created_at and its
message.received event's `timestamp`, 1 ms resolution, truncated) to the moment the signed
message.received webhook POST reached a local receiver (bench/webhooks/receiver.mjs: 204 at once,
keep-alive, records the system clock when the body is complete). Both on this machine's clock.
The time from wasim's 201 for the send (the phone has encrypted and queued it) is shown beside.

Phase "sessions" (the issue's load, default): SESSIONS linked sandbox sessions of one account,
one account-level webhook endpoint (message.received) pointing at the receiver; wasim phones
send texts to the sessions round-robin at RATE/s in total (open loop) through wasim's control
API (POST /v1/phones/{phone}/messages) from several threads, each with a keep-alive connection.

Phase "phone": the same with one session (its own webhook_url) taking the whole RATE.

Phase "api" (the webhook pipeline alone): an unlinked session with its own webhook;
POST /v1/sessions/{id}/messages at RATE/s; each accepted message's message.status "queued" event
is committed before the 202, so latency = webhook arrival - the 202.

Usage: bench/run_webhook_bench.py BUILD_DIR OUT_DIR
  env: WA_BENCH_WEBHOOK_RATE (default 1000 /s in total), WA_BENCH_WEBHOOK_SECONDS (10),
       WA_BENCH_WEBHOOK_SESSIONS (10, phase "sessions"), WA_BENCH_WEBHOOK_PHONES (4 sending
       phones), WA_BENCH_WEBHOOK_THREADS (16), WA_BENCH_WEBHOOK_PHASES ("sessions"; also "phone",
       "api"), WA_BENCH_WEBHOOK_PERF (a path prefix: perf record -g of wagate during each phone phase;
       WA_BENCH_WEBHOOK_PERF_DWARF=1 records DWARF call graphs, which see through libraries
       built without frame pointers)
"""
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import REPO as repo, setup, percentile, stats  # noqa: E402
build, out = setup("webhooks")
import harness  # noqa: E402  (reads WA_WAGATE_BIN / WA_WASIM_BIN, set by setup)
from test_accounts import Api  # noqa: E402

RATE = float(os.environ.get("WA_BENCH_WEBHOOK_RATE", "1000"))
SECONDS = float(os.environ.get("WA_BENCH_WEBHOOK_SECONDS", "10"))
PHONES = int(os.environ.get("WA_BENCH_WEBHOOK_PHONES", "4"))
THREADS = int(os.environ.get("WA_BENCH_WEBHOOK_THREADS", "16"))
SESSIONS = int(os.environ.get("WA_BENCH_WEBHOOK_SESSIONS", "10"))
PHASES = os.environ.get("WA_BENCH_WEBHOOK_PHASES", "sessions").split(",")
PERF = os.environ.get("WA_BENCH_WEBHOOK_PERF", "")  # a path: perf record -g of wagate while the phones send


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
        "answer_to_frame_ms": stats([arrivals[k][1] - sent[k][1] * 1000 for k in got]),
        "frame_to_receiver_ms": stats([arrivals[k][0] - arrivals[k][1] for k in got]),
        "first_arrival": min((arrivals[k][0] for k in got), default=0),
        "last_arrival": max((arrivals[k][0] for k in got), default=0),
        "call_ms": stats([(a - d) * 1000 for d, a in sent.values()]),
    }


def stages(db_path, sent, arrivals):
    """Splits frame -> receiver with the gateway's own rows (read-only, while it runs): the
    delivery row's creation (the fan-out, in unix ms) and the first attempt's start."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    rows = db.execute("SELECT d.body, d.created_ms, (SELECT MIN(a.at_ms) FROM webhook_attempts a "
                      "WHERE a.delivery_id = d.id) FROM webhook_deliveries d "
                      "WHERE d.event_type = 'message.received'").fetchall()
    db.close()
    fan, wait, post = [], [], []
    for body, created, first_attempt in rows:
        text = json.loads(body)["data"]["message"].get("text")
        if text not in sent or text not in arrivals or first_attempt is None:
            continue
        arrived, frame = arrivals[text]
        fan.append(created - frame)
        wait.append(first_attempt - created)
        post.append(arrived - first_attempt)
    return {"frame_to_fanout_ms": stats(fan), "fanout_to_attempt_ms": stats(wait),
            "attempt_to_receiver_ms": stats(post)}


def main():
    tmp = tempfile.mkdtemp(prefix="wa-webhook-bench-")
    os.makedirs(os.path.join(tmp, "wasim"))
    stops = []
    results = {}
    try:
        wasim = harness.Wasim(os.path.join(tmp, "wasim"))
        stops.append(wasim.stop)
        senders = [f"1555001{i:04d}" for i in range(PHONES)]
        for phone in senders:
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
                           "--set", f"plans.starter.sessions={SESSIONS + 2}",
                           "--set", "webhooks.allow_private=127.0.0.0/8", "--set", "log.level=warn")
        stops.append(w.stop)
        api = Api(w)
        _, key = api.account_with_key("bench@example.com")
        key = key["secret"]
        hook = f"http://127.0.0.1:{port}/hook"

        ctl = wasim.control_url.split("//")[1].split("/")[0]
        ctl_host, ctl_port = ctl.rsplit(":", 1)

        def linked_phase(name, count, own_webhook):
            """Links `count` sandbox sessions (phones 1555009xxxx), warms up every sender with
            every session, then sends RATE/s round-robin over them."""
            numbers = []
            for j in range(count):
                number = f"155500{9000 + len(linked) + j:05d}"
                status, body = wasim.request("POST", "/v1/phones", {"phone": number, "name": number})
                assert status == 201, body
                spec = {"name": f"{name}-{j}", "sandbox": True}
                if own_webhook:
                    spec["webhook_url"] = hook
                status, _, session = api.call("POST", "/v1/sessions", spec, key=key)
                assert status == 201, session
                sid = session["id"]
                qr = harness.wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                                      timeout=30, interval=0.1, what="a QR code")
                status, body = wasim.request("POST", f"/v1/phones/{number}/scan", {"qr": qr["qr"]})
                assert status == 200, body
                harness.wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                                 timeout=30, interval=0.1, what="the session connected")
                numbers.append(number)
            linked.extend(numbers)
            # One warm-up message per (sender, session) before measuring (first contact: Signal sessions).
            warm = []
            for s in senders:
                for number in numbers:
                    text = f"warmup {name} {s} {number}"
                    status, body = wasim.request("POST", f"/v1/phones/{s}/messages", {"to": number, "text": text})
                    assert status == 201, body
                    warm.append(text)
            harness.wait_for(lambda: all(t in get_json(port, "/results")["arrivals"] for t in warm),
                             timeout=120, interval=0.2, what="warm-up messages at the receiver")

            def phone_send(conn, i):
                text = f"{name} {i}"
                to = numbers[i % len(numbers)]
                sender = senders[(i // len(numbers)) % len(senders)]
                conn.request("POST", f"/v1/phones/{sender}/messages",
                             json.dumps({"to": to, "text": text}), {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                return text if r.status == 201 else None

            load_before = os.getloadavg()[0]
            perf = None
            if PERF:
                graph = ["--call-graph", "dwarf,16384"] if os.environ.get("WA_BENCH_WEBHOOK_PERF_DWARF") else ["-g"]
                perf = subprocess.Popen(["perf", "record", *graph, "-F", "499", "-o", f"{PERF}.{name}",
                                         "-p", str(w.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sent, errors, achieved = open_loop(ctl_host, int(ctl_port), phone_send)
            results[name] = {"sessions": count, "sent": len(sent), "errors": len(errors), "achieved_rate": achieved,
                             **collect(port, sent), "load_average_before": load_before,
                             "load_average_after": os.getloadavg()[0]}
            if perf:
                perf.send_signal(2)
                perf.wait()
            results[name].update(stages(os.path.join(tmp, "data", "wagate.db"), sent,
                                        get_json(port, "/results")["arrivals"]))

        linked = []
        if "sessions" in PHASES:
            status, _, endpoint = api.call("POST", "/v1/webhooks", {"url": hook, "events": ["message.received"],
                                                                     "description": "bench"}, key=key)
            assert status == 201, endpoint
            linked_phase("sessions", SESSIONS, False)
        if "phone" in PHASES:
            linked_phase("phone", 1, True)

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

            load_before = os.getloadavg()[0]
            sent, errors, achieved = open_loop(api_host, int(api_port), api_send)
            results["api"] = {"sent": len(sent), "errors": len(errors), "achieved_rate": achieved,
                              **collect(port, sent), "load_average_before": load_before,
                              "load_average_after": os.getloadavg()[0]}
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(tmp, ignore_errors=True)
    results["config"] = {"rate": RATE, "seconds": SECONDS, "sessions": SESSIONS, "phones": PHONES, "threads": THREADS,
                         "load_average_after": os.getloadavg()}
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(results, f, indent=2)

    def row(label, s):
        return f"| {label} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |"

    lines = [f"target {RATE:.0f}/s for {SECONDS:.0f} s, {THREADS} client threads; load average after "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", ""]
    for name in ("sessions", "phone"):
        if name not in results:
            continue
        p = results[name]
        lines += [f"{name}: {p['sessions']} session(s), {PHONES} phones: sent {p['sent']} (errors {p['errors']}) at "
                  f"{p['achieved_rate']:.0f}/s; webhooks received {p['delivered']} "
                  f"(first to last arrival {(p['last_arrival'] - p['first_arrival']) / 1000:.1f} s); "
                  f"load average {p['load_average_before']:.2f} before, {p['load_average_after']:.2f} after", "",
                  "| message.received, latency to the receiver | p50 (ms) | p99 (ms) | max (ms) |", "|---|---|---|---|",
                  row("from the frame's arrival in wagate (event timestamp)", p["frame_to_receiver_ms"]),
                  row("from wasim's 201 (send accepted)", p["from_answer_ms"]),
                  row("part: 201 -> the frame's arrival", p["answer_to_frame_ms"]),
                  row("stage: frame -> delivery row (received, stored, fanned out)", p["frame_to_fanout_ms"]),
                  row("stage: delivery row -> first attempt starts", p["fanout_to_attempt_ms"]),
                  row("stage: attempt starts -> receiver", p["attempt_to_receiver_ms"]), ""]
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
