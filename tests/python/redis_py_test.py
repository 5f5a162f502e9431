#!/usr/bin/env python3
"""tokenwell.redis against the real redis-py of the venv it runs in (5.3, 6.4, 7.4, 8.1: one ctest
test per version) and a real redis-server, with credentials published by the agent's real
SegmentWriter (tests/vectors/segment_writer_tool).

Needs TOKENWELL_LIB (libtokenwell), TOKENWELL_SEGMENT_WRITER_TOOL and redis-server on PATH.
Rotations move the connections from one ACL user to the next (u1 -> u2 -> ...), so `ACL WHOAMI`
on each pooled connection shows which generation it authenticated with, and `ACL DELUSER` of the
old user drops every connection that was not re-AUTHed (as Azure drops one whose token expired).
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../client-shim/python"))

import redis  # noqa: E402
import redis.backoff  # noqa: E402
import redis.retry  # noqa: E402
from redis.cluster import RedisCluster  # noqa: E402,F401 -- importable in every supported version

import tokenwell  # noqa: E402
import tokenwell.redis  # noqa: E402

FAR = 4102444800  # 2100-01-01
BOUND = 30  # seconds any single wait in these tests may take before it is a failure


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(predicate, what, timeout=BOUND):
    """Polls predicate (bounded): a condition another thread or process makes true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Writer:
    """tests/vectors/segment_writer_tool over DIR (protocol in tests/vectors/README.md)."""

    def __init__(self, directory):
        self.p = subprocess.Popen([os.environ["TOKENWELL_SEGMENT_WRITER_TOOL"], directory], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        answer = self.p.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise AssertionError(f"{line!r}: {answer!r}")
        return answer[2:].strip()

    def publish(self, name, username, secret, expires_at=FAR):
        return int(self.cmd(f"publish {name} {username or '-'} {secret} {expires_at}"))

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=BOUND)
        self.p.stdout.close()


class RedisServer:
    """A redis-server on a free loopback port: `default` off, users added by the tests."""

    def __init__(self, directory):
        self.port = free_port()
        self.p = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                   "--appendonly", "no", "--dir", directory, "--user", "default", "off",
                                   "--user", "admin", "on", ">admin", "~*", "&*", "+@all"],
                                  stdout=subprocess.DEVNULL)
        self.admin = redis.Redis(port=self.port, username="admin", password="admin", protocol=2)
        until(self._up, "redis-server")

    def _up(self):
        try:
            return self.admin.ping()
        except redis.ConnectionError:
            return False

    def user(self, name, password):
        self.admin.execute_command("ACL", "SETUSER", name, "on", "resetpass", f">{password}", "~*", "&*", "+@all")

    def stop(self):
        self.admin.close()
        self.p.terminate()
        self.p.wait(timeout=BOUND)


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tokenwell-redis-py-")
        self.server = RedisServer(self.dir)
        self.writer = Writer(self.dir)
        self.providers = []

    def tearDown(self):
        for p in self.providers:
            p.close()
        self.writer.close()
        self.server.stop()
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def provider(self, name="redis", **kw):
        p = tokenwell.redis.CredentialProvider(name, self.dir, **kw)
        self.providers.append(p)
        return p

    def rotate(self, user, password, name="redis"):
        """Redis learns the new user first, then the segment gets it (the agent's order)."""
        self.server.user(user, password)
        return self.writer.publish(name, user, password)

    def whoami_of_pool(self, r):
        """ACL WHOAMI on every connection of r's pool (idle ones taken out and put back)."""
        pool = r.connection_pool
        conns = [pool.get_connection("ACL") if redis.__version__ < "6" else pool.get_connection()
                 for _ in range(len(pool._available_connections))]
        try:
            names = []
            for c in conns:
                c.send_command("ACL", "WHOAMI")
                names.append(redis.utils.str_if_bytes(c.read_response()))
            return names
        finally:
            for c in conns:
                pool.release(c)


