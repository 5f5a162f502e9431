"""redis-py integration: tokens from tokenwell, re-AUTH on rotation.

Three ways in, for every redis-py version:

  - CredentialProvider(name, dir=None): redis-py's credential-provider
    interface (>= 4.4: get_credentials() -> (username, token)) and redis-py
    >= 5.3's StreamingCredentialProvider (on_next / on_error / is_streaming):
    on each rotation it calls the registered callback with a token object
    (try_get("oid"), get_value(), ...) so the pool re-AUTHs its connections.

        r = redis.Redis(host=..., credential_provider=tokenwell.redis.CredentialProvider("redis"))

  - connection_class(name, dir=None): a redis.Connection subclass for
    redis-py without credential providers (Debian bookworm ships 4.3.4). It
    AUTHs on connect and, before each command, compares the credential's
    generation with the one it AUTHed with (a shared-memory read, no system
    call) and re-AUTHs an open pooled connection when it changed.

        r = tokenwell.redis.client("redis", host=..., port=...)          # redis.Redis
        rc = tokenwell.redis.cluster_client("redis", host=..., port=...) # redis.cluster.RedisCluster

  - Subscriber: a RESP2 subscriber cannot AUTH (Redis refuses AUTH in
    subscribed mode), so on rotation it subscribes a new connection first,
    then unsubscribes and closes the old one: no message is lost.

Thread safety: a CredentialProvider and the connection classes may be shared
by threads; a Subscriber belongs to one thread, like redis-py's PubSub.
"""

import threading
import time

import redis as _redis
from redis.exceptions import AuthenticationError

from . import ENOTFOUND, ETIMEOUT, Client, Error

try:  # redis-py >= 5.3
    from redis.credentials import StreamingCredentialProvider as _ProviderBase
except ImportError:
    try:  # redis-py >= 4.4
        from redis.credentials import CredentialProvider as _ProviderBase
    except ImportError:  # older: nothing to inherit, the interface is duck-typed
        _ProviderBase = object

try:
    from redis.auth.token import TokenInterface as _TokenBase
except ImportError:
    _TokenBase = object


class Token(_TokenBase):
    """What a streaming provider hands redis-py on rotation (redis.auth.token.TokenInterface)."""

    def __init__(self, credential):
        self._c = credential

    def is_expired(self):
        return self._c.expires_at != 0 and time.time() >= self._c.expires_at

    def ttl(self):
        return -1 if self._c.expires_at == 0 else max(0.0, self._c.expires_at - time.time())

    def try_get(self, key):
        return {"oid": self._c.username, "username": self._c.username}.get(key)

    def get_value(self):
        return self._c.token

    def get_expires_at_ms(self):
        return self._c.expires_at * 1000

    def get_received_at_ms(self):
        return int(time.time() * 1000)

    def __repr__(self):
        return f"tokenwell.redis.Token(username={self._c.username!r}, generation={self._c.generation})"


class CredentialProvider(_ProviderBase):
    """redis-py credential provider fed by the tokenwell segment."""

    def __init__(self, name, dir=None, client=None):
        self.name = name
        self.client = client or Client(dir)
        self._lock = threading.Lock()
        self._on_next = []
        self._on_error = []
        self._watcher = None
        self._stop = threading.Event()

    # -- the plain interface (redis-py >= 4.4)
    def credential(self):
        return self.client.get(self.name)

    def get_credentials(self):
        c = self.credential()
        return (c.username, c.token)

    async def get_credentials_async(self):
        return self.get_credentials()

    def generation(self):
        return self.client.generation(self.name)

    # -- the streaming interface (redis-py >= 5.3)
    def is_streaming(self):
        return True

    def on_next(self, callback):
        with self._lock:
            self._on_next.append(callback)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name=f"tokenwell-{self.name}", daemon=True)
                self._watcher.start()

    def on_error(self, callback):
        with self._lock:
            self._on_error.append(callback)

    def close(self):
        self._stop.set()

    def _watch(self):
        try:
            seen = self.client.generation(self.name)
        except Error:
            seen = 0
        while not self._stop.is_set():
            try:
                seen = self.client.wait(self.name, after=seen, timeout=1.0)
                token = Token(self.credential())
            except Error as e:
                if e.code in (ETIMEOUT, ENOTFOUND):
                    continue
                for cb in list(self._on_error):
                    cb(e)
                self._stop.wait(1.0)
                continue
            for cb in list(self._on_next):
                try:
                    cb(token)
                except Exception as e:  # a failed re-AUTH: tell redis-py's error listeners
                    for ecb in list(self._on_error):
                        ecb(e)


