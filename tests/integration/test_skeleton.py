"""wagate as a real process: health, readiness, graceful shutdown, restarts, bad input."""
import json
import os
import signal
import socket
import time
import unittest

from harness import TempDirTest, Wagate, run_wagate, wait_for


class ServeTest(TempDirTest):
    def test_health_and_readiness(self):
        with Wagate(os.path.join(self.tmp, "data")) as w:
            status, headers, body = w.get_json("/healthz")
            self.assertEqual(status, 200)
            self.assertEqual(body, {"status": "ok"})
            self.assertTrue(headers["X-Request-Id"])

            status, _, body = w.get_json("/readyz")
            self.assertEqual(status, 200)
            self.assertEqual(body["status"], "ready")
            self.assertEqual(body["store"]["driver"], "sqlite")
            self.assertGreaterEqual(body["store"]["schema_version"], 1)

    def test_request_id_is_echoed_when_sane_and_replaced_when_not(self):
        with Wagate(os.path.join(self.tmp, "data")) as w:
            _, headers, _ = w.request("GET", "/healthz", headers={"X-Request-Id": "abc-123.x_y"})
            self.assertEqual(headers["X-Request-Id"], "abc-123.x_y")
            _, headers, _ = w.request("GET", "/healthz", headers={"X-Request-Id": "bad id<>"})
            self.assertNotEqual(headers["X-Request-Id"], "bad id<>")
            self.assertRegex(headers["X-Request-Id"], r"^[0-9a-f]{16}$")

    def test_routing_errors_are_problem_json(self):
        with Wagate(os.path.join(self.tmp, "data")) as w:
            status, headers, body = w.request("GET", "/no/such/route")
            self.assertEqual(status, 404)
            self.assertEqual(headers["Content-Type"], "application/problem+json")
            problem = json.loads(body)
            self.assertEqual(problem["code"], "not_found")
            self.assertEqual(problem["status"], 404)
            status, headers, body = w.request("DELETE", "/healthz")
            self.assertEqual(status, 405)
            self.assertEqual(headers["Allow"], "GET")
            self.assertEqual(json.loads(body)["code"], "method_not_allowed")

    def test_oversized_body_is_refused(self):
        with Wagate(os.path.join(self.tmp, "data"), "--set", "server.max_body_bytes=1024") as w:
            status, headers, body = w.request("POST", "/healthz", body=b"x" * 5000)
            self.assertEqual(status, 413)
            self.assertEqual(json.loads(body)["code"], "body_too_large")

    def test_graceful_shutdown_completes_in_flight_request(self):
        with Wagate(os.path.join(self.tmp, "data")) as w:
            # A keep-alive connection that sits idle must not hold up the shutdown.
            idle = socket.create_connection(("127.0.0.1", w.port))
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertIn(b"200 OK", idle.recv(4096))

            # An in-flight request: headers received, body still arriving.
            busy = socket.create_connection(("127.0.0.1", w.port))
            busy.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
            time.sleep(0.5)  # let the server read the headers
            started = time.monotonic()
            w.terminate(signal.SIGTERM)

            # The idle connection is closed by the drain.
            idle.settimeout(5)
            self.assertEqual(idle.recv(4096), b"")
            # The listener is closed: new connections are refused.
            wait_for(lambda: _refused(w.port), timeout=5, what="listener closed")
            self.assertIsNone(w.proc.poll(), "wagate exited with a request in flight")

            busy.sendall(b"67890")
            busy.settimeout(5)
            response = _read_response(busy)
            self.assertIn(b"HTTP/1.1 405", response)
            self.assertIn(b"Connection: close", response)
            self.assertEqual(w.wait(timeout=5), 0)
            self.assertLess(time.monotonic() - started, 5)
            idle.close()
            busy.close()
            self.assertIn("received signal 15", w.stderr())

    def test_sigint_also_exits_zero(self):
        w = Wagate(os.path.join(self.tmp, "data"))
        try:
            w.terminate(signal.SIGINT)
            self.assertEqual(w.wait(timeout=5), 0)
        finally:
            w.stop()

    def test_second_start_reuses_the_database(self):
        data = os.path.join(self.tmp, "data")
        with Wagate(data) as w:
            _, _, first = w.get_json("/readyz")
        self.assertTrue(os.path.exists(os.path.join(data, "wagate.db")))
        with Wagate(data) as w:
            _, _, second = w.get_json("/readyz")
            self.assertNotIn("applied migration", w.stderr())
        self.assertEqual(first["store"]["instance_id"], second["store"]["instance_id"])
        code, out, err = run_wagate("migrate", "--data-dir", data)
        self.assertEqual(code, 0, err)
        self.assertNotIn("applied migration", out)
        self.assertIn("schema version", out)

    def test_migrate_creates_a_fresh_database(self):
        data = os.path.join(self.tmp, "fresh")
        code, out, err = run_wagate("migrate", "--data-dir", data)
        self.assertEqual(code, 0, err)
        self.assertIn("applied migration 1", out)

    def test_json_logs(self):
        with Wagate(os.path.join(self.tmp, "data"), "--log-format", "json") as w:
            w.request("GET", "/healthz")
            wait_for(lambda: "/healthz" in w.stderr(), what="access log line")
        lines = [l for l in w.stderr().splitlines() if l.strip()]
        records = [json.loads(l) for l in lines]
        self.assertTrue(any("/healthz" in r["msg"] and r["level"] == "info" for r in records))
        self.assertTrue(all({"ts", "level", "msg"} <= r.keys() for r in records))


