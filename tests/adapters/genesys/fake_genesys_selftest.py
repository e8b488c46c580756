"""The fake Genesys Cloud tested on its own, with urllib and the websockets client, against
shared/reference/platform-apis.md section 1 (independent of outpost's C++ adapter): OAuth
client credentials, the paged listings and the contact scan, presence and wrap-up writes and
refusals, the notifications channel (subscriptions, events, heartbeats, pong, socket_closing,
expiry) and every fault mode."""

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))


class Client:
    def __init__(self, ready):
        self.ready = ready
        self.base = ready["api"]
        self.token = None

    def call(self, method, path, body=None, token=True, headers=None, raw=False):
        url = path if path.startswith("http") else self.base + path
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("content-type", "application/json")
        if token and self.token:
            req.add_header("authorization", "Bearer " + self.token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                text = resp.read()
                return resp.status, dict(resp.headers), text if raw else (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read()
            if raw:
                return e.code, dict(e.headers), text
            return e.code, dict(e.headers), json.loads(text) if text else None

    def login(self):
        auth = base64.b64encode(("%s:%s" % (self.ready["client_id"],
                                            self.ready["client_secret"])).encode()).decode()
        req = urllib.request.Request(self.ready["login"] + "/oauth/token",
                                     data=b"grant_type=client_credentials", method="POST")
        req.add_header("authorization", "Basic " + auth)
        req.add_header("content-type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(req, timeout=20) as resp:
            body = json.loads(resp.read())
        self.token = body["access_token"]
        return body

    def control(self, path, body=None):
        return self.call("POST", "/fake/" + path, body if body is not None else {}, token=False)[2]


class FakeGenesysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_genesys.py"),
                                     "--users", "agent-1,agent-2", "--contacts", "450"],
                                    stdout=subprocess.PIPE, text=True)
        cls.ready = json.loads(cls.proc.stdout.readline())

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait()

    def setUp(self):
        self.c = Client(self.ready)
        self.c.control("clear")
        self.c.control("config", {"heartbeat_s": 30, "closing_grace_s": 60, "rate_allowed": 300,
                                  "channel_ttl_s": 86400})
        self.c.login()

    def test_token_needs_the_client_secret(self):
        bad = Client(dict(self.ready, client_secret="wrong"))
        with self.assertRaises(urllib.error.HTTPError) as e:
            bad.login()
        self.assertEqual(e.exception.code, 401)
        body = self.c.login()
        self.assertEqual(body["token_type"], "bearer")
        self.assertGreater(body["expires_in"], 0)

    def test_api_needs_a_valid_token_and_revoked_tokens_answer_401(self):
        status, _, body = self.c.call("GET", "/api/v2/presence/definitions", token=False)
        self.assertEqual(status, 401)
        self.c.control("revoke")
        status, _, body = self.c.call("GET", "/api/v2/presence/definitions")
        self.assertEqual((status, body["code"]), (401, "bad.credentials"))

    def test_every_answer_has_correlation_and_rate_limit_headers(self):
        status, headers, _ = self.c.call("GET", "/api/v2/presence/definitions")
        self.assertEqual(status, 200)
        lower = {k.lower(): v for k, v in headers.items()}
        for name in ("inin-correlation-id", "inin-ratelimit-allowed", "inin-ratelimit-count",
                     "inin-ratelimit-reset"):
            self.assertIn(name, lower)

    def test_paging_follows_next_uri_to_the_end(self):
        seen, path = [], "/api/v2/routing/wrapupcodes?pageSize=3&pageNumber=1"
        while path:
            status, _, body = self.c.call("GET", path)
            self.assertEqual(status, 200)
            seen += [e["id"] for e in body["entities"]]
            self.assertEqual(body["total"], 4)
            path = body.get("nextUri")
        self.assertEqual(len(seen), 4)
        self.assertEqual(len(set(seen)), 4)

    def test_contacts_listing_is_capped_and_scan_pages_by_cursor(self):
        status, _, body = self.c.call("GET", "/api/v2/externalcontacts/contacts?pageSize=100&pageNumber=11")
        self.assertEqual(status, 400)
        ids, path = [], "/api/v2/externalcontacts/scan/contacts?limit=200"
        while path:
            status, _, body = self.c.call("GET", path)
            self.assertEqual(status, 200)
            ids += [e["id"] for e in body["entities"]]
            path = body.get("nextUri")
        self.assertEqual(len(ids), 450)

    def test_presence_patch_and_refusal(self):
        status, _, body = self.c.call("PATCH", "/api/v2/users/agent-1/presences/purecloud",
                                      {"presenceDefinition": {"id": "pd-onqueue"}})
        self.assertEqual(status, 200)
        self.assertEqual(body["presenceDefinition"]["systemPresence"], "OnQueue")
        _, _, routing = self.c.call("GET", "/api/v2/users/agent-1/routingstatus")
        self.assertEqual(routing["status"], "IDLE")
        status, _, body = self.c.call("PATCH", "/api/v2/users/agent-1/presences/purecloud",
                                      {"presenceDefinition": {"id": "aux-old"}})
        self.assertEqual(status, 400)
        self.assertIn("message", body)

    def test_wrapup_refused_while_active_accepted_after(self):
        conv = self.c.control("route", {"user": "agent-1", "media": "voice"})
        agent = [p for p in conv["participants"] if p["purpose"] == "agent"][0]
        path = "/api/v2/conversations/calls/%s/participants/%s/communications/%s/wrapup" % (
            conv["id"], agent["id"], agent["calls"][0]["id"])
        status, _, body = self.c.call("POST", path, {"code": "wrapup-1"})
        self.assertEqual(status, 400)
        self.c.control("disconnect", {"conversation": conv["id"]})
        self.assertEqual(self.c.call("POST", path, {"code": "nope"})[0], 400)
        self.assertEqual(self.c.call("POST", path, {"code": "wrapup-1"})[0], 202)
        self.assertEqual(self.c.call("POST", path, {"code": "wrapup-2"})[0], 409)

    def test_analytics_query_finds_todays_conversations_of_the_user(self):
        conv = self.c.control("route", {"user": "agent-2", "media": "email", "subject": "Hi"})
        status, _, body = self.c.call("POST", "/api/v2/analytics/conversations/details/query", {
            "interval": "2000-01-01T00:00:00.000Z/2100-01-01T00:00:00.000Z",
            "segmentFilters": [{"type": "and", "predicates": [
                {"dimension": "userId", "value": "agent-2"}, {"dimension": "purpose", "value": "agent"}]}],
            "paging": {"pageSize": 100, "pageNumber": 1}})
        self.assertEqual(status, 200)
        self.assertIn(conv["id"], [c["conversationId"] for c in body["conversations"]])

    def test_scripted_faults(self):
        self.c.control("faults", [{"path": "/api/v2/routing/wrapupcodes", "status": 429,
                                   "retry_after": 2, "times": 1},
                                  {"path": "/api/v2/routing/wrapupcodes", "status": 503},
                                  {"path": "/api/v2/routing/wrapupcodes", "partial": True},
                                  {"path": "/api/v2/routing/wrapupcodes", "truncate": 20}])
        status, headers, _ = self.c.call("GET", "/api/v2/routing/wrapupcodes")
        self.assertEqual((status, headers.get("Retry-After")), (429, "2"))
        self.assertEqual(self.c.call("GET", "/api/v2/routing/wrapupcodes")[0], 503)
        _, _, body = self.c.call("GET", "/api/v2/routing/wrapupcodes")
        self.assertLess(len(body["entities"]), body["total"])
        status, _, raw = self.c.call("GET", "/api/v2/routing/wrapupcodes", raw=True)
        self.assertEqual(len(raw), 20)
        self.assertEqual(self.c.call("GET", "/api/v2/routing/wrapupcodes")[0], 200)

    def test_rate_limit_answers_429_with_retry_after(self):
        self.c.control("config", {"rate_allowed": 3})
        statuses = [self.c.call("GET", "/api/v2/presence/definitions")[:2] for _ in range(4)]
        self.assertEqual([s for s, _ in statuses], [200, 200, 200, 429])
        self.assertIn("Retry-After", statuses[-1][1])

    def open_channel(self, topics):
        _, _, channel = self.c.call("POST", "/api/v2/notifications/channels", {})
        status, _, subs = self.c.call("PUT", "/api/v2/notifications/channels/%s/subscriptions"
                                      % channel["id"], [{"id": t} for t in topics])
        self.assertEqual(status, 200)
        return channel, subs

    def test_notifications_events_heartbeats_pong_and_socket_closing(self):
        self.c.control("config", {"heartbeat_s": 0.3, "closing_grace_s": 0.5})
        channel, subs = self.open_channel(["v2.users.agent-1.presence", "v2.users.nobody.presence"])
        self.assertEqual([e["state"] for e in subs["entities"]], ["Permitted", "Rejected"])

        async def go():
            async with websockets.connect(channel["connectUri"]) as ws:
                await asyncio.sleep(0.2)
                self.c.control("presence", {"user": "agent-1", "definition": "aux-lunch"})
                await ws.send(json.dumps({"message": "ping"}))
                got = []
                while len(got) < 8:
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                    if any(m["topicName"] == "v2.users.agent-1.presence" for m in got) and \
                            any(m.get("eventBody", {}).get("message") == "WebSocket Heartbeat"
                                for m in got) and \
                            any(m.get("eventBody", {}).get("message") == "pong" for m in got):
                        break
                event = [m for m in got if m["topicName"] == "v2.users.agent-1.presence"][0]
                self.assertEqual(event["eventBody"]["presenceDefinition"]["id"], "aux-lunch")
                self.assertIn("CorrelationId", event["metadata"])
                self.c.control("socket", {"action": "socket_closing"})
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if m["topicName"] == "v2.system.socket_closing":
                        break
                with self.assertRaises(websockets.ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), 5)
        asyncio.run(go())

    def test_missed_notifications_and_dropped_sockets(self):
        channel, _ = self.open_channel(["v2.users.agent-2.voicemail.messages"])

        async def go():
            async with websockets.connect(channel["connectUri"]) as ws:
                await asyncio.sleep(0.2)
                self.c.control("miss", {"count": 1})
                self.c.control("voicemail", {"user": "agent-2", "id": "vm-lost"})
                self.c.control("voicemail", {"user": "agent-2", "id": "vm-seen"})
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                while m["topicName"] == "channel.metadata":  # heartbeats may come first
                    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(m["eventBody"]["id"], "vm-seen")
                self.c.control("socket", {"action": "drop"})
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
        asyncio.run(go())
        _, _, listing = self.c.call("GET", "/api/v2/voicemail/users/agent-2/messages")
        self.assertIn("vm-lost", [v["id"] for v in listing["entities"]])  # REST has it

    def test_a_channel_holds_1000_topics_and_the_21st_channel_evicts_the_least_used(self):
        channel, _ = self.open_channel(["v2.users.agent-1.presence"])
        path = "/api/v2/notifications/channels/%s/subscriptions" % channel["id"]
        many = [{"id": "v2.users.agent-1.t%d" % i} for i in range(1000)]
        self.assertEqual(self.c.call("PUT", path, many)[0], 200)
        status, _, refusal = self.c.call("POST", path, [{"id": "v2.users.agent-2.presence"}])
        self.assertEqual((status, refusal["code"]), (400, "notification.channel.topic.limit"))
        self.assertEqual(len(self.c.call("GET", path)[2]["entities"]), 1000)  # unchanged
        status, _, refusal = self.c.call("PUT", path, many + [{"id": "v2.users.agent-2.x"}])
        self.assertEqual(status, 400)

        async def over_the_socket():
            async with websockets.connect(channel["connectUri"]) as ws:
                await ws.send(json.dumps({"message": "subscribe", "topics": ["v2.users.agent-2.y"],
                                          "correlationId": "c1"}))
                while True:
                    m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if "result" in m:
                        self.assertEqual((m["result"], m["status"]), ("400", "error"))
                        return
        asyncio.run(over_the_socket())

        made = [self.open_channel(["v2.users.agent-1.presence"])[0]["id"] for _ in range(20)]
        head = lambda cid: self.c.call("HEAD", "/api/v2/notifications/channels/" + cid)[0]
        self.assertEqual([head(cid) for cid in made], [200] * 20)  # the older ones are gone
        # The first made is used again (subscribed): the second is now the least used.
        self.assertEqual(self.c.call("POST", "/api/v2/notifications/channels/%s/subscriptions"
                                     % made[0], [{"id": "v2.users.agent-2.presence"}])[0], 200)
        self.c.call("POST", "/api/v2/notifications/channels", {})
        self.assertEqual((head(made[0]), head(made[1]), head(made[2])), (200, 404, 200))
        self.assertEqual(self.c.control("stats")["channels"], 20)

    def test_expired_channel_is_gone(self):
        channel, _ = self.open_channel(["v2.users.agent-1.presence"])
        self.c.control("socket", {"action": "expire", "channel": channel["id"]})
        self.assertEqual(self.c.call("HEAD", "/api/v2/notifications/channels/" + channel["id"])[0], 404)

        async def go():
            async with websockets.connect(channel["connectUri"]) as ws:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                self.assertEqual(m["result"], "404")
        asyncio.run(go())

    def test_web_interface_edits_the_draft_and_logs_off(self):
        conv = self.c.control("route", {"user": "agent-1", "media": "email"})
        self.assertEqual(self.c.call("GET", "/api/v2/conversations/emails/%s/messages/draft" % conv["id"])[0], 404)
        self.c.control("web/draft", {"conversation": conv["id"], "textBody": "Dear Ann"})
        status, _, draft = self.c.call("GET", "/api/v2/conversations/emails/%s/messages/draft" % conv["id"])
        self.assertEqual((status, draft["textBody"]), (200, "Dear Ann"))
        self.c.control("web/logoff", {"user": "agent-1"})
        _, _, presence = self.c.call("GET", "/api/v2/users/agent-1/presences/purecloud")
        self.assertEqual(presence["presenceDefinition"]["systemPresence"], "Offline")

    def grant(self, form):
        auth = base64.b64encode(("%s:%s" % (self.ready["client_id"],
                                            self.ready["client_secret"])).encode()).decode()
        req = urllib.request.Request(self.ready["login"] + "/oauth/token", data=form.encode(),
                                     method="POST")
        req.add_header("authorization", "Basic " + auth)
        req.add_header("content-type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_user_tokens_act_for_their_user_only(self):
        # Client credentials have no user context.
        self.assertEqual(self.c.call("GET", "/api/v2/users/me")[0], 400)
        code = self.c.control("login", {"user": "agent-2"})["code"]
        status, token = self.grant("grant_type=authorization_code&code=" + code)
        self.assertEqual(status, 200)
        self.assertIn("refresh_token", token)
        self.assertEqual(self.grant("grant_type=authorization_code&code=" + code)[0], 400)  # used
        user = Client(self.ready)
        user.token = token["access_token"]
        self.assertEqual(user.call("GET", "/api/v2/users/me")[2]["id"], "agent-2")
        self.assertEqual(user.call("GET", "/api/v2/voicemail/me/messages")[0], 200)
        self.assertEqual(user.call("GET", "/api/v2/conversations")[0], 200)
        body = {"presenceDefinition": {"id": "pd-available"}}
        self.assertEqual(user.call("PATCH", "/api/v2/users/agent-1/presences/purecloud", body)[0], 403)
        self.assertEqual(user.call("PATCH", "/api/v2/users/agent-2/presences/purecloud", body)[0], 200)
        # The refresh token rotates: the old one is spent.
        status, fresh = self.grant("grant_type=refresh_token&refresh_token=" + token["refresh_token"])
        self.assertEqual(status, 200)
        self.assertNotEqual(fresh["refresh_token"], token["refresh_token"])
        self.assertEqual(self.grant("grant_type=refresh_token&refresh_token=" +
                                    token["refresh_token"])[0], 400)
        requests = self.c.control("requests")
        self.assertIn({"method": "GET", "path": "/api/v2/users/me", "status": 200, "user": "agent-2"},
                      requests)

    def test_email_reply_and_message_send(self):
        email = self.c.control("route", {"user": "agent-1", "media": "email"})
        path = "/api/v2/conversations/emails/%s/messages" % email["id"]
        self.assertEqual(self.c.call("POST", path, {"textBody": " "})[0], 400)
        status, _, sent = self.c.call("POST", path, {"textBody": "Thanks", "subject": "Re: Question"})
        self.assertEqual((status, sent["textBody"]), (200, "Thanks"))
        chat = self.c.control("route", {"user": "agent-1", "media": "message"})
        comm = [p for p in chat["participants"] if p["purpose"] == "agent"][0]["messages"][0]["id"]
        path = "/api/v2/conversations/messages/%s/communications/%s/messages" % (chat["id"], comm)
        self.assertEqual(self.c.call("POST", path, {"textBody": "Hello"})[0], 202)
        self.c.control("disconnect", {"conversation": chat["id"]})
        status, _, refusal = self.c.call("POST", path, {"textBody": "Still there?"})
        self.assertEqual((status, refusal["code"]), (400, "conversation.message.disconnected"))
        self.assertEqual([x["textBody"] for x in self.c.control("state")["sent"]][-2:],
                         ["Thanks", "Hello"])

    def test_sent_messages_are_listed_and_a_send_may_go_unanswered(self):
        email = self.c.control("route", {"user": "agent-1", "media": "email", "text": "Hi"})
        path = "/api/v2/conversations/emails/%s/messages" % email["id"]
        # The platform sends the reply but never answers: the connection closes unanswered.
        self.c.control("faults", [{"method": "POST", "path": path, "no_answer": True}])
        with self.assertRaises(Exception):
            self.c.call("POST", path, {"textBody": "Thanks", "subject": "Re: Question"})
        status, _, listing = self.c.call("GET", path)
        self.assertEqual(status, 200)
        self.assertEqual(len(listing["entities"]), 2)  # the customer's and ours
        self.assertNotIn("textBody", listing["entities"][1])  # previews carry no body
        status, _, full = self.c.call("GET", path + "/" + listing["entities"][1]["id"])
        self.assertEqual((status, full["textBody"], full["subject"]), (200, "Thanks", "Re: Question"))
        self.assertEqual(self.c.call("GET", path + "/nope")[0], 404)
        # A slow answer: the send is done before the answer leaves.
        self.c.control("faults", [{"method": "POST", "path": path, "answer_after_ms": 300}])
        self.assertEqual(self.c.call("POST", path, {"textBody": "Again"})[0], 200)
        self.assertEqual(len(self.c.call("GET", path)[2]["entities"]), 3)
        # Messages: the conversation names each message's id, the batch read gives its data.
        chat = self.c.control("route", {"user": "agent-1", "media": "message", "text": "Yo"})
        agent = [p for p in chat["participants"] if p["purpose"] == "agent"][0]
        comm = agent["messages"][0]["id"]
        send = "/api/v2/conversations/messages/%s/communications/%s/messages" % (chat["id"], comm)
        self.assertEqual(self.c.call("POST", send, {"textBody": "Hello"})[0], 202)
        _, _, conv = self.c.call("GET", "/api/v2/conversations/" + chat["id"])
        ids = [d["messageId"] for p in conv["participants"] for c in p.get("messages", [])
               for d in c.get("messages", [])]
        self.assertEqual(len(ids), 2)
        bulk = "/api/v2/conversations/messages/%s/messages/bulk" % chat["id"]
        status, _, data = self.c.call("POST", bulk, ids + ["unknown"])
        self.assertEqual(status, 200)
        self.assertEqual(sorted((m["direction"], m["textBody"]) for m in data["entities"]),
                         [("inbound", "Yo"), ("outbound", "Hello")])
        self.assertEqual(self.c.call("POST", bulk, {"not": "a list"})[0], 400)

    def find_by_attribute(self, name, value):
        status, _, body = self.c.call("POST", "/api/v2/analytics/conversations/details/query", {
            "interval": "2000-01-01T00:00:00.000Z/2100-01-01T00:00:00.000Z",
            "segmentFilters": [{"type": "and", "predicates": [
                {"type": "property", "propertyType": "string", "property": name,
                 "value": value}]}]})
        self.assertEqual(status, 200)
        return [c["conversationId"] for c in body.get("conversations", [])]

    def test_a_callback_is_scheduled_on_a_queue_and_found_by_its_data(self):
        path = "/api/v2/conversations/callbacks"
        good = {"queueId": "queue-1", "callbackNumbers": ["+358401112223"],
                "callbackUserName": "Ann", "callbackScheduledTime": "2099-01-01T10:00:00.000Z",
                "data": {"outpostSendKey": "k-1"}}
        refusals = [(dict(good, queueId=None), "bad.request"),
                    (dict(good, queueId="queue-9"), "callback.queue.invalid"),
                    (dict(good, callbackNumbers=[]), "callback.number.invalid"),
                    (dict(good, callbackNumbers=["call me"]), "callback.number.invalid"),
                    (dict(good, callbackScheduledTime="2001-01-01T10:00:00.000Z"),
                     "callback.scheduled.time.past")]
        for body, code in refusals:
            status, _, answer = self.c.call("POST", path, body)
            self.assertEqual((status, answer["code"]), (400, code), body)
        status, _, created = self.c.call("POST", path, good)
        self.assertEqual(status, 200)
        conv_id = created["conversation"]["id"]
        self.assertEqual(len(created["callbackIdentifiers"]), 2)
        _, _, conv = self.c.call("GET", "/api/v2/conversations/" + conv_id)
        self.assertEqual([p["purpose"] for p in conv["participants"]], ["customer", "acd"])
        self.assertEqual(conv["participants"][1]["queueId"], "queue-1")
        self.assertEqual(self.c.control("state")["callbacks"][-1]["callbackNumbers"],
                         ["+358401112223"])
        self.assertEqual(self.find_by_attribute("outpostSendKey", "k-1"), [conv_id])
        self.assertEqual(self.find_by_attribute("outpostSendKey", "k-2"), [])
        # Its faults: the platform schedules it and never answers; a 503 schedules nothing.
        self.c.control("faults", [{"method": "POST", "path": path, "no_answer": True},
                                  {"method": "POST", "path": path, "status": 503}])
        with self.assertRaises(Exception):
            self.c.call("POST", path, dict(good, data={"outpostSendKey": "k-3"}))
        self.assertEqual(len(self.find_by_attribute("outpostSendKey", "k-3")), 1)
        self.assertEqual(self.c.call("POST", path, dict(good, data={"outpostSendKey": "k-4"}))[0],
                         503)
        self.assertEqual(self.find_by_attribute("outpostSendKey", "k-4"), [])

    def test_a_new_email_is_sent_on_behalf_of_a_queue_and_shows_for_its_agent(self):
        path = "/api/v2/conversations/emails"
        good = {"direction": "OUTBOUND", "provider": "PureCloud Email", "queueId": "queue-1",
                "toAddress": "bo@example.com", "toName": "Bo", "subject": "Your order",
                "textBody": "It shipped.", "attributes": {"outpostSendKey": "e-1"}}
        for body, code in [(dict(good, queueId="queue-9"), "email.queue.invalid"),
                           (dict(good, toAddress="bo"), "email.address.invalid"),
                           (dict(good, textBody=" "), "bad.request"),
                           (dict(good, direction="INBOUND"), "bad.request")]:
            status, _, answer = self.c.call("POST", path, body)
            self.assertEqual((status, answer["code"]), (400, code), body)
        # With the agent's own token the conversation is the agent's.
        code = self.c.control("login", {"user": "agent-1"})["code"]
        _, user = self.grant("grant_type=authorization_code&code=" + code)
        agent = Client(self.ready)
        agent.token = user["access_token"]
        status, _, conv = agent.call("POST", path, good)
        self.assertEqual(status, 200)
        self.assertEqual([(p["purpose"], p.get("userId")) for p in conv["participants"]],
                         [("customer", None), ("agent", "agent-1")])
        _, _, mine = agent.call("GET", "/api/v2/conversations")
        self.assertIn(conv["id"], [c["id"] for c in mine["entities"]])
        sent = self.c.control("state")["sent"][-1]
        self.assertEqual((sent["conversation"], sent["textBody"], sent["subject"]),
                         (conv["id"], "It shipped.", "Your order"))
        self.assertEqual(self.find_by_attribute("outpostSendKey", "e-1"), [conv["id"]])
        self.c.control("faults", [{"method": "POST", "path": path, "answer_after_ms": 300}])
        self.assertEqual(self.c.call("POST", path, dict(good, attributes={}))[0], 200)

    def test_voicemail_media_link_read_and_delete(self):
        vm = self.c.control("voicemail", {"user": "agent-1", "seconds": 2})
        path = "/api/v2/voicemail/messages/%s" % vm["id"]
        self.assertEqual(self.c.call("GET", path + "/media?formatId=MP3")[0], 400)
        status, _, media = self.c.call("GET", path + "/media?formatId=WAV")
        self.assertEqual((status, media["id"]), (200, vm["id"]))
        # The link is pre-signed: no bearer (a second auth mechanism is refused).
        self.assertEqual(self.c.call("GET", media["mediaFileUri"], raw=True)[0], 400)
        status, headers, audio = self.c.call("GET", media["mediaFileUri"], token=False, raw=True)
        self.assertEqual((status, audio[:4], len(audio)), (200, b"RIFF", 44 + 2 * 8000))
        again = self.c.call("GET", self.c.call("GET", path + "/media?formatId=WAV")[2]["mediaFileUri"],
                            token=False, raw=True)[2]
        self.assertEqual(again, audio)  # the same recording every time
        # A link the platform never gave is 404 (NoSuchKey); a slow media host (scripted).
        unknown = media["mediaFileUri"].rsplit("/", 1)[0] + "/never-given.wav"
        self.assertEqual(self.c.call("GET", unknown, token=False, raw=True)[0], 404)
        link = self.c.call("GET", path + "/media?formatId=WAV")[2]["mediaFileUri"]
        self.c.control("faults", {"method": "GET", "path": "/media/", "delay_ms": 300})
        started = time.monotonic()
        self.assertEqual(self.c.call("GET", link, token=False, raw=True)[2], audio)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        # Short-lived: an expired link is 403.
        self.c.control("config", {"media_url_ttl_s": 0})
        link = self.c.call("GET", path + "/media?formatId=WAV")[2]["mediaFileUri"]
        self.assertEqual(self.c.call("GET", link, token=False, raw=True)[0], 403)
        self.c.control("config", {"media_url_ttl_s": 60})
        # Read and delete; a user token acts on its own user's voicemail only.
        code = self.c.control("login", {"user": "agent-2"})["code"]
        other = Client(self.ready)
        other.token = self.grant("grant_type=authorization_code&code=" + code)[1]["access_token"]
        self.assertEqual(other.call("PATCH", path, {"read": True})[0], 403)
        self.assertEqual(other.call("DELETE", path)[0], 403)
        self.assertEqual(self.c.call("PATCH", path, {"read": True})[2]["read"], True)
        self.assertEqual(self.c.call("DELETE", path)[0], 204)
        self.assertEqual(self.c.call("DELETE", path)[0], 404)
        self.assertEqual(self.c.call("GET", path + "/media?formatId=WAV")[0], 404)


def pointer(value, path):
    """The value at a JSON pointer ('/a/0/b'); '/a#' is the length of the array at /a."""
    length = path.endswith("#")
    for part in [p for p in path.rstrip("#").split("/") if p]:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return len(value) if length else value


def substitute(value, saved):
    if isinstance(value, str):
        for name, text in saved.items():
            value = value.replace("${%s}" % name, text)
        return value
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


class SharedPlatformCases(unittest.TestCase):
    """platform_cases.json: the same requests and answers outpost-sim's in-process model of
    Genesys Cloud is held to (tests/apps/outpost-sim/genesys_model_test.cpp), each case on a
    fresh org."""

    def run_case(self, case, users):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_genesys.py"),
                                 "--users", ",".join(users), "--contacts", "0"],
                                stdout=subprocess.PIPE, text=True)
        try:
            c = Client(json.loads(proc.stdout.readline()))
            c.login()
            saved = {}
            for step in case["steps"]:
                step = substitute(step, saved)
                if "act" in step:
                    act = step["act"]
                    if act == "route":
                        result = c.control("route", {"user": step["user"], "media": step["media"]})
                    elif act == "disconnect":
                        result = c.control("disconnect", {"conversation": step["conversation"]})
                    elif act == "voicemail":
                        result = c.control("voicemail", {"user": step["user"]})
                    else:
                        result = c.control("presence", {"user": step["user"],
                                                        "definition": step["definition"]})
                    status = 200
                else:
                    method, path = step["request"].split(" ", 1)
                    status, _, result = c.call(method, path, step.get("body"))
                where = "%s: %s" % (case["name"], step.get("request", step.get("act")))
                self.assertEqual(status, step.get("status", 200), where)
                for path, want in step.get("expect", {}).items():
                    self.assertEqual(pointer(result, path), want, where + " " + path)
                for name, path in step.get("save", {}).items():
                    saved[name] = str(pointer(result, path))
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()

    def test_every_shared_case(self):
        with open(os.path.join(HERE, "platform_cases.json")) as f:
            cases = json.load(f)
        for case in cases["cases"]:
            with self.subTest(case=case["name"]):
                self.run_case(case, cases["users"])


if __name__ == "__main__":
    unittest.main()
