"""A fake Genesys Cloud for outpost's adapter, built from shared/reference/platform-apis.md
section 1 (not from the adapter's code): one organisation with its login host (OAuth client
credentials), the Platform API REST endpoints the adapter mirrors (paged listings with
pageSize/pageNumber and nextUri, the external-contact scan with cursors, the analytics
conversation query), the Notifications API (channels, subscriptions, a WebSocket per channel
with heartbeats, pong, channel expiry and v2.system.socket_closing), the writes (presence,
queue membership, wrap-up, email drafts, email reply and message sends), user tokens
(authorization-code and refresh-token grants) with the endpoints that act for the logged-in
user, and a "web interface" that edits email drafts and logs agents off.

Fault modes are switchable at run time through the control endpoints under /fake/ (same
port, no token): scripted REST answers (429 with Retry-After and inin-ratelimit-*, 5xx, a
refusal body, slow answers, partial pages, truncated bodies), a rate limit per token and
minute, revoked tokens, missed notifications, dropped sockets, socket_closing, expired
channels.

Run: /usr/bin/python3 fake_genesys.py [--port N] [--ws-port N] [--users a,b] [--contacts N]
     [--credentials FILE]
Prints one JSON line {"ready": true, "api": ..., "login": ..., ...} when it listens.
"""

import argparse
import asyncio
import base64
import datetime
import json
import math
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import websockets

from fake_genesys_model import MAX_TOPICS, Org, iso, listing

# ----------------------------------------------------------------------------- the server


