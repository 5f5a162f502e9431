#!/usr/bin/env python3
"""client.py MODE -- one application process of the side-by-side comparison for Python
(bench/anchor/compare.js --python-client starts 8 of each): redis-py issuing SET/GET every 100 ms
through the strict Redis, authenticated either by

  tokenwell  the Python binding's tokenwell.redis.CredentialProvider over the pod's one agent, or
  entraid    redis-entraid's own token manager: create_from_default_azure_credential with its
             defaults (refresh at 70 %, RetryPolicy(3 attempts, 3 ms)), azure-identity's
             DefaultAzureCredential authenticating with EnvironmentCredential (client secret),
             pointed at the Entra stand-in without patching: the `authority` the factory takes,
             `disable_instance_discovery` through its app_kwargs, REQUESTS_CA_BUNDLE for the
             stand-in's CA (set by compare.js).

Both sides: RESP3 over the Unix socket, no command retries (Retry(NoBackoff(), 0): every rejected
command counts, as with node-redis's disableOfflineQueue and go-redis's MaxRetries -1).

Prints one JSON line a second, as bench/anchor/client.js does:
{ok, failed, errors: {text: n}, authErrors, retryable, reconnects, idpCalls}. Observation only, the
libraries are used as shipped: idpCalls counts the HTTP requests azure-identity sends (azure-core's
public raw_request_hook, called once per attempt); authErrors counts renewals redis-py's token
manager ended in on_error (asyncio logs the EventException redis-py's callback raises; the manager
schedules no renewal after one) for entraid, the binding's failed re-AUTH deliveries for tokenwell;
retryable counts the credential's get_token calls that failed (azure-identity's get_token_mixin log).
Environment: REDIS_SOCKET, and TOKENWELL_DIR (+ TOKENWELL_LIB) or STANDIN_JSON + ENTRAID_CLIENT_ID
+ ENTRAID_SECRET_FILE + REQUESTS_CA_BUNDLE.
"""

import json
import logging
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../client-shim/python"))

import redis  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402

REDIS_SCOPE = "https://redis.azure.com/.default"  # redis-entraid's README and Azure's docs
TOKEN = re.compile(r"eyJ[\w.-]+")


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {"ok": 0, "failed": 0, "errors": {}, "authErrors": 0, "retryable": 0, "reconnects": 0,
                  "idpCalls": 0}
        self.connects = 0

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def note(self, e):
        text = TOKEN.sub("<token>", f"{type(e).__name__}: {e}")[:120]
        with self.lock:
            self.c["errors"][text] = self.c["errors"].get(text, 0) + 1

    def line(self):
        with self.lock:
            return json.dumps(self.c)


class CountingHandler(logging.Handler):
    """Counts the records of one logger that match, without changing what the library does."""

    def __init__(self, counts, key, match, note=True):
        super().__init__(logging.DEBUG)
        self.counts, self.key, self.match, self.note = counts, key, match, note

    def emit(self, record):
        if self.match(record):
            self.counts.add(self.key)
            if self.note and record.exc_info and record.exc_info[1] is not None:
                self.counts.note(record.exc_info[1])


def entraid_provider(counts):
    from redis_entraid.cred_provider import create_from_default_azure_credential

    with open(os.environ["STANDIN_JSON"]) as f:
        s = json.load(f)
    with open(os.environ["ENTRAID_SECRET_FILE"]) as f:
        secret = f.read().strip()
    # EnvironmentCredential's variables, as a deployment would set them.
    os.environ.update(AZURE_TENANT_ID=s["tenant"], AZURE_CLIENT_ID=os.environ["ENTRAID_CLIENT_ID"],
                      AZURE_CLIENT_SECRET=secret)
    # The token manager reports a failed renewal through redis-py's on_error, which raises
    # EventException inside the manager's event loop: asyncio logs it, nothing else sees it.
    logging.getLogger("asyncio").addHandler(CountingHandler(
        counts, "authErrors", lambda r: r.exc_info is not None and type(r.exc_info[1]).__name__ == "EventException"))
    # Every failed get_token of the client-secret credential: its mixin logs "<Credential>.get_token failed"
    # (at DEBUG inside DefaultAzureCredential's chain, WARNING outside it: both counted).
    mixin = logging.getLogger("azure.identity._internal.get_token_mixin")
    mixin.setLevel(logging.DEBUG)
    mixin.addHandler(CountingHandler(counts, "retryable", lambda r: " failed: " in r.getMessage(),
                                     note=False))  # the commands' errors say it
    return create_from_default_azure_credential(
        (REDIS_SCOPE,),
        authority=s["base_url"],
        app_kwargs={
            "disable_instance_discovery": True,  # not one of Microsoft's clouds: no discovery call
            # Only the service principal of the environment: never fall through to managed identity
            # (IMDS), the CLIs, the shared cache or a broker.
            **{f"exclude_{name}_credential": True for name in (
                "workload_identity", "managed_identity", "shared_token_cache", "visual_studio_code", "cli",
                "developer_cli", "powershell", "interactive_browser", "broker")},
            "raw_request_hook": lambda request: counts.add("idpCalls"),
        })


def tokenwell_provider(counts):
    import tokenwell.redis

    provider = tokenwell.redis.CredentialProvider("redis")  # $TOKENWELL_DIR
    logging.getLogger("tokenwell.redis").addHandler(CountingHandler(
        counts, "authErrors", lambda r: r.levelno >= logging.WARNING and "re-AUTH" in r.getMessage()))
    return provider


def main():
    mode = sys.argv[1] if len(sys.argv) == 2 else ""
    if mode not in ("tokenwell", "entraid"):
        print(f"usage: client.py tokenwell|entraid (got {sys.argv[1:]})", file=sys.stderr)
        return 2
    counts = Counts()

    def stop(*_):
        print(counts.line(), flush=True)
        os._exit(0)  # a process blocked in its library still reports and exits

    signal.signal(signal.SIGTERM, stop)
    try:
        provider = entraid_provider(counts) if mode == "entraid" else tokenwell_provider(counts)

        def connected(conn):
            counts.connects += 1
            if counts.connects > 1:
                counts.add("reconnects")
            conn.on_connect()  # what redis-py does without a redis_connect_func

        r = redis.Redis(unix_socket_path=os.environ["REDIS_SOCKET"], protocol=3, credential_provider=provider,
                        retry=Retry(NoBackoff(), 0), redis_connect_func=connected)
        r.ping()
    except Exception as e:  # noqa: BLE001 -- the harness reads why
        print(json.dumps({"fatal": TOKEN.sub("<token>", f"{type(e).__name__}: {e}")[:300]}), flush=True)
        return 1

    def report():
        while True:
            time.sleep(1)
            print(counts.line(), flush=True)

    threading.Thread(target=report, daemon=True).start()
    key = f"{mode}:{os.getpid()}"
    i = 0
    while True:
        try:
            r.set(key, str(i))
            r.get(key)
            counts.add("ok", 2)
        except Exception as e:  # noqa: BLE001 -- a rejected command, whatever the library raised
            counts.add("failed")
            counts.note(e)
        i += 1
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
