#!/usr/bin/python3
"""liboutpost.so from another language: Python loads it with ctypes (no C++ glue) and drives
it end to end against a real outpost-server process: open, mutate offline, sync, change
callbacks from the agent's thread, wake, sync_for with a budget, an expired token refreshed
through the credentials callback, a rejected mutation retried.

    ctypes_test.py --lib build/capi/liboutpost.so --server build/apps/outpost-server
"""
import argparse
import hashlib
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_bool, c_char_p, c_int, c_size_t,
                    c_uint32, c_uint64, c_void_p)

ARGS = None
LIB = None

OK, INVALID_ARGUMENT, NOT_FOUND = 0, 1, 2
UNAUTHENTICATED, UNAVAILABLE, CANCELLED = 9, 13, 14
JSON = 0
AGENT_CONNECTED = 2


class Error(Structure):
    _fields_ = [("code", c_int), ("message", c_void_p), ("message_len", c_size_t),
                ("retryable", c_bool)]


class Bytes(Structure):
    _fields_ = [("data", c_void_p), ("len", c_size_t)]


class Progress(Structure):
    _fields_ = [("phase", c_int), ("pending_mutations", c_uint64),
                ("mutations_confirmed", c_uint64), ("mutations_rejected", c_uint64),
                ("changes_received", c_uint64), ("connects", c_uint64)]


class Summary(Structure):
    _fields_ = [("caught_up", c_bool), ("budget_exhausted", c_bool), ("elapsed_ms", c_uint64),
                ("changes_received", c_uint64), ("mutations_pushed", c_uint64),
                ("progress", Progress)]


STATE_FN = CFUNCTYPE(None, c_void_p, c_int, POINTER(Error), c_uint64)
PROGRESS_FN = CFUNCTYPE(None, c_void_p, POINTER(Progress))
CREDENTIALS_FN = CFUNCTYPE(None, c_void_p, c_void_p, POINTER(Error))
CHANGES_FN = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t)
SIGNAL_FN = CFUNCTYPE(None, c_void_p)
BLOB_PROGRESS_FN = CFUNCTYPE(c_bool, c_void_p, c_uint64, c_uint64)


class AgentOptions(Structure):
    _fields_ = [("struct_size", c_uint32),
                ("server_url", c_char_p), ("server_url_len", c_size_t),
                ("token", c_char_p), ("token_len", c_size_t),
                ("replica_path", c_char_p), ("replica_path_len", c_size_t),
                ("sync_on_commit", c_bool), ("urgent_first", c_bool),
                ("backoff_base_ms", c_uint32), ("backoff_max_ms", c_uint32),
                ("connect_timeout_ms", c_uint32),
                ("tls_ca_path", c_char_p), ("tls_ca_path_len", c_size_t),
                ("tls_pinned_cert_pem", c_char_p), ("tls_pinned_cert_pem_len", c_size_t),
                ("on_state", STATE_FN), ("on_state_user_data", c_void_p),
                ("on_progress", PROGRESS_FN), ("on_progress_user_data", c_void_p),
                ("on_credentials", CREDENTIALS_FN), ("on_credentials_user_data", c_void_p)]


