"""Live session events and /metrics against real wagate and wasim processes: the SSE stream of a
new sandbox session shows its QR, a simulated phone scans it, the stream shows the session
connected; a reconnect with Last-Event-ID gets exactly what came after; the same over a
WebSocket (a minimal client below: Python's stdlib has none); other accounts get 404 before any
streaming; /metrics is valid exposition text and counts the requests by route pattern."""
import base64
import http.client
import json
import os
import re
import socket
import struct
import unittest

from harness import TempDirTest, Wagate, Wasim, wait_for
from test_accounts import Api

PHONE = "15550001111"


class SseStream:
    """A GET .../events over SSE; next_event() parses one event block (comments skipped)."""

    def __init__(self, wagate, path, key, headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", wagate.port, timeout=20)
        h = {"Authorization": "Bearer " + key, "Accept": "text/event-stream"}
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = dict(self.resp.getheaders())
        self.comments = 0

    def next_event(self):
        fields = {}
        while True:
            line = self.resp.readline()
            if not line:
                raise AssertionError(f"stream ended; partial event {fields}")
            line = line.decode().rstrip("\n")
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = fields[name] + "\n" + value if name in fields else value

    def close(self):
        self.conn.close()


class WebSocket:
    """Just enough of RFC 6455 for a client: the handshake, reading text frames (answering pings)
    and a masked close."""

    def __init__(self, port, path, headers):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.head = head.decode(errors="replace")
        self.status = int(self.head.split(" ", 2)[1]) if self.head else 0

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise AssertionError("WebSocket connection ended")
            data += chunk
        return data

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def next_text(self):
        """The next text message, answering pings on the way; None on a close frame."""
        while True:
            b0, b1 = self._exact(2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._exact(8))[0]
            payload = self._exact(length)
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x1:
                return payload.decode()
            elif opcode == 0x8:
                return None

    def close(self):
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def parse_exposition(text):
    """Checks every line against the text format 0.0.4; returns {(name, labels): value}."""
    samples = {}
    label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:' + label + r'(?:,' + label + r')*)?\})? '
                        r'(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)( -?[0-9]+)?$')
    comment = re.compile(r'^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* '
                         r'(counter|gauge|histogram|summary|untyped))$')
    assert text.endswith("\n"), "the exposition ends with a newline"
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            assert comment.match(line), f"bad comment line: {line!r}"
            continue
        m = sample.match(line)
        assert m, f"bad sample line: {line!r}"
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


