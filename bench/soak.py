#!/usr/bin/env python3
"""soak.py -- the refresh engine against the Entra ID stand-in in real time.

Runs the real tokenwell-agent with short-lived tokens (default 20 s) for a
while (default 10 min), reads the credential through the `tokenwell` CLI
every 250 ms, and checks:
  - the published token is never expired (nor "no valid value") while the
    stand-in is up;
  - the stand-in sees exactly one token request per refresh (requests ==
    publishes: no duplicate, no lost fetch).
Prints one summary line and exits 1 if a check failed.

    python3 bench/soak.py [--minutes 10] [--token-lifetime 20] [--build build]
"""
import argparse
import json
import sys
import time

from harness import Harness


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--token-lifetime", type=int, default=20)
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    with Harness(a.build) as h:
        h.start_standin(token_lifetime=a.token_lifetime)
        h.start_agent([h.entra_secret_credential("redis")])
        reads = expired = unavailable = 0
        generations = set()
        min_left = None
        deadline = time.time() + a.minutes * 60
        while time.time() < deadline:
            p = h.cli("get", "redis", "--json")
            reads += 1
            if p.returncode == 0:
                d = json.loads(p.stdout)
                generations.add(d["generation"])
                left = d["expires_at"] - time.time()
                min_left = left if min_left is None else min(min_left, left)
                if left <= 0:
                    expired += 1
            elif reads > 1 or p.returncode != 4:  # before the first fetch: no value yet
                unavailable += 1
            time.sleep(0.25)
        requests = h.token_requests()
        ok = [r for r in requests if r.get("status") == 200]
        publishes = len(h.log("agent.log").split('"msg":"published"')) - 1
        checks_ok = expired == 0 and unavailable == 0 and len(requests) == len(ok) == publishes
        print(f"soak: {a.minutes:g} min, {a.token_lifetime} s tokens: {reads} reads, "
              f"{len(generations)} generations seen, min time left {min_left:.1f} s, "
              f"{expired} expired reads, {unavailable} failed reads, "
              f"{len(requests)} token requests ({len(ok)} ok), {publishes} publishes -> "
              f"{'PASS' if checks_ok else 'FAIL'}")
        return 0 if checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
