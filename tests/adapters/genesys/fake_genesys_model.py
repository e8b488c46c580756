"""The state of the fake Genesys Cloud organisation and its REST routes, from
shared/reference/platform-apis.md section 1: presence definitions (System and User/"AUX"),
users with presence and routing status, queues and memberships, wrap-up codes,
conversations with participants and communications, email drafts, voicemail, external
contacts, response libraries and responses, notification channels. Changes that the real
platform would notify call `notify(topic, eventBody)`. Not thread-safe: the server holds its
lock around every call.
"""

import datetime
import re
import time
import urllib.parse
import uuid

SYSTEM_PRESENCES = ["Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal",
                    "Training", "Meeting", "Break"]
MAX_CHANNELS = 20  # per client [platform-apis.md 1.10]
MAX_TOPICS = 1000  # per channel
MEDIA_KEYS = {"voice": "calls", "email": "emails", "message": "messages", "callback": "callbacks"}


def iso(epoch_s=None):
    t = datetime.datetime.fromtimestamp(time.time() if epoch_s is None else epoch_s,
                                        datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def parse_iso(text):
    return datetime.datetime.strptime(text.replace("Z", "+0000"),
                                      "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def listing(entities, query, base_path, max_page, default_size=25):
    """The *EntityListing envelope: pageSize/pageNumber in, nextUri etc. out."""
    try:
        size = int(query.get("pageSize", default_size))
        number = int(query.get("pageNumber", 1))
    except ValueError:
        return 400, {"status": 400, "code": "bad.request", "message": "bad paging"}
    if size < 1 or number < 1:
        return 400, {"status": 400, "code": "bad.request", "message": "bad paging"}
    size = min(size, max_page)
    total = len(entities)
    count = max(1, (total + size - 1) // size)
    page = entities[(number - 1) * size: number * size]
    others = {k: v for k, v in query.items() if k not in ("pageSize", "pageNumber")}

    def uri(n):
        q = dict(others, pageSize=size, pageNumber=n)
        return base_path + "?" + urllib.parse.urlencode(q)
    body = {"entities": page, "pageSize": size, "pageNumber": number, "total": total,
            "pageCount": count, "firstUri": uri(1), "lastUri": uri(count), "selfUri": uri(number)}
    if number < count:
        body["nextUri"] = uri(number + 1)
    if number > 1:
        body["previousUri"] = uri(number - 1)
    return 200, body


def voicemail_audio(v):
    """A voicemail's recording: a WAV (8 kHz, 8-bit mono) of its duration (at most 30 s),
    the same bytes for the same voicemail id every time."""
    seconds = max(1, min(30, int(v.get("audioRecordingDurationSeconds") or 1)))
    seed = sum(v["id"].encode()) % 50 + 20
    samples = bytes((128 + ((i * seed // 8) % 64) - 32) & 0xFF for i in range(seconds * 8000))
    header = b"RIFF" + (36 + len(samples)).to_bytes(4, "little") + b"WAVEfmt " + \
        (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + \
        (8000).to_bytes(4, "little") + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + \
        (8).to_bytes(2, "little") + b"data" + len(samples).to_bytes(4, "little")
    return header + samples


def public(conv):
    """A conversation as the API shows it (the fake's own bookkeeping keys start with _)."""
    return {k: v for k, v in conv.items() if not k.startswith("_")}


def err(status, code, message):
    return status, {"status": status, "code": code, "message": message,
                    "contextId": str(uuid.uuid4()), "details": [], "errors": []}


class Org:
    def __init__(self, users, contacts):
        self.notify = lambda topic, body: None
        self.api_base = ""
        self.ws_base = ""
        self.definitions = []
        for name in SYSTEM_PRESENCES:
            self.definitions.append({"id": "pd-" + name.lower(), "name": name, "type": "System",
                                     "languageLabels": {"en_US": name}, "systemPresence": name,
                                     "deactivated": False})
        for ident, label, system in [("aux-lunch", "Lunch", "Meal"), ("aux-coffee", "Coffee", "Break"),
                                     ("aux-training", "Training", "Training"),
                                     ("aux-old", "Old reason", "Away")]:
            self.definitions.append({"id": ident, "name": label, "type": "User",
                                     "languageLabels": {"en_US": label}, "systemPresence": system,
                                     "deactivated": ident == "aux-old"})
        self.queues = [{"id": "queue-%d" % i, "name": name, "memberCount": 12, "joinedMemberCount": 7,
                        "mediaSettings": {m: {"alertingTimeoutSeconds": 8} for m in media}}
                       for i, (name, media) in enumerate([("Support", ["call", "email"]),
                                                          ("Sales", ["call"]),
                                                          ("Chat", ["message", "chat"])], 1)]
        self.wrapup_codes = [{"id": "wrapup-%d" % i, "name": name, "description": "",
                              "dateCreated": iso()} for i, name in
                             enumerate(["Resolved", "Callback", "Escalated", "No answer"], 1)]
        self.users = {}
        for u in users:
            self.add_user(u)
        self.conversations = {}
        self.drafts = {}  # conversation id -> EmailMessage
        self.voicemails = {}
        self.media_links = {}  # download token -> (voicemail id, expires epoch s)
        self.contacts = [self.make_contact(i) for i in range(contacts)]
        self.libraries = [{"id": "lib-1", "name": "General", "version": 1, "dateCreated": iso()},
                          {"id": "lib-2", "name": "Billing", "version": 3, "dateCreated": iso()}]
        self.responses = []
        for i in range(1, 8):
            lib = self.libraries[i % 2]
            self.responses.append({"id": "resp-%d" % i, "name": "Answer %d" % i, "version": 1,
                                   "libraries": [{"id": lib["id"], "name": lib["name"]}],
                                   "texts": [{"content": "Hello {{name}}, answer %d." % i,
                                              "contentType": "text/plain", "type": "body"}],
                                   "interactionType": "email" if i % 2 else "chat",
                                   "substitutions": [{"id": "name", "description": "",
                                                      "defaultValue": "there"}],
                                   "dateCreated": iso()})
        self.wrapups_done = []  # (conversation, participant, code)
        self.sent = []  # email replies and messages sent
        self.email_messages = {}  # conversation id -> [EmailMessage] (inbound and sent)
        self.message_data = {}  # message id -> MessageData (SMS/chat, both directions)
        self.callbacks = []  # callbacks scheduled (CreateCallbackCommand as received)
        self.seq = 0

    def user_ids(self):
        return sorted(self.users)

    def add_user(self, user_id):
        self.users[user_id] = {"id": user_id, "name": user_id.replace("-", " ").title(),
                               "presence": {"definition": "pd-offline", "message": "",
                                            "modified": iso()},
                               "routing": {"status": "OFF_QUEUE", "startTime": iso()},
                               "queues": {"queue-1": True, "queue-2": False, "queue-3": True}}

    def make_contact(self, i):
        first = ["Ann", "Bo", "Cai", "Dita", "Eero", "Fay", "Gus", "Hild"][i % 8]
        return {"id": "ec-%05d" % i, "firstName": first, "lastName": "Person%d" % i,
                "title": "", "workPhone": {"display": "+358 40 %07d" % i, "e164": "+35840%07d" % i},
                "workEmail": "%s.%d@example.com" % (first.lower(), i), "type": "Curated",
                "externalOrganization": {"id": "eo-1", "name": "Example Oy"},
                "modifyDate": iso(), "createDate": iso()}

    def next_id(self, prefix):
        self.seq += 1
        return "%s-%d" % (prefix, self.seq)

    # ------------------------------------------------------------------ shapes

    def definition(self, ident):
        for d in self.definitions:
            if d["id"] == ident:
                return d
        return None

    def user_presence(self, user):
        d = self.definition(user["presence"]["definition"])
        return {"id": "PURECLOUD", "name": "PURECLOUD", "sourceId": "PURECLOUD", "primary": True,
                "presenceDefinition": {"id": d["id"], "systemPresence": d["systemPresence"]},
                "message": user["presence"]["message"],
                "modifiedDate": user["presence"]["modified"]}

    def user_queue(self, user, queue):
        return dict(queue, joined=user["queues"].get(queue["id"], False))

    def set_presence(self, user, definition_id, message=None):
        d = self.definition(definition_id)
        user["presence"] = {"definition": d["id"], "message": message if message is not None
                            else user["presence"]["message"], "modified": iso()}
        # Routing status follows the OnQueue definition [inf].
        status = "IDLE" if d["systemPresence"] == "OnQueue" else "OFF_QUEUE"
        if user["routing"]["status"] != status:
            user["routing"] = {"status": status, "startTime": iso()}
            self.notify("v2.users.%s.routingStatus" % user["id"],
                        {"id": user["id"], "routingStatus": dict(user["routing"])})
        presence = self.user_presence(user)
        self.notify("v2.users.%s.presence" % user["id"],
                    {"source": "PURECLOUD", "presenceDefinition": presence["presenceDefinition"],
                     "primary": True, "message": presence["message"],
                     "modifiedDate": presence["modifiedDate"]})

    def agent_participant(self, conv, user_id=None):
        for p in conv["participants"]:
            if p["purpose"] == "agent" and (user_id is None or p.get("userId") == user_id):
                return p
        return None

    def notify_conversation(self, conv):
        agent = self.agent_participant(conv)
        if agent and agent.get("userId"):
            self.notify("v2.users.%s.conversations" % agent["userId"], public(conv))

    def analytics_tree(self, conv):
        parts = []
        for p in conv["participants"]:
            sessions = []
            for key in MEDIA_KEYS.values():
                for comm in p.get(key, []):
                    media = [m for m, k in MEDIA_KEYS.items() if k == key][0]
                    segment = {"segmentStart": comm.get("connectedTime") or conv["startTime"],
                               "segmentType": "interact", "queueId": p.get("queueId")}
                    if comm.get("disconnectedTime"):
                        segment["segmentEnd"] = comm["disconnectedTime"]
                    if p.get("wrapup"):
                        segment["wrapUpCode"] = p["wrapup"]["code"]
                        segment["wrapUpNote"] = p["wrapup"].get("notes", "")
                    sessions.append({"sessionId": comm["id"], "mediaType": media,
                                     "direction": comm.get("direction", "inbound"),
                                     "ani": p.get("address", ""), "addressFrom": p.get("address", ""),
                                     "segments": [segment]})
            part = {"participantId": p["id"], "participantName": p.get("name", ""),
                    "purpose": p["purpose"], "userId": p.get("userId"), "sessions": sessions}
            if p.get("attributes"):
                part["attributes"] = p["attributes"]
            parts.append(part)
        tree = {"conversationId": conv["id"], "conversationStart": conv["startTime"],
                "originatingDirection": conv.get("_direction", "inbound"), "participants": parts}
        if conv.get("endTime"):
            tree["conversationEnd"] = conv["endTime"]
        return tree

    # ------------------------------------------------------------------ REST routes

    def route(self, method, path, query, body, fake, who=None):
        """`who`: the user of a user token (auth code / refresh grants); None for the
        client's own token, which has no user context [inf: platform-apis.md 1.0]."""
        max_page = fake.config["max_page_size"]
        me = self.me_route(method, path, query, who, max_page)
        if me is not None:
            return me
        if who is not None and method != "GET":
            refused = self.acting_for_another(path, who)
            if refused is not None:
                return refused
        m = re.fullmatch(r"/api/v2/users/([^/]+)/(.+)", path)
        if m and m.group(1) in self.users:
            return self.user_route(method, self.users[m.group(1)], m.group(2), query, body, path,
                                   max_page)
        if m and m.group(1) != "presences":
            return err(404, "not.found", "user not found")
        if path == "/api/v2/presence/definitions" and method == "GET":
            entities = [d for d in self.definitions
                        if query.get("deactivated") == "true" or not d["deactivated"]]
            return 200, {"total": len(entities), "entities": entities,
                         "selfUri": "/api/v2/presence/definitions"}
        if path == "/api/v2/routing/wrapupcodes" and method == "GET":
            return listing(self.wrapup_codes, query, path, max_page)
        if path == "/api/v2/analytics/conversations/details/query" and method == "POST":
            return self.analytics_query(body)
        if path == "/api/v2/conversations/callbacks" and method == "POST":
            return self.create_callback(body, who)
        if path == "/api/v2/conversations/emails" and method == "POST":
            return self.create_email(body, who)
        m = re.fullmatch(r"/api/v2/conversations/([^/]+)", path)
        if m and method == "GET":
            conv = self.conversations.get(m.group(1))
            return (200, public(conv)) if conv else err(404, "not.found", "conversation not found")
        m = re.fullmatch(r"/api/v2/conversations/(calls|emails|messages|callbacks)/([^/]+)/"
                         r"participants/([^/]+)/communications/([^/]+)/wrapup", path)
        if m and method == "POST":
            return self.wrapup(m.group(2), m.group(3), m.group(4), body)
        m = re.fullmatch(r"/api/v2/conversations/emails/([^/]+)/messages/draft", path)
        if m:
            return self.draft(method, m.group(1), body)
        m = re.fullmatch(r"/api/v2/conversations/emails/([^/]+)/messages", path)
        if m and method == "POST":
            return self.send_email(m.group(1), body)
        if m and method == "GET":
            return self.email_listing(m.group(1), query, path, max_page)
        m = re.fullmatch(r"/api/v2/conversations/emails/([^/]+)/messages/([^/]+)", path)
        if m and method == "GET":
            found = [e for e in self.email_messages.get(m.group(1), []) if e["id"] == m.group(2)]
            return (200, found[0]) if found else err(404, "not.found", "message not found")
        m = re.fullmatch(r"/api/v2/conversations/messages/([^/]+)/communications/([^/]+)/messages",
                         path)
        if m and method == "POST":
            return self.send_message(m.group(1), m.group(2), body)
        m = re.fullmatch(r"/api/v2/conversations/messages/([^/]+)/messages/bulk", path)
        if m and method == "POST":
            return self.messages_bulk(m.group(1), body)
        m = re.fullmatch(r"/api/v2/voicemail/users/([^/]+)/messages", path)
        if m and method == "GET":
            mine = sorted((v for v in self.voicemails.values()
                           if v["user"]["id"] == m.group(1) and not v["deleted"]),
                          key=lambda v: v["createdDate"], reverse=True)
            return listing(mine, query, path, max_page)
        m = re.fullmatch(r"/api/v2/voicemail/messages/([^/]+)/media", path)
        if m and method == "GET":
            return self.voicemail_media(m.group(1), query, fake)
        m = re.fullmatch(r"/api/v2/voicemail/messages/([^/]+)", path)
        if m:
            return self.voicemail(method, m.group(1), body)
        if path == "/api/v2/externalcontacts/contacts" and method == "GET":
            size, number = int(query.get("pageSize", 20)), int(query.get("pageNumber", 1))
            if size * number > 1000:
                return err(400, "bad.request", "pageNumber*pageSize must be <= 1000; use scan")
            status, answer = listing(self.contacts, query, path, max_page, 20)
            if status == 200:
                answer["partialResults"] = False
            return status, answer
        if path == "/api/v2/externalcontacts/scan/contacts" and method == "GET":
            return self.scan(query)
        m = re.fullmatch(r"/api/v2/externalcontacts/contacts/([^/]+)", path)
        if m and method == "DELETE":  # decision 063: the scan no longer shows it
            for i, contact in enumerate(self.contacts):
                if contact["id"] == m.group(1):
                    del self.contacts[i]
                    return 204, None
            return err(404, "not.found", "no such contact")
        if path == "/api/v2/responsemanagement/libraries" and method == "GET":
            return listing(self.libraries, query, path, max_page)
        if path == "/api/v2/responsemanagement/responses" and method == "GET":
            lib = query.get("libraryId")
            if not lib:
                return err(400, "bad.request", "libraryId is required")
            mine = [r for r in self.responses if any(l["id"] == lib for l in r["libraries"])]
            return listing(mine, query, path, max_page)
        if path.startswith("/api/v2/notifications/channels"):
            return self.channels(method, path, body, fake)
        return err(404, "not.found", "no route for %s %s" % (method, path))

    NO_USER = ("bad.request", "This request requires a user context. Client credentials "
               "cannot be used for requests to this resource.")

    def me_route(self, method, path, query, who, max_page):
        """The endpoints that act for the logged-in user; None: not one of them."""
        if path == "/api/v2/users/me" and method == "GET":
            kind = "user"
        elif path == "/api/v2/voicemail/me/messages" and method == "GET":
            kind = "voicemail"
        elif path == "/api/v2/conversations" and method == "GET":
            kind = "conversations"
        else:
            return None
        if who is None or who not in self.users:
            return err(400, *self.NO_USER)
        if kind == "user":
            user = self.users[who]
            return 200, {"id": who, "name": user["name"], "state": "active",
                         "presence": self.user_presence(user)}
        if kind == "voicemail":
            mine = sorted((v for v in self.voicemails.values()
                           if v["user"]["id"] == who and not v["deleted"]),
                          key=lambda v: v["createdDate"], reverse=True)
            return listing(mine, query, path, max_page)
        active = [public(c) for c in self.conversations.values()
                  if not c.get("endTime") and (self.agent_participant(c) or {}).get("userId") == who]
        return listing(active, query, path, max_page)

    def acting_for_another(self, path, who):
        """A user token writes only for its own user: another's presence or queues, or a
        conversation it takes no part in, is 403."""
        m = re.fullmatch(r"/api/v2/users/([^/]+)/.+", path)
        if m and m.group(1) != who:
            return err(403, "missing.permissions", "A user token acts only for its own user")
        m = re.fullmatch(r"/api/v2/voicemail/messages/([^/]+)", path)
        vm = self.voicemails.get(m.group(1)) if m else None
        if vm is not None and vm["user"]["id"] != who:
            return err(403, "missing.permissions", "Not your voicemail")
        m = re.fullmatch(r"/api/v2/conversations/(?:[a-z]+/)?([^/]+)/.+", path)
        conv = self.conversations.get(m.group(1)) if m else None
        if conv is not None and (self.agent_participant(conv) or {}).get("userId") != who:
            return err(403, "missing.permissions", "You take no part in this conversation")
        return None

    def send_email(self, conversation_id, body):
        """Sends the reply [outside the reference: the public API's POST
        /conversations/emails/{id}/messages, EmailMessage in and out]."""
        conv = self.conversations.get(conversation_id)
        if conv is None or conv.get("_media") != "email":
            return err(404, "not.found", "email conversation not found")
        if conv.get("endTime"):
            return err(400, "conversation.email.disconnected",
                       "The email conversation is disconnected; the reply cannot be sent")
        text = body.get("textBody") or body.get("htmlBody") or ""
        if not text.strip():
            return err(400, "bad.request", "An email reply needs a body")
        sent = {"id": self.next_id("email"), "to": body.get("to", []), "subject":
                body.get("subject", ""), "textBody": text, "time": iso(), "state": "Sent",
                "from": {"email": "support@acme.example", "name": "Support"},
                "selfUri": "/api/v2/conversations/emails/%s/messages/" % conversation_id}
        sent["selfUri"] += sent["id"]
        self.sent.append(dict(sent, conversation=conversation_id, media="email"))
        self.email_messages.setdefault(conversation_id, []).append(sent)
        self.drafts.pop(conversation_id, None)
        self.notify_conversation(conv)
        return 200, sent

    def send_message(self, conversation_id, comm_id, body):
        """Sends an SMS/chat message [outside the reference: the public API's POST
        /conversations/messages/{id}/communications/{commId}/messages {textBody}]."""
        conv = self.conversations.get(conversation_id)
        if conv is None or conv.get("_media") != "message":
            return err(404, "not.found", "message conversation not found")
        agent = self.agent_participant(conv) or {}
        comm = next((c for c in agent.get("messages", []) if c["id"] == comm_id), None)
        if comm is None:
            return err(404, "not.found", "communication not found")
        if comm.get("state") == "disconnected":
            return err(400, "conversation.message.disconnected",
                       "The conversation is disconnected; the message cannot be sent")
        text = body.get("textBody") or ""
        if not text.strip():
            return err(400, "bad.request", "textBody is required")
        if len(text) > 4000:
            return err(400, "message.too.long", "A message is at most 4000 characters")
        sent = {"id": self.next_id("msg"), "textBody": text, "direction": "outbound",
                "status": "queued", "timestamp": iso()}
        self.sent.append(dict(sent, conversation=conversation_id, media="message"))
        self.message_data[sent["id"]] = dict(sent, _conversation=conversation_id)
        comm.setdefault("messages", []).append(
            {"messageId": sent["id"], "messageStatus": "queued", "messageTime": sent["timestamp"],
             "messageSegmentCount": 1})
        return 202, sent

    PHONE = re.compile(r"\+?[0-9][0-9 ()-]{2,30}")
    EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")

    def routed_queue(self, body):
        """The queue of a create request: queueId, or routingData.queueId."""
        ident = body.get("queueId") or (body.get("routingData") or {}).get("queueId")
        return ident, next((q for q in self.queues if q["id"] == ident), None)

    def create_callback(self, body, who):
        """POST /api/v2/conversations/callbacks [outside the reference: the public API's
        CreateCallbackCommand -> CreateCallbackResponse {conversation, callbackIdentifiers}].
        The callback waits on its queue (an acd participant) until its scheduled time;
        `data` becomes the customer participant's attributes [inf]."""
        ident, queue = self.routed_queue(body)
        if not ident:
            return err(400, "bad.request", "A callback needs a queueId or routingData")
        if queue is None:
            return err(400, "callback.queue.invalid", "Queue %s does not exist" % ident)
        numbers = body.get("callbackNumbers")
        if not isinstance(numbers, list) or not numbers or \
                not all(isinstance(n, str) and self.PHONE.fullmatch(n) for n in numbers):
            return err(400, "callback.number.invalid",
                       "callbackNumbers must hold at least one valid phone number")
        when = body.get("callbackScheduledTime")
        if when is not None:
            try:
                at = parse_iso(when)
            except (ValueError, AttributeError):
                return err(400, "bad.request", "callbackScheduledTime must be ISO-8601")
            if at < time.time() - 60:
                return err(400, "callback.scheduled.time.past",
                           "The callback's scheduled time is in the past")
        data = body.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return err(400, "bad.request", "data is a map of strings")
        now = iso()
        conv_id = self.next_id("cb")
        callback = {"id": self.next_id("comm"), "state": "scheduled", "direction": "outbound",
                    "callbackNumbers": numbers, "callbackUserName": body.get("callbackUserName", ""),
                    "callbackScheduledTime": when or now}
        customer = {"id": self.next_id("p"), "purpose": "customer",
                    "name": body.get("callbackUserName", ""), "address": "tel:" + numbers[0],
                    "startTime": now, "attributes": dict(data), "callbacks": [dict(callback)]}
        acd = {"id": self.next_id("p"), "purpose": "acd", "queueId": ident,
               "queueName": queue["name"], "startTime": now,
               "callbacks": [dict(callback, id=self.next_id("comm"))]}
        conv = {"id": conv_id, "_media": "callback", "_direction": "outbound", "startTime": now,
                "participants": [customer, acd], "selfUri": "/api/v2/conversations/" + conv_id}
        self.conversations[conv_id] = conv
        self.callbacks.append(dict(body, conversation=conv_id, user=who))
        return 200, {"conversation": {"id": conv_id, "selfUri": conv["selfUri"]},
                     "callbackIdentifiers": [{"type": "EXTERNAL", "id": customer["id"]},
                                             {"type": "ACD", "id": acd["id"]}]}

    def create_email(self, body, who):
        """POST /api/v2/conversations/emails with direction OUTBOUND [outside the reference:
        the public API's CreateEmailRequest -> EmailConversation]: a new email on behalf of
        a queue, sent by the platform. With a user token the conversation is that agent's
        (it pops up in the agent's interface, guide 2.1.5.2.4.2) [inf]; `attributes` are the
        customer participant's."""
        if body.get("direction") != "OUTBOUND":
            return err(400, "bad.request", "Only OUTBOUND emails are created here")
        if body.get("provider") != "PureCloud Email":
            return err(400, "bad.request", "provider must be PureCloud Email")
        ident, queue = self.routed_queue(body)
        if not ident:
            return err(400, "bad.request", "An outbound email needs its queueId")
        if queue is None:
            return err(400, "email.queue.invalid", "Queue %s does not exist" % ident)
        to = body.get("toAddress")
        if not isinstance(to, str) or not self.EMAIL.fullmatch(to):
            return err(400, "email.address.invalid", "toAddress is not an email address")
        text = body.get("textBody") or body.get("htmlBody") or ""
        if not text.strip():
            return err(400, "bad.request", "An email needs a body")
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            return err(400, "bad.request", "attributes is a map of strings")
        now = iso()
        conv_id = self.next_id("c")
        subject = body.get("subject", "")
        customer = {"id": self.next_id("p"), "purpose": "customer", "name": body.get("toName", ""),
                    "address": to, "startTime": now, "attributes": dict(attributes),
                    "emails": [{"id": self.next_id("comm"), "state": "connected",
                                "direction": "outbound", "subject": subject}]}
        participants = [customer]
        if who is not None:
            participants.append({
                "id": self.next_id("p"), "purpose": "agent", "userId": who, "queueId": ident,
                "queueName": queue["name"], "startTime": now, "wrapupRequired": True,
                "wrapupPrompt": "mandatory", "attributes": {},
                "emails": [{"id": self.next_id("comm"), "state": "connected",
                            "direction": "outbound", "connectedTime": now, "subject": subject}]})
        conv = {"id": conv_id, "_media": "email", "_direction": "outbound", "startTime": now,
                "participants": participants, "selfUri": "/api/v2/conversations/" + conv_id}
        self.conversations[conv_id] = conv
        sent = {"id": self.next_id("email"), "to": [{"email": to, "name": body.get("toName", "")}],
                "subject": subject, "textBody": text, "time": now, "state": "Sent",
                "from": {"email": "support@acme.example", "name": queue["name"]},
                "selfUri": "/api/v2/conversations/emails/%s/messages/" % conv_id}
        sent["selfUri"] += sent["id"]
        self.email_messages[conv_id] = [sent]
        self.sent.append(dict(sent, conversation=conv_id, media="email", new=True))
        self.notify_conversation(conv)
        return 200, public(conv)

    def email_listing(self, conversation_id, query, path, max_page):
        """GET /conversations/emails/{id}/messages [outside the reference: the public API's
        EmailMessagePreviewListing]: previews without the bodies (GET .../messages/{id} has
        them)."""
        conv = self.conversations.get(conversation_id)
        if conv is None or conv.get("_media") != "email":
            return err(404, "not.found", "email conversation not found")
        previews = [{k: v for k, v in e.items() if k not in ("textBody", "htmlBody")}
                    for e in self.email_messages.get(conversation_id, [])]
        return listing(previews, query, path, max_page)

    def messages_bulk(self, conversation_id, body):
        """POST /conversations/messages/{id}/messages/bulk [messageId...] [outside the
        reference: the public API's "get messages in batch"] -> TextMessageListing of
        MessageData; ids of other conversations are left out."""
        conv = self.conversations.get(conversation_id)
        if conv is None or conv.get("_media") != "message":
            return err(404, "not.found", "message conversation not found")
        if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
            return err(400, "bad.request", "The body is a list of message ids")
        if len(body) > 100:
            return err(400, "bad.request", "At most 100 message ids")
        found = [{k: v for k, v in self.message_data[i].items() if not k.startswith("_")}
                 for i in body if i in self.message_data and
                 self.message_data[i]["_conversation"] == conversation_id]
        return 200, {"entities": found, "pageSize": len(found), "pageNumber": 1,
                     "total": len(found), "pageCount": 1}

    def user_route(self, method, user, rest, query, body, path, max_page):
        if rest == "presences/purecloud":
            if method == "GET":
                return 200, self.user_presence(user)
            if method == "PATCH":
                ident = (body.get("presenceDefinition") or {}).get("id")
                if ident is None and body.get("message") is not None:
                    user["presence"]["message"] = body["message"]
                    return 200, self.user_presence(user)
                d = self.definition(ident)
                if d is None or d["deactivated"]:
                    return err(400, "bad.request", "presence definition %s is not valid" % ident)
                self.set_presence(user, ident, body.get("message"))
                return 200, self.user_presence(user)
        if rest == "routingstatus" and method == "GET":
            return 200, dict(user["routing"], userId=user["id"])
        if rest == "queues" and method == "GET":
            joined = query.get("joined", "true") == "true"
            mine = [self.user_queue(user, q) for q in self.queues
                    if user["queues"].get(q["id"], False) == joined]
            return listing(mine, query, path, max_page)
        m = re.fullmatch(r"queues/([^/]+)", rest)
        if m and method == "PATCH":
            queue = next((q for q in self.queues if q["id"] == m.group(1)), None)
            if queue is None:
                return err(404, "not.found", "queue not found")
            if not isinstance(body.get("joined"), bool):
                return err(400, "bad.request", "joined must be a boolean")
            user["queues"][queue["id"]] = body["joined"]
            self.notify("v2.users.%s.activity" % user["id"],
                        {"id": user["id"], "activeQueueIds": [q for q, j in user["queues"].items() if j],
                         "dateActiveQueuesChanged": iso()})
            return 200, self.user_queue(user, queue)
        return err(404, "not.found", "no route")

    def analytics_query(self, body):
        interval = body.get("interval", "")
        try:
            start, end = [parse_iso(t) for t in interval.split("/")]
        except Exception:
            return err(400, "bad.request", "interval must be ISO/ISO")
        users = set()
        properties = {}  # participant attribute -> value ("property" predicates)
        for f in body.get("segmentFilters", []):
            for p in f.get("predicates", []):
                if p.get("dimension") == "userId":
                    users.add(p.get("value"))
                if p.get("type") == "property" and p.get("property"):
                    properties[p["property"]] = p.get("value")
        paging = body.get("paging") or {}
        size, number = min(int(paging.get("pageSize", 25)), 100), int(paging.get("pageNumber", 1))
        found = []
        for conv in sorted(self.conversations.values(), key=lambda c: c["startTime"]):
            agent = self.agent_participant(conv)
            if users and (agent is None or agent.get("userId") not in users):
                continue
            if properties and not any(all(q.get("attributes", {}).get(k) == v
                                          for k, v in properties.items())
                                      for q in conv["participants"]):
                continue
            if start <= parse_iso(conv["startTime"]) < end:
                found.append(self.analytics_tree(conv))
        page = found[(number - 1) * size: number * size]
        answer = {"totalHits": len(found)}
        if page:
            answer["conversations"] = page
        return 200, answer

    def wrapup(self, conversation_id, participant_id, comm_id, body):
        conv = self.conversations.get(conversation_id)
        if conv is None:
            return err(404, "not.found", "conversation not found")
        p = next((p for p in conv["participants"] if p["id"] == participant_id), None)
        if p is None:
            return err(404, "not.found", "participant not found")
        comm = next((c for key in MEDIA_KEYS.values() for c in p.get(key, []) if c["id"] == comm_id),
                    None)
        if comm is None:
            return err(404, "not.found", "communication not found")
        code = body.get("code")
        if not any(c["id"] == code for c in self.wrapup_codes):
            return err(400, "wrapup.code.not.found", "The wrap-up code %s does not exist" % code)
        if comm.get("state") != "disconnected":
            return err(400, "conversation.wrapup.communication.active",
                       "The communication is still active")
        if p.get("wrapup"):
            return err(409, "conversation.wrapup.already.set", "Wrap-up was already submitted")
        p["wrapup"] = {"code": code, "name": next(c["name"] for c in self.wrapup_codes
                                                   if c["id"] == code),
                       "notes": body.get("notes", ""), "tags": body.get("tags", []),
                       "endTime": iso()}
        p["wrapupRequired"] = False
        self.wrapups_done.append({"conversation": conversation_id, "participant": participant_id,
                                  "code": code})
        self.notify_conversation(conv)
        return 202, None

    def draft(self, method, conversation_id, body):
        conv = self.conversations.get(conversation_id)
        if conv is None or conv.get("_media") != "email":
            return err(404, "not.found", "email conversation not found")
        if method == "GET":
            d = self.drafts.get(conversation_id)
            return (200, d) if d else err(404, "not.found", "no draft")
        if method == "PUT":
            d = self.drafts.setdefault(conversation_id, {"id": "draft-" + conversation_id,
                                                         "state": "Created", "draftType": "Reply"})
            for key in ("to", "cc", "bcc", "subject", "textBody", "htmlBody"):
                if key in body:
                    d[key] = body[key]
            d["state"] = "Edited"
            d["time"] = iso()
            return 200, d
        return err(405, "method.not.allowed", "")

    def voicemail(self, method, ident, body):
        v = self.voicemails.get(ident)
        if v is None or v["deleted"]:
            return err(404, "not.found", "voicemail not found")
        if method == "GET":
            return 200, v
        if method == "PATCH":
            for key in ("read", "note"):
                if key in body:
                    v[key] = body[key]
            v["modifiedDate"] = iso()
            self.notify("v2.users.%s.voicemail.messages" % v["user"]["id"], dict(v, action="update"))
            return 200, v
        if method == "DELETE":
            v["deleted"] = True
            self.notify("v2.users.%s.voicemail.messages" % v["user"]["id"],
                        dict(v, action="delete"))
            return 204, None
        return err(405, "method.not.allowed", "")

    def voicemail_media(self, ident, query, fake):
        """The media endpoint: {id, mediaFileUri, mediaImageUri, waveformData}; the URI is a
        short-lived download link (a pre-signed URL on the real media host [inf]; here
        /media/<token> on this port, valid media_url_ttl_s, served without a bearer)."""
        v = self.voicemails.get(ident)
        if v is None or v["deleted"]:
            return err(404, "not.found", "voicemail not found")
        fmt = query.get("formatId", "WEBM")
        if fmt not in ("WAV", "NONE"):
            return err(400, "bad.request", "the fake serves formatId=WAV (or NONE) only")
        answer = {"id": ident, "mediaImageUri": "", "waveformData": [0.1, 0.5, 0.2]}
        if fmt == "WAV":
            token = uuid.uuid4().hex
            self.media_links[token] = (ident, time.time() + fake.config["media_url_ttl_s"])
            answer["mediaFileUri"] = "%s/media/%s.wav" % (self.api_base, token)
        return 200, answer

    def media_download(self, token):
        """GET of a download link: (status, bytes or error text)."""
        ident, expires = self.media_links.get(token, (None, 0))
        if ident is None:
            return 404, b"NoSuchKey"
        if expires <= time.time():
            return 403, b"AccessDenied: Request has expired"
        return 200, voicemail_audio(self.voicemails[ident])

    def scan(self, query):
        try:
            limit = int(query.get("limit", 100))
            after = int(query.get("cursor") or 0)
        except ValueError:
            return err(400, "bad.request", "bad cursor")
        if not 10 <= limit <= 200:
            return err(400, "bad.request", "limit must be 10..200")
        page = self.contacts[after: after + limit]
        answer = {"entities": page, "selfUri": "/api/v2/externalcontacts/scan/contacts"}
        if after + limit < len(self.contacts):
            cursor = str(after + limit)
            answer["cursors"] = {"after": cursor}
            answer["nextUri"] = "/api/v2/externalcontacts/scan/contacts?" + urllib.parse.urlencode(
                {"limit": limit, "cursor": cursor})
        return 200, answer

    def channels(self, method, path, body, fake):
        if path == "/api/v2/notifications/channels" and method == "POST":
            ident = str(uuid.uuid4())
            ttl = fake.config["channel_ttl_s"]
            fake.channels[ident] = {"topics": set(), "expires": time.time() + ttl, "socket": None,
                                    "used": time.time()}
            while len(fake.channels) > MAX_CHANNELS:
                # The 21st evicts the least recently used, preferring one without a live
                # connection [platform-apis.md 1.10].
                others = [c for c in fake.channels if c != ident]
                idle = [c for c in others if fake.channels[c]["socket"] is None]
                victim = min(idle or others, key=lambda c: fake.channels[c]["used"])
                fake.close_socket(victim, "close")
                del fake.channels[victim]
                fake.stats["channels_evicted"] = fake.stats.get("channels_evicted", 0) + 1
            return 200, {"id": ident, "connectUri": "%s/channels/%s" % (self.ws_base, ident),
                         "expires": iso(time.time() + ttl)}
        m = re.fullmatch(r"/api/v2/notifications/channels/([^/]+)(/subscriptions)?", path)
        channel = fake.channels.get(m.group(1)) if m else None
        if channel is None or channel["expires"] <= time.time():
            return err(404, "not.found", "channel not found")
        if not m.group(2):
            return (200, None) if method == "HEAD" else err(405, "method.not.allowed", "")
        if method in ("POST", "PUT"):
            if not isinstance(body, list):
                return err(400, "bad.request", "a list of topics")
            topics = set() if method == "PUT" else set(channel["topics"])
            entities = []
            for t in body:
                topic = t.get("id", "") if isinstance(t, dict) else ""
                user = re.fullmatch(r"v2\.users\.([^.]+)\..+", topic)
                if user and user.group(1) in self.users:
                    topics.add(topic)
                    entities.append({"id": topic, "state": "Permitted"})
                else:
                    entities.append({"id": topic, "state": "Rejected",
                                     "rejectionReason": "unknown topic"})
            if len(topics) > MAX_TOPICS:  # refused whole: the channel keeps its topics
                return err(400, "notification.channel.topic.limit",
                           "A channel holds at most %d topics" % MAX_TOPICS)
            channel["topics"] = topics
            channel["used"] = time.time()
            channel["expires"] = time.time() + fake.config["channel_ttl_s"]
            return 200, {"entities": entities}
        if method == "GET":
            return 200, {"entities": [{"id": t} for t in sorted(channel["topics"])]}
        if method == "DELETE":
            channel["topics"].clear()
            return 204, None
        return err(405, "method.not.allowed", "")

    # ------------------------------------------------------------------ control (the
    # platform's own activity: routing, customers, the web interface, supervisors)

    def control(self, path, body, query):
        if path == "/fake/user":
            self.add_user(body["id"])
            return 200, {"id": body["id"]}
        if path == "/fake/state":
            return 200, {"users": {u: {"presence": self.user_presence(s), "routing": s["routing"],
                                       "queues": s["queues"]} for u, s in self.users.items()},
                         "wrapups": self.wrapups_done, "drafts": self.drafts, "sent": self.sent,
                         "callbacks": self.callbacks, "voicemails": self.voicemails}
        if path == "/fake/contacts":
            self.contacts = [self.make_contact(i) for i in range(int(body.get("count", 0)))]
            return 200, {"count": len(self.contacts)}
        user = self.users.get(body.get("user", ""))
        if path in ("/fake/route", "/fake/voicemail", "/fake/presence", "/fake/web/logoff") and \
                user is None:
            return err(404, "not.found", "no such user")
        if path == "/fake/route":
            return 200, self.route_conversation(user, body)
        if path == "/fake/disconnect":
            conv = self.conversations.get(body.get("conversation", ""))
            if conv is None:
                return err(404, "not.found", "no such conversation")
            self.disconnect(conv)
            return 200, public(conv)
        if path == "/fake/voicemail":
            ident = body.get("id") or self.next_id("vm")
            v = {"id": ident, "read": False, "audioRecordingDurationSeconds": body.get("seconds", 17),
                 "audioRecordingSizeBytes": 27000, "createdDate": iso(), "modifiedDate": iso(),
                 "callerAddress": body.get("from", "tel:+358401234567"),
                 "callerName": body.get("name", "Ann Caller"), "deleted": False, "note": "",
                 "transcription": body.get("transcription", ""),
                 "user": {"id": user["id"]}, "conversation": {"id": self.next_id("c")}}
            self.voicemails[ident] = v
            self.notify("v2.users.%s.voicemail.messages" % user["id"], dict(v, action="create"))
            return 200, v
        if path == "/fake/presence":  # a supervisor or another client
            self.set_presence(user, body["definition"])
            return 200, self.user_presence(user)
        if path == "/fake/web/logoff":  # the website closed: the platform sets Offline
            self.set_presence(user, "pd-offline")
            return 200, self.user_presence(user)
        if path == "/fake/web/draft":  # the agent edits the reply draft in the web interface
            conv = self.conversations.get(body.get("conversation", ""))
            if conv is None or conv.get("_media") != "email":
                return err(404, "not.found", "no such email conversation")
            status, d = self.draft("PUT", conv["id"], body)
            self.notify_conversation(conv)  # the conversation's email changed [inf]
            return status, d
        return err(404, "not.found", "no control " + path)

    def route_conversation(self, user, body):
        media = body.get("media", "voice")
        key = MEDIA_KEYS[media]
        ident = body.get("id") or self.next_id("c")
        now = iso()
        address = body.get("from", "tel:+358401234567" if media == "voice" else "ann@example.com")
        customer = {"id": self.next_id("p"), "purpose": "customer", "name": body.get("name", "Ann"),
                    "address": address, "startTime": now,
                    key: [{"id": self.next_id("comm"), "state": "connected", "direction": "inbound"}]}
        agent = {"id": self.next_id("p"), "purpose": "agent", "userId": user["id"],
                 "queueId": body.get("queue", "queue-1"), "queueName": "Support", "startTime": now,
                 "wrapupRequired": True, "wrapupPrompt": "mandatory", "attributes": {},
                 key: [{"id": self.next_id("comm"), "state": "connected", "direction": "inbound",
                        "connectedTime": now}]}
        if media == "email":
            agent[key][0]["subject"] = customer[key][0]["subject"] = body.get("subject", "Question")
            self.email_messages[ident] = [{
                "id": self.next_id("email"), "from": {"email": address, "name": customer["name"]},
                "to": [{"email": "support@acme.example"}], "subject": body.get("subject",
                                                                                "Question"),
                "textBody": body.get("text", "Hello, I have a question."), "time": now,
                "state": "Sent", "selfUri": "/api/v2/conversations/emails/%s/messages" % ident}]
        if media == "message":
            mid = self.next_id("msg")
            self.message_data[mid] = {
                "id": mid, "textBody": body.get("text", "Hello?"), "direction": "inbound",
                "status": "received", "timestamp": now, "fromAddress": address,
                "_conversation": ident}
            customer[key][0]["messages"] = [{"messageId": mid, "messageStatus": "received",
                                             "messageTime": now, "messageSegmentCount": 1}]
        conv = {"id": ident, "_media": media, "startTime": now, "participants": [customer, agent],
                "selfUri": "/api/v2/conversations/" + ident}
        self.conversations[ident] = conv
        self.notify_conversation(conv)
        return public(conv)

    def disconnect(self, conv):
        now = iso()
        for p in conv["participants"]:
            for key in MEDIA_KEYS.values():
                for comm in p.get(key, []):
                    comm["state"] = "disconnected"
                    comm["disconnectedTime"] = now
            p["endTime"] = now
        conv["endTime"] = now
        self.notify_conversation(conv)
