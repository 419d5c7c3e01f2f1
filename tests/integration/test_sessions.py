"""Sessions over HTTP against real wagate and wasim processes: create a sandbox session, fetch
its QR (JSON, SVG, PNG), a simulated phone scans it, the session connects; it logs in again
without a scan after a gateway restart; stop/start, logout, delete, plan limits and tenant
isolation. Every answer is checked against /v1/openapi.json."""
import os
import unittest

from harness import TempDirTest, Wagate, Wasim, wait_for
from test_accounts import Api

PHONE = "15550001111"


class SessionsTest(TempDirTest):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.tmp, "wasim"))
        self.wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(self.wasim.stop)
        status, body = self.wasim.request("POST", "/v1/phones", {"phone": PHONE, "name": "Alice"})
        self.assertEqual(status, 201, body)

    def start_gateway(self, *args):
        # Tests poll; the default 120 requests per minute would throttle them.
        w = Wagate(os.path.join(self.tmp, "data"), *self.wasim.gateway_args(),
                   "--set", "plans.starter.requests_per_minute=100000", *args)
        self.addCleanup(w.stop)
        return w, Api(w)

    def session(self, api, key, sid):
        status, _, body = api.call("GET", f"/v1/sessions/{sid}", key=key)
        self.assertEqual(status, 200, body)
        return body

    def wait_status(self, api, key, sid, want, timeout=20):
        return wait_for(lambda: (s := self.session(api, key, sid))["status"] == want and s,
                        timeout=timeout, interval=0.1, what=f"session status {want}")

    def link(self, api, key, sid):
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        self.assertEqual(qr["status"], "qr")
        status, body = self.wasim.request("POST", f"/v1/phones/{PHONE}/scan", {"qr": qr["qr"]})
        self.assertEqual(status, 200, body)
        return self.wait_status(api, key, sid, "connected")

    def test_link_by_qr_survive_restart_logout_and_delete(self):
        w, api = self.start_gateway()
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        status, headers, created = api.call("POST", "/v1/sessions", {"name": "support", "sandbox": True,
                                                                      "speed": {"min_delay_ms": 500, "max_delay_ms": 1500}}, key=key)
        self.assertEqual(status, 201, created)
        sid = created["id"]
        self.assertEqual(headers["Location"], f"/v1/sessions/{sid}")
        self.assertEqual(created["desired"], "running")
        self.assertTrue(created["sandbox"])

        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        self.assertRegex(qr["qr"], r"^[^,]+,[^,]+,[^,]+,[^,]+,\d+$")
        status, headers, _ = api.call("GET", f"/v1/sessions/{sid}/qr", key=key, headers={"Accept": "image/svg+xml"})
        self.assertEqual((status, headers["Content-Type"]), (200, "image/svg+xml"))
        status, hdrs, _ = w.request("GET", f"/v1/sessions/{sid}/qr",
                                    headers={"Authorization": "Bearer " + key, "Accept": "image/png"})
        self.assertEqual((status, hdrs["Content-Type"]), (200, "image/png"))

        status, body = self.wasim.request("POST", f"/v1/phones/{PHONE}/scan", {"qr": qr["qr"]})
        self.assertEqual(status, 200, body)
        connected = self.wait_status(api, key, sid, "connected")
        self.assertEqual(connected["phone"], PHONE)
        self.assertTrue(connected["jid"].startswith(PHONE + ":"))
        self.assertTrue(connected["lid"].endswith("@lid"))
        status, _, qr = api.call("GET", f"/v1/sessions/{sid}/qr", key=key)
        self.assertEqual((qr["status"], qr["qr"]), ("connected", None))
        status, _, err = api.call("GET", f"/v1/sessions/{sid}/qr", key=key, headers={"Accept": "image/png"})
        self.assertEqual((status, err["code"]), (409, "no_qr"))
        status, devices = self.wasim.request("GET", f"/v1/phones/{PHONE}/devices")
        self.assertEqual(len(devices), 1)

        # A restarted gateway logs the session in again with its stored keys: no scan.
        w.stop()
        w2, api2 = self.start_gateway()
        self.wait_status(api2, key, sid, "connected")

        # Stop stays stopped across restarts; start brings it back without a scan.
        status, _, stopped = api2.call("POST", f"/v1/sessions/{sid}/stop", key=key)
        self.assertEqual((status, stopped["status"], stopped["desired"]), (200, "stopped", "stopped"))
        w2.stop()
        w3, api3 = self.start_gateway()
        self.assertEqual(self.session(api3, key, sid)["status"], "stopped")
        status, _, started = api3.call("POST", f"/v1/sessions/{sid}/start", key=key)
        self.assertEqual(status, 200)
        self.wait_status(api3, key, sid, "connected")
        self.assertEqual(api3.call("POST", f"/v1/sessions/{sid}/restart", key=key)[0], 200)
        self.wait_status(api3, key, sid, "connected")

        # Logout unlinks the device on the phone and keeps the session, logged_out.
        status, _, out = api3.call("POST", f"/v1/sessions/{sid}/logout", key=key)
        self.assertEqual((status, out["status"]), (200, "logged_out"))
        wait_for(lambda: self.wasim.request("GET", f"/v1/phones/{PHONE}/devices")[1] == [],
                 timeout=10, what="the phone no longer lists the device")
        # Starting again links anew: a new QR, a new scan.
        api3.call("POST", f"/v1/sessions/{sid}/start", key=key)
        self.link(api3, key, sid)

        status, _, _ = api3.call("DELETE", f"/v1/sessions/{sid}", key=key)
        self.assertEqual(status, 204)
        self.assertEqual(api3.call("GET", f"/v1/sessions/{sid}", key=key)[0], 404)
        wait_for(lambda: self.wasim.request("GET", f"/v1/phones/{PHONE}/devices")[1] == [],
                 timeout=10, what="the deleted session's device unlinked")

    def test_unlinking_from_the_phone_logs_the_session_out(self):
        w, api = self.start_gateway()
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = api.call("POST", "/v1/sessions", {"name": "a", "sandbox": True}, key=key)[2]["id"]
        linked = self.link(api, key, sid)
        status, _ = self.wasim.request("DELETE", f"/v1/phones/{PHONE}/devices/{linked['jid']}")
        self.assertIn(status, (200, 204))
        self.wait_status(api, key, sid, "logged_out")

    def test_errors_limits_and_tenants(self):
        w, api = self.start_gateway("--set", "plans.starter.sessions=2")
        _, ada = api.account_with_key("ada@example.com")
        _, bob = api.account_with_key("bob@example.com")
        ada, bob = ada["secret"], bob["secret"]
        bad = [({}, "validation_failed"), ({"name": ""}, "validation_failed"),
               ({"name": "x", "speed": {"min_delay_ms": 5}}, "invalid_speed"),
               ({"name": "x", "speed": {"min_delay_ms": 5, "max_delay_ms": 1}}, "invalid_speed"),
               ({"name": "x", "webhook_url": "ftp://x"}, "invalid_webhook_url"),
               ({"name": "x", "proxy": "gopher://x"}, "invalid_proxy"),
               ({"name": "x", "daily_limit": 0}, "invalid_daily_limit"),
               ({"name": "x", "colour": "red"}, "validation_failed")]
        for body, code in bad:
            status, _, err = api.call("POST", "/v1/sessions", body, key=ada)
            self.assertEqual((status, err["code"]), (422, code), body)
        s1 = api.call("POST", "/v1/sessions", {"name": "one", "sandbox": True,
                                               "proxy": "socks5://u:secret@127.0.0.1:1080"}, key=ada)[2]
        self.assertEqual(s1["proxy"], "socks5://u:****@127.0.0.1:1080")
        api.call("POST", f"/v1/sessions/{s1['id']}/stop", key=ada)
        s2 = api.call("POST", "/v1/sessions", {"name": "two", "sandbox": True}, key=ada)[2]
        status, _, err = api.call("POST", "/v1/sessions", {"name": "three", "sandbox": True}, key=ada)
        self.assertEqual((status, err["code"]), (402, "plan_limit_sessions"))

        # Pagination by cursor.
        status, _, page = api.call("GET", "/v1/sessions?limit=1", key=ada)
        self.assertEqual(len(page["data"]), 1)
        self.assertIsNotNone(page["next_cursor"])
        status, _, page2 = api.call("GET", f"/v1/sessions?limit=1&cursor={page['next_cursor']}", key=ada)
        self.assertEqual(len(page2["data"]), 1)
        self.assertIsNone(page2["next_cursor"])
        self.assertEqual({page["data"][0]["id"], page2["data"][0]["id"]}, {s1["id"], s2["id"]})
        self.assertEqual(api.call("GET", "/v1/sessions?limit=0", key=ada)[2]["code"], "invalid_limit")

        # Bob sees none of Ada's sessions: every session route answers 404.
        self.assertEqual(api.call("GET", "/v1/sessions", key=bob)[2]["data"], [])
        sid = s2["id"]
        for method, path, body in [("GET", f"/v1/sessions/{sid}", None), ("DELETE", f"/v1/sessions/{sid}", None),
                                   ("POST", f"/v1/sessions/{sid}/start", None), ("POST", f"/v1/sessions/{sid}/stop", None),
                                   ("POST", f"/v1/sessions/{sid}/restart", None), ("POST", f"/v1/sessions/{sid}/logout", None),
                                   ("GET", f"/v1/sessions/{sid}/qr", None),
                                   ("POST", f"/v1/sessions/{sid}/pairing-code", {"phone": "+15550002222"})]:
            status, _, err = api.call(method, path, body, key=bob)
            self.assertEqual((status, err["code"]), (404, "not_found"), f"{method} {path}")
        self.assertEqual(self.session(api, ada, sid)["id"], sid)

        # A key scoped to one session sees only that one and cannot create sessions.
        status, _, scoped = api.call("POST", "/v1/api-keys", {"name": "s", "session_ids": [s1["id"]]}, key=ada)
        scoped = scoped["secret"]
        self.assertEqual([s["id"] for s in api.call("GET", "/v1/sessions", key=scoped)[2]["data"]], [s1["id"]])
        self.assertEqual(api.call("GET", f"/v1/sessions/{sid}", key=scoped)[0], 404)
        self.assertEqual(api.call("POST", "/v1/sessions", {"name": "x"}, key=scoped)[2]["code"], "scope_exceeded")

        # Pairing code: a bad number, then a real code while the session shows QR codes.
        self.assertEqual(api.call("POST", f"/v1/sessions/{sid}/pairing-code", {"phone": "12"}, key=ada)[2]["code"],
                         "invalid_phone")
        wait_for(lambda: self.session(api, ada, sid)["status"] == "qr", timeout=20, what="QR state")
        status, _, code = api.call("POST", f"/v1/sessions/{sid}/pairing-code", {"phone": "+1 555 000 1111"}, key=ada)
        self.assertEqual(status, 200, code)
        self.assertRegex(code["code"], r"^[A-Z0-9]{8}$")
        status, body = self.wasim.request("POST", f"/v1/phones/{PHONE}/pairing-code", {"code": code["code"]})
        self.assertEqual(status, 200, body)
        self.wait_status(api, ada, sid, "connected")

    def test_suspension_stops_sessions_within_a_second(self):
        w, api = self.start_gateway()
        account_id, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = api.call("POST", "/v1/sessions", {"name": "a", "sandbox": True}, key=key)[2]["id"]
        self.link(api, key, sid)
        from harness import run_wagate
        import time
        code, _, err = run_wagate("admin", "suspend", account_id, "--data-dir", os.path.join(self.tmp, "data"))
        self.assertEqual(code, 0, err)
        started = time.monotonic()
        wait_for(lambda: self.wasim.request("GET", "/v1/stats")[1]["connections"] == 0, timeout=1.5,
                 interval=0.05, what="the suspended account's session disconnected")
        self.assertLess(time.monotonic() - started, 1.0)
        code, _, err = run_wagate("admin", "unsuspend", account_id, "--data-dir", os.path.join(self.tmp, "data"))
        self.assertEqual(code, 0, err)
        self.wait_status(api, key, sid, "connected")


