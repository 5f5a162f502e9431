"""redis-py integration: tokens from tokenwell, re-AUTH on rotation (redis-py >= 5.3).

    provider = tokenwell.redis.CredentialProvider("redis")           # waits up to 30 s for a first value
    r = redis.Redis(host=..., credential_provider=provider)          # or tokenwell.redis.client("redis", ...)
    rc = RedisCluster(host=..., credential_provider=provider)        # or tokenwell.redis.cluster_client(...)

CredentialProvider is redis-py's StreamingCredentialProvider: get_credentials()
gives a new connection the current (username, token) -- (token,) alone when the
credential has no username, so redis-py sends a password-only AUTH as the
`default` user -- and on every rotation a watcher thread hands the new token to
the callbacks redis-py registered (on_next), which re-AUTH the pool's idle
connections at once and its busy ones when they are released. A callback that
fails (WRONGPASS because Redis saw the token a moment early, a pooled
connection the server closed while idle) is called again with the same token
after a short backoff; no failure stops the watcher.

Pub/sub: Subscriber(r, provider, channel) keeps a subscription across
rotations on RESP2 and RESP3 by subscribing a new connection before dropping
the old one (make-before-break); its connections are never re-AUTHed in place.
redis-py's own in-place re-AUTH of a RESP3 pubsub() races get_message() on the
same socket (the AUTH is sent from the provider's thread) and can lose a message.

Thread safety: a CredentialProvider may be shared by threads and clients; a
Subscriber belongs to one thread, like redis-py's PubSub.
"""

import logging
import threading
import time

import redis as _redis
from redis.exceptions import AuthenticationError

from . import EBUSY, ENOTFOUND, ENOVALUE, ETIMEOUT, EUNAVAILABLE, Client, Error

try:
    from redis.credentials import CredentialProvider as _PlainProviderBase
    from redis.credentials import StreamingCredentialProvider as _ProviderBase
    from redis.auth.token import TokenInterface as _TokenBase
except ImportError:  # redis-py < 5.3: no streaming credential providers
    _ProviderBase = None

log = logging.getLogger("tokenwell.redis")

if _ProviderBase is None:
    raise ImportError(f"tokenwell.redis needs redis-py >= 5.3 (a StreamingCredentialProvider); this is "
                      f"redis-py {_redis.__version__}. Older redis-py: read tokenwell.Client().get(name) "
                      f"and AUTH yourself, see client-shim/python/README.md")

# Re-AUTH of a generation whose callback failed: 0.1 s, 0.2 s, ... at most 5 s apart, 10 tries (~25 s),
# then the next rotation (or a restart of the watch) tries again.
RETRY_FIRST, RETRY_MAX, RETRY_TRIES = 0.1, 5.0, 10


class CredentialError(Error, AuthenticationError):
    """No valid credential for a connection: a tokenwell.Error (.code, .name: the C library's
    TOKENWELL_E* code and name) that redis-py and callers also see as its AuthenticationError."""


def _username(credential):
    return credential.username or "default"


class Token(_TokenBase):
    """What the provider hands redis-py on rotation (redis.auth.token.TokenInterface).
    try_get("oid") is the username redis-py re-AUTHs with: "default" when the credential has none."""

    def __init__(self, credential, received_at=None):
        self._c = credential
        self._received_ms = int((received_at or time.time()) * 1000)

    @property
    def generation(self):
        return self._c.generation

    def is_expired(self):
        return self._c.expires_at != 0 and time.time() >= self._c.expires_at

    def ttl(self):
        return -1 if self._c.expires_at == 0 else max(0.0, self._c.expires_at - time.time())

    def try_get(self, key):
        return {"oid": _username(self._c), "username": _username(self._c)}.get(key)

    def get_value(self):
        return self._c.token

    def get_expires_at_ms(self):
        return self._c.expires_at * 1000

    def get_received_at_ms(self):
        return self._received_ms

    def __repr__(self):
        return f"tokenwell.redis.Token(username={self._c.username!r}, generation={self._c.generation})"