class PasswordOnly(Base):
    """(c) A credential without a username is a password-only AUTH as `default`, never AUTH "" token."""

    def test_no_username_authenticates_as_default_and_re_authenticates_as_default(self):
        self.server.admin.execute_command("ACL", "SETUSER", "default", "on", "resetpass", ">pw-1", "~*", "&*",
                                          "+@all")
        self.writer.publish("redis", "", "pw-1")
        p = self.provider()
        self.assertEqual(p.get_credentials(), ("pw-1",))
        for protocol in (2, 3):
            r = redis.Redis(port=self.server.port, credential_provider=p, protocol=protocol)
            self.assertEqual(redis.utils.str_if_bytes(r.execute_command("ACL", "WHOAMI")), "default")
            r.close()
        r = redis.Redis(port=self.server.port, credential_provider=p)
        r.ping()
        deliveries = p.deliveries
        self.server.admin.execute_command("ACL", "SETUSER", "default", "resetpass", ">pw-2")
        self.writer.publish("redis", "", "pw-2")
        until(lambda: p.deliveries > deliveries, "the re-AUTH with pw-2")
        self.assertEqual(p.callback_failures, 0, "AUTH default pw-2 succeeded the first time")
        # The idle pooled connection re-AUTHed with the new password: AUTH default pw-1 would now fail.
        self.server.admin.execute_command("ACL", "SETUSER", "default", "resetpass", ">pw-3")
        self.assertEqual(self.whoami_of_pool(r), ["default"])


