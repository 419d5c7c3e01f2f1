"""Email alerts against a real wagate, wasim and SMTP server (Debian's aiosmtpd writing each
message to a file, smtp_sink.py): a session unlinked from the phone -> the owner gets the
re-link email with the link in both parts; an SMTP server that is down (even across a gateway
restart) -> the email arrives once it is up; the monthly quota at 80 % and 100 % -> one email
each."""
import email
import email.policy
import json
import os
import socket
import sqlite3
import subprocess
import time
import unittest

from harness import TempDirTest, Wagate, Wasim, free_port, stop_process, wait_for
from test_accounts import Api

PHONE = "15550002222"
BOB = "15550003333"
HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-aiosmtpd lives in its dist-packages


class SmtpSink:
    """`python3 -m aiosmtpd` on `port`, writing messages to `directory`."""

    def __init__(self, port, directory):
        self.port, self.directory = port, directory
        env = dict(os.environ, PYTHONPATH=HERE, PYTHONDONTWRITEBYTECODE="1")
        self.log = open(os.path.join(directory, "..", f"smtp-{port}.log"), "a")
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
             "-c", "smtp_sink.FileSink", directory],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        wait_for(self._accepting, timeout=10, interval=0.05, what="aiosmtpd to listen")

    def _accepting(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"aiosmtpd exited with {self.proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(3) == b"220"
        except OSError:
            return False

    def stop(self):
        stop_process(self.proc, self.log)


def messages(directory):
    """Every stored message as (envelope, email.message.EmailMessage), in arrival order."""
    out = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                record = json.load(f)
            out.append((record, email.message_from_string(record["content"], policy=email.policy.default)))
    return out


def parts(msg):
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return plain.get_content(), html.get_content()


@unittest.skipUnless(subprocess.run([SYSTEM_PYTHON, "-c", "import aiosmtpd"], capture_output=True).returncode == 0,
                     "python3-aiosmtpd is not installed (scripts/install-deps.sh)")
class EmailTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.mail_dir = os.path.join(self.tmp, "mail")
        os.makedirs(self.mail_dir)
        self.smtp_port = free_port()
        os.makedirs(os.path.join(self.tmp, "wasim"))
        self.wasim = Wasim(os.path.join(self.tmp, "wasim"))
        self.addCleanup(self.wasim.stop)

    def start_sink(self):
        sink = SmtpSink(self.smtp_port, self.mail_dir)
        self.addCleanup(sink.stop)
        return sink

    def start_gateway(self, *args):
        w = Wagate(os.path.join(self.tmp, "data"), *self.wasim.gateway_args(),
                   "--set", "plans.starter.requests_per_minute=100000",
                   "--set", f"email.smtp_url=smtp://127.0.0.1:{self.smtp_port}",
                   "--set", "email.starttls=0",
                   "--set", "email.from=Gateway Alerts <alerts@gw.example>",
                   "--set", "email.public_url=https://dash.example.test/",
                   "--set", "email.retry_first_delay_ms=200", *args)
        self.addCleanup(w.stop)
        return w, Api(w)

    def wait_messages(self, n, timeout=20):
        return wait_for(lambda: len(m := messages(self.mail_dir)) >= n and m, timeout=timeout, interval=0.05,
                        what=f"{n} email(s) in the sink")

    def test_a_session_logged_out_from_the_phone_emails_the_relink_link(self):
        wasim = self.wasim
        self.assertEqual(wasim.request("POST", "/v1/phones", {"phone": PHONE, "name": "Alice"})[0], 201)
        self.start_sink()
        w, api = self.start_gateway()
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        name = "Ada's <shop> & co"
        status, _, created = api.call("POST", "/v1/sessions", {"name": name, "sandbox": True}, key=key)
        self.assertEqual(status, 201, created)
        sid = created["id"]
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a QR code")
        self.assertEqual(wasim.request("POST", f"/v1/phones/{PHONE}/scan", {"qr": qr["qr"]})[0], 200)
        linked = wait_for(lambda: (s := api.call("GET", f"/v1/sessions/{sid}", key=key)[2])["status"] == "connected" and s,
                          timeout=20, interval=0.1, what="connected")
        self.assertEqual(messages(self.mail_dir), [])  # linking alone sends nothing

        status, _ = wasim.request("DELETE", f"/v1/phones/{PHONE}/devices/{linked['jid']}")
        self.assertIn(status, (200, 204))
        (envelope, msg), = self.wait_messages(1)
        self.assertEqual(envelope["mail_from"], "alerts@gw.example")
        self.assertEqual(envelope["rcpt_tos"], ["ada@example.com"])
        self.assertEqual(msg["To"].addresses[0].addr_spec, "ada@example.com")
        self.assertEqual(msg["From"].addresses[0].addr_spec, "alerts@gw.example")
        self.assertEqual(msg["From"].addresses[0].display_name, "Gateway Alerts")
        self.assertIn("Re-link", msg["Subject"])
        self.assertIn(name, msg["Subject"])
        self.assertTrue(msg["Date"] and msg["Message-ID"].endswith("@gw.example>"))
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        text, html = parts(msg)
        url = f"https://dash.example.test/sessions/{sid}"
        self.assertIn(url, text)
        self.assertIn(f'href="{url}"', html)
        self.assertIn(name, text)
        self.assertIn("Ada&#39;s &lt;shop&gt; &amp; co", html)
        self.assertNotIn("<shop>", html)
        status, _, s = api.call("GET", f"/v1/sessions/{sid}", key=key)
        self.assertEqual(s["status"], "logged_out")
        self.assertEqual(len(messages(self.mail_dir)), 1)

        # Re-linked, then logged out by the owner through the API: the status says why, and the
        # alert rules (notify/rules_test.cc) send nothing for it.
        self.assertEqual(api.call("POST", f"/v1/sessions/{sid}/start", key=key)[0], 200)
        qr = wait_for(lambda: (b := api.call("GET", f"/v1/sessions/{sid}/qr", key=key)[2])["qr"] and b,
                      timeout=20, interval=0.1, what="a new QR code")
        self.assertEqual(wasim.request("POST", f"/v1/phones/{PHONE}/scan", {"qr": qr["qr"]})[0], 200)
        wait_for(lambda: api.call("GET", f"/v1/sessions/{sid}", key=key)[2]["status"] == "connected",
                 timeout=20, interval=0.1, what="connected again")
        self.assertEqual(api.call("POST", f"/v1/sessions/{sid}/logout", key=key)[0], 200)
        db = sqlite3.connect(f"file:{os.path.join(self.tmp, 'data', 'wagate.db')}?mode=ro", uri=True)
        self.addCleanup(db.close)
        def logout_reasons():
            return [json.loads(d)["reason"] for (d,) in db.execute(
                "SELECT data FROM events WHERE session_id = ? AND type = 'session.status' "
                "AND json_extract(data, '$.status') = 'logged_out' ORDER BY seq", (sid,))]
        reasons = wait_for(lambda: len(r := logout_reasons()) >= 2 and r, timeout=10,
                           what="the second logged_out event")
        self.assertNotEqual(reasons[0], "logout_requested")  # the phone's unlink
        self.assertEqual(reasons[-1], "logout_requested")

    def test_an_alert_raised_while_smtp_is_down_arrives_after_a_restart_once_it_is_up(self):
        # No SMTP server yet: the quota alert waits in the email outbox.
        w, api = self.start_gateway("--set", "plans.starter.messages_per_month=1")
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = api.call("POST", "/v1/sessions", {"name": "s", "sandbox": True}, key=key)[2]["id"]
        status, _, body = api.call("POST", f"/v1/sessions/{sid}/messages", {"to": BOB, "text": "hi"}, key=key)
        self.assertEqual(status, 202, body)
        wait_for(lambda: w.stderr().count("email: sending") >= 2, timeout=20, interval=0.05,
                 what="two failed SMTP attempts")
        w.stop()
        self.start_sink()
        w2, _ = self.start_gateway("--set", "plans.starter.messages_per_month=1")
        (envelope, msg), = self.wait_messages(1)
        self.assertEqual(envelope["rcpt_tos"], ["ada@example.com"])
        self.assertIn("used up", msg["Subject"])
        text, html = parts(msg)
        self.assertIn("1 of the 1 messages", text)
        self.assertIn("https://dash.example.test/billing", html)

    def test_down_then_up_without_a_restart(self):
        w, api = self.start_gateway("--set", "plans.starter.messages_per_month=1")
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = api.call("POST", "/v1/sessions", {"name": "s", "sandbox": True}, key=key)[2]["id"]
        self.assertEqual(api.call("POST", f"/v1/sessions/{sid}/messages", {"to": BOB, "text": "hi"}, key=key)[0], 202)
        wait_for(lambda: "email: sending" in w.stderr(), timeout=20, interval=0.05, what="a failed SMTP attempt")
        self.start_sink()
        self.wait_messages(1, timeout=30)

    def test_quota_at_80_and_100_percent_one_email_each(self):
        self.start_sink()
        w, api = self.start_gateway("--set", "plans.starter.messages_per_month=5")
        _, key = api.account_with_key("ada@example.com")
        key = key["secret"]
        sid = api.call("POST", "/v1/sessions", {"name": "s", "sandbox": True}, key=key)[2]["id"]

        def send(text):
            return api.call("POST", f"/v1/sessions/{sid}/messages", {"to": BOB, "text": text}, key=key)[0]

        for i in range(4):
            self.assertEqual(send(f"m{i}"), 202)
        (_, first), = self.wait_messages(1)
        self.assertIn("80", first["Subject"])
        self.assertIn("4 of the 5 messages", parts(first)[0])
        self.assertEqual(send("m4"), 202)
        got = self.wait_messages(2)
        self.assertIn("used up", got[1][1]["Subject"])
        self.assertIn("5 of the 5 messages", parts(got[1][1])[0])
        self.assertEqual(send("over"), 402)
        # Each threshold is one email: sends past the limit do not repeat either.
        self.assertEqual(send("over again"), 402)
        self.assertEqual(len(messages(self.mail_dir)), 2)


if __name__ == "__main__":
    unittest.main()