class BadInputTest(TempDirTest):
    def assert_one_line_error(self, code, err, *needles):
        self.assertNotEqual(code, 0)
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, err)
        for n in needles:
            self.assertIn(n, lines[0])

    def test_port_in_use(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        data = os.path.join(self.tmp, "data")
        try:
            code, _, err = run_wagate("serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data)
        finally:
            holder.close()
        self.assert_one_line_error(code, err, "cannot listen", str(port), "in use")
        self.assertFalse(os.path.exists(data), "nothing may be written when start-up fails")

    def test_unwritable_data_dir(self):
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        code, _, err = run_wagate("serve", "--listen", "127.0.0.1:0",
                                  "--data-dir", os.path.join(blocker, "data"))
        self.assert_one_line_error(code, err, "data dir")

    def test_bad_values_and_unknown_keys(self):
        data = os.path.join(self.tmp, "data")
        cases = [
            (["--listen", "nowhere"], "server.listen"),
            (["--log-format", "xml"], "log.format"),
            (["--set", "server.threads=many"], "server.threads"),
            (["--set", "no.such.key=1"], "no.such.key"),
        ]
        for args, needle in cases:
            code, _, err = run_wagate("serve", "--data-dir", data, *args)
            self.assert_one_line_error(code, err, needle)
        code, _, err = run_wagate("serve", "--data-dir", data, env={"WAGATE_LISTN": "x"})
        self.assert_one_line_error(code, err, "WAGATE_LISTN")
        self.assertFalse(os.path.exists(data))

    def test_bad_config_file(self):
        cfg = os.path.join(self.tmp, "wagate.toml")
        with open(cfg, "w") as f:
            f.write("[server]\nlisten = \"127.0.0.1:0\"\nthreds = 2\n")
        code, _, err = run_wagate("serve", "--config", cfg)
        self.assert_one_line_error(code, err, "server.threds", "unknown key")
        with open(cfg, "w") as f:
            f.write("[server\n")
        code, _, err = run_wagate("serve", "--config", cfg)
        self.assert_one_line_error(code, err, "wagate.toml:1")

    def test_damaged_database(self):
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        with open(os.path.join(data, "wagate.db"), "wb") as f:
            f.write(b"this is not a database" * 100)
        code, _, err = run_wagate("serve", "--listen", "127.0.0.1:0", "--data-dir", data)
        self.assert_one_line_error(code, err, "wagate.db")

    def test_wrong_master_key(self):
        data = os.path.join(self.tmp, "data")
        with Wagate(data):
            pass
        code, _, err = run_wagate("serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                                  "--set", "security.master_key=" + "ab" * 32)
        self.assert_one_line_error(code, err, "master key")


class CommandLineTest(TempDirTest):
    def test_print_config_masks_secrets_and_shows_origins(self):
        secret = "cd" * 32
        code, out, err = run_wagate("serve", "--print-config", "--listen", "127.0.0.1:9999",
                                    env={"WAGATE_SECURITY_MASTER_KEY": secret,
                                         "WAGATE_LOG_LEVEL": "debug"})
        self.assertEqual(code, 0, err)
        self.assertNotIn(secret, out)
        self.assertIn('master_key = "********"  # env', out)
        self.assertIn('listen = "127.0.0.1:9999"  # flag', out)
        self.assertIn('level = "debug"  # env', out)
        self.assertIn("shutdown_timeout_ms = 10000  # default", out)

    def test_precedence_end_to_end(self):
        cfg = os.path.join(self.tmp, "wagate.toml")
        with open(cfg, "w") as f:
            f.write('[log]\nlevel = "warn"\nformat = "json"\n[server]\nthreads = 3\n')
        code, out, _ = run_wagate("serve", "--print-config", "--config", cfg,
                                  "--log-level", "error", env={"WAGATE_LOG_LEVEL": "debug",
                                                               "WAGATE_SERVER_THREADS": "5"})
        self.assertEqual(code, 0)
        self.assertIn('level = "error"  # flag', out)
        self.assertIn("threads = 5  # env", out)
        self.assertIn('format = "json"  # file', out)

    def test_version(self):
        code, out, _ = run_wagate("version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^wagate \d+\.\d+\.\d+")

    def test_no_subcommand_is_a_usage_error(self):
        code, _, err = run_wagate()
        self.assertNotEqual(code, 0)


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return False
    except OSError:
        return True


def _read_response(sock):
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk


if __name__ == "__main__":
    unittest.main()