class Fake:
    """The whole fake: the org model, the token table, faults, channels and sockets."""

    def __init__(self, args):
        self.lock = threading.RLock()
        self.org = Org(users=args.users.split(",") if args.users else [], contacts=args.contacts)
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(24)
        self.tokens = {}  # token -> expires (epoch s)
        # User tokens (authorization code, refresh token grants): token -> user id. A token
        # not here is the client's own (client credentials: no user context).
        self.token_users = {}
        self.codes = {}  # authorization code -> user id (one use)
        self.refresh_tokens = {}  # refresh token -> user id (rotated on use)
        self.config = {"token_ttl_s": 86400, "heartbeat_s": 30.0, "channel_ttl_s": 86400,
                       "closing_grace_s": 60.0, "rate_allowed": 300, "rate_window_s": 60,
                       "max_page_size": 100,
                       "pong": True, "media_url_ttl_s": 60}
        self.faults = []  # scripted answers, first match wins
        self.miss_notifications = 0
        self.requests = []  # (method, path, status)
        self.rate = {}  # token -> [window_start, count]
        self.channels = {}  # id -> {"topics": set, "expires": epoch s, "socket": ws|None}
        self.loop = None
        self.ws_port = 0
        self.stats = {"notifications_sent": 0, "notifications_missed": 0, "sockets_opened": 0,
                      "heartbeats": 0, "tokens_issued": 0, "user_tokens_issued": 0,
                      "refreshes": 0, "media_downloads": 0}
        self.org.notify = self.notify

    # ------------------------------------------------------------------ tokens and limits

    def issue_token(self):
        token = secrets.token_urlsafe(32)
        self.tokens[token] = time.time() + self.config["token_ttl_s"]
        self.stats["tokens_issued"] += 1
        return token

    def issue_user_token(self, user):
        token = self.issue_token()
        self.token_users[token] = user
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens[refresh] = user
        self.stats["user_tokens_issued"] += 1
        return token, refresh

    def token_ok(self, header):
        if not header or not header.startswith("Bearer "):
            return None
        token = header[7:]
        expires = self.tokens.get(token)
        return token if expires and expires > time.time() else None

    def count_request(self, token):
        """The inin-ratelimit-* headers for this token's minute, and whether it is over."""
        now = time.time()
        span = self.config["rate_window_s"]
        window = self.rate.setdefault(token, [now, 0])
        if now - window[0] >= span:
            window[0], window[1] = now, 0
        window[1] += 1
        reset = max(1, int(math.ceil(span - (now - window[0]))))
        headers = {"inin-ratelimit-allowed": str(self.config["rate_allowed"]),
                   "inin-ratelimit-count": str(window[1]), "inin-ratelimit-reset": str(reset)}
        return headers, window[1] > self.config["rate_allowed"], reset

    def take_fault(self, method, path):
        for fault in self.faults:
            if fault.get("method") and fault["method"] != method:
                continue
            if not path.startswith(fault.get("path", "/")):
                continue
            fault["times"] = fault.get("times", 1) - 1
            if fault["times"] <= 0:
                self.faults.remove(fault)
            return dict(fault)
        return None

    # ------------------------------------------------------------------ notifications

    def notify(self, topic, body):
        """Delivers one event to every live channel subscribed to `topic` (none: lost, as
        on the real platform: notifications are not queued for a closed socket)."""
        envelope = {"topicName": topic, "version": "2", "eventBody": body,
                    "metadata": {"CorrelationId": str(uuid.uuid4())}}
        for channel in list(self.channels.values()):
            if topic not in channel["topics"] or channel["socket"] is None:
                continue
            if self.miss_notifications > 0:
                self.miss_notifications -= 1
                self.stats["notifications_missed"] += 1
                continue
            self.stats["notifications_sent"] += 1
            self.send(channel["socket"], envelope)

    def send(self, socket, message):
        if self.loop is None:
            return
        text = json.dumps(message)

        async def go():
            try:
                await socket.send(text)
            except Exception:
                pass
        asyncio.run_coroutine_threadsafe(go(), self.loop)

    def close_socket(self, channel_id, how):
        channel = self.channels.get(channel_id)
        if not channel or channel["socket"] is None:
            return False
        socket = channel["socket"]
        if how == "socket_closing":
            self.send(socket, {"topicName": "v2.system.socket_closing", "eventBody": {}})
            grace = self.config["closing_grace_s"]
            self.loop.call_soon_threadsafe(
                lambda: self.loop.call_later(grace, lambda: asyncio.ensure_future(socket.close())))
        elif how == "drop":
            self.loop.call_soon_threadsafe(lambda: socket.transport.abort())
        else:
            self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(socket.close()))
        return True

    # ------------------------------------------------------------------ WebSocket side

    async def ws_handler(self, socket, path=None):
        path = path if path is not None else socket.path
        channel_id = path.rsplit("/", 1)[-1]
        with self.lock:
            channel = self.channels.get(channel_id)
            if channel is None or channel["expires"] <= time.time():
                await socket.send(json.dumps({"result": "404", "message": "channel not found"}))
                await socket.close()
                return
            old = channel["socket"]
            channel["socket"] = socket  # one connection per channel
            channel["used"] = time.time()
            self.stats["sockets_opened"] += 1
        if old is not None:
            await old.close()
        socket.last_beat = time.time()  # the first heartbeat one period after connecting
        heartbeat = asyncio.ensure_future(self.heartbeats(socket, channel_id))
        try:
            async for text in socket:
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if message.get("message") == "ping" and self.config["pong"]:
                    await socket.send(json.dumps({"topicName": "channel.metadata",
                                                  "eventBody": {"message": "pong"}}))
                elif message.get("message") == "subscribe":
                    with self.lock:
                        topics = channel["topics"] | set(message.get("topics", []))
                        fits = len(topics) <= MAX_TOPICS
                        if fits:
                            channel["topics"] = topics
                            channel["used"] = time.time()
                    if fits:
                        await socket.send(json.dumps({"result": "200", "status": "subscribed"}))
                    else:
                        await socket.send(json.dumps({
                            "result": "400", "status": "error",
                            "message": "A channel holds at most %d topics" % MAX_TOPICS}))
        except websockets.ConnectionClosed:
            pass
        finally:
            heartbeat.cancel()
            with self.lock:
                if channel.get("socket") is socket:
                    channel["socket"] = None

    async def heartbeats(self, socket, channel_id):
        warned = False
        while True:
            await asyncio.sleep(min(self.config["heartbeat_s"], 0.25))
            with self.lock:
                channel = self.channels.get(channel_id)
                left = channel["expires"] - time.time() if channel else -1
                beat_due = time.time() - getattr(socket, "last_beat", 0) >= self.config["heartbeat_s"]
            if left <= 0:
                await socket.close()
                return
            if left <= self.config["closing_grace_s"] and not warned:
                warned = True
                await socket.send(json.dumps({"topicName": "v2.system.socket_closing",
                                              "eventBody": {}}))
            if beat_due:
                socket.last_beat = time.time()
                with self.lock:
                    self.stats["heartbeats"] += 1
                await socket.send(json.dumps({"topicName": "channel.metadata",
                                              "eventBody": {"message": "WebSocket Heartbeat"}}))

    def run_ws(self, port, ready):
        async def main():
            self.loop = asyncio.get_running_loop()
            server = await websockets.serve(self.ws_handler, "127.0.0.1", port, max_size=2 ** 20)
            self.ws_port = server.sockets[0].getsockname()[1]
            ready.set()
            await asyncio.Future()
        asyncio.run(main())


# ----------------------------------------------------------------------------- REST side