class Startup(Base):
    """(d) The provider waits for the agent's first publish, then fails with the C library's code."""

    def test_the_provider_is_made_before_the_segment_exists_and_waits_for_the_first_value(self):
        late = os.path.join(self.dir, "late")
        p = tokenwell.redis.CredentialProvider("redis", late, timeout=BOUND)  # no segment yet: no error
        self.providers.append(p)
        got = []
        t = threading.Thread(target=lambda: got.append(p.get_credentials()))
        t.start()
        t.join(0.2)
        self.assertTrue(t.is_alive(), "get_credentials waits for the segment")
        w = Writer(late)
        try:
            w.cmd("pending redis")  # the segment exists, the value not yet
            t.join(0.2)
            self.assertTrue(t.is_alive(), "get_credentials waits for a valid value")
            w.publish("redis", "oid-1", "token-1")
            t.join(BOUND)
        finally:
            w.close()
        self.assertEqual(got, [("oid-1", "token-1")])

    def test_after_the_timeout_the_error_has_the_c_code_and_never_the_secret(self):
        cases = []
        with self.assertRaises(tokenwell.redis.CredentialError) as e:
            tokenwell.redis.CredentialProvider("redis", os.path.join(self.dir, "none"), timeout=0.1).get_credentials()
        cases.append((e.exception, tokenwell.EUNAVAILABLE))
        self.writer.publish("redis", "oid", "old-secret-token", int(time.time()) - 5)
        with self.assertRaises(tokenwell.redis.CredentialError) as e:
            self.provider(timeout=0.1).get_credentials()
        cases.append((e.exception, tokenwell.ENOVALUE))
        with self.assertRaises(tokenwell.redis.CredentialError) as e:
            self.provider("nope", timeout=0.1).get_credentials()
        cases.append((e.exception, tokenwell.ENOTFOUND))
        for error, code in cases:
            self.assertEqual(error.code, code)
            self.assertIn(tokenwell.NAMES[code], str(error))
            self.assertNotIn("old-secret-token", str(error))
            self.assertIsInstance(error, tokenwell.Error)
            self.assertIsInstance(error, redis.exceptions.AuthenticationError)  # redis-py's callers see theirs

    def test_a_redis_client_without_a_value_fails_with_an_authentication_error(self):
        self.writer.cmd("pending redis")
        r = redis.Redis(port=self.server.port, credential_provider=self.provider(timeout=0.1))
        with self.assertRaises(redis.exceptions.AuthenticationError) as e:
            r.ping()
        self.assertIn("ENOVALUE", str(e.exception))


    def test_once_ready_an_expired_value_still_fails_the_connection_with_an_authentication_error(self):
        # Later calls answer at once; were the error not redis-py's, the connection would keep its
        # unauthenticated socket and the next command would fail with NOAUTH instead.
        self.server.user("u1", "pw-1")
        self.writer.publish("redis", "u1", "pw-1")
        p = self.provider(timeout=0.1)
        self.assertEqual(p.get_credentials(), ("u1", "pw-1"))
        self.writer.publish("redis", "u1", "pw-1", int(time.time()) - 5)  # the IdP down past its life
        # No command retries: redis-py >= 6 retries an AuthenticationError (a ConnectionError) with backoff.
        r = redis.Redis(port=self.server.port, credential_provider=p, protocol=3,
                        retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
        for _ in range(2):
            with self.assertRaises(tokenwell.redis.CredentialError) as e:
                r.ping()
            self.assertEqual(e.exception.code, tokenwell.ENOVALUE)
            self.assertIn("ENOVALUE", str(e.exception))
        self.rotate("u2", "pw-2")
        self.assertTrue(r.ping())
        self.assertEqual(redis.utils.str_if_bytes(r.execute_command("ACL", "WHOAMI")), "u2")
        r.close()


    def test_every_connection_waits_for_a_valid_value_not_only_the_first(self):
        # The IdP down past the token's life: a reconnect waits for the agent's next publish (as the
        # Node and Go providers' subscribe do) instead of failing at once and reconnecting in a loop.
        self.server.user("u1", "pw-1")
        self.writer.publish("redis", "u1", "pw-1")
        p = self.provider(timeout=BOUND)
        self.assertEqual(p.get_credentials(), ("u1", "pw-1"))
        self.writer.publish("redis", "u1", "pw-1", int(time.time()) - 5)
        got = []
        t = threading.Thread(target=lambda: got.append(p.get_credentials()))
        t.start()
        t.join(0.2)
        self.assertTrue(t.is_alive(), "get_credentials waits for a valid value after an expired one")
        self.rotate("u2", "pw-2")
        t.join(BOUND)
        self.assertEqual(got, [("u2", "pw-2")])


class Streaming(Base):
    """(a) The watcher survives every callback failure and retries a failed generation."""

    def test_callbacks_that_raise_do_not_stop_the_watcher_and_a_failed_generation_is_retried(self):
        self.writer.publish("redis", "u1", "p1")
        p = self.provider()
        calls = []

        def flaky(token):
            calls.append(token.get_value())
            if len(calls) == 1:
                raise redis.AuthenticationError("WRONGPASS (the server saw the token a moment early)")

        def raising_on_error(error):
            raise RuntimeError("redis-py's own on_error re-raises (EventException)")

        p.on_error(raising_on_error)
        p.on_next(flaky)
        self.writer.publish("redis", "u1", "p2")
        until(lambda: calls == ["p2", "p2"], "p2 delivered again after the failure")
        self.writer.publish("redis", "u1", "p3")
        until(lambda: calls[-1:] == ["p3"], "the next generation after a failure")
        self.assertEqual(calls, ["p2", "p2", "p3"])
        self.assertEqual(p.callback_failures, 1)

    def test_an_early_token_is_retried_until_redis_accepts_it(self):
        """WRONGPASS because the segment had the token before Redis: the same generation again."""
        self.server.user("u1", "p1")
        self.writer.publish("redis", "u1", "p1")
        p = self.provider()
        r = redis.Redis(port=self.server.port, credential_provider=p)
        r.ping()
        self.writer.publish("redis", "u2", "p2")  # Redis does not know u2 yet
        until(lambda: p.callback_failures >= 1, "the refused re-AUTH")
        self.server.user("u2", "p2")
        deliveries = p.deliveries
        until(lambda: p.deliveries > deliveries, "the retried re-AUTH")
        self.assertEqual(self.whoami_of_pool(r), ["u2"])

    def test_idle_connections_the_server_closed_are_re_authenticated_on_retry(self):
        """(b) Azure closes idle connections; redis-py's re-AUTH of the pool then fails once."""
        self.server.user("u1", "p1")
        self.writer.publish("redis", "u1", "p1")
        p = self.provider()
        r = redis.Redis(port=self.server.port, credential_provider=p)
        pool = r.connection_pool
        held = [pool.get_connection("PING") if redis.__version__ < "6" else pool.get_connection() for _ in range(3)]
        for c in held:
            c.send_command("PING")
            c.read_response()
            pool.release(c)
        self.server.admin.execute_command("CLIENT", "KILL", "USER", "u1")  # all three idle ones
        self.rotate("u2", "p2")
        until(lambda: p.deliveries >= 1, "the pool's re-AUTH with u2")
        self.rotate("u3", "p3")
        until(lambda: p.deliveries >= 2, "the pool's re-AUTH with u3")
        self.server.admin.execute_command("ACL", "DELUSER", "u1", "u2")
        self.assertEqual(self.whoami_of_pool(r), ["u3"] * len(pool._available_connections))
        self.assertEqual(r.incr("counter"), 1)


class Clients(Base):
    """(b) client() and cluster_client() authenticate on every supported version."""

    def test_client_authenticates_and_follows_rotations(self):
        self.server.admin.execute_command("ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all")
        self.server.user("u1", "p1")
        self.writer.publish("redis", "u1", "p1")
        r = tokenwell.redis.client("redis", self.dir, port=self.server.port)
        # With a nopass `default` a client that never AUTHed would run as default.
        self.assertEqual(redis.utils.str_if_bytes(r.execute_command("ACL", "WHOAMI")), "u1")
        self.rotate("u2", "p2")
        until(lambda: self.whoami_of_pool(r) == ["u2"], "client() re-AUTHed with u2")
        self.assertEqual(redis.utils.str_if_bytes(r.execute_command("ACL", "WHOAMI")), "u2")


class PubSubAndBlocking(Base):
    """Pub/sub (RESP2 and RESP3) and BLPOP through rotations that drop un-re-AUTHed connections."""

    def run_workload(self, protocol):
        self.server.user("u1", "p1")
        self.writer.publish("redis", "u1", "p1")
        p = self.provider()
        r = redis.Redis(port=self.server.port, credential_provider=p, protocol=protocol)
        sub = tokenwell.redis.Subscriber(r, p, "events")
        published, received, popped, errors = [], set(), [], []
        stop = threading.Event()

        def blpop():
            br = redis.Redis(port=self.server.port, credential_provider=p, protocol=protocol)
            while not stop.is_set():
                try:
                    item = br.blpop("items", timeout=0.2)
                    if item:
                        popped.append(int(item[1]))
                except redis.RedisError as e:
                    errors.append(f"BLPOP: {e!r}")

        def subscriber():
            deadline = None
            while True:
                if stop.is_set():  # drain what was published, bounded
                    deadline = deadline or time.monotonic() + BOUND
                    if len(received) >= len(published) or time.monotonic() > deadline:
                        return
                try:
                    m = sub.get_message(timeout=0.1)
                except redis.RedisError as e:
                    errors.append(f"subscriber: {e!r}")
                    continue
                if m and m["type"] == "message":
                    received.add(int(m["data"]))

        threads = [threading.Thread(target=blpop), threading.Thread(target=subscriber)]
        for t in threads:
            t.start()
        seq = 0

        def send(n):
            nonlocal seq
            for _ in range(n):
                seq += 1
                r.publish("events", seq)
                r.rpush("items", seq)
                published.append(seq)

        send(20)
        for i in range(2, 5):
            self.rotate(f"u{i}", f"p{i}")
            send(20)
            # The rotation reached the subscriber and the blocked connection (re-AUTHed when
            # BLPOP returned it to the pool) before the old user goes, as before a token's expiry.
            until(lambda: sub.resubscriptions >= i - 1, f"the subscriber on u{i}")
            until(lambda: len(popped) >= seq, "BLPOP caught up")
            send(20)
            self.server.admin.execute_command("ACL", "DELUSER", f"u{i - 1}")
            send(20)
        until(lambda: len(popped) >= seq, "every pushed item popped")
        stop.set()
        for t in threads:
            t.join(BOUND + 5)
        sub.close()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(received), published, "every published message received")
        self.assertEqual(sorted(popped), published)
        self.assertEqual(sub.resubscriptions, 3)

    def test_resp2(self):
        self.run_workload(2)

    def test_resp3(self):
        self.run_workload(3)


if __name__ == "__main__":
    print(f"redis-py {redis.__version__} (Python {sys.version.split()[0]}, {sys.executable})", flush=True)
    unittest.main()
