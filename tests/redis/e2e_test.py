#!/usr/bin/env python3
"""e2e_test.py -- Redis end to end, as ctest runs it (label integration:redis).

One environment (tests/redis/redis_env.py: Entra stand-in with 20-second
tokens, the strict Azure Redis stand-in as one server and as a 3-master
cluster, the real tokenwell-agent) and, concurrently, for ~55 s (3+ rotations):
  - the C client (hiredis + tokenwell/hiredis.h) and the Python client
    (Debian's redis-py + tokenwell.redis), each with a writer, a pub/sub
    subscriber, a BLPOP reader and a cluster worker: zero failed commands,
    every published message received, every pushed item popped;
  - the same two clients with re-AUTH disabled: they must fail (the
    stand-in drops their connections when the first token expires);
  - redis-cli through `tokenwell exec`, on the server and the cluster, and
    with a token that has expired (refused).
Exit 0 when every check holds; each failed check is printed.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../../client-shim/python"))

from redis_env import PYTHON, Checks, RedisEnv  # noqa: E402

DURATION = 55  # the agent refreshes 20-second tokens every ~15 s (±5% jitter): 3 rotations fit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--c-client", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--duration", type=float, default=DURATION)
    a = ap.parse_args()
    os.environ["TOKENWELL_LIB"] = a.lib
    check = Checks()

    with RedisEnv(a.agent, token_lifetime=20) as env:
        info = env.info
        tdir, port = info["tokenwell_dir"], info["standalone"]["port"]
        cport = info["cluster"]["nodes"][0]["port"]
        cli_env = dict(os.environ, TOKENWELL_DIR=tdir)

        # The Python binding itself: values, errors with codes, the streaming provider's callbacks.
        import tokenwell
        import tokenwell.redis
        tw = tokenwell.Client(tdir)
        cred = tw.get("redis")
        check(cred.username == info["oid"] and cred.token.count(".") == 2 and cred.expires_at > time.time()
              and cred.generation >= 1, f"tokenwell.Client.get: {cred!r}")
        check(cred.token not in repr(cred), "repr(Credential) hides the token")
        check(tw.list() == ["redis"], f"tokenwell.Client.list: {tw.list()}")
        try:
            tw.get("nope")
            check(False, "get of an unknown name raises")
        except tokenwell.Error as e:
            check(e.code == tokenwell.ENOTFOUND and "nope" in str(e), f"unknown name: Error({e.code}, {e})")
        try:
            tw.wait("redis", after=cred.generation, timeout=0.05)
            check(False, "wait times out")
        except tokenwell.Error as e:
            check(e.code == tokenwell.ETIMEOUT, f"wait with a short timeout: Error({e.code})")
        try:
            tokenwell.Client(os.path.join(info["dir"], "missing"))
            check(False, "Client on a missing dir raises")
        except tokenwell.Error as e:
            check(e.code == tokenwell.EUNAVAILABLE and "missing" in str(e), f"missing dir: {e}")
        provider = tokenwell.redis.CredentialProvider("redis", tdir)
        check(provider.get_credentials() == (cred.username, cred.token), "CredentialProvider.get_credentials")
        check(provider.is_streaming(), "CredentialProvider.is_streaming")
        streamed = []
        provider.on_next(lambda token: streamed.append((token.try_get("oid"), token.get_value(), token.ttl())))

        # A token as of now, for the "expired token is refused" check at the end.
        stale = json.loads(subprocess.run([a.cli, "get", "redis", "--json"], env=cli_env, capture_output=True,
                                          text=True, check=True).stdout)

        def c_client(*extra):
            return subprocess.Popen([a.c_client, "--dir", tdir, "--host", "127.0.0.1", "--port", str(port),
                                     "--cluster-host", "127.0.0.1", "--cluster-port", str(cport),
                                     "--duration", str(a.duration), *extra], stdout=subprocess.PIPE, text=True)

        def py_client(*extra):
            return subprocess.Popen([PYTHON, os.path.join(HERE, "redis_py_client.py"), "--dir", tdir,
                                     "--port", str(port), "--cluster-port", str(cport), "--duration",
                                     str(a.duration), *extra], stdout=subprocess.PIPE, text=True)

        clients = {"c": c_client("--tag", "c"), "c-no-reauth": c_client("--tag", "cn", "--no-reauth"),
                   "python": py_client("--tag", "py"), "python-no-reauth": py_client("--tag", "pyn", "--no-reauth")}

        # redis-cli through `tokenwell exec` while the clients run.
        def redis_cli(*args, cluster=False):
            cmd = ('exec redis-cli -h 127.0.0.1 -p "$0" --user "$TOKENWELL_USERNAME" --no-auth-warning '
                   + ("-c " if cluster else "") + '"$@"')
            return subprocess.run([a.cli, "exec", "redis", "--", "sh", "-c", cmd, str(cport if cluster else port),
                                   *args], env=cli_env, capture_output=True, text=True, timeout=30)

        p = redis_cli("SET", "tw-e2e-cli", "hello")
        check(p.returncode == 0 and p.stdout.strip() == "OK", f"redis-cli SET via tokenwell exec: {p.stdout!r}")
        for i in range(6):
            p = redis_cli("SET", f"tw-e2e-cli-{i}", str(i), cluster=True)
            check(p.returncode == 0 and p.stdout.strip() == "OK", f"redis-cli -c SET on the cluster: {p.stdout!r}")

        results = {}
        for name, proc in clients.items():
            out, _ = proc.communicate(timeout=a.duration + 120)
            try:
                results[name] = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                results[name] = {}
            print(f"{name}: {json.dumps(results[name])}", flush=True)

        provider.close()
        check(len(streamed) >= 3 and all(oid == info["oid"] and value.count(".") == 2 and 0 < ttl <= 20
                                         for oid, value, ttl in streamed)
              and len({value for _, value, _ in streamed}) == len(streamed),
              f"the streaming provider called on_next with each of {len(streamed)} new tokens")

        # The first token (seen before the clients started) has expired by now.
        check(time.time() > stale["expires_at"], "the first token has expired")
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--user", stale["username"],
                            "--no-auth-warning", "PING"], env=dict(os.environ, REDISCLI_AUTH=stale["token"]),
                           capture_output=True, text=True, timeout=30)
        check("WRONGPASS" in p.stdout + p.stderr or "NOAUTH" in p.stdout + p.stderr,
              f"redis-cli with an expired token is refused: {(p.stdout + p.stderr).strip()!r}")
        p = redis_cli("GET", "tw-e2e-cli")
        check(p.stdout.strip() == "hello", f"redis-cli after the rotations: {p.stdout!r}")

        for name in ("c", "python"):
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
        for name in ("c-no-reauth", "python-no-reauth"):
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
