#!/usr/bin/env python3
"""jwt_sessions_test.py -- the JWT login example (examples/jwt_sessions) end to end (label integration:redis).

One environment (tests/redis/redis_env.py): the Entra stand-in issuing
10-second Redis tokens, the strict Azure Redis stand-in's 3-master cluster,
the real tokenwell-agent with two `generated` keysets -- "sessions" (ES256,
rotating every 10 s, the shortest the agent allows) and "other" (EdDSA). The
example runs as one long-lived process (commands on stdin) plus a few
one-shot runs, and must:
  - login -> request ok -> logout -> request refused (session revoked);
  - refuse a token with a tampered signature, a token of another keyset, an
    expired token (the example's --now clock, no waiting) and a bad user;
  - keep every session working across Redis credential rotations and a
    signing-key rotation: zero failed requests, re-AUTHs counted, no
    connection dropped by the stand-in for an expired token, and tokens signed
    by the previous key still verify.
Exit 0 when every check holds; each failed check is printed.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../../client-shim/python"))

from redis_env import Checks, RedisEnv  # noqa: E402

TOKEN_LIFETIME = 10  # the agent refreshes the Redis token every ~7.5 s
# The app signs in-process (tokenwell_jwt_sign): the private keys are in the
# segment on purpose.
KEYSETS = [
    {"name": "sessions", "source": "generated", "algorithm": "ES256", "rotate_every": "10s",
     "publish_ahead": "3s", "max_token_lifetime": "5m", "leeway": "60s", "retain": "6m",
     "private_in_segment": True},
    {"name": "other", "source": "generated", "algorithm": "EdDSA", "private_in_segment": True},
]
ROTATION_DEADLINE = 60  # seconds; two credential rotations and a key rotation take ~20


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--example", required=True)
    ap.add_argument("--lib", required=True)
    a = ap.parse_args()
    os.environ["TOKENWELL_LIB"] = a.lib
    check = Checks()

    with RedisEnv(a.agent, token_lifetime=TOKEN_LIFETIME, keysets=KEYSETS) as env:
        info = env.info
        seed = "%s:%d" % (info["cluster"]["nodes"][0]["host"], info["cluster"]["nodes"][0]["port"])
        run_env = dict(os.environ, TOKENWELL_DIR=info["tokenwell_dir"])

        def once(*args):
            p = subprocess.run([a.example, "--cluster", seed, *args], env=run_env, capture_output=True,
                               text=True, timeout=30)
            return p.returncode, p.stdout.strip()

        service = subprocess.Popen([a.example, "--cluster", seed], env=run_env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)

        def ask(command):
            service.stdin.write(command + "\n")
            service.stdin.flush()
            return service.stdout.readline().strip()

        def login(user):
            reply = ask(f"login {user}")
            return reply[3:] if reply.startswith("ok ") else None

        # The basic pattern.
        token = login("alice")
        check(token is not None and token.count(".") == 2, f"login alice issues a JWT: {token!r}")
        header, claims = b64json(token.split(".")[0]), b64json(token.split(".")[1])
        check(header.get("alg") == "ES256" and header.get("kid"), f"signed with the agent's ES256 key: {header}")
        check(claims.get("sub") == "alice" and len(claims.get("sid", "")) == 32 and claims.get("iss") == "jwt-sessions"
              and claims.get("aud") == "jwt-sessions" and claims.get("exp", 0) - claims.get("iat", 0) == 300,
              f"claims sub, sid, iss, aud, iat, exp: {claims}")
        sid = claims.get("sid")
        check(ask(f"request {token}") == f"ok alice {sid}", "request with the token: ok")
        check(ask(f"logout {token}") == "ok", "logout: ok")
        reply = ask(f"request {token}")
        check(reply == "refused session revoked or expired", f"request after logout is refused: {reply!r}")
        reply = ask(f"logout {token}")
        check(reply.startswith("refused session"), f"a second logout is refused: {reply!r}")

        # Tampered, foreign and expired tokens; a bad user name.
        bob = login("bob")
        h, p, s = bob.split(".")
        i = len(s) // 4  # inside ECDSA r: still in range, just wrong
        tampered = f"{h}.{p}.{s[:i]}{'A' if s[i] != 'A' else 'B'}{s[i + 1:]}"
        reply = ask(f"request {tampered}")
        check(reply == "refused token: signature does not verify", f"tampered signature refused: {reply!r}")
        forged = b64json(p)
        forged["sub"] = "admin"
        forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        reply = ask(f"request {h}.{forged_payload}.{s}")
        check(reply.startswith("refused token:"), f"a rewritten payload is refused: {reply!r}")
        check(ask(f"request {bob}").startswith("ok bob "), "the untampered token still works")

        rc, out = once("--keyset", "other", "login", "mallory")
        check(rc == 0 and out.startswith("ok "), f"login with keyset 'other': {out[:40]!r}")
        reply = ask(f"request {out[3:]}")
        check(reply == "refused token: no key in the keyset has the token's kid",
              f"a token of another keyset is refused: {reply!r}")

        rc, out = once("--ttl", "60", "login", "carol")
        carol = out[3:]
        check(rc == 0 and ask(f"request {carol}").startswith("ok carol "), "carol's 60-second token works now")
        exp = b64json(carol.split(".")[1])["exp"]
        rc, out = once("--now", str(exp + 61), "request", carol)  # past exp and the 60-second leeway
        check(rc == 1 and out == "refused token: token expired",
              f"the same token once expired is refused (exit {rc}): {out!r}")
        rc, out = once("login", "bad user")
        check(rc == 2 and "bad user name" in out, f"a bad user name is refused (exit {rc}): {out!r}")

        # Rotations: a batch of sessions, requested round after round until the Redis credential
        # rotated twice and the signing key once.
        import tokenwell
        tw = tokenwell.Client(info["tokenwell_dir"])
        # Generations are global to the segment (keyset publishes take them too), so a rotation of
        # the credential is a new generation of "redis", not a step of one.
        generations = {tw.get("redis").generation}
        users = [f"user{i}" for i in range(12)]
        sessions = {u: login(u) for u in users}
        check(all(sessions.values()), "12 logins")
        first_kid = b64json(sessions["user0"].split(".")[0])["kid"]
        requests = refused = rounds = 0
        latest_kid, deadline = first_kid, time.monotonic() + ROTATION_DEADLINE
        while time.monotonic() < deadline:
            rounds += 1
            for u, t in sessions.items():
                requests += 1
                reply = ask(f"request {t}")
                if not reply.startswith(f"ok {u} "):
                    refused += 1
                    print(f"  {u}: {reply}", flush=True)
            fresh = login(f"late{rounds}")
            if fresh is None or not ask(f"request {fresh}").startswith(f"ok late{rounds} "):
                refused += 1
            else:
                latest_kid = b64json(fresh.split(".")[0])["kid"]
            generations.add(tw.get("redis").generation)
            if len(generations) >= 3 and latest_kid != first_kid:
                break
            time.sleep(0.02)  # pacing, not synchronisation: the loop ends on the events above
        rotations = len(generations) - 1
        check(rotations >= 2, f"the Redis credential rotated {rotations} times while sessions were used")
        check(latest_kid != first_kid, f"the signing key rotated ({first_kid} -> {latest_kid})")
        reply = ask(f"request {sessions['user0']}")
        check(reply.startswith("ok user0 "), f"a token signed by the previous key still verifies: {reply!r}")
        check(requests > 100 and refused == 0, f"{requests} requests in {rounds} rounds, {refused} failed")
        stats = ask("stats")
        check(" failed=0 " in stats and int(stats.rsplit("reauths=", 1)[-1]) >= rotations,
              f"the service re-AUTHed its cluster connections, no Redis error: {stats!r}")
        for u, t in sessions.items():
            ask(f"logout {t}")
        check(all(ask(f"request {t}") == "refused session revoked or expired" for t in sessions.values()),
              "after logout every session token is refused")

        service.stdin.close()
        check(service.wait(timeout=30) == 0, "the service exits cleanly at end of input")
        with open(info["events"]["cluster"]) as f:
            events = [json.loads(line) for line in f]
        drops = sum(1 for e in events if e["event"] == "expired_drop")
        check(drops == 0, f"the stand-in dropped {drops} cluster connections for an expired token")
        check.show_logs_if_failed(info)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