class CredentialProvider(_ProviderBase):
    """redis-py StreamingCredentialProvider fed by the tokenwell segment.

    CredentialProvider(name, dir=None, timeout=30.0): dir, else $TOKENWELL_DIR, else /run/tokenwell.
    Every get_credentials() (a connection's AUTH) waits up to `timeout` seconds for the segment to
    appear and a valid value (an application may start before its agent's first publish; an IdP
    outage may outlive the token), then raises CredentialError with the C library's code:
    EUNAVAILABLE (no segment: agent not running, wrong dir), ENOTFOUND (no credential of that
    name) or ENOVALUE (not fetched yet or expired) -- as the Node and Go providers' subscribe do.
    """

    def __init__(self, name, dir=None, client=None, timeout=30.0):
        if not isinstance(name, str) or not name:
            raise ValueError("credential name must be a non-empty str")
        self.name = name
        self.timeout = timeout
        self.client = client or Client(dir, missing_ok=True)
        self._dir = dir
        self._lock = threading.Lock()
        self._on_next = []
        self._on_error = []
        self._watcher = None
        self._stop = threading.Event()
        self.deliveries = 0        # on_next calls that succeeded
        self.callback_failures = 0  # on_next calls that raised (each retried)

    # -- the plain interface
    def credential(self):
        """The current tokenwell.Credential, waiting for a valid one as described above."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return self.client.get(self.name)
            except Error as e:
                # Always redis-py's AuthenticationError: after any other exception redis-py keeps
                # the unauthenticated socket and the next command fails with NOAUTH.
                if e.code not in (EUNAVAILABLE, ENOTFOUND, ENOVALUE, EBUSY):
                    raise CredentialError(e.code, str(e)) from None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CredentialError(e.code, f"{e.name}: no valid credential {self.name!r} within "
                                                  f"{self.timeout:g} s: {e}") from None
                self._wait_for_change(min(left, 1.0))

    def _wait_for_change(self, seconds):
        """Blocks until the entry (or the segment) changes, or `seconds` pass."""
        try:
            after = self.client.generation(self.name)
        except Error:
            after = 0
        try:
            self.client.wait(self.name, after=after, timeout=seconds)
        except Error as e:
            if e.code != ETIMEOUT:
                time.sleep(min(seconds, 0.1))  # whatever it was, the next read says it again

    def get_credentials(self):
        c = self.credential()
        return (_username(c), c.token) if c.username else (c.token,)

    async def get_credentials_async(self):
        import asyncio
        return await asyncio.get_running_loop().run_in_executor(None, self.get_credentials)

    def generation(self):
        return self.client.generation(self.name)

    # -- the streaming interface
    def is_streaming(self):
        return True

    def on_next(self, callback):
        with self._lock:
            self._on_next.append(callback)
            if self._watcher is None:
                # Every generation after the one current now reaches the callbacks (read here,
                # not in the thread: a publish right after on_next must not be missed).
                try:
                    seen = self.client.generation(self.name)
                except Error:
                    seen = 0
                self._watcher = threading.Thread(target=self._watch, args=(seen,), name=f"tokenwell-{self.name}",
                                                 daemon=True)
                self._watcher.start()

    def on_error(self, callback):
        with self._lock:
            self._on_error.append(callback)

    def close(self):
        """Stops the watcher (the connections keep their current authentication)."""
        self._stop.set()

    def _report(self, error):
        """Tells the on_error callbacks; redis-py's own re-raises (EventException): never our problem."""
        with self._lock:
            callbacks = list(self._on_error)
        for cb in callbacks:
            try:
                cb(error)
            except Exception as e:  # noqa: BLE001 -- a listener's failure must not stop the watch
                log.debug("tokenwell: on_error callback raised %s", type(e).__name__)

    def _watch(self, seen):
        expiry_reported = 0
        while not self._stop.is_set():
            try:
                try:
                    gen = self.client.wait(self.name, after=seen, timeout=1.0)
                except Error as e:
                    if e.code in (ETIMEOUT, ENOTFOUND, EUNAVAILABLE):
                        if e.code != ETIMEOUT:
                            self._stop.wait(0.2)  # no entry or segment yet: not a busy loop
                        continue
                    raise
                seen = gen
                try:
                    token = Token(self.client.get(self.name))
                except Error as e:
                    if e.code == ENOVALUE and expiry_reported != gen:
                        expiry_reported = gen  # expired and not replaced: reported once per generation
                        self._report(e)
                    elif e.code != ENOVALUE:
                        raise
                    continue
                seen = max(seen, token.generation)
                self._deliver(token)
            except Exception as e:  # noqa: BLE001 -- the watcher never dies: report, back off, go on
                log.warning("tokenwell: watching %r: %s: %s", self.name, type(e).__name__, e)
                self._report(e)
                self._stop.wait(1.0)

    def _deliver(self, token):
        """Calls every on_next callback with token; retries the ones that fail with a bounded
        backoff until they succeed, RETRY_TRIES pass, or a newer generation replaces it."""
        with self._lock:
            pending = list(self._on_next)
        for attempt in range(RETRY_TRIES + 1):
            failed = []
            for cb in pending:
                try:
                    cb(token)
                    self.deliveries += 1
                except Exception as e:  # noqa: BLE001 -- a failed re-AUTH: told, then retried
                    self.callback_failures += 1
                    failed.append(cb)
                    log.warning("tokenwell: re-AUTH with generation %d of %r failed (try %d): %s: %s",
                                token.generation, self.name, attempt + 1, type(e).__name__, e)
                    self._report(e)
            if not failed:
                return
            pending = failed
            if self._stop.wait(min(RETRY_MAX, RETRY_FIRST * 2 ** attempt)):
                return
            try:
                if self.client.generation(self.name) != token.generation:
                    return  # a newer generation: the watch loop delivers that one to every callback
            except Error:
                pass
        log.warning("tokenwell: gave up re-AUTHing %d connection group(s) with generation %d of %r",
                    len(pending), token.generation, self.name)


