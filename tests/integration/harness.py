"""Helpers for suites that run the real wagate binary: temp dirs, free ports, bounded waits,
and a process wrapper that always stops what it started."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

WAGATE = os.environ.get("WA_WAGATE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "dev", "src", "bin", "wagate")


def clean_env(extra=None):
    """The test's environment without any WAGATE_* variable of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGATE_")}
    env.update(extra or {})
    return env


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Wagate:
    """A running `wagate serve`; stop() or the context manager always ends it."""

    def __init__(self, data_dir, *args, env=None, listen="127.0.0.1:0"):
        self.stderr_path = os.path.join(tempfile.mkdtemp(prefix="wagate-log-"), "stderr.log")
        self._stderr = open(self.stderr_path, "w")
        cmd = [WAGATE, "serve", "--listen", listen, "--data-dir", data_dir, *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                     env=clean_env(env))
        line = self.proc.stdout.readline()
        if not line.startswith("wagate listening on "):
            self.stop()
            raise AssertionError(f"wagate did not start: {line!r}\n{self.stderr()}")
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=5):
        req = urllib.request.Request(self.url + path, method=method, data=body,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get_json(self, path):
        status, headers, body = self.request("GET", path)
        return status, headers, json.loads(body)

    def terminate(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_wagate(*args, env=None, timeout=30):
    """Runs a wagate command to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.run([WAGATE, *args], capture_output=True, text=True, timeout=timeout,
                       env=clean_env(env))
    return p.returncode, p.stdout, p.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="wagate-test-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()
