#!/usr/bin/env python3
"""redis_py_client.py -- the Python end-to-end client (tests/redis/clients.md): the redis-py of
the venv it runs in (5.3, 6.4, 7.4 or 8.1) with tokenwell.redis against the strict Azure Redis
stand-in, for --duration seconds.

Threads as an application would have them: a writer (INCR/SET/GET, PUBLISH seq, RPUSH seq) on
redis.Redis with the streaming CredentialProvider, a pub/sub subscriber (tokenwell.redis.Subscriber),
a BLPOP reader, and a worker on redis.cluster.RedisCluster with the same provider. With --no-reauth
the clients get a static (username, token) read once at start, as code that ignores rotation
would: the stand-in drops them when that token expires. Prints one JSON object with the counts.
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../client-shim/python"))

import redis  # noqa: E402
from redis.cluster import ClusterNode, RedisCluster  # noqa: E402

import tokenwell  # noqa: E402
import tokenwell.redis  # noqa: E402


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {k: 0 for k in ("commands_ok", "commands_failed", "published", "sub_received", "sub_duplicates",
                                 "resubscriptions", "blpop_received", "cluster_ok", "cluster_failed")}
        self.first_error = ""

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def fail(self, key, e):
        with self.lock:
            self.c[key] += 1
            if not self.first_error:
                self.first_error = f"{type(e).__name__}: {e}"[:200]


def await_confirmation(pubsub):
    """Reads until Redis confirms the subscription: every later PUBLISH reaches it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = pubsub.get_message(timeout=1.0)
        if m and m["type"] == "subscribe":
            return
    raise redis.RedisError("no subscribe confirmation from Redis")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", default="redis")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cluster-host", default="127.0.0.1")
    ap.add_argument("--cluster-port", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--tag", default="py")
    ap.add_argument("--no-reauth", action="store_true")
    a = ap.parse_args()

    counts = Counts()
    provider = tokenwell.redis.CredentialProvider(a.name, a.dir)
    first_generation = provider.generation()
    channel, lst, key = f"tw-e2e-{a.tag}-channel", f"tw-e2e-{a.tag}-list", f"tw-e2e-{a.tag}-key"
    if a.no_reauth:
        user, token = provider.get_credentials()
        def make():
            return redis.Redis(host=a.host, port=a.port, username=user, password=token)
        def make_cluster():
            return RedisCluster(startup_nodes=[ClusterNode(a.cluster_host, a.cluster_port)], username=user,
                                password=token)
    else:
        def make():
            return redis.Redis(host=a.host, port=a.port, credential_provider=provider)
        def make_cluster():
            return RedisCluster(host=a.cluster_host, port=a.cluster_port, credential_provider=provider)
    end = time.monotonic() + a.duration
    writer_done = threading.Event()
    subscribed = threading.Event()  # the first PUBLISH waits for the subscription
    seen_sub, seen_blpop = set(), set()

    def writer():
        r = make()
        seq = 0
        while time.monotonic() < end:
            seq += 1
            for cmd, args in (("INCR", (key + "-counter",)), ("SET", (key, seq)), ("GET", (key,)),
                              ("PUBLISH", (channel, seq)), ("RPUSH", (lst, seq))):
                try:
                    r.execute_command(cmd, *args)
                    counts.add("commands_ok")
                    if cmd == "PUBLISH":
                        counts.add("published")
                except redis.RedisError as e:
                    counts.fail("commands_failed", e)
            time.sleep(0.02)  # pacing only
        writer_done.set()

    def drained(key_):
        with counts.lock:
            return counts.c[key_] >= counts.c["published"]

    def subscriber():
        r = make()
        sub = None
        drain_end = None
        while True:
            if writer_done.is_set():
                drain_end = drain_end or time.monotonic() + 5
                if drained("sub_received") or time.monotonic() > drain_end:
                    break
            try:
                if sub is None:
                    if a.no_reauth:
                        sub = r.pubsub()
                        sub.subscribe(channel)
                        await_confirmation(sub)
                    else:
                        sub = tokenwell.redis.Subscriber(r, provider, channel)  # returns once confirmed
                    subscribed.set()
                m = sub.get_message(timeout=0.2)
            except redis.RedisError as e:
                counts.fail("commands_failed", e)
                sub = None
                continue
            if m and m.get("type") == "message":
                seq = int(m["data"])
                with counts.lock:
                    if seq in seen_sub:
                        counts.c["sub_duplicates"] += 1
                    else:
                        seen_sub.add(seq)
                        counts.c["sub_received"] += 1
        if isinstance(sub, tokenwell.redis.Subscriber):
            counts.add("resubscriptions", sub.resubscriptions)

    def blpop_reader():
        r = make()
        drain_end = None
        while True:
            if writer_done.is_set():
                drain_end = drain_end or time.monotonic() + 5
                if drained("blpop_received") or time.monotonic() > drain_end:
                    break
            try:
                item = r.blpop(lst, timeout=1)
                counts.add("commands_ok")
            except redis.RedisError as e:
                counts.fail("commands_failed", e)
                continue
            if item:
                with counts.lock:
                    if int(item[1]) not in seen_blpop:
                        seen_blpop.add(int(item[1]))
                        counts.c["blpop_received"] += 1

    def cluster_worker():
        rc = None
        i = 0
        while time.monotonic() < end:
            i += 1
            k = f"{key}:{i % 300}"
            try:
                rc = rc or make_cluster()
                rc.set(k, i)
                if rc.get(k) != str(i).encode():
                    raise redis.RedisError(f"GET {k} returned something else")
                counts.add("cluster_ok", 2)
            except redis.RedisError as e:
                counts.fail("cluster_failed", e)
            time.sleep(0.02)

    threads = [threading.Thread(target=f) for f in (subscriber, blpop_reader)]
    for t in threads:
        t.start()
    subscribed.wait(timeout=60)  # bounded: without a subscription the counts tell
    threads += [threading.Thread(target=f) for f in (writer, cluster_worker)]
    for t in threads[2:]:
        t.start()
    for t in threads:
        t.join()
    out = dict(counts.c, client=f"redis-py {redis.__version__}", reauth=not a.no_reauth, first_generation=first_generation,
               last_generation=provider.generation(), first_error=counts.first_error,
               reauths=provider.deliveries, redis_py=redis.__version__,
               notes="RESP2; pub/sub through tokenwell.redis.Subscriber (make-before-break)")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