def error_body(status, code, message):
    return {"status": status, "code": code, "message": message, "contextId": str(uuid.uuid4()),
            "details": [], "errors": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None  # set at start

    def log_message(self, *args):
        pass

    def answer(self, status, body=None, headers=None, raw=None):
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        # Recorded before the answer goes out: a client that has its answer finds its
        # request counted.
        with self.fake.lock:
            self.fake.requests.append({"method": self.command, "path": self.path,
                                       "status": status, "user": getattr(self, "who", None)})
        self.send_response(status)
        if "content-type" not in (headers or {}):
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("inin-correlation-id", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def json_body(self):
        raw = self.read_body()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def dispatch(self):
        self.who = None  # the user of a user token; None: the client's own token
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        fake = self.fake
        if url.path.startswith("/fake/"):
            return self.control(url.path, query)
        if url.path == "/oauth/token":
            return self.token()
        if url.path.startswith("/media/"):
            return self.media(url.path)
        with fake.lock:
            token = fake.token_ok(self.headers.get("authorization"))
            self.who = fake.token_users.get(token) if token else None
        if token is None:
            body = self.read_body()  # keep the connection usable
            del body
            return self.answer(401, error_body(401, "bad.credentials", "Invalid login credentials."))
        with fake.lock:
            limit_headers, over, reset = fake.count_request(token)
            fault = fake.take_fault(self.command, url.path)
        if over:
            self.read_body()
            return self.answer(429, error_body(429, "too.many.requests", "Rate limit exceeded"),
                               dict(limit_headers, **{"Retry-After": str(reset)}))
        if fault and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault and fault.get("status"):
            self.read_body()
            headers = dict(limit_headers)
            if fault.get("retry_after") is not None:
                headers["Retry-After"] = str(fault["retry_after"])
            body = fault.get("body") or error_body(fault["status"], fault.get("code", "fault"),
                                                   fault.get("message", "scripted fault"))
            return self.answer(fault["status"], body, headers)
        body = None
        if self.command in ("POST", "PUT", "PATCH"):
            body = self.json_body()
            if body is None:
                return self.answer(400, error_body(400, "bad.request", "Malformed JSON body"),
                                   limit_headers)
        with fake.lock:
            status, answer = fake.org.route(self.command, url.path, query, body, fake, self.who)
        # The platform acted on the request; its answer comes late (`answer_after_ms`) or
        # never (`no_answer`: the connection closes unanswered), so the caller cannot know.
        if fault and fault.get("answer_after_ms"):
            time.sleep(fault["answer_after_ms"] / 1000.0)
        if fault and fault.get("no_answer"):
            with fake.lock:
                fake.requests.append({"method": self.command, "path": self.path,
                                      "status": 0, "user": self.who})
            self.close_connection = True
            return
        if fault and fault.get("partial") and isinstance(answer, dict) and "entities" in answer:
            answer = dict(answer)
            answer["entities"] = answer["entities"][: len(answer["entities"]) // 2]
        raw = None
        if fault and fault.get("truncate"):
            raw = json.dumps(answer).encode()[: fault["truncate"]]
        self.answer(status, answer, limit_headers, raw)

    def media(self, path):
        """The media host's download link (pre-signed: a bearer alongside is refused, as a
        pre-signed URL with a second auth mechanism is [inf])."""
        fake = self.fake
        with fake.lock:
            fault = fake.take_fault(self.command, path)
        if fault and fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        if fault and fault.get("status"):
            return self.answer(fault["status"], raw=b"scripted fault")
        if self.headers.get("authorization"):
            return self.answer(400, raw=b"InvalidArgument: only one auth mechanism allowed")
        with fake.lock:
            status, data = fake.org.media_download(path[len("/media/"):].split(".")[0])
            fake.stats["media_downloads"] += 1 if status == 200 else 0
        if fault and fault.get("truncate") and status == 200:
            # The connection drops mid-body: the full length announced, a part sent.
            self.send_response(200)
            self.send_header("content-type", "audio/wav")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: fault["truncate"]])
            self.close_connection = True
            with fake.lock:
                fake.requests.append({"method": "GET", "path": self.path, "status": 200,
                                      "user": None, "truncated": True})
            return
        self.answer(status, raw=data, headers={"content-type": "audio/wav"} if status == 200 else {})

    def token(self):
        fake = self.fake
        raw = self.read_body().decode(errors="replace")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw).items()}
        auth = self.headers.get("authorization", "")
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except Exception:
            user, secret = "", ""
        with fake.lock:
            fault = fake.take_fault("POST", "/oauth/token")
        if fault and fault.get("status"):
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") else {}
            return self.answer(fault["status"], {"error": fault.get("code", "temporarily_unavailable")},
                               headers)
        if not auth.startswith("Basic ") or user != fake.client_id or secret != fake.client_secret:
            return self.answer(401, {"error": "invalid_client",
                                     "description": "client not found or bad secret"})
        grant = form.get("grant_type")
        if grant in ("authorization_code", "refresh_token"):
            with fake.lock:
                if grant == "authorization_code":
                    user = fake.codes.pop(form.get("code", ""), None)
                else:
                    user = fake.refresh_tokens.pop(form.get("refresh_token", ""), None)
                    fake.stats["refreshes"] += 1 if user else 0
                if user is None:
                    return self.answer(400, {"error": "invalid_grant",
                                             "description": "unknown or used code/refresh token"})
                token, refresh = fake.issue_user_token(user)
                ttl = fake.config["token_ttl_s"]
            return self.answer(200, {"access_token": token, "token_type": "bearer",
                                     "expires_in": ttl, "refresh_token": refresh})
        if grant != "client_credentials":
            return self.answer(400, {"error": "unsupported_grant_type"})
        with fake.lock:
            token = fake.issue_token()
            ttl = fake.config["token_ttl_s"]
        self.answer(200, {"access_token": token, "token_type": "bearer", "expires_in": ttl})

    def control(self, path, query):
        fake = self.fake
        body = self.json_body() if self.command in ("POST", "PUT") else {}
        body = body or {}
        with fake.lock:
            if path == "/fake/config":
                fake.config.update(body)
                return self.answer(200, fake.config)
            if path == "/fake/faults":
                fake.faults.extend(body if isinstance(body, list) else [body])
                return self.answer(200, {"faults": len(fake.faults)})
            if path == "/fake/clear":
                fake.faults.clear()
                fake.requests.clear()
                fake.miss_notifications = 0
                return self.answer(200, {})
            if path == "/fake/miss":
                fake.miss_notifications = int(body.get("count", 1))
                return self.answer(200, {})
            if path == "/fake/revoke":
                if body.get("user"):  # that user's tokens only (the user logged out)
                    for t in [t for t, u in fake.token_users.items() if u == body["user"]]:
                        fake.tokens.pop(t, None)
                    return self.answer(200, {})
                fake.tokens.clear()
                return self.answer(200, {})
            if path == "/fake/login":  # the user logs in on the login host: an auth code
                if body.get("user") not in fake.org.users:
                    return self.answer(404, error_body(404, "not.found", "no such user"))
                code = secrets.token_urlsafe(16)
                fake.codes[code] = body["user"]
                return self.answer(200, {"code": code})
            if path == "/fake/requests":
                return self.answer(200, list(fake.requests))
            if path == "/fake/stats":
                return self.answer(200, dict(fake.stats, channels=len(fake.channels),
                                             live_sockets=sum(1 for c in fake.channels.values()
                                                              if c["socket"] is not None)))
            if path == "/fake/channels":
                return self.answer(200, {cid: {"topics": sorted(c["topics"]),
                                               "live": c["socket"] is not None,
                                               "expires": c["expires"]}
                                         for cid, c in fake.channels.items()})
            if path == "/fake/notify":  # any event body, as the platform would send it
                fake.notify(body["topic"], body.get("eventBody"))
                return self.answer(200, {})
            if path == "/fake/socket":
                how = body.get("action", "close")
                ids = [body["channel"]] if body.get("channel") else list(fake.channels)
                done = [cid for cid in ids if fake.close_socket(cid, how)]
                if how == "expire":
                    for cid in ids:
                        if cid in fake.channels:
                            fake.channels[cid]["expires"] = time.time()
                return self.answer(200, {"closed": done})
            status, answer = fake.org.control(path, body, query)
            return self.answer(status, answer)


# ----------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ws-port", type=int, default=0)
    parser.add_argument("--users", default="agent-1")
    parser.add_argument("--contacts", type=int, default=30)
    parser.add_argument("--credentials", help="write the client id and secret here (JSON)")
    args = parser.parse_args()
    fake = Fake(args)
    ready = threading.Event()
    threading.Thread(target=fake.run_ws, args=(args.ws_port, ready), daemon=True).start()
    ready.wait(10)
    Handler.fake = fake
    http = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    http.daemon_threads = True
    port = http.server_address[1]
    base = "http://127.0.0.1:%d" % port
    fake.org.ws_base = "ws://127.0.0.1:%d" % fake.ws_port
    fake.org.api_base = base
    if args.credentials:
        with open(args.credentials, "w") as f:
            json.dump({"client_id": fake.client_id, "client_secret": fake.client_secret}, f)
    print(json.dumps({"ready": True, "api": base, "login": base, "control_port": port,
                      "ws_port": fake.ws_port, "client_id": fake.client_id,
                      "client_secret": fake.client_secret,
                      "users": fake.org.user_ids()}), flush=True)
    http.serve_forever()


if __name__ == "__main__":
    main()
