"""Messages over HTTP against real wagate and wasim processes: the whole journey (sign up, key,
session, QR scanned by a simulated phone, send a text, the other phone receives it, delivered and
read come back, the other phone replies, the reply is listed, a reply to it), idempotency keys,
a queue that waits for the link, every error path with its code, plan limits, contact lookups on
their budget, and tenant isolation. Every answer is checked against /v1/openapi.json."""
import os
import time
import unittest

from harness import TempDirTest, Wagate, Wasim, wait_for
from test_accounts import Api, session_cookie
from test_webhooks import Receiver, Sink

ALICE = "15550001111"  # the linked number (the session is her companion device)
BOB = "15550002222"


class MessagesTest(TempDirTest):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.tmp, "wasim"))
        self.wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(self.wasim.stop)
        for phone, name in ((ALICE, "Alice"), (BOB, "Bob")):
            status, body = self.wasim.request("POST", "/v1/phones", {"phone": phone, "name": name})
            self.assertEqual(status, 201, body)

    def start_gateway(self, *args):
        w = Wagate(os.path.join(self.tmp, "data"), *self.wasim.gateway_args(),
                   "--set", "plans.starter.requests_per_minute=100000", "--set", "outbox.sweep_ms=100", *args)
        self.addCleanup(w.stop)
        return w, Api(w)

    def new_session(self, api, key, **extra):
        body = {"name": "support", "sandbox": True, "speed": {"min_delay_ms": 0, "max_delay_ms": 0}, **extra}
        status, _, created = api.call("POST", "/v1/sessions", body, key=key)
        self.assertEqual(status, 201, created)
        return created["id"]

    def link(self, api, key, sid):
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        status, body = self.wasim.request("POST", f"/v1/phones/{ALICE}/scan", {"qr": qr["qr"]})
        self.assertEqual(status, 200, body)
        wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                 timeout=20, interval=0.1, what="connected")

    def message(self, api, key, sid, mid):
        status, _, m = api.call("GET", f"/v1/sessions/{sid}/messages/{mid}", key=key)
        self.assertEqual(status, 200, m)
        return m

    def wait_message_status(self, api, key, sid, mid, want, timeout=20):
        return wait_for(lambda: (m := self.message(api, key, sid, mid))["status"] == want and m,
                        timeout=timeout, interval=0.05, what=f"message status {want}")

    def inbox(self, phone):
        status, body = self.wasim.request("GET", f"/v1/phones/{phone}/messages")
        self.assertEqual(status, 200, body)
        return body

    def send(self, api, key, sid, body, **kw):
        return api.call("POST", f"/v1/sessions/{sid}/messages", body, key=key, **kw)

    def test_journey_send_delivered_read_reply_listed(self):
        w, api = self.start_gateway()
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = self.new_session(api, key)
        self.link(api, key, sid)

        status, headers, accepted = self.send(api, key, sid, {"to": "+1 555 000 2222", "text": "Your order shipped"})
        self.assertEqual(status, 202, accepted)
        self.assertEqual(accepted["status"], "queued")
        self.assertEqual(accepted["to"]["phone"], "+" + BOB)
        self.assertEqual(headers["Location"], f"/v1/sessions/{sid}/messages/{accepted['id']}")
        mid, wa_id = accepted["id"], accepted["wa_id"]

        delivered = self.wait_message_status(api, key, sid, mid, "delivered")
        got = [m for m in self.inbox(BOB) if m["id"] == wa_id]
        self.assertEqual(len(got), 1, self.inbox(BOB))
        self.assertEqual(got[0]["text"], "Your order shipped")
        self.assertEqual(got[0]["from"], f"{ALICE}@s.whatsapp.net")
        self.assertEqual(delivered["attempts"], 1)
        self.assertTrue(delivered["first_contact"])

        status, body = self.wasim.request("POST", f"/v1/phones/{BOB}/read", {"ids": [wa_id]})
        self.assertEqual(status, 200, body)
        read = self.wait_message_status(api, key, sid, mid, "read")
        self.assertEqual([h["status"] for h in read["history"]], ["queued", "sending", "sent", "delivered", "read"])
        times = [h["at"] for h in read["history"]]
        self.assertEqual(times, sorted(times))
        # The same message by its WhatsApp id.
        self.assertEqual(self.message(api, key, sid, wa_id)["id"], mid)

        status, reply = self.wasim.request("POST", f"/v1/phones/{BOB}/messages", {"to": ALICE, "text": "Thanks!"})
        self.assertEqual(status, 201, reply)
        incoming = wait_for(lambda: (l := api.call("GET", f"/v1/sessions/{sid}/messages?direction=in", key=key)[2]["data"]) and l,
                            timeout=20, interval=0.1, what="the reply listed")
        self.assertEqual(len(incoming), 1)
        m = incoming[0]
        self.assertEqual((m["direction"], m["text"], m["wa_id"], m["status"]), ("in", "Thanks!", reply["id"], "received"))
        self.assertEqual(m["from"]["phone"], "+" + BOB)
        self.assertEqual(m["from"]["push_name"], "Bob")

        # A reply to the reply, quoting it by our id.
        status, _, answer = self.send(api, key, sid, {"to": BOB, "text": "You're welcome", "reply_to": m["id"]})
        self.assertEqual(status, 202, answer)
        sent = self.wait_message_status(api, key, sid, answer["id"], "delivered")
        self.assertEqual(sent["reply_to"]["wa_id"], reply["id"])
        self.assertEqual(sent["reply_to"]["text"], "Thanks!")
        self.assertFalse(sent["first_contact"])  # Bob wrote to us meanwhile

        # Both directions, newest first, paged by cursor.
        status, _, page = api.call("GET", f"/v1/sessions/{sid}/messages?limit=2", key=key)
        self.assertEqual(status, 200, page)
        self.assertEqual([x["text"] for x in page["data"]], ["You're welcome", "Thanks!"])
        status, _, rest = api.call("GET", f"/v1/sessions/{sid}/messages?limit=2&cursor={page['next_cursor']}", key=key)
        self.assertEqual([x["text"] for x in rest["data"]], ["Your order shipped"])
        self.assertIsNone(rest["next_cursor"])

        status, _, health = api.call("GET", f"/v1/sessions/{sid}/health", key=key)
        self.assertEqual(status, 200, health)
        self.assertEqual(health["today"]["sent"], 2)
        self.assertEqual(health["today"]["first_contact"], 1)
        self.assertEqual(health["today"]["received"], 1)
        self.assertEqual(health["queue"]["depth"], 0)

        status, _, raw = w.request("GET", "/metrics")
        self.assertEqual(status, 200)
        samples = {}
        for line in raw.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        for st in ("queued", "sending", "sent", "delivered", "read"):
            self.assertEqual(samples[f'wagate_messages_total{{status="{st}"}}'], 2 if st != "read" else 1, st)
        self.assertEqual(samples['wagate_messages_total{status="received"}'], 1)
        self.assertIn("wagate_outbox_queued", samples)

        status, _, contact = api.call("GET", f"/v1/sessions/{sid}/contacts/+{BOB}", key=key)
        self.assertEqual(status, 200, contact)
        self.assertEqual((contact["on_whatsapp"], contact["jid"]), (True, f"{BOB}@s.whatsapp.net"))
        status, _, contact = api.call("GET", f"/v1/sessions/{sid}/contacts/15559990000", key=key)
        self.assertEqual((status, contact["on_whatsapp"], contact["jid"]), (200, False, None))

    def test_messages_wait_for_the_link_and_survive_a_restart(self):
        w, api = self.start_gateway()
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = self.new_session(api, key)
        status, _, first = self.send(api, key, sid, {"to": BOB, "text": "one"})
        self.assertEqual(status, 202, first)
        status, _, health = api.call("GET", f"/v1/sessions/{sid}/health", key=key)
        self.assertEqual(health["queue"]["depth"], 1)
        self.assertIsNotNone(health["queue"]["oldest_queued_at"])
        w.stop()
        w, api = self.start_gateway()
        status, _, second = self.send(api, key, sid, {"to": BOB, "text": "two"})
        self.assertEqual(status, 202, second)
        self.assertEqual(self.message(api, key, sid, first["id"])["status"], "queued")
        self.link(api, key, sid)
        self.wait_message_status(api, key, sid, second["id"], "delivered")
        self.wait_message_status(api, key, sid, first["id"], "delivered")
        texts = [m["text"] for m in self.inbox(BOB)]
        self.assertEqual(texts, ["one", "two"])  # queue order

    def test_idempotency_keys(self):
        w, api = self.start_gateway()
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = self.new_session(api, key)
        self.link(api, key, sid)
        body = {"to": BOB, "text": "exactly once"}
        status, h1, a = self.send(api, key, sid, body, headers={"Idempotency-Key": "order-42"})
        self.assertEqual(status, 202, a)
        self.assertNotIn("Idempotent-Replayed", h1)
        self.wait_message_status(api, key, sid, a["id"], "delivered")
        status, h2, b = self.send(api, key, sid, body, headers={"Idempotency-Key": "order-42"})
        self.assertEqual(status, 202, b)
        self.assertEqual(b, a)  # the same answer, although the message moved on
        self.assertEqual(h2.get("Idempotent-Replayed"), "true")
        status, _, c = self.send(api, key, sid, {"to": BOB, "text": "something else"}, headers={"Idempotency-Key": "order-42"})
        self.assertEqual((status, c["code"]), (409, "idempotency_key_reused"))
        status, _, d = self.send(api, key, sid, body, headers={"Idempotency-Key": "x" * 256})
        self.assertEqual((status, d["code"]), (422, "invalid_idempotency_key"))
        time.sleep(0.3)  # a second copy would have been sent by now (speed 0)
        self.assertEqual([m["text"] for m in self.inbox(BOB)], ["exactly once"])

    def test_errors_limits_lookups_and_tenants(self):
        w, api = self.start_gateway("--set", "plans.starter.messages_per_month=3",
                                    "--set", "outbox.lookups_per_hour=2")
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = self.new_session(api, key)

        def code(status, body):
            return status, body.get("code") if isinstance(body, dict) else body

        cases = [
            ({"to": "12345", "text": "x"}, 422, "invalid_recipient"),
            ({"to": "bob@example.com", "text": "x"}, 422, "invalid_recipient"),
            ({"to": "120363000000000000@g.us", "text": "x"}, 422, "groups_unsupported"),
            ({"to": BOB, "type": "image", "text": "x"}, 422, "unsupported_type"),
            ({"to": BOB}, 422, "validation_failed"),
            ({"to": BOB, "text": "x", "colour": "red"}, 422, "validation_failed"),
            ({"to": BOB, "text": "x", "reply_to": "msg_nothing"}, 422, "reply_to_not_found"),
            ({"to": BOB, "text": "x", "expires_at": "2001-01-01T00:00:00Z"}, 422, "invalid_expires_at"),
            ({"to": BOB, "text": "x", "expires_at": "tomorrow"}, 422, "invalid_expires_at"),
            ({"to": BOB, "text": "x", "mentions": ["nobody"]}, 422, "invalid_mentions"),
        ]
        for body, want_status, want_code in cases:
            status, _, got = self.send(api, key, sid, body)
            self.assertEqual(code(status, got), (want_status, want_code), body)
        for query, want in (("direction=sideways", "invalid_direction"), ("limit=0", "invalid_limit"),
                            ("cursor=abc", "invalid_cursor")):
            status, _, got = api.call("GET", f"/v1/sessions/{sid}/messages?{query}", key=key)
            self.assertEqual(code(status, got), (422, want), query)
        status, _, got = api.call("GET", f"/v1/sessions/{sid}/messages/msg_nothing", key=key)
        self.assertEqual(code(status, got), (404, "not_found"))
        status, _, got = api.call("GET", f"/v1/sessions/{sid}/contacts/{BOB}", key=key)
        self.assertEqual(code(status, got), (409, "not_connected"))

        # Cancel: a queued message (the session is not linked yet) can be, a failed one cannot.
        status, _, queued = self.send(api, key, sid, {"to": BOB, "text": "never"})
        self.assertEqual(status, 202, queued)
        status, _, cancelled = api.call("DELETE", f"/v1/sessions/{sid}/messages/{queued['id']}", key=key)
        self.assertEqual(status, 200, cancelled)
        self.assertEqual((cancelled["status"], cancelled["error"]["code"]), ("failed", "cancelled"))
        status, _, got = api.call("DELETE", f"/v1/sessions/{sid}/messages/{queued['id']}", key=key)
        self.assertEqual(code(status, got), (409, "not_cancellable"))

        # The plan's monthly messages: 3, one used by the cancelled message.
        for i in range(2):
            status, _, got = self.send(api, key, sid, {"to": BOB, "text": f"m{i}"})
            self.assertEqual(status, 202, got)
        status, _, got = self.send(api, key, sid, {"to": BOB, "text": "over"})
        self.assertEqual(code(status, got), (402, "plan_limit_messages"))

        self.link(api, key, sid)
        for _ in range(2):
            status, _, got = api.call("GET", f"/v1/sessions/{sid}/contacts/{BOB}", key=key)
            self.assertEqual(status, 200, got)
        status, headers, got = api.call("GET", f"/v1/sessions/{sid}/contacts/{BOB}", key=key)
        self.assertEqual(code(status, got), (429, "lookup_budget_exhausted"))
        self.assertIn("Retry-After", headers)
        status, _, got = api.call("GET", f"/v1/sessions/{sid}/contacts/not-a-number", key=key)
        self.assertEqual(code(status, got), (422, "invalid_phone"))
        texts = wait_for(lambda: len(t := [m["text"] for m in self.inbox(BOB)]) == 2 and t, timeout=20,
                         interval=0.1, what="both queued messages")
        self.assertEqual(texts, ["m0", "m1"])  # the cancelled one never left

        # Read-only keys read but do not send; another account sees nothing of this one.
        status, headers, login = api.login("ada@example.com")
        self.assertEqual(status, 200, login)
        status, _, ro = api.call("POST", "/v1/api-keys", {"name": "ro", "read_only": True},
                                 headers={"Cookie": session_cookie(headers), "X-CSRF-Token": login["csrf_token"]})
        self.assertEqual(status, 201, ro)
        status, _, got = self.send(api, ro["secret"], sid, {"to": BOB, "text": "x"})
        self.assertEqual(status, 403, got)
        status, _, got = api.call("GET", f"/v1/sessions/{sid}/messages", key=ro["secret"])
        self.assertEqual(status, 200, got)
        mid = self.inbox(BOB) and api.call("GET", f"/v1/sessions/{sid}/messages", key=key)[2]["data"][0]["id"]
        _, other = api.account_with_key("eve@example.com")
        other = other["secret"]
        for method, path, body in [("POST", f"/v1/sessions/{sid}/messages", {"to": BOB, "text": "x"}),
                                   ("GET", f"/v1/sessions/{sid}/messages", None),
                                   ("GET", f"/v1/sessions/{sid}/messages/{mid}", None),
                                   ("DELETE", f"/v1/sessions/{sid}/messages/{mid}", None),
                                   ("GET", f"/v1/sessions/{sid}/contacts/{BOB}", None),
                                   ("GET", f"/v1/sessions/{sid}/health", None)]:
            status, _, got = api.call(method, path, body, key=other)
            self.assertEqual(code(status, got), (404, "not_found"), path)
        # Eve's own session does not reach Ada's messages either.
        eve_sid = self.new_session(api, other)
        status, _, got = api.call("GET", f"/v1/sessions/{eve_sid}/messages/{mid}", key=other)
        self.assertEqual(code(status, got), (404, "not_found"))

    def test_the_journey_as_signed_webhooks(self):
        sink_dir = os.path.join(self.tmp, "sink")
        os.makedirs(sink_dir)
        sink = Sink(sink_dir)
        receiver = Receiver(sink_dir)
        self.addCleanup(receiver.stop)
        sink.set("s1", status=503)  # refuse until the secret is known: deliveries retry
        w, api = self.start_gateway("--set", "webhooks.allow_private=127.0.0.0/8", "--set", "webhooks.poll_interval_ms=50",
                                    "--set", "webhooks.retry_first_delay_ms=100", "--set", "webhooks.retry_max_delay_ms=300")
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        status, _, created = api.call("POST", "/v1/sessions", {"name": "hooked", "sandbox": True, "webhook_url": receiver.url("s1"),
                                                               "speed": {"min_delay_ms": 0, "max_delay_ms": 0}}, key=key)
        self.assertEqual(status, 201, created)
        self.assertTrue(created["webhook"]["secret"].startswith("whsec_"))
        sink.set("s1", status=200, secrets=[created["webhook"]["secret"]])
        sid = created["id"]
        self.link(api, key, sid)
        status, _, accepted = self.send(api, key, sid, {"to": BOB, "text": "hooked hello"})
        self.assertEqual(status, 202, accepted)
        self.wait_message_status(api, key, sid, accepted["id"], "delivered")
        status, reply = self.wasim.request("POST", f"/v1/phones/{BOB}/messages", {"to": ALICE, "text": "hooked reply"})
        self.assertEqual(status, 201, reply)

        def delivered():
            rows = [r for r in sink.records("s1") if r["status"] == 200]
            types = [(r["body"]["type"], r["body"]["data"].get("status")) for r in rows]
            return ("message.received", None) in types and ("message.status", "delivered") in types and rows
        rows = wait_for(delivered, timeout=30, interval=0.1, what="the journey's events at the receiver")
        for r in rows:
            self.assertTrue(r["verified_with"], r)  # standardwebhooks accepted the signature
        ids = [r["id"] for r in rows]
        self.assertEqual(len(ids), len(set(ids)))
        statuses = [r["body"]["data"]["status"] for r in rows if r["body"]["type"] == "message.status"]
        self.assertEqual(statuses, ["queued", "sending", "sent", "delivered"])  # in order
        session_statuses = [r["body"]["data"]["status"] for r in rows if r["body"]["type"] == "session.status"]
        self.assertLess(session_statuses.index("qr"), session_statuses.index("connected"), session_statuses)
        received = [r["body"]["data"]["message"] for r in rows if r["body"]["type"] == "message.received"]
        self.assertEqual(len(received), 1)
        self.assertEqual((received[0]["text"], received[0]["from"]["phone"], received[0]["wa_id"]),
                         ("hooked reply", "+" + BOB, reply["id"]))
        # The per-session counters agree with what arrived.
        status, _, stats = api.call("GET", f"/v1/sessions/{sid}/webhook-stats", key=key)
        self.assertEqual(status, 200, stats)
        self.assertEqual(stats["messages_received"], 1)


if __name__ == "__main__":
    unittest.main()
