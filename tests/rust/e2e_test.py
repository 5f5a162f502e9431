#!/usr/bin/env python3
"""e2e_test.py -- the Rust client (redis-rs + tokenwell::redis) end to end, as
ctest runs it (label integration:rust).

One environment (tests/redis/redis_env.py: Entra stand-in issuing 20-second
tokens, the strict Azure Redis stand-in as one server and as a 3-master
cluster, the real tokenwell-agent) and, concurrently for ~55 s (3+ rotations),
client-shim/rust's examples/redis_e2e_client.rs twice:
  - with re-AUTH: zero failed commands on the server and the cluster, every
    published message received, every pushed item popped, >= 3 rotations;
  - with --no-reauth: it must fail (the stand-in drops its connections when
    the first token expires).
The checks are tests/redis/clients.md's "What the harness checks".
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../redis"))

from redis_env import Checks, RedisEnv  # noqa: E402

DURATION = 55  # the agent refreshes 20-second tokens every ~15 s: 3 rotations fit


def check_reauth(check, name, r):
    rotations = r.get("last_generation", 0) - r.get("first_generation", 0)
    check(rotations >= 3, f"{name}: ran through {rotations} rotations (>= 3)")
    check(r.get("commands_ok", 0) > 100 and r.get("commands_failed", 1) == 0,
          f"{name}: {r.get('commands_ok')} commands ok, {r.get('commands_failed')} failed ({r.get('first_error', '')})")
    check(r.get("cluster_ok", 0) > 100 and r.get("cluster_failed", 1) == 0,
          f"{name}: cluster {r.get('cluster_ok')} ok, {r.get('cluster_failed')} failed")
    check(r.get("published", 0) > 100 and r.get("sub_received") == r.get("published"),
          f"{name}: subscriber got {r.get('sub_received')} of {r.get('published')} messages "
          f"({r.get('resubscriptions')} re-subscriptions)")
    check(r.get("blpop_received") == r.get("published"),
          f"{name}: BLPOP got {r.get('blpop_received')} of {r.get('published')} items")
    check(r.get("reauths", 0) >= 3, f"{name}: the provider pushed {r.get('reauths')} new generations to connections")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--client", required=True, help="redis_e2e_client (cargo build --examples)")
    ap.add_argument("--duration", type=float, default=DURATION)
    a = ap.parse_args()
    check = Checks()

    p = subprocess.run([a.client, "--bogus"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "unknown argument --bogus" in p.stderr, f"an unknown argument exits 2: {p.returncode}")

    with RedisEnv(a.agent, token_lifetime=20) as env:
        info = env.info
        port, cport = info["standalone"]["port"], info["cluster"]["nodes"][0]["port"]

        def client(*extra):
            return subprocess.Popen([a.client, "--dir", info["tokenwell_dir"], "--host", "127.0.0.1",
                                     "--port", str(port), "--cluster-host", "127.0.0.1", "--cluster-port",
                                     str(cport), "--duration", str(a.duration), *extra],
                                    stdout=subprocess.PIPE, text=True)

        procs = {"redis-rs": client("--tag", "rs"), "redis-rs-no-reauth": client("--tag", "rsn", "--no-reauth")}
        results = {}
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=a.duration + 120)
            check(proc.returncode == 0, f"{name} exited with {proc.returncode}")
            try:
                results[name] = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                results[name] = {}
            print(f"{name}: {json.dumps(results[name])}", flush=True)

        r = results["redis-rs"]
        check(r.get("client") == "redis-rs" and r.get("reauth") is True, "the JSON line names the client")
        check_reauth(check, "redis-rs", r)
        n = results["redis-rs-no-reauth"]
        failed = n.get("commands_failed", 0) + n.get("cluster_failed", 0)
        check(n.get("reauth") is False and failed > 0,
              f"redis-rs-no-reauth: without re-AUTH the strict stand-in fails it: {failed} failed "
              f"({n.get('first_error', '')})")
        check.show_logs_if_failed(info)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