def load(path):
    lib = ctypes.CDLL(path)
    p, e = c_void_p, POINTER(Error)
    sigs = {
        "outpost_abi_version": (c_uint32, []),
        "outpost_version": (c_char_p, []),
        "outpost_error_clear": (None, [e]),
        "outpost_bytes_free": (None, [POINTER(Bytes)]),
        "outpost_agent_options_init": (None, [POINTER(AgentOptions)]),
        "outpost_agent_open": (c_int, [POINTER(AgentOptions), POINTER(c_void_p), e]),
        "outpost_agent_close": (c_int, [p, e]),
        "outpost_agent_replica": (c_void_p, [p]),
        "outpost_agent_start": (c_int, [p, e]),
        "outpost_agent_stop": (c_int, [p, e]),
        "outpost_agent_wake": (c_int, [p, c_char_p, c_size_t, e]),
        "outpost_agent_set_token": (c_int, [p, c_char_p, c_size_t, e]),
        "outpost_agent_sync_for": (c_int, [p, c_uint32, c_uint32, POINTER(Summary), e]),
        "outpost_agent_state_get": (c_int, [p, POINTER(c_int), e, e]),
        "outpost_replica_mutate": (c_int, [p, c_int, c_char_p, c_size_t, c_char_p, c_size_t,
                                           POINTER(c_uint64), e]),
        "outpost_replica_get": (c_int, [p, c_int, c_char_p, c_size_t, c_char_p, c_size_t,
                                        POINTER(Bytes), POINTER(c_bool), e]),
        "outpost_replica_query": (c_int, [p, c_int, c_char_p, c_size_t, POINTER(Bytes), e]),
        "outpost_replica_search": (c_int, [p, c_int, c_char_p, c_size_t, c_char_p, c_size_t,
                                           c_char_p, c_size_t, c_bool, c_uint32,
                                           POINTER(Bytes), e]),
        "outpost_replica_pending_count": (c_int, [p, POINTER(c_uint64), e]),
        "outpost_replica_rejected": (c_int, [p, POINTER(Bytes), e]),
        "outpost_replica_retry_rejected": (c_int, [p, c_uint64, c_int, c_char_p, c_size_t,
                                                   POINTER(c_uint64), e]),
        "outpost_replica_subscribe": (c_int, [p, CHANGES_FN, c_void_p, POINTER(c_uint64), e]),
        "outpost_replica_subscribe_pending": (c_int, [p, SIGNAL_FN, c_void_p,
                                                      POINTER(c_uint64), e]),
        "outpost_replica_drain_changes": (c_int, [p, c_uint64, POINTER(Bytes), POINTER(c_bool),
                                                  e]),
        "outpost_replica_unsubscribe": (c_int, [p, c_uint64, e]),
        "outpost_agent_voicemail_audio": (c_int, [p, c_char_p, c_size_t, BLOB_PROGRESS_FN,
                                                  c_void_p, POINTER(Bytes), e]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


class OutpostError(Exception):
    def __init__(self, code, message):
        super().__init__("%d: %s" % (code, message))
        self.code, self.message = code, message


def call(fn, *args):
    """Calls an outpost_* function whose last parameter is the error; raises on failure."""
    error = Error()
    code = fn(*args, byref(error))
    message = ctypes.string_at(error.message, error.message_len).decode() if error.message else ""
    LIB.outpost_error_clear(byref(error))
    if code != OK:
        raise OutpostError(code, message)


def take(out):
    text = ctypes.string_at(out.data, out.len).decode() if out.data else ""
    LIB.outpost_bytes_free(byref(out))
    return text


class Server:
    """A real outpost-server on 127.0.0.1 with the demo contact center seeded."""

    def __init__(self, binary, work):
        self.binary, self.data = binary, os.path.join(work, "server")
        subprocess.run([binary, "seed", "--data", self.data, "--tenant", "acme", "--user",
                        "agent-1", "--contacts", "50"], check=True, capture_output=True)
        self.log = open(os.path.join(work, "server.log"), "w+")
        self.process = subprocess.Popen([binary, "serve", "--data", self.data, "--listen",
                                         "127.0.0.1:0"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            self.log.seek(0)
            found = re.search(r"listening on ([0-9.:]+)", self.log.read())
            if found:
                self.url = "http://" + found.group(1)
                return
            time.sleep(0.05)
        raise RuntimeError("outpost-server did not start")

    def token(self, device, ttl=None):
        command = [self.binary, "token", "--data", self.data, "--tenant", "acme", "--user",
                   "agent-1", "--device", device]
        if ttl is not None:
            command += ["--ttl", str(ttl)]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


class Agent:
    """An outpost_agent and the ctypes callbacks it holds (kept alive here)."""

    def __init__(self, test, name, token, on_credentials=None, url=None):
        self.keep = []
        self.options = AgentOptions()
        LIB.outpost_agent_options_init(byref(self.options))
        test.assertEqual(self.options.struct_size, ctypes.sizeof(AgentOptions))
        self.url, self.token = (url or SERVER.url).encode(), token.encode()
        self.path = os.path.join(test.work, name + ".db").encode()
        o = self.options
        o.server_url, o.server_url_len = self.url, len(self.url)
        o.token, o.token_len = self.token, len(self.token)
        o.replica_path, o.replica_path_len = self.path, len(self.path)
        o.backoff_base_ms, o.backoff_max_ms = 20, 300
        if on_credentials is not None:
            fn = CREDENTIALS_FN(on_credentials)
            self.keep.append(fn)
            o.on_credentials = fn
        self.handle = c_void_p()
        call(LIB.outpost_agent_open, byref(o), byref(self.handle))
        self.replica = c_void_p(LIB.outpost_agent_replica(self.handle))

    def close(self):
        if self.handle:
            call(LIB.outpost_agent_close, self.handle)
            self.handle = None

    def sync_for(self, budget_ms, max_failures=0):
        summary = Summary()
        try:
            call(LIB.outpost_agent_sync_for, self.handle, budget_ms, max_failures, byref(summary))
            return OK, summary
        except OutpostError as e:
            return e.code, summary

    def mutate(self, name, args):
        text, mutation_id = json.dumps(args).encode(), c_uint64()
        call(LIB.outpost_replica_mutate, self.replica, JSON, name.encode(), len(name), text,
             len(text), byref(mutation_id))
        return mutation_id.value

    def get(self, collection, key):
        out, found = Bytes(), c_bool()
        call(LIB.outpost_replica_get, self.replica, JSON, collection.encode(), len(collection),
             key.encode(), len(key), byref(out), byref(found))
        text = take(out)
        return json.loads(text) if found.value else None

    def query(self, spec):
        text, out = json.dumps(spec).encode(), Bytes()
        call(LIB.outpost_replica_query, self.replica, JSON, text, len(text), byref(out))
        return json.loads(take(out))

    def search(self, collection, text, limit=0):
        out, text = Bytes(), text.encode()
        call(LIB.outpost_replica_search, self.replica, JSON, collection.encode(), len(collection),
             text, len(text), None, 0, False, limit, byref(out))
        return json.loads(take(out))

    def pending(self):
        count = c_uint64()
        call(LIB.outpost_replica_pending_count, self.replica, byref(count))
        return count.value

    def rejected(self):
        out = Bytes()
        call(LIB.outpost_replica_rejected, self.replica, byref(out))
        return json.loads(take(out))


def eventually(done, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return True
        time.sleep(0.02)
    return done()


class CTypesTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="outpost-ctypes-", dir=WORK)
        self.agents = []

    def tearDown(self):
        for agent in self.agents:
            agent.close()

    def agent(self, name, token=None, **kwargs):
        agent = Agent(self, name, token or SERVER.token(name), **kwargs)
        self.agents.append(agent)
        return agent

    def test_version(self):
        self.assertEqual(LIB.outpost_abi_version(), 1)
        self.assertRegex(LIB.outpost_version().decode(), r"^\d+\.\d+\.\d+$")

    def test_errors_come_back_as_codes_and_messages(self):
        phone = self.agent("phone")
        with self.assertRaises(OutpostError) as refused:
            phone.mutate("no_such_mutator", {})
        self.assertEqual(refused.exception.code, NOT_FOUND)
        self.assertIn("no_such_mutator", refused.exception.message)
        with self.assertRaises(OutpostError) as bad:
            phone.query({"collection": "voicemail", "where": [{"column": "read"}]})
        self.assertEqual(bad.exception.code, INVALID_ARGUMENT)

    def test_mutate_offline_then_sync_and_read_today(self):
        phone = self.agent("phone")
        draft_id = phone.mutate("save_draft", {"draft": {"id": "py-1", "body": "Dear Ann,"}})
        self.assertGreater(draft_id, 0)
        self.assertEqual(phone.pending(), 1)  # offline: in the outbox, on disk
        code, summary = phone.sync_for(20000)
        self.assertEqual(code, OK)
        self.assertTrue(summary.caught_up)
        self.assertEqual(phone.pending(), 0)
        self.assertGreater(summary.changes_received, 0)
        voicemail = phone.query({"collection": "voicemail", "limit": 5})
        self.assertTrue(voicemail, "the seeded voicemail arrived")
        self.assertTrue(phone.query({"collection": "interaction"}), "today's journal arrived")
        contact = phone.query({"collection": "contact", "limit": 1})[0]
        found = phone.search("contact", contact["first_name"][:4])
        self.assertIn(contact["id"], [c["id"] for c in found])
        with self.assertRaises(OutpostError) as short:
            phone.search("contact", "ab")  # "contains" needs 3 characters
        self.assertEqual(short.exception.code, INVALID_ARGUMENT)
        # Another device of the same agent sees the draft: it reached the server.
        tablet = self.agent("tablet")
        self.assertEqual(tablet.sync_for(20000)[0], OK)
        self.assertEqual(tablet.get("draft", "py-1")["body"], "Dear Ann,")

    def test_voicemail_audio_is_a_verified_file_with_progress(self):
        phone = self.agent("phone")
        self.assertEqual(phone.sync_for(20000)[0], OK)
        voicemail = [v for v in phone.query({"collection": "voicemail", "limit": 20})
                     if v.get("audio_sha256")][0]
        seen = []

        def on_progress(user, done, total):
            seen.append((done, total))
            return True
        progress = BLOB_PROGRESS_FN(on_progress)
        ident, out = voicemail["id"].encode(), Bytes()
        call(LIB.outpost_agent_voicemail_audio, phone.handle, ident, len(ident), progress, None,
             byref(out))
        path = take(out)
        with open(path, "rb") as audio:
            data = audio.read()
        self.assertEqual(hashlib.sha256(data).hexdigest(), voicemail["audio_sha256"])
        self.assertEqual(data[:4], b"RIFF")
        self.assertEqual(seen[-1], (len(data), len(data)))
        with self.assertRaises(OutpostError) as missing:
            call(LIB.outpost_agent_voicemail_audio, phone.handle, b"nope", 4, progress, None,
                 byref(out))
        self.assertEqual(missing.exception.code, NOT_FOUND)

    def test_change_callbacks_arrive_on_the_agents_thread_and_wake(self):
        phone, tablet = self.agent("phone"), self.agent("tablet")
        self.assertEqual(phone.sync_for(20000)[0], OK)
        heard, lock = [], threading.Lock()

        def on_changes(user, data, size):
            with lock:
                heard.append((threading.get_ident(), ctypes.string_at(data, size).decode()))

        callback, subscription = CHANGES_FN(on_changes), c_uint64()
        call(LIB.outpost_replica_subscribe, phone.replica, callback, None, byref(subscription))
        signals = []
        signal = SIGNAL_FN(lambda user: signals.append(threading.get_ident()))
        pending_id = c_uint64()
        call(LIB.outpost_replica_subscribe_pending, phone.replica, signal, None, byref(pending_id))
        call(LIB.outpost_agent_start, phone.handle)
        self.assertTrue(eventually(lambda: self.state(phone) == AGENT_CONNECTED))
        tablet.mutate("save_draft", {"draft": {"id": "from-tablet", "body": "hello"}})
        self.assertEqual(tablet.sync_for(20000)[0], OK)
        call(LIB.outpost_agent_wake, phone.handle, b"push", 4)
        self.assertTrue(eventually(lambda: any("from-tablet" in c for _, c in heard)), heard)
        self.assertTrue(all(thread != threading.get_ident() for thread, _ in heard))
        self.assertTrue(signals)
        out, had = Bytes(), c_bool()
        call(LIB.outpost_replica_drain_changes, phone.replica, pending_id, byref(out), byref(had))
        self.assertTrue(had.value)
        self.assertIn("from-tablet", json.loads(take(out))["keys"]["draft"])
        call(LIB.outpost_replica_unsubscribe, phone.replica, subscription)
        call(LIB.outpost_replica_unsubscribe, phone.replica, pending_id)
        self.assertEqual(phone.get("draft", "from-tablet")["body"], "hello")

    def state(self, agent):
        state = c_int()
        call(LIB.outpost_agent_state_get, agent.handle, byref(state), None)
        return state.value

    def test_sync_for_respects_its_budget(self):
        phone = self.agent("phone")
        started = time.time()
        code, summary = phone.sync_for(1)  # far too little for an initial sync
        self.assertLess(time.time() - started, 5)
        if code != OK:  # (a very fast machine may finish in 1 ms)
            self.assertEqual(code, CANCELLED)
            self.assertTrue(summary.budget_exhausted)
        code, summary = phone.sync_for(20000)
        self.assertEqual(code, OK)
        self.assertTrue(summary.caught_up)
        # Nobody listening: give up after two failed attempts, long before the budget.
        dead = self.agent("offline", url="http://127.0.0.1:1")
        started = time.time()
        code, summary = dead.sync_for(20000, max_failures=2)
        self.assertEqual(code, UNAVAILABLE)
        self.assertLess(time.time() - started, 10)

    def test_expired_token_is_refreshed_through_the_callback(self):
        asked = []

        def on_credentials(user, agent, why):
            asked.append(why.contents.code)
            fresh = SERVER.token("phone").encode()
            call(LIB.outpost_agent_set_token, agent, fresh, len(fresh))

        phone = self.agent("phone", token=SERVER.token("phone", ttl=2),
                           on_credentials=on_credentials)
        self.assertEqual(phone.sync_for(20000)[0], OK)
        time.sleep(2.2)  # the short-lived token expires
        phone.mutate("save_draft", {"draft": {"id": "after-expiry", "body": "not lost"}})
        code, summary = phone.sync_for(20000)
        self.assertEqual(code, OK)
        self.assertEqual(asked, [UNAUTHENTICATED])
        self.assertEqual(phone.pending(), 0)
        tablet = self.agent("tablet")
        self.assertEqual(tablet.sync_for(20000)[0], OK)
        self.assertEqual(tablet.get("draft", "after-expiry")["body"], "not lost")

    def test_rejected_mutation_is_retried_with_edited_args(self):
        phone, tablet = self.agent("phone"), self.agent("tablet")
        phone.mutate("save_draft", {"draft": {"id": "d1", "body": "Dear Ann"}})
        self.assertEqual(phone.sync_for(20000)[0], OK)
        self.assertEqual(tablet.sync_for(20000)[0], OK)
        tablet.mutate("delete_draft", {"id": "d1"})  # offline, while the phone edits it
        phone.mutate("save_draft", {"draft": {"id": "d1", "body": "Dear Ann, thanks"}})
        self.assertEqual(phone.sync_for(20000)[0], OK)
        self.assertEqual(tablet.sync_for(20000)[0], OK)
        rejected = tablet.rejected()
        self.assertEqual(len(rejected), 1, rejected)
        self.assertEqual(rejected[0]["name"], "delete_draft")
        self.assertIn("edited elsewhere", rejected[0]["reason"])
        self.assertEqual(tablet.get("draft", "d1")["body"], "Dear Ann, thanks")
        edited, new_id = b'{"id": "d1"}', c_uint64()
        call(LIB.outpost_replica_retry_rejected, tablet.replica, rejected[0]["id"], JSON, edited,
             len(edited), byref(new_id))
        self.assertEqual(tablet.sync_for(20000)[0], OK)
        self.assertEqual(tablet.rejected(), [])
        self.assertEqual(phone.sync_for(20000)[0], OK)
        self.assertIsNone(phone.get("draft", "d1"))


def main():
    global ARGS, LIB, SERVER, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", required=True)
    parser.add_argument("--server", required=True)
    ARGS, rest = parser.parse_known_args()
    LIB = load(ARGS.lib)
    WORK = tempfile.mkdtemp(prefix="outpost-ctypes-")
    SERVER = Server(ARGS.server, WORK)
    try:
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
        ok = program.result.wasSuccessful()
    finally:
        SERVER.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
