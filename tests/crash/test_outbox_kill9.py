"""kill -9 crash test of the durable outbox (issue 7): a wagate with a linked sandbox session
(no pacing delay) sends to a wasim phone while a client thread POSTs messages with unique texts
and the test kills wagate with SIGKILL at random moments, restarting it each time on the same
data dir and port.

The client retries a POST that got no answer (the process died under it) with the same
Idempotency-Key until it gets a 202, so every message the gateway may have committed ends up
accepted exactly once from the client's view. What must hold afterwards:
- the recipient's phone shows every accepted message exactly once: its inbox holds as many
  messages from the session as were accepted, with exactly the accepted WhatsApp ids and texts.
  (A message sent but not yet recorded as sent when the process died is sent again under the
  same id after the restart; the phone drops such a resend as a real phone does and counts it:
  the count is printed, it is the proof that resends happened and were harmless.)
- every accepted message's status, read back with GET, is sent or later (delivered/read);
- the phone decrypted everything: wasim counts no decryption failure and no retry receipt.

Defaults: 1,000 messages and 5 kills (under a minute). WA_OUTBOX_KILL_MESSAGES and
WA_OUTBOX_KILLS run a larger job (docs/benchmarks.md has the numbers of a 10,000/20 run);
WA_OUTBOX_KILL_SEED replays a run's choices (not its timing). The seed is printed.
"""
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import TempDirTest, Wagate, Wasim, free_port, wait_for  # noqa: E402
from openapi_check import OpenApi  # noqa: E402
from test_accounts import Api  # noqa: E402

OWN = "15550001111"
BOB = "15550002222"
OWN_JID = OWN + "@s.whatsapp.net"
MESSAGES = int(os.environ.get("WA_OUTBOX_KILL_MESSAGES", "1000"))
KILLS = int(os.environ.get("WA_OUTBOX_KILLS", "5"))


