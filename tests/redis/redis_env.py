#!/usr/bin/env python3
"""redis_env.py -- the Redis end-to-end fixture: everything a client test needs, on loopback.

Starts, in a fresh directory:
  - the Entra ID stand-in (tests/fakes/entra_standin.py) issuing short tokens,
  - the Azure Redis stand-in twice (tests/fakes/azure_redis_standin.py): one
    redis-server, and a real 3-master Redis Cluster, each behind its strict proxy,
  - tokenwell-agent keeping credential "redis" (client secret) fresh, plus any
    keysets asked for (e.g. a `generated` one for signing session JWTs).

As a program it prints one JSON line once everything is ready, then runs
until SIGTERM/SIGINT (or stdin closes, with --stop-on-eof), and stops everything it started:

    build/venv/test/bin/python tests/redis/redis_env.py --agent build/agent/tokenwell-agent [--token-lifetime 20] \
        [--keyset '{"name": "sessions", "source": "generated", "algorithm": "ES256"}' ...]
    {"dir": ..., "tokenwell_dir": ..., "credential": "redis", "oid": ...,
     "standalone": {"host", "port"}, "cluster": {"nodes": [{"host", "port"}, ...]},
     "entra_admin_url": ..., "events": {"standalone": path, "cluster": path}, "token_lifetime": 20,
     "keysets": [names]}

As a module: `with RedisEnv(agent=PATH) as env: env.info[...]`.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable  # the test venv (build/venv/test): the stand-ins need cryptography


def wait_until(ready, what, procs, timeout=60):
    """Polls ready() until true; fails at once if a process it waits on died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        for name, p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode} while waiting for {what}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def wait_for_file(path, procs, timeout=60):
    wait_until(lambda: os.path.exists(path), path, procs, timeout)


def wait_for_line(path, needle, procs, timeout=60):
    def found():
        try:
            with open(path) as f:
                return any(needle in line for line in f)
        except OSError:
            return False
    wait_until(found, f"'{needle}' in {path}", procs, timeout)


class Checks:
    """The named checks of an end-to-end test: each printed as it is made,
    the failures kept; finish() shows the environment's logs when one failed
    and gives the exit code."""

    def __init__(self):
        self.failures = []

    def __call__(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok

    def show_logs_if_failed(self, info):
        if self.failures:
            for log in info["logs"].values():
                print(f"--- {log}\n" + open(log).read()[-3000:])

    def finish(self):
        print(f"{len(self.failures)} check(s) failed" if self.failures else "all checks passed")
        return 1 if self.failures else 0


class RedisEnv:
    def __init__(self, agent, token_lifetime=20, keep=False, keysets=()):
        self.agent_path, self.token_lifetime, self.keep = agent, token_lifetime, keep
        self.keysets = list(keysets)  # agent keyset entries (docs/keysets.md), as dicts
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="tokenwell-redis-")
        self.info = None

    def _spawn(self, name, cmd, log):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(self.dir, log), "wb"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p))
        return p

    def start(self):
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        d = self.dir
        self._spawn("entra stand-in", [PYTHON, os.path.join(ROOT, "tests/fakes/entra_standin.py"), "--port", "0",
                                       "--state-dir", f"{d}/entra", "--token-lifetime", str(self.token_lifetime)],
                    "entra.log")
        wait_for_file(f"{d}/entra/standin.json", self.procs)
        with open(f"{d}/entra/standin.json") as f:
            entra = json.load(f)
        standin = os.path.join(ROOT, "tests/fakes/azure_redis_standin.py")
        self._spawn("azure redis stand-in", [PYTHON, standin, "--entra", f"{d}/entra", "--state-dir", f"{d}/redis"],
                    "redis.log")
        self._spawn("azure redis cluster stand-in", [PYTHON, standin, "--entra", f"{d}/entra", "--cluster",
                                                     "--state-dir", f"{d}/cluster"], "cluster.log")
        config = {
            "runtime_dir": f"{d}/run", "listen": "127.0.0.1:0", "log": {"level": "info", "format": "json"},
            "credentials": [{
                "name": "redis", "source": "entra", "tenant_id": entra["tenant"], "client_id": entra["client_id"],
                "authority_host": entra["base_url"], "ca_file": entra["ca_file"],
                "auth": {"method": "client_secret", "secret_file": entra["files"]["client_secret"]},
                "refresh": {"retry_min": "1s", "retry_max": "4s"}}]}
        if self.keysets:
            config["keysets"] = self.keysets
        with open(f"{d}/agent.json", "w") as f:
            json.dump(config, f, indent=2)
        self._spawn("tokenwell-agent", [self.agent_path, "--config", f"{d}/agent.json"], "agent.log")
        wait_for_file(f"{d}/redis/azure_redis.json", self.procs)
        wait_for_file(f"{d}/cluster/azure_redis.json", self.procs)
        # Ready when the first token is published, not merely when the segment exists.
        wait_for_line(f"{d}/agent.log", '"msg":"published","credential":"redis"', self.procs)
        for k in self.keysets:
            wait_for_line(f"{d}/agent.log", f'"msg":"published","keyset":"{k["name"]}"', self.procs)
        with open(f"{d}/redis/azure_redis.json") as f:
            standalone = json.load(f)
        with open(f"{d}/cluster/azure_redis.json") as f:
            cluster = json.load(f)
        self.info = {
            "dir": d, "tokenwell_dir": f"{d}/run", "credential": "redis", "oid": entra["oid"],
            "token_lifetime": self.token_lifetime, "keysets": [k["name"] for k in self.keysets],
            "standalone": {"host": "127.0.0.1", "port": standalone["nodes"][0]["port"]},
            "cluster": {"nodes": [{"host": n["host"], "port": n["port"]} for n in cluster["nodes"]]},
            "entra_admin_url": entra["admin_url"],
            "events": {"standalone": standalone["events"], "cluster": cluster["events"]},
            "logs": {"agent": f"{d}/agent.log", "entra": f"{d}/entra.log"},
        }
        return self.info

    def stop(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", default=os.path.join(ROOT, "build/agent/tokenwell-agent"))
    ap.add_argument("--token-lifetime", type=int, default=20)
    ap.add_argument("--keyset", action="append", default=[], type=json.loads,
                    help="a keyset entry for the agent's config, as JSON (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the directory (logs) after stopping")
    ap.add_argument("--stop-on-eof", action="store_true", help="also stop when stdin closes (for a parent process)")
    args = ap.parse_args()
    env = RedisEnv(args.agent, args.token_lifetime, args.keep, args.keyset)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        info = env.start()
        print(json.dumps(info), flush=True)
        if args.stop_on_eof:
            threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
        stop.wait()
    finally:
        env.stop()


if __name__ == "__main__":
    main()