class _PlainView(_PlainProviderBase):
    """The provider's current credentials without the streaming interface: connections made
    through it are never re-AUTHed in place by redis-py (Subscriber's)."""

    def __init__(self, provider):
        self._provider = provider

    def get_credentials(self):
        return self._provider.get_credentials()


def client(name, dir=None, timeout=30.0, **kwargs):
    """redis.Redis (any of its arguments: host, port, ssl, protocol, ...) with a
    CredentialProvider for `name`: AUTH on connect, re-AUTH on rotation."""
    return _redis.Redis(credential_provider=CredentialProvider(name, dir, timeout=timeout), **kwargs)


def cluster_client(name, dir=None, host="localhost", port=6379, timeout=30.0, **kwargs):
    """redis.cluster.RedisCluster with a CredentialProvider for `name` on every node's pool."""
    from redis.cluster import RedisCluster
    return RedisCluster(host=host, port=port, credential_provider=CredentialProvider(name, dir, timeout=timeout),
                        **kwargs)


class Subscriber:
    """Pub/sub that survives rotations on RESP2 and RESP3: make-before-break re-subscription.

        sub = Subscriber(r, provider, "events")
        while True:
            msg = sub.get_message(timeout=1.0)   # dicts as redis-py's PubSub returns

    A RESP2 subscriber cannot AUTH (Redis refuses AUTH in subscribed mode), and redis-py's
    RESP3 in-place re-AUTH races get_message(); so on each new generation a new connection
    subscribes first, then the old one unsubscribes, and what it delivered meanwhile is returned
    first (a message may then come twice, never not at all).
    """

    def __init__(self, redis_client, provider, *channels):
        self._provider, self._channels = provider, channels
        pool = redis_client.connection_pool
        kwargs = dict(pool.connection_kwargs, credential_provider=_PlainView(provider))
        kwargs.pop("username", None)
        kwargs.pop("password", None)
        self._client = _redis.Redis(connection_pool=_redis.ConnectionPool(
            connection_class=pool.connection_class, **kwargs))
        self._buffer = []
        self.resubscriptions = 0
        self._generation = provider.generation()
        self._pubsub = self._subscribe()

    def _subscribe(self):
        ps = self._client.pubsub(ignore_subscribe_messages=False)
        ps.subscribe(*self._channels)
        confirmed = 0
        deadline = time.monotonic() + 10
        while confirmed < len(self._channels):
            if time.monotonic() > deadline:
                raise _redis.TimeoutError("no subscribe confirmation from Redis")
            m = ps.get_message(timeout=1.0)
            if m and m["type"] == "subscribe":
                confirmed += 1
        return ps

    def _rotate(self):
        new = self._subscribe()
        old, self._pubsub = self._pubsub, new
        try:
            old.unsubscribe()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # what the old one got before unsubscribing, in order
                m = old.get_message(timeout=1.0)
                if m is None:
                    continue
                if m["type"] == "unsubscribe" and m["data"] == 0:
                    break
                if m["type"] in ("message", "pmessage"):
                    self._buffer.append(m)
        except _redis.ConnectionError:
            pass  # the old connection is gone already (its token expired): nothing more to drain
        finally:
            old.close()
        self.resubscriptions += 1

    def get_message(self, timeout=1.0):
        generation = self._provider.generation()
        if generation != self._generation:
            try:
                self._rotate()
                self._generation = generation
            except (AuthenticationError, Error):
                pass  # no valid token right now: keep the current subscription, try again next call
        if self._buffer:
            return self._buffer.pop(0)
        return self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)

    def close(self):
        self._pubsub.close()
        self._client.connection_pool.disconnect()
