#!/usr/bin/env python3
"""azure_redis_standin.py -- a strict stand-in for Azure Cache for Redis with Entra ID auth.

Starts real redis-server processes (one, or the 3 masters of a real Redis
Cluster) on loopback and puts a RESP-aware proxy in front of each. Clients
talk only to the proxies, which behave the way Azure does:

  - `AUTH <oid> <access token>` and `HELLO <ver> AUTH <oid> <token>` are
    accepted only for a JWT the Entra stand-in issued: RS256 signature
    against its JWKS, `aud` = the Redis resource, `iss`/`tid` of the tenant,
    `nbf` <= now < `exp`, and the username equal to the token's `oid`;
  - a connection stays authenticated for exactly the lifetime of the token
    it last authenticated with: at `exp` the proxy closes it, unless the
    client re-AUTHed with a newer token first.

Why a proxy and not Redis ACLs: an ACL user whose passwords are the live
tokens cannot tell which token a given connection used, so "drop exactly the
connections whose token expired" would have to drop every connection of the
user (also the ones that re-AUTHed in time) or none. The proxy knows each
connection's token, so it is as strict per connection as Azure is.

How: the backend redis-server has the default user off and one ACL user
`tw-proxy` with a random password only the proxy knows. A client's valid AUTH
is forwarded to the backend rewritten to that user; an invalid one is
forwarded with a wrong password, so every reply (OK, WRONGPASS, NOAUTH,
"Can't execute 'auth'" in a RESP2 subscriber) is real Redis's own, in order
with the client's other replies. Everything else is passed through byte for
byte. For a cluster, each node's cluster-announce-port is its proxy's port, so
CLUSTER SLOTS / MOVED / ASK point clients at the proxies.

One simplification: an AUTH sent while the proxy believes the connection is a
RESP2 subscriber is never credited (real Redis refuses it there), so a client
that unsubscribed from everything and then re-AUTHed is dropped at expiry.

    python3 tests/fakes/azure_redis_standin.py --entra ENTRA_STATE_DIR \
        --state-dir DIR [--cluster] [--redis-server PATH]

writes DIR/azure_redis.json once every node is ready: the proxy ports
("nodes": [{"host", "port", "backend_port"}]), mode, the events file. Every
AUTH outcome and every expiry drop is appended to DIR/events.jsonl (never a
token). SIGTERM/SIGINT stop the proxies and the redis-servers it started.

Needs cryptography only (the test venv: tests/python/requirements/test.txt).
"""

import argparse
import asyncio
import base64
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PROXY_USER = "tw-proxy"
RESOURCE = "https://redis.azure.com"
MAX_BULK = 512 * 1024 * 1024


