"""History sync after linking, over HTTP against real wagate and wasim processes: a session
created with "history_sync": "recent" gets the phone's conversations (one exchanged with another
phone before the link, and seeded ones) stored as messages with source "history", listed by
GET .../messages, announced only as session.history events (never message.received); a session
with the default (off) stores none. Every answer is checked against /v1/openapi.json."""
import os
import unittest

from harness import TempDirTest, Wagate, Wasim, wait_for
from test_accounts import Api
from test_webhooks import Receiver, Sink

ALICE = "15550003333"  # the linked number
BOB = "15550004444"


class HistoryTest(TempDirTest):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.tmp, "wasim"))
        self.wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(self.wasim.stop)
        for phone, name in ((ALICE, "Alice"), (BOB, "Bob")):
            status, body = self.wasim.request("POST", "/v1/phones", {"phone": phone, "name": name})
            self.assertEqual(status, 201, body)

    def link(self, api, key, sid):
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        status, body = self.wasim.request("POST", f"/v1/phones/{ALICE}/scan", {"qr": qr["qr"]})
        self.assertEqual(status, 200, body)
        wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                 timeout=20, interval=0.1, what="connected")

    def messages(self, api, key, sid):
        status, _, page = api.call("GET", f"/v1/sessions/{sid}/messages?limit=100", key=key)
        self.assertEqual(status, 200, page)
        return page["data"]

    def test_history_is_stored_listed_and_announced_as_session_history(self):
        # Bob wrote to Alice before the link; Alice also holds 2 seeded chats of 3 messages.
        status, sent = self.wasim.request("POST", f"/v1/phones/{BOB}/messages", {"to": ALICE, "text": "before the link"})
        self.assertEqual(status, 201, sent)
        wait_for(lambda: any(m["id"] == sent["id"] for m in self.wasim.request("GET", f"/v1/phones/{ALICE}/messages")[1]),
                 timeout=10, interval=0.05, what="Alice has Bob's message")
        status, body = self.wasim.request("POST", f"/v1/phones/{ALICE}/history",
                                          {"conversations": 2, "messages": 3, "chunk_conversations": 2})
        self.assertEqual(status, 200, body)

        sink_dir = os.path.join(self.tmp, "sink")
        os.makedirs(sink_dir)
        sink = Sink(sink_dir)
        receiver = Receiver(sink_dir)
        self.addCleanup(receiver.stop)
        sink.set("h", status=200)
        w = Wagate(os.path.join(self.tmp, "data"), *self.wasim.gateway_args(),
                   "--set", "webhooks.allow_private=127.0.0.0/8", "--set", "webhooks.poll_interval_ms=50")
        self.addCleanup(w.stop)
        api = Api(w)
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]

        status, _, bad = api.call("POST", "/v1/sessions", {"name": "x", "sandbox": True, "history_sync": "all"}, key=key)
        self.assertEqual((status, bad["code"]), (422, "invalid_history_sync"))
        status, _, created = api.call("POST", "/v1/sessions", {"name": "with history", "sandbox": True,
                                                               "history_sync": "recent"}, key=key)
        self.assertEqual(status, 201, created)
        self.assertEqual(created["history_sync"], "recent")
        sid = created["id"]
        # An endpoint for this session that opted in to session.history besides message.received.
        status, _, hook = api.call("POST", "/v1/webhooks", {"url": receiver.url("h"), "session_id": sid,
                                                            "events": ["message.received", "session.history"]}, key=key)
        self.assertEqual(status, 201, hook)
        self.link(api, key, sid)

        # 1 real + 2 seeded chats in chunks of 2: INITIAL_BOOTSTRAP, RECENT, then PUSH_NAME.
        def stored():
            got = [m for m in self.messages(api, key, sid) if m.get("source") == "history"]
            return len(got) == 1 + 2 * 3 and got
        got = wait_for(stored, timeout=20, interval=0.1, what="the history messages listed")
        from_bob = [m for m in got if m["wa_id"] == sent["id"]]
        self.assertEqual(len(from_bob), 1)
        self.assertEqual((from_bob[0]["direction"], from_bob[0]["text"], from_bob[0]["from"]["phone"]),
                         ("in", "before the link", "+" + BOB))
        self.assertEqual(sorted({m["direction"] for m in got}), ["in", "out"])

        def announced():
            rows = [r["body"] for r in sink.records("h") if r["status"] == 200]
            finished = [b for b in rows if b["type"] == "session.history" and b["data"]["stage"] == "finished"]
            return len(finished) == 3 and rows
        rows = wait_for(announced, timeout=20, interval=0.1, what="session.history events at the receiver")
        history = [b["data"] for b in rows if b["type"] == "session.history"]
        self.assertEqual([h["stage"] for h in history if h["sync_type"] == "INITIAL_BOOTSTRAP"], ["started", "finished"])
        boot = [h for h in history if h["sync_type"] == "INITIAL_BOOTSTRAP" and h["stage"] == "finished"][0]
        self.assertEqual((boot["conversations"], boot["progress"]), (2, 50))
        self.assertFalse([b for b in rows if b["type"] == "message.received"], "history is not message.received")

        # wasim got a hist_sync receipt for every notification.
        status, h = self.wasim.request("GET", f"/v1/phones/{ALICE}/history")
        self.assertEqual(status, 200, h)
        self.assertEqual(sorted(n["id"] for n in h["notifications"]), sorted(r["id"] for r in h["receipts"]))

        # A second session on the default (off) stores no history, though the phone sends it.
        status, _, plain = api.call("POST", "/v1/sessions", {"name": "no history", "sandbox": True}, key=key)
        self.assertEqual(status, 201, plain)
        self.assertIsNone(plain["history_sync"])
        self.link(api, key, plain["id"])
        wait_for(lambda: len(self.wasim.request("GET", f"/v1/phones/{ALICE}/history")[1]["receipts"]) >= 6,
                 timeout=20, interval=0.1, what="the second device's hist_sync receipts")
        self.assertEqual(self.messages(api, key, plain["id"]), [])


if __name__ == "__main__":
    unittest.main()
