#!/usr/bin/env python3
"""e2e_test.py -- the Go client end to end, as ctest runs it (label integration:go).

One environment (tests/redis/redis_env.py: Entra stand-in with 20-second
tokens, the strict Azure Redis stand-in as one server and as a 3-master
cluster, the real tokenwell-agent) and, concurrently, for ~55 s (3+ rotations),
the go-redis client of tests/redis/clients.md
(client-shim/go/internal/cmd/redis-e2e-client, built with CGO_ENABLED=0):
  - with the tokenwell provider: zero failed commands on the server and the
    cluster, every published message received, every pushed item popped;
  - with --no-reauth (a credential read once): it must fail.
Exit 0 when every check holds; each failed check is printed.

    e2e_test.py --agent build/agent/tokenwell-agent --client build/tests/go/bin/redis-e2e-client
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
    ap.add_argument("--client", required=True)
    ap.add_argument("--duration", type=float, default=DURATION)
    a = ap.parse_args()
    check = Checks()

    with RedisEnv(a.agent, token_lifetime=20) as env:
        info = env.info
        tdir, port = info["tokenwell_dir"], info["standalone"]["port"]
        cport = info["cluster"]["nodes"][0]["port"]

        def client(*extra):
            return subprocess.Popen([a.client, "--dir", tdir, "--host", "127.0.0.1", "--port", str(port),
                                     "--cluster-host", "127.0.0.1", "--cluster-port", str(cport),
                                     "--duration", str(a.duration), *extra],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

        p = subprocess.run([a.client, "--dir", tdir, "--bogus"], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and "bogus" in p.stderr, f"an unknown argument: exit {p.returncode}, {p.stderr.strip()!r}")

        clients = {"go": client("--tag", "go"), "go-no-reauth": client("--tag", "gon", "--no-reauth")}
        results = {}
        for name, proc in clients.items():
            out, _ = proc.communicate(timeout=a.duration + 120)
            check(proc.returncode == 0, f"{name}: exit {proc.returncode}")
            try:
                results[name] = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                results[name] = {}
            print(f"{name}: {json.dumps(results[name])}", flush=True)

        r = results["go"]
        check(r.get("client") == "go-redis" and r.get("reauth") is True, "the JSON names go-redis with re-auth")
        rotations = r.get("last_generation", 0) - r.get("first_generation", 0)
        check(rotations >= 3, f"go: ran through {rotations} rotations (>= 3)")
        check(r.get("commands_ok", 0) > 100 and r.get("commands_failed", 1) == 0,
              f"go: {r.get('commands_ok')} commands ok, {r.get('commands_failed')} failed ({r.get('first_error', '')})")
        check(r.get("cluster_ok", 0) > 100 and r.get("cluster_failed", 1) == 0,
              f"go: cluster {r.get('cluster_ok')} ok, {r.get('cluster_failed')} failed")
        check(r.get("published", 0) > 100 and r.get("sub_received") == r.get("published"),
              f"go: subscriber got {r.get('sub_received')} of {r.get('published')} messages "
              f"({r.get('resubscriptions')} re-subscriptions)")
        check(r.get("blpop_received") == r.get("published"),
              f"go: BLPOP got {r.get('blpop_received')} of {r.get('published')} items")
        check(r.get("reauths", 0) >= rotations, f"go: {r.get('reauths')} re-AUTHs over {rotations} rotations")
        n = results["go-no-reauth"]
        failed = n.get("commands_failed", 0) + n.get("cluster_failed", 0)
        check(n.get("reauth") is False and failed > 0,
              f"go-no-reauth: without re-AUTH the strict stand-in fails it: {failed} failed ({n.get('first_error', '')})")

        drops = 0
        for path in info["events"].values():
            with open(path) as f:
                drops += sum(1 for line in f if json.loads(line)["event"] == "expired_drop")
        check(drops > 0, f"the stand-in dropped {drops} connections whose token expired")
        check.show_logs_if_failed(info)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
