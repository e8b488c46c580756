"""Shared machinery of the fake APNs and fake FCM: a test CA and server certificate made at
start, an HTTP/2-over-TLS server on loopback (asyncio + python3-h2), JWT parsing and
signature checks, scripted failure answers, and a plain HTTP/1.1 control port the tests use
to script answers and read what the fake received.

The fakes follow shared/reference/platform-apis.md (sections 2 and 3), not outpost's sender.
"""

import asyncio
import base64
import datetime
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
import ipaddress


# ---------------------------------------------------------------- certificates and keys

def write_pem(path, data):
    with open(path, "wb") as f:
        f.write(data)


def private_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls_files(directory):
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "outpost fake push test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: os.path.join(directory, name) for name in ("ca.pem", "server.pem", "server.key")}
    write_pem(paths["ca.pem"], ca.public_bytes(serialization.Encoding.PEM))
    write_pem(paths["server.pem"], cert.public_bytes(serialization.Encoding.PEM))
    write_pem(paths["server.key"], private_pem(key))
    return paths


# ---------------------------------------------------------------- JWT

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_jwt(token):
    """(header, claims, signing_input, signature) or None when malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, (parts[0] + "." + parts[1]).encode(), signature


def verify_es256(public_key, signing_input, signature):
    """JWS ES256: the signature is r || s, 32 bytes each (RFC 7518 3.4)."""
    if len(signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        return True
    except Exception:  # cryptography raises InvalidSignature
        return False


def verify_rs256(public_key, signing_input, signature):
    try:
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        return True
    except Exception:
        return False


# ---------------------------------------------------------------- answers and state

class Answer:
    def __init__(self, status=200, headers=None, body=b"", delay=0.0, action=None):
        self.status = status
        self.headers = headers or []
        self.body = body if isinstance(body, bytes) else body.encode()
        self.delay = delay
        self.action = action  # None, "reset_stream", "reset_connection", "goaway"


class FakeState:
    """What the tests script and query; guarded by one lock (control thread vs loop)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.script = []        # answer specs for the next requests, in order
        self.received = []      # one record per request
        self.unregistered = set()
        self.connections = 0
        self.max_concurrent = 0  # most streams open at once on one connection
        self.refused_streams = 0  # opened past the advertised limit

    def next_script(self, where):
        with self.lock:
            for i, spec in enumerate(self.script):
                if spec.get("on", "send") == where:
                    return self.script.pop(i)
        return None

    def record(self, entry):
        with self.lock:
            self.received.append(entry)


# ---------------------------------------------------------------- HTTP/2 server

