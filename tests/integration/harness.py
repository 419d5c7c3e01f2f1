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
WASIM = os.environ.get("WA_WASIM_BIN") or os.path.join(os.path.dirname(WAGATE), "wasim")


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


def stop_process(proc, *files):
    """SIGTERM, up to 10 s to exit, then SIGKILL; closes its stdout and `files`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()
    for f in files:
        f.close()


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
        stop_process(self.proc, self._stderr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Wasim:
    """A running wasim with free ports; its endpoints as it printed them."""

    def __init__(self, data_dir):
        import re
        self.stderr_path = os.path.join(data_dir, "wasim-stderr.log")
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([WASIM, "--port", "0", "--control-port", "0", "--data-dir", data_dir,
                                      "--log-level", "warn"],
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        found = {}
        patterns = {"chat_url": r"wasim chat endpoint (\S+)", "control_url": r"wasim control API (\S+)",
                    "root_key": r"wasim noise root public key ([0-9a-f]{64})",
                    "cert": r"wasim TLS certificate (\S+)"}
        deadline = time.monotonic() + 10
        while len(found) < len(patterns) and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            for name, pattern in patterns.items():
                m = re.search(pattern, line)
                if m:
                    found[name] = m.group(1)
        if len(found) < len(patterns):
            self.stop()
            raise AssertionError(f"wasim did not print its endpoints: {found}")
        self.chat_url = found["chat_url"]
        self.control_url = found["control_url"].rstrip("/")
        self.root_key = found["root_key"]
        self.cert = found["cert"]

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control_url + path, method=method, data=data,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def gateway_args(self):
        """wagate flags that make this wasim the sandbox."""
        return ["--set", f"sandbox.chat_url={self.chat_url}", "--set", f"sandbox.root_key={self.root_key}",
                "--set", f"sandbox.ca_file={self.cert}", "--set", f"sandbox.control_url={self.control_url}"]

    def stop(self):
        stop_process(self.proc, self._stderr)


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
