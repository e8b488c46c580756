"""The fake FCM HTTP v1 (shared/reference/platform-apis.md section 2): the OAuth2 token
endpoint that takes an RS256 JWT assertion from the service account and hands out access
tokens with a lifetime; messages:send checking the bearer token, the message shape (data
values are strings, priorities, ttl, collapse key, priority 5 for Apple background), the
4096-byte limit and the registration token; stateful unregistered tokens; scripted failures."""

import json
import re
import secrets
import urllib.parse

from cryptography.hazmat.primitives.asymmetric import rsa

import fake_push_common as common

PROJECT = "outpost-test"
CLIENT_EMAIL = "outpost-push@outpost-test.iam.gserviceaccount.com"
SCOPES = {"https://www.googleapis.com/auth/firebase.messaging",
          "https://www.googleapis.com/auth/cloud-platform"}
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_MESSAGE = 4096
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class FakeFcm:
    initial_max_streams = 100

    def __init__(self):
        self.state = common.FakeState()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.token_url = None
        self.tokens = {}  # access token -> expiry (epoch seconds)
        self.token_lifetime = 3600
        self.token_requests = 0
        self.messages = 0

    def credentials(self, directory, port):
        self.token_url = "https://127.0.0.1:%d/token" % port
        account = {"type": "service_account", "project_id": PROJECT,
                   "private_key_id": secrets.token_hex(20),
                   "private_key": common.private_pem(self.key).decode(),
                   "client_email": CLIENT_EMAIL, "client_id": "1234567890",
                   "token_uri": self.token_url}
        path = directory + "/service_account.json"
        with open(path, "w") as f:
            json.dump(account, f)
        return {"service_account": path, "project_id": PROJECT, "token_url": self.token_url}

    def stats(self):
        return {"token_requests": self.token_requests, "tokens_issued": len(self.tokens)}

    def control(self, path, body):
        if path == "/revoke":  # every access token issued so far stops working
            self.tokens.clear()
            return True
        if path == "/config":
            self.token_lifetime = int(body.get("token_lifetime", self.token_lifetime))
            return True
        return False

    @staticmethod
    def error(status, code, spec=None, message="", field=None):
        spec = spec or {}
        field = field or spec.get("field")
        details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": code or STATUS_NAMES.get(status, "UNSPECIFIED_ERROR")}]
        if field:
            details.append({"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": field,
                                                 "description": message or "invalid"}]})
        body = {"error": {"code": status, "message": message or code,
                          "status": STATUS_NAMES.get(status, "UNKNOWN"), "details": details}}
        return common.Answer(status, [("content-type", "application/json")], json.dumps(body))

    @staticmethod
    def oauth_error(error, description):
        return common.Answer(400, [("content-type", "application/json")],
                             json.dumps({"error": error, "error_description": description}))

    def handle(self, request, protocol):
        h = request["headers"]
        body = bytes(request["body"])
        path = h.get(":path", "")
        record = {"method": h.get(":method"), "path": path,
                  "headers": {k: v for k, v in h.items() if not k.startswith(":")},
                  "body": body.decode("utf-8", "replace"), "connection": protocol.id,
                  "stream": request["stream"], "time": common.now()}
        if path == "/token":
            answer = self.token(h, body, record)
        else:
            answer = self.send(h, body, path, record)
        record["status"] = answer.status if answer.action is None else answer.action
        self.state.record(record)
        return answer

    # -- POST /token: the service account's assertion for an access token
    def token(self, h, body, record):
        with self.state.lock:
            self.token_requests += 1
        spec = self.state.next_script("token")
        if spec is not None:
            scripted = common.scripted_answer(spec, self.error)
            if scripted is not None:
                return scripted
        if h.get(":method") != "POST":
            return self.oauth_error("invalid_request", "POST only")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type") != [GRANT]:
            return self.oauth_error("unsupported_grant_type", "Invalid grant_type")
        parsed = common.parse_jwt((form.get("assertion") or [""])[0])
        if parsed is None:
            return self.oauth_error("invalid_grant", "Invalid JWT")
        header, claims, signing_input, signature = parsed
        record["jwt"] = {"header": header, "claims": claims}
        if header.get("alg") != "RS256" or not common.verify_rs256(self.key.public_key(),
                                                                    signing_input, signature):
            return self.oauth_error("invalid_grant", "Invalid JWT Signature.")
        now = common.now()
        iat, exp = claims.get("iat"), claims.get("exp")
        if claims.get("iss") != CLIENT_EMAIL or claims.get("aud") != self.token_url:
            return self.oauth_error("invalid_grant", "Invalid iss or aud")
        if not set(str(claims.get("scope", "")).split()) & SCOPES:
            return self.oauth_error("invalid_scope", "No FCM scope")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 \
                or iat > now + 300 or exp < now:
            return self.oauth_error("invalid_grant", "Invalid JWT: iat/exp")
        token = "ya29." + secrets.token_urlsafe(24)
        with self.state.lock:
            self.tokens[token] = now + self.token_lifetime
        return common.Answer(200, [("content-type", "application/json")], json.dumps(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}))

    # -- POST /v1/projects/{project}/messages:send
    def send(self, h, body, path, record):
        if h.get(":method") != "POST" or path != "/v1/projects/%s/messages:send" % PROJECT:
            return self.error(404, "NOT_FOUND", message="no such method or project")
        auth = h.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self.state.lock:
            expiry = self.tokens.get(token)
        if expiry is None or expiry < common.now():
            return self.error(401, "UNAUTHENTICATED",
                              message="Request had invalid authentication credentials.")
        spec = self.state.next_script("send")
        delay = 0.0
        if spec is not None:
            scripted = common.scripted_answer(spec, self.error)
            if scripted is not None:
                return scripted
            delay = float(spec.get("delay", 0))
        answer = self.validate(body)
        answer.delay = delay
        return answer

    def validate(self, body):
        try:
            message = json.loads(body)["message"]
            assert isinstance(message, dict)
        except (ValueError, KeyError, AssertionError, TypeError):
            return self.error(400, "INVALID_ARGUMENT", message="no message")
        if len(json.dumps(message, separators=(",", ":")).encode()) > MAX_MESSAGE:
            return self.error(400, "INVALID_ARGUMENT", message="Message is too big")
        targets = [k for k in ("token", "topic", "condition") if k in message]
        if targets != ["token"]:
            return self.error(400, "INVALID_ARGUMENT", message="exactly one target")
        token = message["token"]
        if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9_:\-]{20,4096}", token):
            return self.error(400, "INVALID_ARGUMENT", field="message.token",
                              message="The registration token is not a valid FCM registration token")
        with self.state.lock:
            if token in self.state.unregistered:
                return self.error(404, "UNREGISTERED", message="Requested entity was not found.")
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return self.error(400, "INVALID_ARGUMENT", field="message.data",
                              message="data values must be strings")
        android = message.get("android", {})
        if android.get("priority", "normal") not in ("normal", "high"):
            return self.error(400, "INVALID_ARGUMENT", field="message.android.priority")
        if "ttl" in android and not re.fullmatch(r"\d+(\.\d{1,9})?s", str(android["ttl"])):
            return self.error(400, "INVALID_ARGUMENT", field="message.android.ttl")
        if "ttl" in android and float(str(android["ttl"])[:-1]) > 2419200:
            return self.error(400, "INVALID_ARGUMENT", field="message.android.ttl")
        apns_headers = message.get("apns", {}).get("headers", {})
        if apns_headers.get("apns-push-type") == "background" and \
                apns_headers.get("apns-priority", "10") != "5":
            return self.error(400, "INVALID_ARGUMENT", field="message.apns.headers")
        with self.state.lock:
            self.messages += 1
            name = "projects/%s/messages/%d" % (PROJECT, self.messages)
        return common.Answer(200, [("content-type", "application/json")],
                             json.dumps({"name": name}))
