#!/usr/bin/env python3
"""e2e_test.py -- the Java clients end to end, as ctest runs it (label integration:java).

One environment (tests/redis/redis_env.py: the Entra stand-in issuing 20-second tokens, the
strict Azure Redis stand-in as one server and as a 3-master cluster, the real tokenwell-agent)
and, concurrently for ~55 s (3+ rotations), the two Java clients of tests/redis/clients.md:
  - Lettuce 7 with tokenwell's streaming RedisCredentialsProvider (ON_NEW_CREDENTIALS),
  - Jedis 8 with tokenwell's AuthXManager (redis-authx),
each with a writer, a pub/sub subscriber, a BLPOP reader and a cluster worker: zero failed
commands, every published message received, every pushed item popped; and the same two with
--no-reauth, which must fail (the stand-in drops their connections when the first token expires).
Prints the results as a table; exit 0 when every check holds.

    e2e_test.py --agent build/agent/tokenwell-agent --lettuce-client build/tests/java/lettuce-client
                --jedis-client build/tests/java/jedis-client [--duration 55]
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../redis"))

from redis_env import Checks, RedisEnv  # noqa: E402

DURATION = 55  # the agent refreshes 20-second tokens every ~15 s (±5% jitter): 3 rotations fit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--lettuce-client", required=True)
    ap.add_argument("--jedis-client", required=True)
    ap.add_argument("--duration", type=float, default=DURATION)
    a = ap.parse_args()
    check = Checks()

    with RedisEnv(a.agent, token_lifetime=20) as env:
        info = env.info
        node = info["cluster"]["nodes"][0]

        def client(program, tag, *extra):
            return subprocess.Popen([program, "--dir", info["tokenwell_dir"], "--host", "127.0.0.1",
                                     "--port", str(info["standalone"]["port"]), "--cluster-host", node["host"],
                                     "--cluster-port", str(node["port"]), "--duration", str(a.duration),
                                     "--tag", tag, *extra], stdout=subprocess.PIPE, text=True)

        p = subprocess.run([a.lettuce_client, "--bogus"], capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and "unknown argument --bogus" in p.stderr,
              f"an unknown argument exits 2 with a message: {p.returncode} {p.stderr.strip()[:80]!r}")

        clients = {"lettuce": client(a.lettuce_client, "lettuce"),
                   "lettuce-no-reauth": client(a.lettuce_client, "lettucen", "--no-reauth"),
                   "jedis": client(a.jedis_client, "jedis"),
                   "jedis-no-reauth": client(a.jedis_client, "jedisn", "--no-reauth")}
        results = {}
        for name, proc in clients.items():
            out, _ = proc.communicate(timeout=a.duration + 180)
            try:
                results[name] = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                results[name] = {}
            print(f"{name} (exit {proc.returncode}): {json.dumps(results[name])}", flush=True)

        print("\n| client | rotations | commands ok / failed | cluster ok / failed | published / received"
              " / popped | reauths |\n|---|---|---|---|---|---|")
        for name, r in results.items():
            print(f"| {name} | {r.get('last_generation', 0) - r.get('first_generation', 0)} | "
                  f"{r.get('commands_ok')} / {r.get('commands_failed')} | {r.get('cluster_ok')} / "
                  f"{r.get('cluster_failed')} | {r.get('published')} / {r.get('sub_received')} / "
                  f"{r.get('blpop_received')} | {r.get('reauths')} |")
        print(flush=True)

        for name in ("lettuce", "jedis"):
            r = results[name]
            rotations = r.get("last_generation", 0) - r.get("first_generation", 0)
            check(rotations >= 3, f"{name}: ran through {rotations} rotations (>= 3)")
            check(r.get("commands_ok", 0) > 100 and r.get("commands_failed", 1) == 0,
                  f"{name}: {r.get('commands_ok')} commands ok, {r.get('commands_failed')} failed "
                  f"({r.get('first_error', '')})")
            check(r.get("cluster_ok", 0) > 100 and r.get("cluster_failed", 1) == 0,
                  f"{name}: cluster {r.get('cluster_ok')} ok, {r.get('cluster_failed')} failed")
            check(r.get("published", 0) > 100 and r.get("sub_received") == r.get("published"),
                  f"{name}: subscriber got {r.get('sub_received')} of {r.get('published')} messages "
                  f"({r.get('resubscriptions')} re-subscriptions)")
            check(r.get("blpop_received") == r.get("published"),
                  f"{name}: BLPOP got {r.get('blpop_received')} of {r.get('published')} items")
            check(r.get("reauths", 0) >= 3, f"{name}: {r.get('reauths')} re-authentications")
        for name in ("lettuce-no-reauth", "jedis-no-reauth"):
            r = results[name]
            failed = r.get("commands_failed", 0) + r.get("cluster_failed", 0)
            check(failed > 0, f"{name}: without re-AUTH the strict stand-in fails it: {failed} failed "
                              f"({r.get('first_error', '')})")

        drops = 0
        for path in info["events"].values():
            with open(path) as f:
                drops += sum(1 for line in f if json.loads(line)["event"] == "expired_drop")
        check(drops > 0, f"the stand-in dropped {drops} connections whose token expired")
        check.show_logs_if_failed(info)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