class H2Protocol(asyncio.Protocol):
    """One client connection. The service's handle(request, protocol) returns an Answer."""

    def __init__(self, service):
        self.service = service
        self.conn = None
        self.transport = None
        self.streams = {}
        self.open_streams = 0
        self.authorized = False
        self.id = 0

    def connection_made(self, transport):
        self.transport = transport
        with self.service.state.lock:
            self.service.state.connections += 1
            self.id = self.service.state.connections
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        # Advertised at once; h2 applies it only once the client acknowledges, so a stream the
        # client opened before it saw the limit is refused here (RST_STREAM REFUSED_STREAM,
        # RFC 9113 5.1.2) rather than failing the whole connection.
        self.limit = self.service.initial_max_streams
        self.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.limit})
        self.flush()

    def flush(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.conn.data_to_send())

    def allow_more_streams(self, count):
        """APNs: after the first valid provider token the connection allows more streams."""
        if not self.authorized:
            self.authorized = True
            self.limit = count
            self.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: count})
            self.flush()

    def data_received(self, data):
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                if self.open_streams >= self.limit:
                    self.conn.reset_stream(event.stream_id,
                                           error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                    with self.service.state.lock:
                        self.service.state.refused_streams += 1
                    continue
                self.streams[event.stream_id] = {"headers": dict(event.headers), "body": bytearray()}
                self.open_streams += 1
                with self.service.state.lock:
                    self.service.state.max_concurrent = max(self.service.state.max_concurrent,
                                                            self.open_streams)
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in self.streams:
                    self.streams[event.stream_id]["body"] += event.data
                try:
                    self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                        event.stream_id)
                except h2.exceptions.StreamClosedError:
                    pass  # a refused stream's data
            elif isinstance(event, h2.events.StreamEnded):
                request = self.streams.pop(event.stream_id, None)
                if request is not None:
                    request["stream"] = event.stream_id
                    asyncio.ensure_future(self.answer(event.stream_id, request))
            elif isinstance(event, h2.events.StreamReset):
                if self.streams.pop(event.stream_id, None) is not None:
                    self.open_streams -= 1
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()
        self.flush()

    async def answer(self, stream_id, request):
        try:
            answer = self.service.handle(request, self)
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if self.transport is None or self.transport.is_closing():
                return
            if answer.action == "reset_stream":
                self.conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
            elif answer.action == "reset_connection":
                self.transport.abort()
                return
            elif answer.action == "goaway":
                self.conn.close_connection(error_code=0, additional_data=answer.body,
                                           last_stream_id=max(stream_id - 2, 0))
                self.flush()
                self.transport.close()
                return
            else:
                headers = [(":status", str(answer.status)),
                           ("content-length", str(len(answer.body)))] + answer.headers
                self.conn.send_headers(stream_id, headers, end_stream=not answer.body)
                if answer.body:
                    self.conn.send_data(stream_id, answer.body, end_stream=True)
            self.flush()
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            pass  # the client gave up on the stream (timeout) or the connection is gone
        finally:
            self.open_streams -= 1

    def connection_lost(self, exc):
        self.transport = None


# ---------------------------------------------------------------- control port

def start_control(service):
    state = service.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, obj, status=200):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with state.lock:
                if self.path == "/received":
                    return self.reply(state.received)
                if self.path == "/stats":
                    return self.reply({"connections": state.connections,
                                       "max_concurrent_streams": state.max_concurrent,
                                       "script_left": len(state.script),
                                       "refused_streams": state.refused_streams,
                                       **service.stats()})
            self.reply({"error": "no such path"}, 404)

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            with state.lock:
                if self.path == "/script":
                    state.script.extend(body)
                elif self.path == "/unregister":
                    state.unregistered.add(body["token"])
                elif self.path == "/clear":
                    state.received.clear()
                    state.script.clear()
                elif not service.control(self.path, body):
                    return self.reply({"error": "no such path"}, 404)
            self.reply({"ok": True})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def scripted_answer(spec, make_error):
    """An Answer from a test's script entry: {status, reason, retry_after, delay, action}."""
    if spec.get("action"):
        return Answer(action=spec["action"], delay=float(spec.get("delay", 0)),
                      body=json.dumps({"reason": spec.get("reason", "Shutdown")}))
    if "status" not in spec:
        return None  # delay only: answer normally, late
    answer = make_error(int(spec["status"]), spec.get("reason", ""), spec)
    if spec.get("retry_after") is not None:
        answer.headers.append(("retry-after", str(spec["retry_after"])))
    answer.delay = float(spec.get("delay", 0))
    return answer


def serve(service, directory):
    """Binds the TLS port and the control port, prints one READY line, serves forever."""
    tls = make_tls_files(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls["server.pem"], tls["server.key"])
    context.set_alpn_protocols(["h2"])
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: H2Protocol(service), "127.0.0.1", 0, ssl=context))
    port = server.sockets[0].getsockname()[1]
    control_port = start_control(service)
    ready = {"ready": True, "port": port, "control_port": control_port, "ca": tls["ca.pem"],
             "base_url": "https://127.0.0.1:%d" % port}
    ready.update(service.credentials(directory, port))
    print(json.dumps(ready), flush=True)
    loop.run_forever()


def now():
    return time.time()
