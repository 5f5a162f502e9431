#!/usr/bin/env python3
"""standin_test.py -- the Azure Redis stand-in is as strict as Azure (label integration:redis).

Against one redis-server behind tests/fakes/azure_redis_standin.py, with tokens
from the Entra stand-in (3-second lifetime for the expiry cases):
  - only the Entra stand-in's tokens, for their oid, are accepted (AUTH and HELLO AUTH);
  - a forged signature, another audience, an expired token, a password alone,
    or another username are refused with Redis's own WRONGPASS;
  - nothing runs before AUTH (NOAUTH, from the real server);
  - at its token's exp a connection is closed, unless it re-AUTHed with a newer token;
  - a RESP2 subscriber's AUTH is refused by Redis and not credited.
Waits are on real events (a socket's EOF) with generous bounds; nothing sleeps to synchronise.
"""

import base64
import json
import os
import socket
import ssl
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from redis_env import PYTHON, wait_for_file  # noqa: E402

import subprocess  # noqa: E402
import tempfile  # noqa: E402
import shutil  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Resp:
    """A minimal RESP2 client on a raw socket."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return line.decode()
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind in (b"*", b"%"):
            n = int(rest) * (2 if kind == b"%" else 1)
            return [self.reply() for _ in range(max(n, 0))]
        raise AssertionError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def closed_by_server(self, bound=30):
        """True once the server closes the connection (EOF), False if still open after `bound` s."""
        self.sock.settimeout(bound)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class StandInTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tokenwell-standin-")
        cls.procs = []
        try:
            cls.procs.append(("entra", subprocess.Popen(
                [PYTHON, os.path.join(ROOT, "tests/fakes/entra_standin.py"), "--port", "0", "--state-dir",
                 f"{cls.dir}/entra"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
            wait_for_file(f"{cls.dir}/entra/standin.json", cls.procs)
            cls.procs.append(("redis", subprocess.Popen(
                [PYTHON, os.path.join(ROOT, "tests/fakes/azure_redis_standin.py"), "--entra", f"{cls.dir}/entra",
                 "--state-dir", f"{cls.dir}/redis"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
            wait_for_file(f"{cls.dir}/redis/azure_redis.json", cls.procs)
        except BaseException:
            cls.tearDownClass()
            raise
        with open(f"{cls.dir}/entra/standin.json") as f:
            cls.entra = json.load(f)
        with open(f"{cls.dir}/redis/azure_redis.json") as f:
            cls.port = json.load(f)["nodes"][0]["port"]
        cls.tls = ssl.create_default_context(cafile=cls.entra["ca_file"])
        with open(cls.entra["files"]["client_secret"]) as f:
            cls.secret = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        for _, p in cls.procs:
            p.terminate()
        for _, p in cls.procs:
            p.wait(timeout=15)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def admin(self, path, body):
        req = urllib.request.Request(self.entra["admin_url"] + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def token(self, lifetime=3600, scope="https://redis.azure.com/.default"):
        self.admin("/settings", {"token_lifetime": lifetime})
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": self.entra["client_id"],
                                       "scope": scope, "client_secret": self.secret}).encode()
        url = f"{self.entra['base_url']}{self.entra['tenant']}/oauth2/v2.0/token"
        with urllib.request.urlopen(url, data=form, context=self.tls, timeout=10) as r:
            return json.load(r)["access_token"]

    def connect(self):
        c = Resp(self.port)
        self.addCleanup(c.close)
        return c

    def test_entra_token_for_its_oid_is_accepted(self):
        c = self.connect()
        self.assertEqual(c.call("AUTH", self.entra["oid"], self.token()), "+OK")
        self.assertEqual(c.call("SET", "k", "v"), "+OK")
        self.assertEqual(c.call("GET", "k"), "v")

    def test_hello_with_auth_is_checked_too(self):
        c = self.connect()
        reply = c.call("HELLO", "3", "AUTH", self.entra["oid"], self.token())
        self.assertIsInstance(reply, list)  # the server's HELLO map, as RESP3
        self.assertEqual(c.call("PING"), "+PONG")
        bad = self.connect()
        self.assertTrue(bad.call("HELLO", "3", "AUTH", self.entra["oid"], "x.y.z").startswith("-WRONGPASS"))

    def test_entra_takes_what_msal_go_sends(self):
        # MSAL Go (azidentity, go-redis-entraid) adds the OpenID Connect scopes and needs the
        # authorize endpoint in the tenant's discovery document; Entra accepts both.
        c = self.connect()
        token = self.token(scope="https://redis.azure.com/.default openid offline_access profile")
        self.assertEqual(c.call("AUTH", self.entra["oid"], token), "+OK")
        for scope in ("openid profile", "https://redis.azure.com/.default https://graph.microsoft.com/.default"):
            with self.assertRaises(urllib.error.HTTPError) as e:
                self.token(scope=scope)
            self.assertEqual(json.load(e.exception)["error"], "invalid_scope", scope)
        url = f"{self.entra['base_url']}{self.entra['tenant']}/v2.0/.well-known/openid-configuration"
        with urllib.request.urlopen(url, context=self.tls, timeout=10) as r:
            doc = json.load(r)
        self.assertTrue(doc["authorization_endpoint"].endswith("/oauth2/v2.0/authorize"))
        self.assertTrue(doc["token_endpoint"].endswith("/oauth2/v2.0/token"))

    def test_nothing_runs_before_auth(self):
        self.assertTrue(self.connect().call("GET", "k").startswith("-NOAUTH"))

    def test_refused_tokens(self):
        good = self.token()
        header, claims, sig = good.split(".")
        forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        forged_claims["exp"] += 3600
        forged = f"{header}.{b64url(json.dumps(forged_claims).encode())}.{sig}"
        cases = {
            "forged signature": (self.entra["oid"], forged),
            "another username": ("someone-else", good),
            "not a JWT": (self.entra["oid"], "secret"),
            "expired": (self.entra["oid"], self.token(lifetime=-5)),
        }
        for what, (user, token) in cases.items():
            with self.subTest(what):
                c = self.connect()
                self.assertTrue(c.call("AUTH", user, token).startswith("-WRONGPASS"), what)
                self.assertTrue(c.call("GET", "k").startswith("-NOAUTH"), what)
        c = self.connect()
        self.assertTrue(c.call("AUTH", good).startswith("-WRONGPASS"))  # a password alone: the default user
        # Each was refused for its own reason (the events name it, never the token).
        with open(f"{self.dir}/redis/events.jsonl") as f:
            events = [json.loads(line) for line in f]
        reasons = {e["reason"] for e in events if e["event"] == "auth" and not e["ok"]}
        for reason in ("bad signature", "username is not the token's oid", "not a JWT", "expired", "no username"):
            self.assertIn(reason, reasons)
        self.assertFalse(any(good in json.dumps(e) for e in events))

    def test_connection_is_closed_at_expiry_unless_reauthenticated(self):
        stale, renewed = self.connect(), self.connect()
        first = self.token(lifetime=3)
        self.assertEqual(stale.call("AUTH", self.entra["oid"], first), "+OK")
        self.assertEqual(renewed.call("AUTH", self.entra["oid"], first), "+OK")
        self.assertEqual(renewed.call("AUTH", self.entra["oid"], self.token(lifetime=60)), "+OK")
        self.assertTrue(stale.closed_by_server(bound=30), "the stale connection was not closed")
        # Closed at exp, not before: the token's exp has passed now.
        exp = json.loads(base64.urlsafe_b64decode(first.split(".")[1] + "==="))["exp"]
        self.assertGreaterEqual(time.time(), exp)
        self.assertEqual(renewed.call("PING"), "+PONG")

    def test_resp2_subscriber_cannot_reauthenticate(self):
        c = self.connect()
        self.assertEqual(c.call("AUTH", self.entra["oid"], self.token(lifetime=3)), "+OK")
        self.assertEqual(c.call("SUBSCRIBE", "ch")[0], "subscribe")
        reply = c.call("AUTH", self.entra["oid"], self.token(lifetime=60))
        self.assertTrue(reply.startswith("-ERR") and "auth" in reply.lower(), reply)
        self.assertTrue(c.closed_by_server(bound=30), "the subscriber outlived its token")


if __name__ == "__main__":
    unittest.main(verbosity=2)
