#!/usr/bin/env python3
"""jwks_server.py -- a small OIDC issuer serving a JWKS over real HTTPS, for the keyset tests.

Serves, on 127.0.0.1:
  HTTPS (a test CA made at start-up; DIR/ca.pem)
    GET /.well-known/openid-configuration   issuer = https://127.0.0.1:PORT, jwks_uri below
    GET /jwks                               the current JWKS, with the configured Cache-Control
  HTTP (admin, plain)
    POST /_admin/jwks      body: the JWKS document to serve from now on (any bytes)
    POST /_admin/settings  body: {"cache_control": "max-age=600" | null,
                                  "fault": null | "status" | "malformed" | "down",
                                  "fault_status": 500,
                                  "retry_after": "120" | null,   (sent with fault "status")
                                  "issuer_override": "https://other"}   (any subset)
    GET  /_admin/requests  [{"method", "path"}, ...] every HTTPS request so far
    DELETE /_admin/requests
    GET  /_admin/health

Faults: "status" answers fault_status with a JSON error body; "malformed"
answers 200 with a body that is not JSON; "down" closes the connection
without an answer. They apply to both HTTPS paths.

  python3 tests/fakes/jwks_server.py --state-dir DIR

writes DIR/jwks_server.json once it listens: {"https_port", "admin_port",
"issuer", "jwks_uri", "ca_file"}. Default JWKS: one EC P-256 key.

Needs cryptography only (the test venv: tests/python/requirements/test.txt).
"""

import argparse
import base64
import datetime
import http.server
import json
import os
import socketserver
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_tls(state_dir):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokenwell jwks test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file = os.path.join(state_dir, "ca.pem")
    with open(ca_file, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = os.path.join(state_dir, "server.pem")
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return ca_file, cert_file


def default_jwks():
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "default-1", "alg": "ES256",
                                 "use": "sig", "x": b64url(key.x.to_bytes(32, "big")),
                                 "y": b64url(key.y.to_bytes(32, "big"))}]}).encode()


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.jwks = default_jwks()
        self.cache_control = None
        self.fault = None
        self.fault_status = 500
        self.issuer_override = None
        self.retry_after = None
        self.requests = []
        self.issuer = ""
        self.jwks_uri = ""


STATE = State()


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HttpsHandler(Quiet):
    def do_GET(self):
        with STATE.lock:
            STATE.requests.append({"method": "GET", "path": self.path})
            fault, status, cc = STATE.fault, STATE.fault_status, STATE.cache_control
            jwks, issuer = STATE.jwks, STATE.issuer_override or STATE.issuer
            retry_after = STATE.retry_after
        if fault == "down":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault == "status":
            headers = [("Content-Type", "application/json")]
            if retry_after is not None:
                headers.append(("Retry-After", retry_after))
            return self.send(status, b'{"error":"injected"}', headers)
        if fault == "malformed":
            return self.send(200, b"<html>not json", [("Content-Type", "text/html")])
        if self.path == "/.well-known/openid-configuration":
            doc = {"issuer": issuer, "jwks_uri": STATE.jwks_uri,
                   "id_token_signing_alg_values_supported": ["ES256", "RS256"]}
            return self.send(200, json.dumps(doc).encode(), [("Content-Type", "application/json")])
        if self.path == "/jwks":
            headers = [("Content-Type", "application/json")]
            if cc is not None:
                headers.append(("Cache-Control", cc))
            return self.send(200, jwks, headers)
        self.send(404, b'{"error":"not found"}')


class AdminHandler(Quiet):
    def body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def do_GET(self):
        if self.path == "/_admin/requests":
            with STATE.lock:
                return self.send(200, json.dumps(STATE.requests).encode())
        if self.path == "/_admin/health":
            return self.send(200, b"ok")
        self.send(404, b"")

    def do_DELETE(self):
        if self.path == "/_admin/requests":
            with STATE.lock:
                STATE.requests.clear()
            return self.send(200, b"{}")
        self.send(404, b"")

    def do_POST(self):
        data = self.body()
        with STATE.lock:
            if self.path == "/_admin/jwks":
                STATE.jwks = data
                return self.send(200, b"{}")
            if self.path == "/_admin/settings":
                s = json.loads(data or b"{}")
                if "cache_control" in s:
                    STATE.cache_control = s["cache_control"]
                if "fault" in s:
                    STATE.fault = s["fault"]
                if "fault_status" in s:
                    STATE.fault_status = int(s["fault_status"])
                if "retry_after" in s:
                    STATE.retry_after = s["retry_after"]
                if "issuer_override" in s:
                    STATE.issuer_override = s["issuer_override"]
                return self.send(200, b"{}")
        self.send(404, b"")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.state_dir, exist_ok=True)
    ca_file, cert_file = make_tls(args.state_dir)

    https = Server(("127.0.0.1", 0), HttpsHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file)
    https.socket = ctx.wrap_socket(https.socket, server_side=True)
    admin = Server(("127.0.0.1", 0), AdminHandler)
    port = https.server_address[1]
    STATE.issuer = "https://127.0.0.1:%d" % port
    STATE.jwks_uri = STATE.issuer + "/jwks"
    for srv in (https, admin):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    info = {"https_port": port, "admin_port": admin.server_address[1], "issuer": STATE.issuer,
            "jwks_uri": STATE.jwks_uri, "ca_file": ca_file}
    tmp = os.path.join(args.state_dir, "jwks_server.json.tmp")
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.rename(tmp, os.path.join(args.state_dir, "jwks_server.json"))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
