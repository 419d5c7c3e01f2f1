"""Accounts, API keys, dashboard logins, rate limits and the kill switch, over HTTP against the
real wagate; every answer is checked against /v1/openapi.json."""
import json
import os
import re
import time
import unittest
import urllib.request

from harness import TempDirTest, Wagate, run_wagate, wait_for
from openapi_check import OpenApi

PASSWORD = "correct horse battery"
OPERATOR = "op-" + "x" * 40


class Api:
    """Calls the server and checks every answer against the OpenAPI document."""

    def __init__(self, wagate):
        self.w = wagate
        status, _, body = wagate.request("GET", "/v1/openapi.json")
        assert status == 200
        self.openapi = OpenApi(json.loads(body))

    def call(self, method, path, body=None, key=None, headers=None, raw=None):
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if key:
            h["Authorization"] = "Bearer " + key
        status, resp_headers, resp_body = self.w.request(method, path, body=data, headers=h)
        self.openapi.check(method, path, status, resp_headers, resp_body)
        is_json = (resp_headers.get("Content-Type") or "").split(";")[0].endswith("json")
        parsed = json.loads(resp_body) if resp_body and is_json else resp_body
        return status, resp_headers, parsed

    def signup(self, email, password=PASSWORD):
        return self.call("POST", "/v1/auth/signup", {"email": email, "password": password})

    def login(self, email, password=PASSWORD):
        status, headers, body = self.call("POST", "/v1/auth/login", {"email": email, "password": password})
        return status, headers, body

    def account_with_key(self, email, **key_options):
        status, _, _ = self.signup(email)
        assert status == 201, status
        status, headers, login = self.login(email)
        assert status == 200
        cookie = session_cookie(headers)
        status, _, key = self.call("POST", "/v1/api-keys", {"name": "main", **key_options},
                                   headers={"Cookie": cookie, "X-CSRF-Token": login["csrf_token"]})
        assert status == 201, key
        return login["account"]["id"], key


def session_cookie(headers):
    # urllib folds repeated Set-Cookie headers into one, comma-separated.
    raw = headers.get("Set-Cookie", "")
    m = re.search(r"wagate_session=([^;,]*)", raw)
    return "wagate_session=" + m.group(1) if m else ""


