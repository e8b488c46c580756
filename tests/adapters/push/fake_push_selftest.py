"""The fakes tested on their own, with the curl command line (--http2) and JWTs signed here
with python3-cryptography, independent of outpost's C++ senders: each fake must accept what
the reference (shared/reference/platform-apis.md sections 2-3) calls valid, refuse what it
calls invalid with the documented status and reason, and play every scripted failure."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = os.path.dirname(os.path.abspath(__file__))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def es256_jwt(key, kid, iss, iat):
    signing_input = (b64url(json.dumps({"alg": "ES256", "kid": kid}).encode()) + "." +
                     b64url(json.dumps({"iss": iss, "iat": iat}).encode()))
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def rs256_jwt(key, claims):
    signing_input = (b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


class Fake:
    def __init__(self, kind):
        self.dir = tempfile.mkdtemp(prefix="outpost-fake-selftest-")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "fake_push_service.py"), kind, self.dir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        self.info = json.loads(line)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()

    def control(self, path, body=None):
        url = "http://127.0.0.1:%d%s" % (self.info["control_port"], path)
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as r:
            return json.loads(r.read())

    def curl(self, path, headers=(), body=b"", timeout=20):
        """(exit code, status, headers dict, body bytes) of one HTTP/2 request."""
        with tempfile.NamedTemporaryFile() as out, tempfile.NamedTemporaryFile() as hdr, \
                tempfile.NamedTemporaryFile() as data:
            data.write(body)
            data.flush()
            cmd = ["curl", "-s", "--http2", "--cacert", self.info["ca"], "-o", out.name,
                   "-D", hdr.name, "--max-time", str(timeout), "-X", "POST",
                   "--data-binary", "@" + data.name]
            for h in headers:
                cmd += ["-H", h]
            rc = subprocess.run(cmd + [self.info["base_url"] + path]).returncode
            head = open(hdr.name, "rb").read().decode()
            status = 0
            fields = {}
            for line in head.splitlines():
                if line.startswith("HTTP/"):
                    status = int(line.split()[1])
                    assert line.startswith("HTTP/2"), line
                elif ":" in line:
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
            return rc, status, fields, open(out.name, "rb").read()


class FakeApnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake("apns")
        with open(cls.fake.info["key_file"], "rb") as f:
            cls.key = serialization.load_pem_private_key(f.read(), None)
        cls.fake.control("/config", {"enforce_refresh_interval": False})

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.control("/clear", {})

    def push(self, token="ab" * 32, jwt=None, push_type="background", priority="5",
             body=None, extra=()):
        jwt = jwt or es256_jwt(self.key, self.fake.info["key_id"], self.fake.info["team_id"],
                               int(time.time()))
        headers = ["authorization: bearer " + jwt, "apns-topic: " + self.fake.info["topic"],
                   "apns-push-type: " + push_type, "apns-priority: " + priority] + list(extra)
        if body is None:
            body = json.dumps({"aps": {"content-available": 1}, "kind": "sync"}).encode()
        return self.fake.curl("/3/device/" + token, headers, body)

    def reason(self, body):
        return json.loads(body)["reason"]

    def test_valid_background_push_is_accepted_and_recorded(self):
        rc, status, headers, _ = self.push(extra=["apns-collapse-id: user/u1"])
        self.assertEqual((rc, status), (0, 200))
        self.assertIn("apns-id", headers)
        got = self.fake.control("/received")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["headers"]["apns-collapse-id"], "user/u1")
        self.assertEqual(got[0]["jwt"]["claims"]["iss"], self.fake.info["team_id"])

    def test_missing_forged_and_expired_provider_tokens(self):
        rc, status, _, body = self.fake.curl("/3/device/" + "ab" * 32,
                                             ["apns-topic: " + self.fake.info["topic"]], b"{}")
        self.assertEqual((status, self.reason(body)), (403, "MissingProviderToken"))
        other = ec.generate_private_key(ec.SECP256R1())
        forged = es256_jwt(other, self.fake.info["key_id"], self.fake.info["team_id"],
                           int(time.time()))
        _, status, _, body = self.push(jwt=forged)
        self.assertEqual((status, self.reason(body)), (403, "InvalidProviderToken"))
        old = es256_jwt(self.key, self.fake.info["key_id"], self.fake.info["team_id"],
                        int(time.time()) - 7200)
        _, status, _, body = self.push(jwt=old)
        self.assertEqual((status, self.reason(body)), (403, "ExpiredProviderToken"))

    def test_token_refreshed_too_often(self):
        self.fake.control("/config", {"enforce_refresh_interval": True})
        try:
            current = self.fake.control("/stats")["current_iat"] or int(time.time())
            same = es256_jwt(self.key, self.fake.info["key_id"], self.fake.info["team_id"],
                             current)
            self.assertEqual(self.push(jwt=same)[1], 200)
            newer = es256_jwt(self.key, self.fake.info["key_id"], self.fake.info["team_id"],
                              current + 60)
            _, status, _, body = self.push(jwt=newer)
            self.assertEqual((status, self.reason(body)), (429, "TooManyProviderTokenUpdates"))
        finally:
            self.fake.control("/config", {"enforce_refresh_interval": False})

    def test_header_and_payload_rules(self):
        _, status, _, body = self.push(priority="10")
        self.assertEqual((status, self.reason(body)), (400, "BadPriority"))
        _, status, _, body = self.push(body=json.dumps({"aps": {"content-available": 1},
                                                        "pad": "x" * 5000}).encode())
        self.assertEqual((status, self.reason(body)), (413, "PayloadTooLarge"))
        _, status, _, body = self.push(token="not-hex")
        self.assertEqual((status, self.reason(body)), (400, "BadDeviceToken"))
        _, status, _, body = self.push(extra=["apns-collapse-id: " + "c" * 65])
        self.assertEqual((status, self.reason(body)), (400, "BadCollapseId"))
        _, status, _, body = self.push(body=b"")
        self.assertEqual((status, self.reason(body)), (400, "PayloadEmpty"))
        _, status, _, body = self.push(push_type="alert", priority="10")
        self.assertEqual((status, self.reason(body)), (400, "BadPayload"))

    def test_unregistered_token_is_stateful(self):
        self.assertEqual(self.push(token="cd" * 32)[1], 200)
        self.fake.control("/unregister", {"token": "cd" * 32})
        _, status, _, body = self.push(token="cd" * 32)
        self.assertEqual((status, self.reason(body)), (410, "Unregistered"))
        self.assertIn("timestamp", json.loads(body))

    def test_scripted_failures(self):
        self.fake.control("/script", [{"status": 429, "reason": "TooManyRequests", "retry_after": 7},
                                      {"status": 503, "reason": "ServiceUnavailable"}])
        _, status, headers, body = self.push()
        self.assertEqual((status, headers.get("retry-after")), (429, "7"))
        _, status, _, body = self.push()
        self.assertEqual((status, self.reason(body)), (503, "ServiceUnavailable"))
        self.assertEqual(self.push()[1], 200)

    def test_slow_and_reset_answers(self):
        self.fake.control("/script", [{"delay": 1.5}])
        start = time.time()
        self.assertEqual(self.push()[1], 200)
        self.assertGreaterEqual(time.time() - start, 1.4)
        for action in ("reset_stream", "reset_connection", "goaway"):
            self.fake.control("/script", [{"action": action}])
            rc, status, _, _ = self.push()
            self.assertNotEqual(rc, 0, action)  # curl reports the broken transfer
            self.assertEqual(status, 0, action)


class FakeFcmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = Fake("fcm")
        with open(cls.fake.info["service_account"]) as f:
            cls.account = json.load(f)
        cls.key = serialization.load_pem_private_key(cls.account["private_key"].encode(), None)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.control("/clear", {})

    def assertion(self, **override):
        now = int(time.time())
        claims = {"iss": self.account["client_email"], "aud": self.account["token_uri"],
                  "scope": "https://www.googleapis.com/auth/firebase.messaging",
                  "iat": now, "exp": now + 3600}
        claims.update(override)
        return rs256_jwt(self.key, claims)

    def token(self, assertion=None):
        form = urllib.parse.urlencode({
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": assertion or self.assertion()}).encode()
        return self.fake.curl("/token", ["content-type: application/x-www-form-urlencoded"], form)

    def send(self, access_token, message):
        path = "/v1/projects/%s/messages:send" % self.fake.info["project_id"]
        return self.fake.curl(path, ["authorization: Bearer " + access_token,
                                     "content-type: application/json"],
                              json.dumps({"message": message}).encode())

    def access_token(self):
        rc, status, _, body = self.token()
        self.assertEqual((rc, status), (0, 200))
        answer = json.loads(body)
        self.assertEqual(answer["token_type"], "Bearer")
        self.assertGreater(answer["expires_in"], 0)
        return answer["access_token"]

    def error_code(self, body):
        details = json.loads(body)["error"]["details"]
        return [d["errorCode"] for d in details if "errorCode" in d][0]

    def test_assertion_checks(self):
        self.access_token()
        other = rs256_jwt(__import__("cryptography.hazmat.primitives.asymmetric.rsa",
                                     fromlist=["rsa"]).generate_private_key(65537, 2048),
                          {"iss": self.account["client_email"]})
        _, status, _, body = self.token(other)
        self.assertEqual((status, json.loads(body)["error"]), (400, "invalid_grant"))
        _, status, _, body = self.token(self.assertion(exp=int(time.time()) + 7200))
        self.assertEqual((status, json.loads(body)["error"]), (400, "invalid_grant"))
        _, status, _, body = self.token(self.assertion(aud="https://elsewhere/token"))
        self.assertEqual(status, 400)

    def test_send_needs_a_valid_access_token(self):
        message = {"token": "t" * 30, "data": {"kind": "wake"}}
        _, status, _, _ = self.send("ya29.forged", message)
        self.assertEqual(status, 401)
        token = self.access_token()
        _, status, _, body = self.send(token, message)
        self.assertEqual(status, 200)
        self.assertTrue(json.loads(body)["name"].startswith("projects/"))
        self.fake.control("/revoke", {})
        self.assertEqual(self.send(token, message)[1], 401)

    def test_message_rules(self):
        token = self.access_token()
        _, status, _, body = self.send(token, {"token": "bad token", "data": {}})
        self.assertEqual(status, 400)
        violations = [d for d in json.loads(body)["error"]["details"] if "fieldViolations" in d]
        self.assertEqual(violations[0]["fieldViolations"][0]["field"], "message.token")
        _, status, _, _ = self.send(token, {"token": "t" * 30, "data": {"head": 5}})
        self.assertEqual(status, 400)
        _, status, _, _ = self.send(token, {"token": "t" * 30, "data": {"pad": "x" * 4200}})
        self.assertEqual(status, 400)
        _, status, _, _ = self.send(token, {"token": "t" * 30, "data": {},
                                            "apns": {"headers": {"apns-push-type": "background",
                                                                 "apns-priority": "10"}}})
        self.assertEqual(status, 400)
        self.fake.control("/unregister", {"token": "u" * 30})
        _, status, _, body = self.send(token, {"token": "u" * 30, "data": {}})
        self.assertEqual((status, self.error_code(body)), (404, "UNREGISTERED"))

    def test_scripted_failures(self):
        token = self.access_token()
        message = {"token": "t" * 30, "data": {}}
        self.fake.control("/script", [{"status": 429, "reason": "QUOTA_EXCEEDED", "retry_after": 9},
                                      {"status": 500, "reason": "INTERNAL"},
                                      {"action": "reset_stream"}])
        _, status, headers, body = self.send(token, message)
        self.assertEqual((status, headers.get("retry-after"), self.error_code(body)),
                         (429, "9", "QUOTA_EXCEEDED"))
        self.assertEqual(self.send(token, message)[1], 500)
        rc, status, _, _ = self.send(token, message)
        self.assertNotEqual(rc, 0)
        self.assertEqual(self.send(token, message)[1], 200)
        self.fake.control("/script", [{"on": "token", "status": 503, "reason": "UNAVAILABLE"}])
        self.assertEqual(self.token()[1], 503)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