class _TokenwellConnectionMixin:
    """AUTH on connect; re-AUTH before a command when the generation changed."""

    tokenwell_provider = None  # set by connection_class()

    def on_connect(self):
        try:
            c = self.tokenwell_provider.credential()
        except Error as e:  # no valid token (agent down, IdP down past expiry): a redis-py error
            raise AuthenticationError(f"tokenwell: {e}") from e
        self.username, self.password = c.username, c.token
        self.tokenwell_generation = c.generation
        try:
            super().on_connect()
        finally:
            self.password = None  # the token lives in the segment, not in every connection
        self.tokenwell_auths = getattr(self, "tokenwell_auths", 0) + 1

    def _tokenwell_reauth(self):
        try:
            c = self.tokenwell_provider.credential()
        except Error:
            return  # no valid value now: keep the current authentication, the server decides
        try:
            self.send_packed_command(self.pack_command("AUTH", c.username, c.token), check_health=False)
            reply = self.read_response()
        except (_redis.exceptions.ConnectionError, _redis.exceptions.TimeoutError):
            # Closed while idle (e.g. its old token expired in the pool): nothing
            # of the caller's was sent yet, so a fresh connection is transparent.
            self.disconnect()
            self.connect()
            return
        if reply not in (b"OK", "OK"):
            raise AuthenticationError(f"re-AUTH refused: {reply}")
        self.tokenwell_generation = c.generation
        self.tokenwell_auths = getattr(self, "tokenwell_auths", 0) + 1

    def send_packed_command(self, command, check_health=True):
        # Not on a PubSub connection (it registers a connect callback): replies may be pending there.
        if (self._sock is not None and check_health and not self._connect_callbacks and
                getattr(self, "tokenwell_generation", None) is not None):
            try:
                current = self.tokenwell_provider.generation()
            except Error:
                current = self.tokenwell_generation
            if current != self.tokenwell_generation:
                self._tokenwell_reauth()
        return super().send_packed_command(command, check_health)


def connection_class(name, dir=None, base=None, provider=None, **base_kwargs):
    """A redis.Connection subclass (or of `base`) bound to tokenwell credential `name`.
    base_kwargs are defaults for base's constructor (e.g. ssl_ca_certs for SSLConnection)."""
    base = base or _redis.Connection
    provider = provider or CredentialProvider(name, dir)
    attrs = {"tokenwell_provider": provider}
    if base_kwargs:
        def __init__(self, **kwargs):
            base.__init__(self, **{**base_kwargs, **kwargs})
        attrs["__init__"] = __init__
    return type(f"Tokenwell{base.__name__}", (_TokenwellConnectionMixin, base), attrs)


def client(name, dir=None, **kwargs):
    """redis.Redis (any of its arguments: host, port, ssl, unix_socket_path, ...) whose
    connections AUTH with `name` and re-AUTH on rotation."""
    r = _redis.Redis(**kwargs)
    # Nothing is connected yet: the pool's class (Connection, SSLConnection, ...) gets the mixin.
    pool = r.connection_pool
    pool.connection_class = connection_class(name, dir, base=pool.connection_class)
    return r


def cluster_client(name, dir=None, host="localhost", port=6379, **kwargs):
    """redis.cluster.RedisCluster whose node connections AUTH with `name` and re-AUTH on rotation."""
    from redis.cluster import RedisCluster
    # RedisCluster passes connection_class to its nodes' pools only when built from a URL;
    # and it swaps in SSLConnection for ssl=True, so TLS goes into the class itself.
    if kwargs.pop("ssl", False):
        ssl_options = {k: kwargs.pop(k) for k in list(kwargs) if k.startswith("ssl_")}
        cls = connection_class(name, dir, base=_redis.SSLConnection, **ssl_options)
    else:
        cls = connection_class(name, dir)
    url = kwargs.pop("url", None) or f"redis://{host}:{port}"
    return RedisCluster(url=url, connection_class=cls, **kwargs)


class Subscriber:
    """Pub/sub that survives rotations: make-before-break re-subscription.

        sub = Subscriber(r, provider, "events")
        while True:
            msg = sub.get_message(timeout=1.0)   # dicts as redis-py's PubSub returns
    """

    def __init__(self, redis_client, provider, *channels):
        self._client, self._provider, self._channels = redis_client, provider, channels
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
                raise TimeoutError("no subscribe confirmation from Redis")
            m = ps.get_message(timeout=1.0)
            if m and m["type"] == "subscribe":
                confirmed += 1
        return ps

    def _rotate(self):
        new = self._subscribe()
        old, self._pubsub = self._pubsub, new
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
        old.close()
        self.resubscriptions += 1

    def get_message(self, timeout=1.0):
        generation = self._provider.generation()
        if generation != self._generation:
            try:
                self._rotate()
                self._generation = generation
            except AuthenticationError:
                pass  # no valid token right now: keep the current subscription, try again next call
        if self._buffer:
            return self._buffer.pop(0)
        m = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        return m

    def close(self):
        self._pubsub.close()