class AccountsTest(TempDirTest):
    def start(self, *args):
        w = Wagate(os.path.join(self.tmp, "data"), "--set", f"security.operator_token={OPERATOR}", *args)
        self.addCleanup(w.stop)
        return w, Api(w)

    def test_signup_login_cookie_and_csrf(self):
        w, api = self.start()
        status, _, body = api.signup("Ada@Example.com")
        self.assertEqual(status, 201)
        self.assertEqual(body["account"]["email"], "ada@example.com")
        self.assertEqual(body["account"]["plan"], "starter")
        self.assertEqual(api.signup("ada@example.com")[2]["code"], "email_taken")
        self.assertEqual(api.signup("nope")[2]["code"], "invalid_email")
        self.assertEqual(api.signup("bob@example.com", "short")[2]["code"], "weak_password")

        status, headers, login = api.login("ada@example.com")
        self.assertEqual(status, 200)
        raw = headers["Set-Cookie"]
        self.assertIn("HttpOnly", raw)
        self.assertIn("SameSite=Lax", raw)
        self.assertNotIn("Secure", raw)  # plain HTTP without a TLS proxy in front
        cookie = session_cookie(headers)
        self.assertTrue(cookie)

        status, _, me = api.call("GET", "/v1/me", headers={"Cookie": cookie})
        self.assertEqual(status, 200)
        self.assertEqual(me["auth"]["via"], "session")
        self.assertEqual(me["limits"]["sessions"], 2)

        # Unsafe methods with the cookie need the CSRF token.
        status, _, err = api.call("POST", "/v1/api-keys", {"name": "k"}, headers={"Cookie": cookie})
        self.assertEqual((status, err["code"]), (403, "csrf_failed"))
        status, _, err = api.call("POST", "/v1/api-keys", {"name": "k"},
                                  headers={"Cookie": cookie, "X-CSRF-Token": "wrong"})
        self.assertEqual((status, err["code"]), (403, "csrf_failed"))
        status, _, key = api.call("POST", "/v1/api-keys", {"name": "k"},
                                  headers={"Cookie": cookie, "X-CSRF-Token": login["csrf_token"]})
        self.assertEqual(status, 201)

        # Behind a TLS proxy the cookie is Secure.
        _, headers, _ = api.call("POST", "/v1/auth/login", {"email": "ada@example.com", "password": PASSWORD},
                                 headers={"X-Forwarded-Proto": "https"})
        self.assertIn("Secure", headers["Set-Cookie"])

        status, headers, _ = api.call("POST", "/v1/auth/logout", headers={"Cookie": cookie})
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", headers["Set-Cookie"])
        status, _, err = api.call("GET", "/v1/me", headers={"Cookie": cookie})
        self.assertEqual((status, err["code"]), (401, "unauthenticated"))

    def test_wrong_passwords_lock_the_account_for_a_while(self):
        w, api = self.start()
        api.signup("ada@example.com")
        for _ in range(5):
            status, _, err = api.login("ada@example.com", "wrong password!!")
            self.assertEqual((status, err["code"]), (401, "invalid_credentials"))
        status, headers, err = api.login("ada@example.com")
        self.assertEqual((status, err["code"]), (429, "too_many_login_attempts"))
        self.assertGreater(int(headers["Retry-After"]), 0)
        status, _, err = api.login("nobody@example.com")
        self.assertEqual((status, err["code"]), (401, "invalid_credentials"))

    def test_api_keys_lifecycle(self):
        w, api = self.start()
        account_id, key = api.account_with_key("ada@example.com")
        secret = key["secret"]
        self.assertRegex(secret, r"^wag_[0-9A-Za-z]{38}$")
        self.assertTrue(secret.startswith(key["prefix"]))

        status, headers, me = api.call("GET", "/v1/me", key=secret)
        self.assertEqual(status, 200)
        self.assertEqual(me["id"], account_id)
        self.assertEqual(me["auth"], {"via": "api_key", "key_id": key["id"], "read_only": False})
        self.assertEqual(headers["RateLimit-Limit"], "120")
        self.assertIn("RateLimit-Remaining", headers)

        status, _, listed = api.call("GET", "/v1/api-keys", key=secret)
        self.assertEqual(status, 200)
        self.assertEqual([k["id"] for k in listed["data"]], [key["id"]])
        self.assertNotIn("secret", listed["data"][0])
        self.assertIsNotNone(listed["data"][0]["last_used_at"])

        # Read-only keys read but do not write.
        status, _, ro = api.call("POST", "/v1/api-keys", {"name": "reader", "read_only": True}, key=secret)
        self.assertEqual(status, 201)
        self.assertEqual(api.call("GET", "/v1/me", key=ro["secret"])[0], 200)
        status, _, err = api.call("POST", "/v1/api-keys", {"name": "x"}, key=ro["secret"])
        self.assertEqual((status, err["code"]), (403, "read_only_key"))

        # Bad input.
        self.assertEqual(api.call("POST", "/v1/api-keys", {"name": ""}, key=secret)[2]["code"], "validation_failed")
        status, _, err = api.call("POST", "/v1/api-keys", {"name": "x", "nmae": 1}, key=secret)
        self.assertEqual((status, err["code"], err["field"]), (422, "validation_failed", "nmae"))
        self.assertEqual(api.call("POST", "/v1/api-keys", raw=b"{", key=secret,
                                  headers={"Content-Type": "application/json"})[2]["code"], "invalid_json")
        self.assertEqual(api.call("POST", "/v1/api-keys", raw=b"name=x", key=secret,
                                  headers={"Content-Type": "text/plain"})[0], 415)

        # Revoked: refused at once (the issue allows up to 1 s).
        status, _, revoked = api.call("DELETE", f"/v1/api-keys/{ro['id']}", key=secret)
        self.assertEqual(status, 200)
        self.assertIsNotNone(revoked["revoked_at"])
        status, _, err = api.call("GET", "/v1/me", key=ro["secret"])
        self.assertEqual((status, err["code"]), (401, "invalid_api_key"))
        # Malformed and unknown keys.
        self.assertEqual(api.call("GET", "/v1/me", key="wag_nope")[2]["code"], "invalid_api_key")
        self.assertEqual(api.call("GET", "/v1/me")[2]["code"], "unauthenticated")
        fake = secret[:-7] + ("A" if secret[-7] != "A" else "B") + secret[-6:]
        self.assertEqual(api.call("GET", "/v1/me", key=fake)[2]["code"], "invalid_api_key")

    def test_accounts_cannot_touch_each_others_keys(self):
        w, api = self.start()
        _, ada = api.account_with_key("ada@example.com")
        _, bob = api.account_with_key("bob@example.com")
        status, _, listed = api.call("GET", "/v1/api-keys", key=bob["secret"])
        self.assertEqual([k["id"] for k in listed["data"]], [bob["id"]])
        status, _, err = api.call("DELETE", f"/v1/api-keys/{ada['id']}", key=bob["secret"])
        self.assertEqual((status, err["code"]), (404, "not_found"))
        self.assertEqual(api.call("GET", "/v1/me", key=ada["secret"])[0], 200)

    def test_rate_limit_per_key(self):
        w, api = self.start("--set", "plans.starter.requests_per_minute=5")
        _, key = api.account_with_key("ada@example.com")
        for i in range(5):
            status, headers, _ = api.call("GET", "/v1/me", key=key["secret"])
            self.assertEqual(status, 200)
            self.assertEqual(headers["RateLimit-Remaining"], str(4 - i))
        status, headers, err = api.call("GET", "/v1/me", key=key["secret"])
        self.assertEqual((status, err["code"]), (429, "rate_limited"))
        self.assertEqual(headers["Retry-After"], "12")  # 5 per minute: one every 12 s
        self.assertEqual(headers["RateLimit-Remaining"], "0")

    def test_kill_switch_by_cli_and_operator_api(self):
        w, api = self.start()
        account_id, key = api.account_with_key("ada@example.com")
        secret = key["secret"]
        self.assertEqual(api.call("GET", "/v1/me", key=secret)[0], 200)

        # The CLI writes the database; the running server refuses the key within 1 s.
        code, out, err = run_wagate("admin", "suspend", account_id, "--data-dir", os.path.join(self.tmp, "data"))
        self.assertEqual(code, 0, err)
        started = time.monotonic()
        wait_for(lambda: api.call("GET", "/v1/me", key=secret)[0] == 403, timeout=1.0,
                 interval=0.05, what="the suspended account's key refused")
        self.assertLess(time.monotonic() - started, 1.0)
        status, _, err = api.call("GET", "/v1/me", key=secret)
        self.assertEqual(err["code"], "account_suspended")
        self.assertEqual(api.login("ada@example.com")[2]["code"], "account_suspended")
        code, _, err = run_wagate("admin", "unsuspend", "acc_missing", "--data-dir", os.path.join(self.tmp, "data"))
        self.assertNotEqual(code, 0)
        self.assertIn("no account", err)

        # The operator API acts at once.
        headers = {"Authorization": "Bearer " + OPERATOR}
        status, _, account = api.call("POST", f"/v1/admin/accounts/{account_id}/unsuspend", headers=headers)
        self.assertEqual((status, account["suspended"]), (200, False))
        self.assertEqual(api.call("GET", "/v1/me", key=secret)[0], 200)
        status, _, account = api.call("POST", f"/v1/admin/accounts/{account_id}/suspend", headers=headers)
        self.assertEqual((status, account["suspended"]), (200, True))
        self.assertEqual(api.call("GET", "/v1/me", key=secret)[2]["code"], "account_suspended")
        # Without the operator token: refused; with a customer key: refused.
        self.assertEqual(api.call("POST", f"/v1/admin/accounts/{account_id}/unsuspend", key=secret)[0], 401)
        self.assertEqual(api.call("POST", "/v1/admin/accounts/acc_missing/suspend", headers=headers)[0], 404)

    def test_operator_api_is_off_without_a_token(self):
        w = Wagate(os.path.join(self.tmp, "data"))
        self.addCleanup(w.stop)
        api = Api(w)
        status, _, err = api.call("POST", "/v1/admin/accounts/acc_x/suspend",
                                  headers={"Authorization": "Bearer anything"})
        self.assertEqual((status, err["code"]), (403, "operator_api_disabled"))


if __name__ == "__main__":
    unittest.main()
