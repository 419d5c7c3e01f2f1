"""The durable outbox (issue 7) against real wagate and wasim processes, measured where it
matters: at the recipient's simulated phone. Pacing gaps between messages lie within the
session's delay range and vary; typing shows "composing" before each message; the daily cap,
quiet hours and the per-recipient gap hold messages back; a cancelled message never arrives; a
disconnected session keeps its queue and drains it in order once back; a message whose
expires_at passes while disconnected fails as expired and never arrives. Every gateway answer is
checked against /v1/openapi.json. (The API journey, idempotency, errors and tenant isolation are
test_messages.py's.)"""
import datetime
import json
import os
import time
import unittest

from harness import TempDirTest, Wagate, Wasim, wait_for
from test_accounts import Api
from test_live import SseStream

OWN = "15550001111"    # the phone whose account the session links to
BOB = "15550002222"    # recipients
CAROL = "15550003333"
OWN_JID = OWN + "@s.whatsapp.net"
# A message is on its way from the gateway to the phone for a few ms (more on a loaded machine);
# the gap the phone sees between two messages is the drawn delay plus the difference of two such
# latencies.
SLACK_MS = 150


def rfc3339(unix_s):
    return datetime.datetime.fromtimestamp(unix_s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class OutboxFixture(TempDirTest):
    """A wasim with three phones and a wagate whose account `key` can create linked sessions."""
    GATEWAY_SETTINGS = ()  # extra wagate flags of a test class

    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.tmp, "wasim"))
        self.wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(self.wasim.stop)
        for phone, name in ((OWN, "Own"), (BOB, "Bob"), (CAROL, "Carol")):
            status, body = self.wasim.request("POST", "/v1/phones", {"phone": phone, "name": name})
            self.assertEqual(status, 201, body)
        self.gateway = Wagate(os.path.join(self.tmp, "data"), *self.wasim.gateway_args(),
                              "--set", "plans.starter.requests_per_minute=100000", *self.GATEWAY_SETTINGS)
        self.addCleanup(self.gateway.stop)
        self.api = Api(self.gateway)
        _, key = self.api.account_with_key("ada@example.com")
        self.key = key["secret"]

    def call(self, method, path, body=None, **kw):
        return self.api.call(method, path, body, key=self.key, **kw)

    def session_status(self, sid):
        status, _, body = self.call("GET", f"/v1/sessions/{sid}")
        self.assertEqual(status, 200, body)
        return body["status"]

    def linked_session(self, **settings):
        status, _, created = self.call("POST", "/v1/sessions", {"name": "s", "sandbox": True, **settings})
        self.assertEqual(status, 201, created)
        sid = created["id"]
        qr = wait_for(lambda: (b := self.call("GET", f"/v1/sessions/{sid}/qr")[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        status, body = self.wasim.request("POST", f"/v1/phones/{OWN}/scan", {"qr": qr["qr"]})
        self.assertEqual(status, 200, body)
        wait_for(lambda: self.session_status(sid) == "connected", timeout=20, interval=0.1,
                 what="the session connected")
        return sid

    def send(self, sid, to, text, **extra):
        status, headers, body = self.call("POST", f"/v1/sessions/{sid}/messages", {"to": to, "text": text, **extra})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["status"], "queued")
        return body

    def message(self, sid, mid):
        status, _, body = self.call("GET", f"/v1/sessions/{sid}/messages/{mid}")
        self.assertEqual(status, 200, body)
        return body

    def wait_status(self, sid, mid, wanted, timeout=20):
        return wait_for(lambda: (m := self.message(sid, mid))["status"] in wanted and m, timeout=timeout,
                        interval=0.05, what=f"message {mid} {wanted}")

    def inbox(self, phone):
        """What `phone` received from the session's account, oldest first."""
        status, body = self.wasim.request("GET", f"/v1/phones/{phone}/messages")
        self.assertEqual(status, 200, body)
        return [m for m in body if m["from"] == OWN_JID and not m["from_me"]]

    def wait_inbox(self, phone, count, timeout=30):
        return wait_for(lambda: len(i := self.inbox(phone)) >= count and i, timeout=timeout, interval=0.05,
                        what=f"{count} messages at {phone}")

    def health(self, sid):
        status, _, body = self.call("GET", f"/v1/sessions/{sid}/health")
        self.assertEqual(status, 200, body)
        return body

    def duplicates(self, phone):
        return self.wasim.request("GET", f"/v1/phones/{phone}")[1]["duplicates"]

    def assert_stays(self, predicate, seconds, what):
        """Holds `predicate` true for `seconds` (a negative claim needs a window to watch)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.assertTrue(predicate(), what)
            time.sleep(0.05)


class PacingTest(OutboxFixture):
    def test_gaps_at_the_phone_lie_within_the_delay_range_and_vary(self):
        lo, hi, n = 300, 900, 12
        sid = self.linked_session(speed={"min_delay_ms": lo, "max_delay_ms": hi})
        texts = [f"paced {i}" for i in range(n)]
        for t in texts:
            self.send(sid, "+" + BOB, t)
        got = self.wait_inbox(BOB, n, timeout=30)
        self.assertEqual([m["text"] for m in got], texts)
        times = [m["timestamp"] for m in got]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for g in gaps:
            self.assertGreaterEqual(g, lo - SLACK_MS, gaps)
            self.assertLessEqual(g, hi + SLACK_MS, gaps)
        # Eleven uniform draws from a 600 ms range all within 100 ms of each other: p < 1e-6.
        self.assertGreater(max(gaps) - min(gaps), 100, gaps)

    def test_typing_shows_composing_before_each_message(self):
        sid = self.linked_session(speed={"min_delay_ms": 600, "max_delay_ms": 900}, pacing={"typing": True})
        texts = [f"typed message number {i}" for i in range(4)]  # 24 chars: ~960 ms of typing, capped by the delay
        for t in texts:
            self.send(sid, BOB, t)
        got = self.wait_inbox(BOB, len(texts))
        self.assertEqual([m["text"] for m in got], texts)
        status, states = self.wasim.request("GET", f"/v1/phones/{BOB}/chatstates")
        self.assertEqual(status, 200, states)
        composing = [s["timestamp"] for s in states if s["from"] == OWN_JID and s["state"] == "composing"]
        previous = 0
        for m in got:
            before = [t for t in composing if previous < t <= m["timestamp"]]
            self.assertEqual(len(before), 1, (m, states))
            # Typing lasts at least 300 ms (and at most the drawn delay).
            self.assertGreaterEqual(m["timestamp"] - before[0], 300 - SLACK_MS, (m, before))
            self.assertLessEqual(m["timestamp"] - before[0], 900 + SLACK_MS, (m, before))
            previous = m["timestamp"]
        self.assertEqual(self.wasim.request("GET", f"/v1/phones/{CAROL}/chatstates")[1], [])


class LimitsTest(OutboxFixture):
    def test_daily_cap_sends_three_and_keeps_two_queued(self):
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 0}, daily_limit=3)
        ids = [self.send(sid, BOB, f"capped {i}")["id"] for i in range(5)]
        got = self.wait_inbox(BOB, 3)
        self.assertEqual([m["text"] for m in got], ["capped 0", "capped 1", "capped 2"])
        for mid in ids[:3]:
            self.wait_status(sid, mid, ("sent", "delivered"))
        self.assert_stays(lambda: len(self.inbox(BOB)) == 3, 1.0, "a fourth message went out")
        for mid in ids[3:]:
            self.assertEqual(self.message(sid, mid)["status"], "queued")
        h = self.health(sid)
        self.assertEqual(h["queue"]["depth"], 2, h)
        self.assertIsNotNone(h["queue"]["oldest_queued_at"])
        self.assertEqual(h["today"]["sent"], 3, h)
        self.assertEqual(h["limits"]["daily"], 3, h)

    def test_quiet_hours_covering_now_send_nothing(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        start = (now - datetime.timedelta(hours=1)).strftime("%H:%M")
        end = (now + datetime.timedelta(hours=1)).strftime("%H:%M")
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 0},
                                  pacing={"quiet_hours": {"start": start, "end": end}, "utc_offset": "+00:00"})
        ids = [self.send(sid, BOB, f"quiet {i}")["id"] for i in range(2)]
        self.assert_stays(lambda: self.inbox(BOB) == [], 1.5, "a message went out in quiet hours")
        for mid in ids:
            self.assertEqual(self.message(sid, mid)["status"], "queued")
        self.assertEqual(self.health(sid)["queue"]["depth"], 2)

    def test_recipient_gap_holds_only_that_recipient(self):
        gap = 2000
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 0}, pacing={"recipient_gap_ms": gap})
        self.send(sid, BOB, "bob 1")
        self.send(sid, BOB, "bob 2")
        self.send(sid, CAROL, "carol 1")
        bob = self.wait_inbox(BOB, 2)
        carol = self.wait_inbox(CAROL, 1)
        self.assertEqual([m["text"] for m in bob], ["bob 1", "bob 2"])
        self.assertGreaterEqual(bob[1]["timestamp"] - bob[0]["timestamp"], gap - SLACK_MS)
        # Carol's message did not wait behind Bob's second one.
        self.assertLess(carol[0]["timestamp"], bob[1]["timestamp"])
        self.assertLess(carol[0]["timestamp"] - bob[0]["timestamp"], 1000)

    def test_a_cancelled_message_never_reaches_the_phone(self):
        sid = self.linked_session(speed={"min_delay_ms": 2500, "max_delay_ms": 2500})
        first = self.send(sid, BOB, "first")
        second = self.send(sid, BOB, "second")
        third = self.send(sid, BOB, "third")
        self.wait_inbox(BOB, 1)
        status, _, cancelled = self.call("DELETE", f"/v1/sessions/{sid}/messages/{second['id']}")
        self.assertEqual(status, 200, cancelled)
        self.assertEqual((cancelled["status"], cancelled["error"]["code"]), ("failed", "cancelled"))
        got = self.wait_inbox(BOB, 2, timeout=15)
        self.assertEqual([m["text"] for m in got], ["first", "third"])
        self.assertNotIn(second["wa_id"], [m["id"] for m in got])
        self.assertEqual(self.message(sid, second["id"])["status"], "failed")
        # Sent messages cannot be cancelled.
        self.wait_status(sid, first["id"], ("sent", "delivered"))
        status, _, err = self.call("DELETE", f"/v1/sessions/{sid}/messages/{first['id']}")
        self.assertEqual((status, err["code"]), (409, "not_cancellable"))
        self.wait_status(sid, third["id"], ("sent", "delivered"))


class DisconnectTest(OutboxFixture):
    def outage(self, seconds):
        """Drops the session's connection and refuses new ones for `seconds`."""
        status, body = self.wasim.request("POST", "/v1/faults", {"refuse_connections_for_s": seconds,
                                                                 "drop_connections": {"phone": OWN}})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["dropped"], 1, body)

    def test_unpaced_sends_overlap_instead_of_waiting_for_each_ack(self):
        # Pacing off: a message goes once the one before it is written, not once the server has
        # acknowledged it. With every frame to the gateway held back 400 ms (wasim delays them one
        # after another, so each message's ack and receipts add more than a second), 12 messages
        # that each waited for their ack would take over 10 s to reach the phone; overlapped (up
        # to 16 may await their acks) they arrive at once, in order, once each.
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 0})
        self.send(sid, "+" + BOB, "warm-up")  # Signal session and device lists, before the delay
        self.wait_inbox(BOB, 1)
        status, body = self.wasim.request("POST", "/v1/faults", {"frame_delay_ms": 400, "frame_delay_probability": 1.0})
        self.assertEqual(status, 200, body)
        self.addCleanup(lambda: self.wasim.request("DELETE", "/v1/faults"))
        texts = [f"overlap {i}" for i in range(12)]
        start = time.monotonic()
        accepted = [self.send(sid, "+" + BOB, t) for t in texts]
        got = self.wait_inbox(BOB, 13, timeout=30)
        took = time.monotonic() - start
        self.assertEqual([m["text"] for m in got[1:]], texts)
        self.assertEqual([m["id"] for m in got[1:]], [m["wa_id"] for m in accepted])
        self.assertLess(took, 3.0)
        for m in accepted:
            self.wait_status(sid, m["id"], ("sent", "delivered"))
        self.assertEqual(self.duplicates(BOB), 0)

    def test_the_queue_waits_for_the_connection_and_drains_in_order(self):
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 50})
        self.send(sid, BOB, "before")
        self.wait_inbox(BOB, 1)
        self.outage(4)
        wait_for(lambda: self.session_status(sid) != "connected", timeout=5, interval=0.05,
                 what="the session noticed the drop")
        texts = [f"during {i}" for i in range(10)]
        accepted = [self.send(sid, BOB, t) for t in texts]
        self.assertEqual(len(self.inbox(BOB)), 1)
        for m in accepted:
            self.assertEqual(self.message(sid, m["id"])["status"], "queued")
        self.assertEqual(self.health(sid)["queue"]["depth"], 10)
        wait_for(lambda: self.session_status(sid) == "connected", timeout=40, interval=0.1,
                 what="the session reconnected after the outage")
        got = self.wait_inbox(BOB, 11, timeout=30)
        self.assertEqual([m["text"] for m in got], ["before"] + texts)
        self.assertEqual([m["id"] for m in got[1:]], [m["wa_id"] for m in accepted])
        for m in accepted:
            self.wait_status(sid, m["id"], ("sent", "delivered"))
        self.assertEqual(self.health(sid)["queue"]["depth"], 0)
        self.assertEqual(self.duplicates(BOB), 0)

    def test_a_message_expiring_while_disconnected_fails_as_expired(self):
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 0})
        self.outage(6)
        wait_for(lambda: self.session_status(sid) != "connected", timeout=5, interval=0.05,
                 what="the session noticed the drop")
        expiring = self.send(sid, BOB, "too late", expires_at=rfc3339(time.time() + 1.5))
        lasting = self.send(sid, BOB, "in time", expires_at=rfc3339(time.time() + 600))
        failed = self.wait_status(sid, expiring["id"], ("failed",), timeout=5)
        self.assertEqual(failed["error"]["code"], "expired")
        # It expired while the session was still cut off, not at the next send attempt.
        self.assertNotEqual(self.session_status(sid), "connected")
        self.assertEqual([h["status"] for h in failed["history"]], ["queued", "failed"])
        self.assertEqual(self.message(sid, lasting["id"])["status"], "queued")
        wait_for(lambda: self.session_status(sid) == "connected", timeout=40, interval=0.1,
                 what="the session reconnected after the outage")
        got = self.wait_inbox(BOB, 1)
        self.wait_status(sid, lasting["id"], ("sent", "delivered"))
        self.assertEqual([m["text"] for m in self.inbox(BOB)], ["in time"])
        self.assertEqual(got[0]["id"], lasting["wa_id"])