def log(msg):
    print(f"[outbox-kill9 {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Poster(threading.Thread):
    """POSTs MESSAGES messages in order; each is retried with its Idempotency-Key until a 202."""

    def __init__(self, url, key, sid, openapi, deadline):
        super().__init__(daemon=True)
        self.url, self.key, self.sid, self.openapi, self.deadline = url, key, sid, openapi, deadline
        self.run_id = uuid.uuid4().hex[:8]
        self.accepted = {}  # index -> the 202 body
        self.replayed = 0   # 202s that were replays of a request committed before a kill
        self.retries = 0    # POSTs that got no answer
        self.error = None
        self.lock = threading.Lock()

    def count(self):
        with self.lock:
            return len(self.accepted)

    def post(self, i):
        body = json.dumps({"to": "+" + BOB, "text": f"kill9 {self.run_id} #{i}"}).encode()
        path = f"/v1/sessions/{self.sid}/messages"
        req = urllib.request.Request(self.url + path, method="POST", data=body,
                                     headers={"Authorization": "Bearer " + self.key,
                                              "Content-Type": "application/json",
                                              "Idempotency-Key": f"{self.run_id}-{i}"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                status, headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, headers, raw = e.code, dict(e.headers), e.read()
        except (OSError, http.client.HTTPException):
            return None  # the process died (or was restarting): try again
        self.openapi.check("POST", path, status, headers, raw)
        return status, headers, json.loads(raw)

    def run(self):
        try:
            for i in range(MESSAGES):
                while True:
                    if time.monotonic() > self.deadline:
                        raise AssertionError(f"message {i} got no 202 in time")
                    got = self.post(i)
                    if got is None:
                        self.retries += 1
                        time.sleep(0.02)
                        continue
                    status, headers, body = got
                    if status != 202:
                        raise AssertionError(f"message {i}: {status} {body}")
                    with self.lock:
                        self.accepted[i] = body
                        if headers.get("Idempotent-Replayed") == "true":
                            self.replayed += 1
                    break
        except BaseException as e:  # reported by the test thread
            self.error = e


class OutboxKill9Test(TempDirTest):
    def test_every_accepted_message_reaches_the_phone_exactly_once(self):
        seed = int(os.environ.get("WA_OUTBOX_KILL_SEED", str(random.randrange(1 << 30))))
        rng = random.Random(seed)
        log(f"seed {seed}: {MESSAGES} messages, {KILLS} kills")
        started = time.monotonic()

        os.makedirs(os.path.join(self.tmp, "wasim"))
        wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(wasim.stop)
        for phone in (OWN, BOB):
            self.assertEqual(wasim.request("POST", "/v1/phones", {"phone": phone})[0], 201)

        data_dir = os.path.join(self.tmp, "data")
        listen = f"127.0.0.1:{free_port()}"
        gateways = []

        def start():
            w = Wagate(data_dir, *wasim.gateway_args(), "--set", "plans.starter.requests_per_minute=1000000",
                       "--set", "plans.starter.messages_per_month=10000000", listen=listen)
            gateways.append(w)
            self.addCleanup(w.stop)
            return w

        w = start()
        api = Api(w)
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        status, _, created = api.call("POST", "/v1/sessions", {"name": "k", "sandbox": True,
                                                               "speed": {"min_delay_ms": 0, "max_delay_ms": 0}}, key=key)
        self.assertEqual(status, 201, created)
        sid = created["id"]
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        self.assertEqual(wasim.request("POST", f"/v1/phones/{OWN}/scan", {"qr": qr["qr"]})[0], 200)
        wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                 timeout=20, interval=0.1, what="the session connected")

        poster = Poster(w.url, key, sid, api.openapi, time.monotonic() + 60 + MESSAGES * 0.05)
        poster.start()
        # Kill points: after a random number of accepted messages each, plus a random few ms, so a
        # kill lands in a POST, in a group commit, in a send or between them.
        points = sorted(rng.sample(range(MESSAGES // 20, MESSAGES - MESSAGES // 20), KILLS))
        for n, point in enumerate(points):
            wait_for(lambda: poster.count() >= point or poster.error or not poster.is_alive(),
                     timeout=60, interval=0.002, what=f"{point} messages accepted")
            time.sleep(rng.uniform(0, 0.05))
            w.terminate(signal.SIGKILL)
            w.wait(timeout=10)
            log(f"kill {n + 1} after {poster.count()} accepted")
            w.stop()
            w = start()
        poster.join(timeout=60 + MESSAGES * 0.05)
        self.assertFalse(poster.is_alive(), "the client did not finish")
        if poster.error:
            raise poster.error
        accepted = poster.accepted
        self.assertEqual(len(accepted), MESSAGES)
        log(f"all {MESSAGES} accepted ({poster.retries} POSTs lost to kills, {poster.replayed} replayed 202s) "
            f"after {time.monotonic() - started:.1f}s")

        # Every accepted message reaches the phone once; nothing else from the session does.
        want_ids = {b["wa_id"] for b in accepted.values()}
        self.assertEqual(len(want_ids), MESSAGES)
        want_texts = {f"kill9 {poster.run_id} #{i}" for i in range(MESSAGES)}

        def inbox():
            status, body = wasim.request("GET", f"/v1/phones/{BOB}/messages")
            self.assertEqual(status, 200)
            return [m for m in body if m["from"] == OWN_JID and not m["from_me"]]

        wait_for(lambda: len(inbox()) >= MESSAGES, timeout=60 + MESSAGES * 0.02, interval=0.2,
                 what="every accepted message at the phone")
        got = inbox()
        self.assertEqual(len(got), MESSAGES)
        self.assertEqual({m["id"] for m in got}, want_ids)
        self.assertEqual({m["text"] for m in got}, want_texts)
        self.assertEqual(len({m["text"] for m in got}), len(got))  # nothing shown twice
        duplicates = wasim.request("GET", f"/v1/phones/{BOB}")[1]["duplicates"]
        log(f"all {MESSAGES} at the phone once; {duplicates} resends dropped by the phone "
            f"after {time.monotonic() - started:.1f}s")

        # Every accepted message's status is sent or later (the schema is checked on a sample:
        # validating ten thousand answers would dominate the run).
        api = Api(w)
        final = ("sent", "delivered", "read")
        waiting = {b["id"] for b in accepted.values()}
        checked = set(rng.sample(sorted(waiting), min(50, len(waiting))))

        def settled():
            for mid in sorted(waiting):
                path = f"/v1/sessions/{sid}/messages/{mid}"
                if mid in checked:
                    status, _, m = api.call("GET", path, key=key)
                else:
                    status, _, raw = w.request("GET", path, headers={"Authorization": "Bearer " + key})
                    m = json.loads(raw)
                self.assertEqual(status, 200, m)
                if m["status"] in final:
                    waiting.discard(mid)
            return not waiting

        wait_for(settled, timeout=60 + MESSAGES * 0.01, interval=0.5,
                 what="every accepted message sent or delivered")
        status, stats = wasim.request("GET", "/v1/stats")
        self.assertEqual((stats["phone_decrypt_failures"], stats["retry_receipts"]), (0, 0), stats)
        # The session's own phone gets a copy of each send and drops resent copies too.
        own_duplicates = wasim.request("GET", f"/v1/phones/{OWN}")[1]["duplicates"]
        self.assertEqual(stats["phone_duplicates"], duplicates + own_duplicates)
        log(f"done in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    unittest.main()
