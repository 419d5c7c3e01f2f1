"""Webhooks against the real wagate: a Node receiver verifies every signature with the npm
standardwebhooks package. Events are appended to the gateway's event log directly (as producers
do), so these tests need no WhatsApp. Covered: delivery in order per session; the receiver down
for a while, then every event arrives, none lost, order per session kept; a slow receiver of one
account does not delay another's; rotation signs with both secrets; the test endpoint;
deliveries, dead letters and replay; 410 disables and re-enabling delivers what waited; the SSRF
guard and validation; tenant isolation. Every answer is checked against /v1/openapi.json."""
import json
import os
import sqlite3
import subprocess
import time
import unittest
import uuid

from harness import TempDirTest, Wagate, stop_process, wait_for
from test_accounts import Api

RECEIVER_DIR = os.path.join(os.path.dirname(__file__), "..", "webhooks")


class Receiver:
    def __init__(self, data_dir, port=0):
        self.dir = data_dir
        self.proc = subprocess.Popen(["node", os.path.join(RECEIVER_DIR, "receiver.mjs"), data_dir, str(port)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.stop()
            raise AssertionError(f"receiver did not start: {line!r}")
        self.port = int(line.split()[1])

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    def stop(self):
        stop_process(self.proc)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class Sink:
    """The receiver's shared state: its config file and what it recorded."""

    def __init__(self, data_dir):
        self.dir = data_dir
        self.conf = {}

    def set(self, name, **values):
        self.conf.setdefault(name, {}).update(values)
        tmp = os.path.join(self.dir, "config.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.conf, f)
        os.replace(tmp, os.path.join(self.dir, "config.json"))

    def records(self, name=None):
        path = os.path.join(self.dir, "received.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [r for r in rows if name is None or r["name"] == name]


class WebhooksTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.sink_dir = os.path.join(self.tmp, "sink")
        os.makedirs(self.sink_dir)
        self.sink = Sink(self.sink_dir)
        self.receiver = Receiver(self.sink_dir)
        self.addCleanup(lambda: self.receiver.stop())

    def start_gateway(self, *args, allow=True, poll_ms=50):
        extra = ["--set", "webhooks.allow_private=127.0.0.0/8"] if allow else []
        w = Wagate(os.path.join(self.tmp, "data"), "--set", "plans.starter.requests_per_minute=100000",
                   "--set", f"webhooks.poll_interval_ms={poll_ms}", "--set", "webhooks.retry_first_delay_ms=100",
                   "--set", "webhooks.retry_max_delay_ms=400", *extra, *args)
        self.addCleanup(w.stop)
        self.db = os.path.join(self.tmp, "data", "wagate.db")
        return w, Api(w)

    def sql(self, statement, *params):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                return con.execute(statement, params).fetchall()
        finally:
            con.close()

    def add_session(self, account_id):
        sid = "ses_" + uuid.uuid4().hex[:20]
        now = int(time.time() * 1000)
        self.sql("INSERT INTO sessions(id, account_id, name, min_delay_ms, max_delay_ms, desired, status, status_ms, "
                 "created_ms) VALUES(?, ?, 'test', 0, 0, 'stopped', 'stopped', ?, ?)", sid, account_id, now, now)
        return sid

    def append(self, account_id, session_id, n, type="session.status", start=0):
        """Appends n events as a producer would; returns their ids in order."""
        ids = []
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                for i in range(start, start + n):
                    eid = "evt_" + uuid.uuid4().hex[:20]
                    data = {"session_id": session_id, "status": "connected", "reason": "", "phone": "", "n": i}
                    con.execute("INSERT INTO events(id, account_id, session_id, type, data, created_ms) "
                                "VALUES(?, ?, ?, ?, ?, ?)", (eid, account_id, session_id, type, json.dumps(data),
                                                             int(time.time() * 1000)))
                    ids.append(eid)
        finally:
            con.close()
        return ids

    def create(self, api, key, name, **fields):
        body = {"url": self.receiver.url(name), "events": ["session.status", "message.received"], **fields}
        status, headers, hook = api.call("POST", "/v1/webhooks", body, key=key)
        self.assertEqual(status, 201, hook)
        self.assertTrue(hook["secret"].startswith("whsec_"))
        self.assertEqual(headers["Location"], "/v1/webhooks/" + hook["id"])
        self.sink.set(name, secrets=[hook["secret"]], status=200)
        return hook

    def assert_verified_in_order(self, records):
        for r in records:
            self.assertTrue(r["verified_with"], r)
            self.assertEqual(r["content_type"], "application/json")
            self.assertTrue(r["signature"].startswith("v1,"))
        seen, last = set(), {}
        for r in records:
            if r["id"] in seen:  # a retry of something already received: receivers deduplicate
                continue
            seen.add(r["id"])
            data = r["body"]["data"]
            sid = data["session_id"]
            self.assertGreater(data["n"], last.get(sid, -1), f"order broken in session {sid}")
            last[sid] = data["n"]
        return seen

    def test_delivery_order_outage_and_stats(self):
        w, api = self.start_gateway()
        acc, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        hook = self.create(api, key, "a")
        self.assertEqual(hook["health"], "healthy")
        s1, s2 = self.add_session(acc), self.add_session(acc)
        ids = []
        for i in range(0, 20, 5):
            ids += self.append(acc, s1, 5, start=i) + self.append(acc, s2, 5, start=i)
        ids += self.append(acc, s1, 3, type="message.received", start=20)
        self.append(acc, s1, 2, type="session.qr", start=23)  # not subscribed
        wait_for(lambda: len(self.sink.records("a")) >= len(ids), timeout=20, what="first events")
        first = self.sink.records("a")
        self.assertEqual([r["id"] for r in first if r["id"] in ids].__len__(), len(ids))
        self.assert_verified_in_order(first)
        self.assertEqual(first[0]["body"]["type"], "session.status")
        self.assertRegex(first[0]["body"]["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

        # The receiver goes down; events keep coming.
        port = self.receiver.port
        self.receiver.kill()
        later = []
        for i in range(25, 45, 5):
            later += self.append(acc, s1, 5, start=i) + self.append(acc, s2, 5, start=i)
        wait_for(lambda: api.call("GET", f"/v1/webhooks/{hook['id']}", key=key)[2]["health"] == "failing",
                 timeout=20, what="health failing")
        status, _, page = api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries?state=retrying", key=key)
        self.assertEqual(status, 200)
        self.assertTrue(page["data"])
        failed = page["data"][0]["attempts"]
        self.assertTrue(failed and failed[-1]["status_code"] is None and failed[-1]["error"], failed)
        wait_for(lambda: max(len(d["attempts"]) for d in api.call(
            "GET", f"/v1/webhooks/{hook['id']}/deliveries?state=retrying", key=key)[2]["data"] or [{"attempts": []}]) >= 2,
            timeout=20, what="retries")

        # Back up: everything arrives, nothing lost, order per session kept.
        self.receiver = Receiver(self.sink_dir, port)
        wait_for(lambda: set(ids + later) <= {r["id"] for r in self.sink.records("a")}, timeout=30,
                 what="every event after the outage")
        seen = self.assert_verified_in_order(self.sink.records("a"))
        self.assertEqual(seen, set(ids + later))
        wait_for(lambda: api.call("GET", f"/v1/webhooks/{hook['id']}", key=key)[2]["health"] == "healthy",
                 timeout=10, what="health back to healthy")

        # Counters: every event of the session is accounted for.
        status, _, stats = api.call("GET", f"/v1/sessions/{s1}/webhook-stats", key=key)
        self.assertEqual(status, 200, stats)
        self.assertEqual(stats["events"], 20 + 3 + 2 + 20)
        self.assertEqual(stats["messages_received"], 3)
        self.assertEqual(stats["deliveries"], 20 + 3 + 20)
        self.assertEqual((stats["delivered"], stats["dead"], stats["open"]), (43, 0, 0))

        # A session's own endpoint takes its events instead of the account-wide one.
        own = self.create(api, key, "own", session_id=s2, events=["session.status"])
        self.assertEqual(own["session_id"], s2)
        ids_own = self.append(acc, s2, 3, start=100)
        ids_wide = self.append(acc, s1, 2, start=100)
        wait_for(lambda: set(ids_own) <= {r["id"] for r in self.sink.records("own")}, timeout=20, what="own")
        wait_for(lambda: set(ids_wide) <= {r["id"] for r in self.sink.records("a")}, timeout=20, what="wide")
        self.assertFalse(set(ids_own) & {r["id"] for r in self.sink.records("a")})

    def test_writer_fanned_deliveries_go_out_in_order_without_polling(self):
        # Sends through the API: each 202's message.status event is fanned out in the message
        # writer's commit and handed to the worker at once. The poll is a minute away and the
        # endpoint takes one request at a time, so lanes that wait for each other, offers that
        # meet a busy lane, and a receiver outage must all be resolved without it.
        w, api = self.start_gateway("--set", "whatsapp.url=ws://127.0.0.1:9/ws/chat",
                                    "--set", "webhooks.concurrency=1", "--set", "plans.starter.sessions=3",
                                    poll_ms=60000)
        acc, key = api.account_with_key("offers@example.com")
        key = key["secret"]
        self.create(api, key, "o", events=["message.status"])
        sessions = []
        for i in range(3):
            status, _, session = api.call("POST", "/v1/sessions", {"name": f"s{i}"}, key=key)
            self.assertEqual(status, 201, session)
            sessions.append(session["id"])

        def send(rounds, start):
            ids = {}
            for n in range(start, start + rounds):
                for sid in sessions:
                    status, _, m = api.call("POST", f"/v1/sessions/{sid}/messages",
                                            {"to": "+15550002222", "text": f"n{n}"}, key=key)
                    self.assertEqual(status, 202, m)
                    ids[m["id"]] = (sid, n)
            return ids

        def queued(records):
            """(session, n) of each first 'queued' event received, in arrival order."""
            seen, out = set(), []
            for r in records:
                data = r["body"]["data"]
                if r["id"] in seen or data.get("status") != "queued":
                    continue
                seen.add(r["id"])
                out.append(data["message_id"])
            return out

        def check(ids, records):
            got = [ids[m] for m in queued(records) if m in ids]
            last = {}
            for sid, n in got:
                self.assertGreater(n, last.get(sid, -1), f"order broken in session {sid}")
                last[sid] = n
            return len(got)

        first = send(30, 0)
        start = time.monotonic()
        wait_for(lambda: check(first, self.sink.records("o")) == len(first), timeout=20, what="offered deliveries")
        self.assertLess(time.monotonic() - start, 15)  # the poll would have taken 60 s
        for r in self.sink.records("o"):
            self.assertTrue(r["verified_with"], r)

        # The receiver fails for a while: retries (scheduled by the pump's due times, not the poll)
        # bring everything, in order, once it answers again.
        self.sink.set("o", status=503)
        second = send(10, 30)
        wait_for(lambda: any(r["status"] == 503 for r in self.sink.records("o")), timeout=10, what="a refused delivery")
        self.sink.set("o", status=200)
        third = send(10, 40)
        everything = {**first, **second, **third}
        wait_for(lambda: check(everything, [r for r in self.sink.records("o") if r["status"] == 200]) == len(everything),
                 timeout=30, what="every delivery after the outage")

    def test_slow_receiver_does_not_delay_another_account(self):
        w, api = self.start_gateway()
        acc_a, key_a = api.account_with_key("slow@example.com")
        acc_b, key_b = api.account_with_key("fast@example.com")
        self.create(api, key_a["secret"], "slow")
        self.create(api, key_b["secret"], "fast")
        self.sink.set("slow", delay_ms=3000)
        sa, sb = self.add_session(acc_a), self.add_session(acc_b)
        slow_ids = self.append(acc_a, sa, 4)
        fast_ids = self.append(acc_b, sb, 20)
        start = time.monotonic()
        wait_for(lambda: set(fast_ids) <= {r["id"] for r in self.sink.records("fast")}, timeout=20, what="fast")
        took = time.monotonic() - start
        self.assertLess(took, 3.0)
        self.assertLess(len(self.sink.records("slow")), len(slow_ids))
        self.assert_verified_in_order(self.sink.records("fast"))
        wait_for(lambda: set(slow_ids) <= {r["id"] for r in self.sink.records("slow")}, timeout=30, what="slow")
        self.assert_verified_in_order(self.sink.records("slow"))

    def test_rotate_test_deliveries_dead_letter_replay_disable(self):
        w, api = self.start_gateway("--set", "webhooks.retry_window_ms=1500")
        acc, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        hook = self.create(api, key, "t")
        hid = hook["id"]

        status, _, tested = api.call("POST", f"/v1/webhooks/{hid}/test", key=key)
        self.assertEqual(status, 200, tested)
        self.assertEqual((tested["ok"], tested["status_code"], tested["error"]), (True, 200, None))
        self.assertGreaterEqual(tested["latency_ms"], 0)
        rec = [r for r in self.sink.records("t") if r["id"] == tested["event_id"]]
        self.assertEqual(len(rec), 1)
        self.assertEqual(rec[0]["body"]["type"], "webhook.test")
        self.assertEqual(rec[0]["verified_with"], [0])

        # Rotation: both the old and the new secret verify for the overlap.
        status, _, rotated = api.call("POST", f"/v1/webhooks/{hid}/rotate-secret", key=key)
        self.assertEqual(status, 200, rotated)
        self.assertNotEqual(rotated["secret"], hook["secret"])
        self.assertIsNotNone(rotated["previous_secret_expires_at"])
        self.sink.set("t", secrets=[hook["secret"], rotated["secret"]])
        status, _, tested = api.call("POST", f"/v1/webhooks/{hid}/test", key=key)
        rec = [r for r in self.sink.records("t") if r["id"] == tested["event_id"]][0]
        self.assertEqual(rec["verified_with"], [0, 1])
        self.assertEqual(len(rec["signature"].split(" ")), 2)

        # Deliveries with their attempts; a failing receiver makes a dead letter; replay sends it
        # again with the same webhook-id.
        sid = self.add_session(acc)
        ok_ids = self.append(acc, sid, 2)
        wait_for(lambda: set(ok_ids) <= {r["id"] for r in self.sink.records("t")}, timeout=20, what="deliveries")
        # The receiver logs a request before it answers, and the gateway records the answer after:
        # wait for the record too.
        page = wait_for(lambda: (p := api.call("GET", f"/v1/webhooks/{hid}/deliveries?limit=1", key=key)[2])
                        ["data"][0]["state"] == "delivered" and p, timeout=20, what="delivered recorded")
        self.assertEqual(len(page["data"]), 1)
        self.assertIsNotNone(page["next_cursor"])
        newest = page["data"][0]
        self.assertEqual((newest["event_id"], newest["state"]), (ok_ids[1], "delivered"))
        self.assertEqual(newest["attempts"][0]["status_code"], 200)
        status, _, page2 = api.call("GET", f"/v1/webhooks/{hid}/deliveries?limit=5&cursor={page['next_cursor']}", key=key)
        self.assertEqual([d["event_id"] for d in page2["data"]], [ok_ids[0]])

        self.sink.set("t", status=500)
        dead_id = self.append(acc, sid, 1, start=2)[0]
        dead = wait_for(lambda: [d for d in api.call("GET", f"/v1/webhooks/{hid}/deliveries?state=dead", key=key)[2]["data"]
                                 if d["event_id"] == dead_id], timeout=20, what="a dead letter")[0]
        self.assertGreaterEqual(dead["attempt_count"], 2)
        self.assertTrue(all(a["status_code"] == 500 for a in dead["attempts"]))
        self.sink.set("t", status=200)
        status, _, replayed = api.call("POST", f"/v1/webhooks/{hid}/deliveries/{dead['id']}/replay", key=key)
        self.assertEqual(status, 202, replayed)
        wait_for(lambda: [r for r in self.sink.records("t") if r["id"] == dead_id and r["status"] == 200],
                 timeout=20, what="the replay")
        status, _, again = api.call("POST", f"/v1/webhooks/{hid}/deliveries/{page['data'][0]['id']}/replay", key=key)
        self.assertEqual(status, 202)
        wait_for(lambda: len([r for r in self.sink.records("t") if r["id"] == ok_ids[1]]) == 2, timeout=20,
                 what="a replay of a delivered event")

        # 410 Gone disables at once; what comes meanwhile waits; re-enabling delivers it.
        self.sink.set("t", status=410)
        gone_id = self.append(acc, sid, 1, start=3)[0]
        wait_for(lambda: api.call("GET", f"/v1/webhooks/{hid}", key=key)[2]["health"] == "disabled",
                 timeout=20, what="disabled")
        waiting = self.append(acc, sid, 2, start=4)
        self.sink.set("t", status=200)
        held = wait_for(lambda: (d := [x for x in api.call("GET", f"/v1/webhooks/{hid}/deliveries", key=key)[2]["data"]
                                       if x["event_id"] in waiting]) and len(d) == 2 and d, timeout=20, what="fan-out")
        self.assertEqual([(d["state"], d["attempt_count"]) for d in held], [("pending", 0)] * 2)
        self.assertFalse(set(waiting) & {r["id"] for r in self.sink.records("t")})
        status, _, enabled = api.call("PATCH", f"/v1/webhooks/{hid}", {"enabled": True}, key=key)
        self.assertEqual((status, enabled["health"]), (200, "healthy"))
        wait_for(lambda: set([gone_id] + waiting) <= {r["id"] for r in self.sink.records("t") if r["status"] == 200},
                 timeout=20, what="what waited")

        status, _, none = api.call("POST", f"/v1/webhooks/{hid}/deliveries/dlv_nope/replay", key=key)
        self.assertEqual(status, 404)
        status, _, _ = api.call("DELETE", f"/v1/webhooks/{hid}", key=key)
        self.assertEqual(status, 204)
        self.assertEqual(api.call("GET", f"/v1/webhooks/{hid}", key=key)[0], 404)

    def test_ssrf_validation_and_isolation(self):
        w, api = self.start_gateway()
        acc, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        for url, code in [("http://10.0.0.1/hook", "url_not_allowed"),
                          ("http://169.254.169.254/latest/meta-data", "url_not_allowed"),
                          ("http://[::ffff:192.168.1.1]/x", "url_not_allowed"),
                          ("http://[::1]:9/x", "url_not_allowed"),
                          ("http://0.0.0.0:9/x", "url_not_allowed"),
                          ("ftp://example.com/x", "invalid_url"),
                          ("http://user:pw@127.0.0.1/x", "invalid_url"),
                          ("not a url", "invalid_url")]:
            status, _, err = api.call("POST", "/v1/webhooks", {"url": url}, key=key)
            self.assertEqual((status, err["code"]), (422, code), url)
        status, _, err = api.call("POST", "/v1/webhooks", {"url": self.receiver.url("x"), "events": ["bogus"]}, key=key)
        self.assertEqual((status, err["code"]), (422, "invalid_events"))
        status, _, err = api.call("POST", "/v1/webhooks", {"url": self.receiver.url("x"), "session_id": "ses_nope"}, key=key)
        self.assertEqual((status, err["code"]), (422, "invalid_session_id"))

        hook = self.create(api, key, "mine")
        self.assertEqual(hook["events"], ["message.received", "session.status"])
        status, _, err = api.call("PATCH", f"/v1/webhooks/{hook['id']}", {"url": "http://192.168.0.10/x"}, key=key)
        self.assertEqual((status, err["code"]), (422, "url_not_allowed"))
        status, _, listed = api.call("GET", "/v1/webhooks", key=key)
        self.assertEqual([h["id"] for h in listed["data"]], [hook["id"]])
        self.assertNotIn("secret", listed["data"][0])

        # Another account sees none of it.
        acc_b, key_b = api.account_with_key("eve@example.com")
        kb = key_b["secret"]
        hid = hook["id"]
        for method, path, body in [("GET", f"/v1/webhooks/{hid}", None), ("PATCH", f"/v1/webhooks/{hid}", {"description": "x"}),
                                   ("DELETE", f"/v1/webhooks/{hid}", None), ("POST", f"/v1/webhooks/{hid}/rotate-secret", None),
                                   ("POST", f"/v1/webhooks/{hid}/test", None), ("GET", f"/v1/webhooks/{hid}/deliveries", None),
                                   ("POST", f"/v1/webhooks/{hid}/deliveries/dlv_x/replay", None)]:
            status, _, err = api.call(method, path, body, key=kb)
            self.assertEqual((status, err["code"]), (404, "not_found"), (method, path))
        self.assertEqual(api.call("GET", "/v1/webhooks", key=kb)[2]["data"], [])
        sid = self.add_session(acc)
        self.assertEqual(api.call("GET", f"/v1/sessions/{sid}/webhook-stats", key=kb)[0], 404)
        self.assertEqual(api.call("GET", f"/v1/sessions/{sid}/webhook-stats", key=key)[0], 200)

        # A read-only key may look, not change.
        _, ro = api.call("POST", "/v1/api-keys", {"name": "ro", "read_only": True}, key=key)[1:]
        self.assertEqual(api.call("GET", f"/v1/webhooks/{hid}", key=ro["secret"])[0], 200)
        status, _, err = api.call("POST", f"/v1/webhooks/{hid}/test", key=ro["secret"])
        self.assertEqual((status, err["code"]), (403, "read_only_key"))

    def test_loopback_refused_without_allowlist(self):
        w, api = self.start_gateway(allow=False)
        _, key = api.account_with_key("ada@example.com")
        status, _, err = api.call("POST", "/v1/webhooks", {"url": self.receiver.url("x")}, key=key["secret"])
        self.assertEqual((status, err["code"]), (422, "url_not_allowed"))


if __name__ == "__main__":
    unittest.main()