class StoppedSessionTest(OutboxFixture):
    # The sweeper fails expired messages of sessions without a dispatcher: checked every 200 ms.
    GATEWAY_SETTINGS = ("--set", "outbox.sweep_ms=200")

    def test_a_message_expiring_in_a_stopped_session_fails_as_expired(self):
        sid = self.linked_session(speed={"min_delay_ms": 0, "max_delay_ms": 0})
        # While the session runs, dispatch latency is measured (202 -> frame written).
        first = self.send(sid, BOB, "first")
        self.wait_status(sid, first["id"], ("sent", "delivered"))
        self.assertEqual(self.dispatch_metric("count"), 1)
        self.assertGreater(self.dispatch_metric("sum"), 0)
        status, _, body = self.call("POST", f"/v1/sessions/{sid}/stop")
        self.assertEqual(status, 200, body)
        wait_for(lambda: self.session_status(sid) == "stopped", timeout=10, interval=0.05,
                 what="the session stopped")
        expiring = self.send(sid, BOB, "too late", expires_at=rfc3339(time.time() + 1.0))
        lasting = self.send(sid, BOB, "later", expires_at=rfc3339(time.time() + 600))
        failed = self.wait_status(sid, expiring["id"], ("failed",), timeout=5)
        self.assertEqual(failed["error"]["code"], "expired")
        self.assertEqual([h["status"] for h in failed["history"]], ["queued", "failed"])
        self.assertEqual(self.session_status(sid), "stopped")
        self.assertEqual(self.message(sid, lasting["id"])["status"], "queued")
        # The change was announced like any other (replayed from the event log).
        stream = SseStream(self.gateway, f"/v1/sessions/{sid}/events?types=message.status&after=0", self.key)
        self.addCleanup(stream.close)
        self.assertEqual(stream.status, 200)
        while True:
            data = json.loads(stream.next_event()["data"])["data"]
            if data["message_id"] == expiring["id"] and data["status"] != "queued":
                break
        self.assertEqual((data["status"], data["error"]["code"]), ("failed", "expired"))
        # Started again, the session sends only what has not expired.
        status, _, body = self.call("POST", f"/v1/sessions/{sid}/start")
        self.assertEqual(status, 200, body)
        got = self.wait_inbox(BOB, 2)
        self.assertEqual([m["text"] for m in got], ["first", "later"])
        self.wait_status(sid, lasting["id"], ("sent", "delivered"))
        self.assertEqual([m["text"] for m in self.inbox(BOB)], ["first", "later"])

    def dispatch_metric(self, suffix):
        status, _, text = self.api.call("GET", "/metrics")
        self.assertEqual(status, 200)
        if isinstance(text, bytes):
            text = text.decode()
        for line in text.splitlines():
            if line.startswith(f"wagate_outbox_dispatch_seconds_{suffix} "):
                return float(line.split()[1])
        self.fail(f"no wagate_outbox_dispatch_seconds_{suffix} in /metrics")


if __name__ == "__main__":
    unittest.main()