# ------------------------------------------------------------------ JWT

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenVerifier:
    """Checks access tokens against the Entra stand-in's JWKS."""

    def __init__(self, entra_state):
        self.jwks_url = f"{entra_state['base_url']}{entra_state['tenant']}/discovery/v2.0/keys"
        self.tenant = entra_state["tenant"]
        self.tls = ssl.create_default_context(cafile=entra_state["ca_file"])
        self.keys = {}

    def _refresh_keys(self):
        with urllib.request.urlopen(self.jwks_url, context=self.tls, timeout=5) as r:
            jwks = json.load(r)
        keys = {}
        for k in jwks.get("keys", []):
            if k.get("kty") == "RSA":
                n = int.from_bytes(b64url_decode(k["n"]), "big")
                e = int.from_bytes(b64url_decode(k["e"]), "big")
                keys[k["kid"]] = rsa.RSAPublicNumbers(e, n).public_key()
        self.keys = keys

    def verify(self, username, token, now):
        """Returns (exp, None) for a good token, else (None, reason)."""
        try:
            parts = token.split(".")
            if len(parts) != 3:
                return None, "not a JWT"
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            return None, "not a JWT"
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None, "not a JWT"
        if header.get("alg") != "RS256":
            return None, "alg is not RS256"
        kid = header.get("kid")
        if kid not in self.keys:
            try:
                self._refresh_keys()
            except OSError as e:
                return None, f"JWKS unavailable: {e}"
        key = self.keys.get(kid)
        if key is None:
            return None, "unknown kid"
        try:
            key.verify(signature, (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None, "bad signature"
        if claims.get("aud") not in (RESOURCE, RESOURCE + "/"):
            return None, "wrong aud"
        if claims.get("tid") != self.tenant or claims.get("iss") != f"https://sts.windows.net/{self.tenant}/":
            return None, "wrong tenant or issuer"
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or not isinstance(nbf, int):
            return None, "exp/nbf not numbers"
        if now < nbf:
            return None, "not yet valid"
        if now >= exp:
            return None, "expired"
        if username != claims.get("oid"):
            return None, "username is not the token's oid"
        return exp, None


# ------------------------------------------------------------------ RESP

class NeedMore(Exception):
    pass


def parse_command(buf, pos):
    """One client command from buf at pos: (args as bytes list, raw end), or NeedMore."""
    if pos >= len(buf):
        raise NeedMore
    if buf[pos:pos + 1] != b"*":  # inline command (telnet style)
        end = buf.find(b"\n", pos)
        if end < 0:
            raise NeedMore
        return buf[pos:end].strip().split(), end + 1
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise NeedMore
    count = int(buf[pos + 1:end])
    pos = end + 2
    args = []
    for _ in range(max(count, 0)):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            raise NeedMore
        if buf[pos:pos + 1] != b"$":
            raise ValueError("expected '$', got %r" % buf[pos:pos + 1])
        size = int(buf[pos + 1:end])
        if size < 0 or size > MAX_BULK:
            raise ValueError("invalid bulk length")
        start = end + 2
        if len(buf) < start + size + 2:
            raise NeedMore
        args.append(bytes(buf[start:start + size]))
        pos = start + size + 2
    return args, pos


def pack(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse_reply(buf, pos):
    """One RESP2 reply (set-up only): (value, end), or NeedMore."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise NeedMore
    kind, line = buf[pos:pos + 1], buf[pos + 1:end]
    if kind in (b"+", b"-", b":"):
        return kind + line, end + 2
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, end + 2
        if len(buf) < end + 2 + size + 2:
            raise NeedMore
        return buf[end + 2:end + 2 + size], end + 2 + size + 2
    if kind == b"*":
        items, pos = [], end + 2
        for _ in range(max(int(line), 0)):
            item, pos = parse_reply(buf, pos)
            items.append(item)
        return items, pos
    raise ValueError("bad reply %r" % kind)


def sync_command(port, password, *args):
    """A blocking command to a backend as the proxy user (set-up only); its reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(pack("AUTH", PROXY_USER, password) + pack(*args))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            data += chunk
            try:
                auth, pos = parse_reply(data, 0)
                reply, _ = parse_reply(data, pos)
            except NeedMore:
                continue
            if auth != b"+OK":
                raise OSError(f"backend AUTH failed: {auth!r}")
            return reply


# ------------------------------------------------------------------ proxy

class Proxy:
    def __init__(self, standin, backend_port):
        self.s, self.backend_port = standin, backend_port
        self.port = 0

    async def start(self, port=0):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, creader, cwriter):
        try:
            breader, bwriter = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            cwriter.close()
            return
        conn = Connection(self.s, self.port, cwriter, bwriter)
        self.s.connections.add(conn)
        up = asyncio.ensure_future(conn.client_to_backend(creader))
        down = asyncio.ensure_future(conn.backend_to_client(breader))
        try:
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (up, down):
                t.cancel()
            conn.close("closed")
            self.s.connections.discard(conn)


class Connection:
    next_id = 1

    def __init__(self, standin, port, cwriter, bwriter):
        self.s, self.port, self.cwriter, self.bwriter = standin, port, cwriter, bwriter
        self.id = Connection.next_id
        Connection.next_id += 1
        self.expires_at = None
        self.timer = None
        self.protocol = 2
        self.subscribed = False
        self.closed = False

    def close(self, why):
        if self.closed:
            return
        self.closed = True
        if self.timer:
            self.timer.cancel()
        for w in (self.cwriter, self.bwriter):
            try:
                w.close()
            except Exception:
                pass

    def expire(self):
        self.s.event({"event": "expired_drop", "conn": self.id, "port": self.port, "exp": self.expires_at})
        self.close("token expired")

    def credit(self, exp):
        self.expires_at = exp
        if self.timer:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(max(0.0, exp - time.time()), self.expire)

    def check_auth(self, username, token):
        """Verifies; logs; returns the backend AUTH arguments to forward."""
        exp, reason = self.s.verifier.verify(username.decode("utf-8", "replace"),
                                             token.decode("utf-8", "replace"), time.time())
        credited = exp is not None and not (self.subscribed and self.protocol == 2)
        self.s.event({"event": "auth", "conn": self.id, "port": self.port,
                      "user": username.decode("utf-8", "replace")[:64], "ok": exp is not None,
                      "credited": credited, "reason": reason, "exp": exp})
        if credited:
            self.credit(exp)
        if exp is None:
            return [PROXY_USER.encode(), b"wrong-" + secrets.token_hex(8).encode()]
        return [PROXY_USER.encode(), self.s.password.encode()]

    def rewrite(self, args):
        """The bytes to forward for one client command, or None to pass it through."""
        if not args:
            return None
        name = args[0].upper()
        if name == b"AUTH":
            if len(args) == 3:
                return pack(b"AUTH", *self.check_auth(args[1], args[2]))
            if len(args) == 2:  # password only: the default user, which Azure's Entra auth refuses
                self.s.event({"event": "auth", "conn": self.id, "port": self.port, "user": "default",
                              "ok": False, "credited": False, "reason": "no username", "exp": None})
                return pack(b"AUTH", PROXY_USER, b"wrong-" + secrets.token_hex(8).encode())
            return None
        if name == b"HELLO":
            out = list(args)
            if len(args) >= 2 and args[1] in (b"2", b"3") and not (self.subscribed and self.protocol == 2):
                self.protocol = int(args[1])
            for i in range(2, len(args) - 2):
                if args[i].upper() == b"AUTH":
                    out[i + 1:i + 3] = self.check_auth(args[i + 1], args[i + 2])
                    break
            return pack(*out)
        if name in (b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE"):
            self.subscribed = True
        elif name == b"RESET":
            self.subscribed, self.protocol = False, 2
        return None

    async def client_to_backend(self, reader):
        buf = bytearray()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            buf += data
            pos, out = 0, []
            while True:
                try:
                    args, end = parse_command(buf, pos)
                except NeedMore:
                    break
                except ValueError as e:
                    self.cwriter.write(b"-ERR Protocol error: %s\r\n" % str(e).encode())
                    await self.cwriter.drain()
                    return
                replaced = self.rewrite(args)
                out.append(replaced if replaced is not None else bytes(buf[pos:end]))
                pos = end
            del buf[:pos]
            if out:
                self.bwriter.write(b"".join(out))
                await self.bwriter.drain()

    async def backend_to_client(self, reader):
        while True:
            data = await reader.read(65536)
            if not data:
                return
            self.cwriter.write(data)
            await self.cwriter.drain()


# ------------------------------------------------------------------ nodes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    def __init__(self, args, entra_state):
        self.dir = os.path.abspath(args.state_dir)
        os.makedirs(self.dir, exist_ok=True)
        self.args = args
        self.verifier = TokenVerifier(entra_state)
        self.password = secrets.token_hex(24)
        self.connections = set()
        self.events_path = os.path.join(self.dir, "events.jsonl")
        self.events = open(self.events_path, "a", buffering=1)
        self.servers = []  # redis-server processes
        self.proxies = []

    def event(self, e):
        e["t"] = round(time.time(), 3)
        self.events.write(json.dumps(e) + "\n")

    def start_backend(self, index, proxy_port):
        port = free_port()
        cmd = [self.args.redis_server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
               "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, f"redis-{index}.log"),
               "--user", "default", "off", "--user", PROXY_USER, "on", ">" + self.password, "~*", "&*", "+@all"]
        if self.args.cluster:
            cmd += ["--cluster-enabled", "yes", "--cluster-config-file", os.path.join(self.dir, f"nodes-{index}.conf"),
                    "--cluster-port", str(free_port()), "--cluster-announce-ip", "127.0.0.1",
                    "--cluster-announce-port", str(proxy_port), "--cluster-node-timeout", "5000"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        self.servers.append(proc)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if sync_command(port, self.password, "PING") == b"+PONG":
                    return port, cmd
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}: {' '.join(cmd[:3])}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {port} did not answer PING")

    def form_cluster(self, backends):
        """3 masters: split the 16384 slots, MEET, wait for cluster_state:ok everywhere."""
        n = len(backends)
        bus = {}
        for i, (port, cmd) in enumerate(backends):
            bus[port] = int(cmd[cmd.index("--cluster-port") + 1])
            first, last = i * 16384 // n, (i + 1) * 16384 // n - 1
            reply = sync_command(port, self.password, "CLUSTER", "ADDSLOTSRANGE", first, last)
            if reply != b"+OK":
                raise RuntimeError(f"CLUSTER ADDSLOTSRANGE on {port}: {reply!r}")
        for port, _ in backends[1:]:
            sync_command(backends[0][0], self.password, "CLUSTER", "MEET", "127.0.0.1", port, bus[port])
        deadline = time.time() + 30
        while time.time() < deadline:
            ok = all(b"cluster_state:ok" in sync_command(p, self.password, "CLUSTER", "INFO")
                     and sync_command(p, self.password, "CLUSTER", "NODES").count(b"master") == n
                     for p, _ in backends)
            if ok:
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    async def run(self):
        n = 3 if self.args.cluster else 1
        # Proxies listen first: a cluster node announces its proxy's port.
        proxy_ports = []
        for _ in range(n):
            p = Proxy(self, 0)
            await p.start()
            self.proxies.append(p)
            proxy_ports.append(p.port)
        loop = asyncio.get_running_loop()
        backends = []
        for i in range(n):
            backends.append(await loop.run_in_executor(None, self.start_backend, i, proxy_ports[i]))
            self.proxies[i].backend_port = backends[i][0]
        if self.args.cluster:
            await loop.run_in_executor(None, self.form_cluster, backends)
        info = {"pid": os.getpid(), "mode": "cluster" if self.args.cluster else "standalone",
                "nodes": [{"host": "127.0.0.1", "port": p.port, "backend_port": p.backend_port}
                          for p in self.proxies],
                "events": self.events_path}
        tmp = os.path.join(self.dir, "azure_redis.json.tmp")
        with open(tmp, "w") as f:
            json.dump(info, f, indent=2)
        os.replace(tmp, os.path.join(self.dir, "azure_redis.json"))
        print(f"azure-redis-standin: {info['mode']} on ports {[p.port for p in self.proxies]}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    def stop(self):
        for proc in self.servers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.servers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entra", required=True, help="the Entra stand-in's state dir (its standin.json)")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--cluster", action="store_true", help="a 3-master Redis Cluster instead of one server")
    ap.add_argument("--redis-server", default="/usr/bin/redis-server")
    args = ap.parse_args()
    with open(os.path.join(args.entra, "standin.json")) as f:
        entra_state = json.load(f)
    s = StandIn(args, entra_state)
    try:
        asyncio.run(s.run())
    except RuntimeError as e:
        print(f"azure-redis-standin: {e}", file=sys.stderr)
        s.stop()
        sys.exit(1)
    s.stop()


if __name__ == "__main__":
    main()
