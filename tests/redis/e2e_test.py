#!/usr/bin/env python3
"""e2e_test.py -- every Redis client end to end, one matrix (ctest: redis.e2e, label integration:redis).

Each client is a program of tests/redis/clients.md. For each environment (tests/redis/redis_env.py:
the Entra stand-in issuing 20-second tokens, the strict Azure Redis stand-in as one server and as a
3-master cluster, the real agent), its clients run concurrently for ~55 s (3+ rotations), each
twice: with re-auth (zero failed commands, every message received, every item popped, >= 3
rotations) and with --no-reauth (must fail: the stand-in drops a connection whose token expired).
Environment 1 also runs redis-cli through `tokenwell exec` (server and cluster) and checks that an
expired token is refused. Clients are split over environments (--client GROUP:NAME=COMMAND) so
that one environment's stand-ins are not starved of CPU on 2 cores.

    e2e_test.py --agent AGENT --cli CLI --table-out FILE \\
        --client 1:C=build/tests/redis/redis_e2e_client --client '2:Go=build/tests/go/bin/redis-e2e-client' ...

Prints the matrix as a Markdown table (also written to --table-out for docs/clients.md) and one
line per check; exit 0 when every check holds.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from redis_env import Checks, RedisEnv  # noqa: E402

DURATION = 55  # the agent refreshes 20-second tokens every ~15 s (±5% jitter): 3 rotations fit


def parse_client(spec):
    group, _, rest = spec.partition(":")
    name, _, command = rest.partition("=")
    if not group.isdigit() or not name or not command:
        raise argparse.ArgumentTypeError(f"--client GROUP:NAME=COMMAND, got {spec!r}")
    return int(group), name, shlex.split(command)


def run_environment(a, check, clients, with_cli_checks):
    """One environment; returns {name: (result with re-auth, result without)}."""
    results = {}
    with RedisEnv(a.agent, token_lifetime=20) as env:
        info = env.info
        tdir, port = info["tokenwell_dir"], info["standalone"]["port"]
        cport = info["cluster"]["nodes"][0]["port"]
        cli_env = dict(os.environ, TOKENWELL_DIR=tdir)
        stale = json.loads(subprocess.run([a.cli, "get", "redis", "--json"], env=cli_env, capture_output=True,
                                          text=True, check=True).stdout)
        started = time.monotonic()
        procs = {}
        for name, command in clients:
            slug = "".join(ch for ch in name.lower() if ch.isalnum())
            for reauth in (True, False):
                extra = ["--tag", slug + ("" if reauth else "-n")] + ([] if reauth else ["--no-reauth"])
                procs[(name, reauth)] = subprocess.Popen(
                    [*command, "--dir", tdir, "--host", "127.0.0.1", "--port", str(port), "--cluster-host",
                     "127.0.0.1", "--cluster-port", str(cport), "--duration", str(a.duration), *extra],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        if with_cli_checks:
            def redis_cli(*args, cluster=False):
                cmd = ('exec redis-cli -h 127.0.0.1 -p "$0" --user "$TOKENWELL_USERNAME" --no-auth-warning '
                       + ("-c " if cluster else "") + '"$@"')
                return subprocess.run([a.cli, "exec", "redis", "--", "sh", "-c", cmd,
                                       str(cport if cluster else port), *args],
                                      env=cli_env, capture_output=True, text=True, timeout=30)
            p = redis_cli("SET", "tw-e2e-cli", "hello")
            check(p.returncode == 0 and p.stdout.strip() == "OK", f"redis-cli SET via tokenwell exec: {p.stdout!r}")
            for i in range(6):
                p = redis_cli("SET", f"tw-e2e-cli-{i}", str(i), cluster=True)
                check(p.returncode == 0 and p.stdout.strip() == "OK",
                      f"redis-cli -c SET on the cluster: {p.stdout!r}")

        for (name, reauth), proc in procs.items():
            try:
                out, err = proc.communicate(timeout=a.duration + 180)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            try:
                r = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                r = {"first_error": f"no JSON (exit {proc.returncode}): {err.strip()[-300:]}"}
            r["exit"] = proc.returncode
            results.setdefault(name, [None, None])[0 if reauth else 1] = r
            print(f"{name} ({'re-auth' if reauth else 'no re-auth'}): {json.dumps(r)}", flush=True)
        print(f"environment with {len(clients)} clients x 2: {time.monotonic() - started:.0f} s", flush=True)

        if with_cli_checks:
            check(time.time() > stale["expires_at"], "the first token has expired")
            p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--user", stale["username"],
                                "--no-auth-warning", "PING"], env=dict(os.environ, REDISCLI_AUTH=stale["token"]),
                               capture_output=True, text=True, timeout=30)
            check("WRONGPASS" in p.stdout + p.stderr or "NOAUTH" in p.stdout + p.stderr,
                  f"redis-cli with an expired token is refused: {(p.stdout + p.stderr).strip()!r}")
            p = redis_cli("GET", "tw-e2e-cli")
            check(p.stdout.strip() == "hello", f"redis-cli after the rotations: {p.stdout!r}")
        drops = 0
        for path in info["events"].values():
            with open(path) as f:
                drops += sum(1 for line in f if json.loads(line)["event"] == "expired_drop")
        check(drops > 0, f"the stand-in dropped {drops} connections whose token expired")
        check.show_logs_if_failed(info)
    return results


def judge(check, name, r, n):
    """The checks of tests/redis/clients.md; returns the row of the matrix."""
    rotations = r.get("last_generation", 0) - r.get("first_generation", 0)
    ok = [check(r.get("exit") == 0, f"{name}: exit {r.get('exit')}"),
          check(rotations >= 3, f"{name}: ran through {rotations} rotations (>= 3)"),
          check(r.get("commands_ok", 0) > 100 and r.get("commands_failed", 1) == 0,
                f"{name}: {r.get('commands_ok')} commands ok, {r.get('commands_failed')} failed "
                f"({r.get('first_error', '')})"),
          check(r.get("cluster_ok", 0) > 100 and r.get("cluster_failed", 1) == 0,
                f"{name}: cluster {r.get('cluster_ok')} ok, {r.get('cluster_failed')} failed")]
    if r.get("published", 0) or r.get("sub_received", 0):
        ok.append(check(r.get("published", 0) > 100 and r.get("sub_received") == r.get("published"),
                        f"{name}: subscriber got {r.get('sub_received')} of {r.get('published')} messages"))
    if r.get("blpop_received", 0):
        ok.append(check(r.get("blpop_received") == r.get("published"),
                        f"{name}: BLPOP got {r.get('blpop_received')} of {r.get('published')} items"))
    failed_without = n.get("commands_failed", 0) + n.get("cluster_failed", 0)
    ok.append(check(failed_without > 0, f"{name} --no-reauth: fails ({failed_without} failed: "
                                        f"{n.get('first_error', '')[:80]})"))
    return (f"| {name} | {r.get('client', '?')} | {rotations} | {r.get('commands_ok', 0)} / "
            f"{r.get('commands_failed', '?')} | {r.get('cluster_ok', 0)} / {r.get('cluster_failed', '?')} | "
            f"{r.get('sub_received', 0)} / {r.get('published', 0)} | {r.get('blpop_received', 0)} | "
            f"{failed_without} | {'pass' if all(ok) else 'FAIL'} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--client", action="append", type=parse_client, required=True,
                    help="GROUP:NAME=COMMAND (repeatable); clients of one GROUP share an environment")
    ap.add_argument("--duration", type=float, default=DURATION)
    ap.add_argument("--table-out", help="also write the Markdown table here")
    a = ap.parse_args()
    check = Checks()
    groups = sorted({g for g, _, _ in a.client})
    results = {}
    for i, group in enumerate(groups):
        clients = [(name, command) for g, name, command in a.client if g == group]
        results.update(run_environment(a, check, clients, with_cli_checks=i == 0))

    header = ("| client | library | rotations | commands ok / failed | cluster ok / failed | "
              "pub/sub received / published | BLPOP items | --no-reauth failures | result |\n"
              "|---|---|---|---|---|---|---|---|---|")
    rows = [judge(check, name, r or {}, n or {}) for name, (r, n) in results.items()]
    table = "\n".join([header, *rows])
    print("\n" + table + "\n", flush=True)
    if a.table_out:
        with open(a.table_out, "w") as f:
            f.write(f"<!-- tests/redis/e2e_test.py, {time.strftime('%Y-%m-%d')}, {a.duration:g} s per client, "
                    f"20-second tokens -->\n{table}\n")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