class ServeSandboxTest(TempDirTest):
    """`wagate serve --sandbox` with no sandbox URL starts its own wasim: the whole journey needs
    one command, and the simulator goes away with the gateway, even after a kill -9."""

    def test_serve_sandbox_starts_and_owns_its_wasim(self):
        import json
        import re
        import signal
        import urllib.request
        w = Wagate(os.path.join(self.tmp, "data"), "--sandbox", "--set", "plans.starter.requests_per_minute=100000")
        self.addCleanup(w.stop)
        line = w.proc.stdout.readline()
        m = re.match(r"sandbox: wasim control API on (\S+)", line)
        self.assertIsNotNone(m, line)
        control = m.group(1)

        def wasim_call(method, path, body=None):
            req = urllib.request.Request(control + path, method=method, data=json.dumps(body).encode() if body else None,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")

        self.assertEqual(wasim_call("POST", "/v1/phones", {"phone": PHONE, "name": "Alice"})[0], 201)
        api = Api(w)
        _, key = api.account_with_key("ada@example.com")
        status, _, created = api.call("POST", "/v1/sessions", {"name": "try"}, key=key["secret"])
        self.assertEqual(status, 201, created)
        self.assertTrue(created["sandbox"])  # --sandbox makes it the default
        sid = created["id"]
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key["secret"])[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        self.assertEqual(wasim_call("POST", f"/v1/phones/{PHONE}/scan", {"qr": qr["qr"]})[0], 200)
        wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key["secret"])[2]["status"] == "connected",
                 timeout=20, interval=0.1, what="connected")

        # The child dies with its parent.
        children = open(f"/proc/{w.proc.pid}/task/{w.proc.pid}/children").read().split()
        self.assertEqual(len(children), 1, children)
        wasim_pid = int(children[0])
        w.proc.send_signal(signal.SIGKILL)
        w.proc.wait()
        wait_for(lambda: not os.path.exists(f"/proc/{wasim_pid}") or
                 open(f"/proc/{wasim_pid}/stat").read().split()[2] == "Z",
                 timeout=10, interval=0.05, what="the wasim child to end")


if __name__ == "__main__":
    unittest.main()
