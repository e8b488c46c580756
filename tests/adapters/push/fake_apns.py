"""The fake APNs provider API (shared/reference/platform-apis.md section 3): HTTP/2 POST
/3/device/{token} with a JWT provider token (ES256, kid, iss, iat) checked against the key's
public half; the required apns-* headers; the 4 KB payload limit; one stream per connection
until a valid token arrives; stateful unregistered tokens; scripted failures."""

import json
import re
import uuid

from cryptography.hazmat.primitives.asymmetric import ec

import fake_push_common as common

KEY_ID = "ABC123DEFG"
TEAM_ID = "TEAM123456"
TOPIC = "com.example.outpost"
PUSH_TYPES = {"alert", "background", "voip", "complication", "fileprovider", "mdm",
              "liveactivity", "location", "pushtotalk"}
MAX_PAYLOAD = 4096
TOKEN_MAX_AGE = 3600         # older: 403 ExpiredProviderToken
TOKEN_MIN_REFRESH = 20 * 60  # a newer token sooner than this: 429 TooManyProviderTokenUpdates


class FakeApns:
    initial_max_streams = 1  # "a connection allows only one stream until a valid token"

    def __init__(self):
        self.state = common.FakeState()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.current_iat = None
        self.enforce_refresh_interval = True

    def credentials(self, directory, port):
        path = directory + "/apns_key.p8"
        common.write_pem(path, common.private_pem(self.key))
        return {"key_file": path, "key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC}

    def stats(self):
        return {"current_iat": self.current_iat}

    def control(self, path, body):
        if path == "/config":
            self.enforce_refresh_interval = bool(body.get("enforce_refresh_interval", True))
            return True
        return False

    @staticmethod
    def error(status, reason, spec=None):
        body = {"reason": reason}
        if status == 410:
            body["timestamp"] = int(common.now() * 1000)
        return common.Answer(status, [("content-type", "application/json")], json.dumps(body))

    def check_token(self, authorization, record):
        """None when the provider token is good, else the error Answer."""
        if not authorization:
            return self.error(403, "MissingProviderToken")
        if not authorization.lower().startswith("bearer "):
            return self.error(403, "InvalidProviderToken")
        parsed = common.parse_jwt(authorization[7:].strip())
        if parsed is None:
            return self.error(403, "InvalidProviderToken")
        header, claims, signing_input, signature = parsed
        record["jwt"] = {"header": header, "claims": claims}
        if header.get("alg") != "ES256" or header.get("kid") != KEY_ID:
            return self.error(403, "InvalidProviderToken")
        if claims.get("iss") != TEAM_ID or not isinstance(claims.get("iat"), int):
            return self.error(403, "InvalidProviderToken")
        if not common.verify_es256(self.key.public_key(), signing_input, signature):
            return self.error(403, "InvalidProviderToken")
        iat = claims["iat"]
        if iat > common.now() + 300:
            return self.error(403, "InvalidProviderToken")
        if common.now() - iat > TOKEN_MAX_AGE:
            return self.error(403, "ExpiredProviderToken")
        with self.state.lock:
            if self.current_iat is not None and iat > self.current_iat:
                if self.enforce_refresh_interval and iat - self.current_iat < TOKEN_MIN_REFRESH:
                    return self.error(429, "TooManyProviderTokenUpdates")
            if self.current_iat is None or iat > self.current_iat:
                self.current_iat = iat
        return None

    def handle(self, request, protocol):
        h = request["headers"]
        body = bytes(request["body"])
        record = {"method": h.get(":method"), "path": h.get(":path"),
                  "headers": {k: v for k, v in h.items() if not k.startswith(":")},
                  "body": body.decode("utf-8", "replace"), "connection": protocol.id,
                  "stream": request["stream"], "time": common.now()}
        answer = self.decide(h, body, record, protocol)
        record["status"] = answer.status if answer.action is None else answer.action
        try:
            record["reason"] = json.loads(answer.body).get("reason") if answer.body else None
        except ValueError:
            record["reason"] = None
        self.state.record(record)
        return answer

    def decide(self, h, body, record, protocol):
        if h.get(":method") != "POST":
            return self.error(405, "MethodNotAllowed")
        match = re.fullmatch(r"/3/device/([^/?]+)", h.get(":path", ""))
        if not match:
            return self.error(404, "BadPath")
        token = match.group(1)
        bad = self.check_token(h.get("authorization"), record)
        if bad is not None:
            return bad
        protocol.allow_more_streams(1000)
        spec = self.state.next_script("send")
        delay = 0.0
        if spec is not None:
            scripted = common.scripted_answer(spec, self.error)
            if scripted is not None:
                return scripted
            delay = float(spec.get("delay", 0))
        answer = self.validate(h, body, token)
        answer.delay = delay
        return answer

    def validate(self, h, body, token):
        topic = h.get("apns-topic")
        if not topic:
            return self.error(400, "MissingTopic")
        if topic != TOPIC:
            return self.error(400, "BadTopic")
        if not re.fullmatch(r"[0-9a-fA-F]{64,200}", token):
            return self.error(400, "BadDeviceToken")
        with self.state.lock:
            if token in self.state.unregistered:
                return self.error(410, "Unregistered")
        push_type = h.get("apns-push-type")
        if push_type not in PUSH_TYPES:
            return self.error(400, "InvalidPushType")
        priority = h.get("apns-priority", "10")
        if priority not in ("1", "5", "10"):
            return self.error(400, "BadPriority")
        if "apns-expiration" in h and not re.fullmatch(r"\d+", h["apns-expiration"]):
            return self.error(400, "BadExpirationDate")
        if len(h.get("apns-collapse-id", "").encode()) > 64:
            return self.error(400, "BadCollapseId")
        if not body:
            return self.error(400, "PayloadEmpty")
        if len(body) > MAX_PAYLOAD:
            return self.error(413, "PayloadTooLarge")
        try:
            payload = json.loads(body)
            aps = payload["aps"]
            assert isinstance(aps, dict)
        except (ValueError, KeyError, AssertionError, TypeError):
            return self.error(400, "BadPayload")  # [inf] Apple's name for it is not listed
        if push_type == "background":
            # priority 10 is an error for content-available-only pushes
            if priority == "10":
                return self.error(400, "BadPriority")
            if aps.get("content-available") != 1 or any(k in aps for k in ("alert", "sound", "badge")):
                return self.error(400, "BadPayload")
        if push_type == "alert" and "alert" not in aps:
            return self.error(400, "BadPayload")
        apns_id = h.get("apns-id") or str(uuid.uuid4())
        try:
            uuid.UUID(apns_id)
        except ValueError:
            return self.error(400, "BadMessageId")
        return common.Answer(200, [("apns-id", apns_id)])