class LiveTest(TempDirTest):
    def setUp(self):
        super().setUp()
        os.makedirs(os.path.join(self.tmp, "wasim"))
        self.wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(self.wasim.stop)
        status, body = self.wasim.request("POST", "/v1/phones", {"phone": PHONE, "name": "Alice"})
        self.assertEqual(status, 201, body)

    def start_gateway(self, *args):
        w = Wagate(os.path.join(self.tmp, "data"), *self.wasim.gateway_args(),
                   "--set", "plans.starter.requests_per_minute=100000",
                   "--set", "server.stream_heartbeat_ms=500", *args)
        self.addCleanup(w.stop)
        return w, Api(w)

    def check_event(self, event, sid):
        body = json.loads(event["data"])
        self.assertEqual(set(body), {"id", "type", "created_at", "data"})
        self.assertEqual(body["type"], event["event"])
        self.assertEqual(body["id"], event.get("id"))
        self.assertEqual(body["data"]["session_id"], sid)
        self.assertRegex(body["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        return body

    def test_sse_and_websocket_journey_with_resume_and_metrics(self):
        w, api = self.start_gateway()
        _, ada = api.account_with_key("ada@example.com")
        _, bob = api.account_with_key("bob@example.com")
        ada, bob = ada["secret"], bob["secret"]
        status, _, created = api.call("POST", "/v1/sessions", {"name": "live", "sandbox": True}, key=ada)
        self.assertEqual(status, 201, created)
        sid = created["id"]
        path = f"/v1/sessions/{sid}/events"

        # Another account, or a bad resume point: a problem answer, no stream.
        status, _, err = api.call("GET", path, key=bob)
        self.assertEqual((status, err["code"]), (404, "not_found"))
        status, _, err = api.call("GET", path, key=ada, headers={"Last-Event-ID": "evt_unknown"})
        self.assertEqual((status, err["code"]), (422, "unknown_event"))
        status, _, err = api.call("GET", path + "?types=session.nope", key=ada)
        self.assertEqual((status, err["code"]), (422, "invalid_types"))

        sse = SseStream(w, path, ada)
        self.addCleanup(sse.close)
        self.assertEqual(sse.status, 200)
        self.assertEqual(sse.headers["Content-Type"], "text/event-stream")
        self.assertEqual(sse.headers["Cache-Control"], "no-store")
        api.openapi.check("GET", path, sse.status, sse.headers, b"")
        first = self.check_event(sse.next_event(), sid)
        self.assertEqual((first["type"], first["id"]), ("session.status", None))  # the snapshot

        seen = []  # (id, type, data) of logged events, in order
        qr = None
        while qr is None:
            body = self.check_event(sse.next_event(), sid)
            if body["id"] is not None:
                seen.append(body)
            if body["type"] == "session.qr":
                qr = body["data"]["qr"]
        status, body = self.wasim.request("POST", f"/v1/phones/{PHONE}/scan", {"qr": qr})
        self.assertEqual(status, 200, body)
        while not (seen and seen[-1]["type"] == "session.status" and seen[-1]["data"]["status"] == "connected"):
            body = self.check_event(sse.next_event(), sid)
            self.assertIsNotNone(body["id"], "only the first events of a stream are snapshots")
            seen.append(body)
        self.assertEqual(seen[-1]["data"]["phone"], PHONE)
        self.assertEqual(len({e["id"] for e in seen}), len(seen), "no event twice")
        self.assertGreaterEqual(len(seen), 2)
        sse.close()

        # Resume after the first logged event: exactly the ones after it, no snapshot.
        resumed = SseStream(w, path, ada, {"Last-Event-ID": seen[0]["id"]})
        self.addCleanup(resumed.close)
        self.assertEqual(resumed.status, 200)
        again = [self.check_event(resumed.next_event(), sid) for _ in seen[1:]]
        self.assertEqual([e["id"] for e in again], [e["id"] for e in seen[1:]])
        resumed.close()

        # ?types= keeps only those.
        only = SseStream(w, f"{path}?types=session.status&after={seen[0]['id']}", ada)
        self.addCleanup(only.close)
        want = [e["id"] for e in seen[1:] if e["type"] == "session.status"]
        got = [self.check_event(only.next_event(), sid)["id"] for _ in want]
        self.assertEqual(got, want)
        only.close()

        # The same over a WebSocket: a fresh one opens with the current state, a resumed one replays.
        ws = WebSocket(w.port, path, {"Authorization": "Bearer " + ada})
        self.addCleanup(ws.close)
        self.assertEqual(ws.status, 101, ws.head)
        snap = json.loads(ws.next_text())
        self.assertEqual((snap["id"], snap["type"], snap["data"]["status"]), (None, "session.status", "connected"))
        ws.close()
        ws2 = WebSocket(w.port, f"{path}?after={seen[0]['id']}", {"Authorization": "Bearer " + ada})
        self.addCleanup(ws2.close)
        self.assertEqual(ws2.status, 101, ws2.head)
        frames = [json.loads(ws2.next_text()) for _ in seen[1:]]
        self.assertEqual([f["id"] for f in frames], [e["id"] for e in seen[1:]])
        # Live over the WebSocket: logging out shows up as the next events.
        self.assertEqual(api.call("POST", f"/v1/sessions/{sid}/logout", key=ada)[0], 200)
        statuses = []
        while "logged_out" not in statuses and "stopped" not in statuses:
            frame = json.loads(ws2.next_text())
            self.assertIsNotNone(frame["id"])
            if frame["type"] == "session.status":
                statuses.append(frame["data"]["status"])
        ws2.close()
        refused = WebSocket(w.port, path, {"Authorization": "Bearer " + bob})
        self.assertEqual(refused.status, 404, refused.head)
        refused.sock.close()

        # /metrics: every line valid, requests counted by route pattern, never by raw path.
        status, headers, text = api.call("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        samples = parse_exposition(text.decode())
        def requests(route, method, code):
            return samples.get(("wagate_http_requests_total",
                                (("method", method), ("route", route), ("status", str(code)))), 0)
        self.assertEqual(requests("/v1/sessions", "POST", 201), 1)
        self.assertEqual(requests("/v1/sessions/{id}/events", "GET", 200), 3)
        self.assertEqual(requests("/v1/sessions/{id}/events", "GET", 101), 2)
        self.assertEqual(requests("/v1/sessions/{id}/events", "GET", 404), 2)
        self.assertEqual(requests("/v1/sessions/{id}/events", "GET", 422), 2)
        self.assertEqual(requests("/v1/sessions/{id}/logout", "POST", 200), 1)
        self.assertNotIn(sid, text.decode())
        count = samples[("wagate_http_request_duration_seconds_count", (("route", "/v1/sessions/{id}/events"),))]
        self.assertEqual(count, 9)
        self.assertEqual(samples[("wagate_http_request_duration_seconds_bucket",
                                  (("le", "+Inf"), ("route", "/v1/sessions/{id}/events")))], 9)
        self.assertGreaterEqual(samples[("wagate_events_total", (("type", "session.status"),))],
                                sum(1 for e in seen if e["type"] == "session.status"))
        self.assertGreaterEqual(samples[("wagate_events_total", (("type", "session.qr"),))], 1)
        for name in ("process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds",
                     "process_cpu_seconds_total"):
            self.assertGreater(samples[(name, ())], 0, name)

    def test_sessions_gauge_and_metrics_token(self):
        token = "m" * 40
        w, api = self.start_gateway("--set", f"metrics.token={token}")
        _, ada = api.account_with_key("ada@example.com")
        sid = api.call("POST", "/v1/sessions", {"name": "a", "sandbox": True}, key=ada["secret"])[2]["id"]
        status, _, err = api.call("GET", "/metrics")
        self.assertEqual((status, err["code"]), (401, "unauthorized"))
        wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=ada["secret"])[2]["status"] == "qr",
                 timeout=20, what="QR state")
        status, _, text = api.call("GET", "/metrics", headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200)
        samples = parse_exposition(text.decode())
        self.assertEqual(samples[("wagate_sessions", (("status", "qr"),))], 1)

    def test_metrics_can_be_disabled_and_streams_end_on_shutdown(self):
        w, api = self.start_gateway("--set", "metrics.enabled=0")
        self.assertEqual(api.call("GET", "/metrics")[0], 404)
        _, ada = api.account_with_key("ada@example.com")
        sid = api.call("POST", "/v1/sessions", {"name": "a", "sandbox": True}, key=ada["secret"])[2]["id"]
        sse = SseStream(w, f"/v1/sessions/{sid}/events", ada["secret"])
        self.addCleanup(sse.close)
        sse.next_event()
        ws = WebSocket(w.port, f"/v1/sessions/{sid}/events", {"Authorization": "Bearer " + ada["secret"]})
        self.addCleanup(ws.close)
        self.assertIsNotNone(ws.next_text())
        w.terminate()
        self.assertEqual(w.wait(timeout=10), 0)  # drained with both streams open
        with self.assertRaises(AssertionError):
            while True:
                sse.next_event()  # ends: the stream closed
        while ws.next_text() is not None:
            pass  # a close frame ends it


if __name__ == "__main__":
    unittest.main()
