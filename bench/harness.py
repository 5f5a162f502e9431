"""harness.py -- start the Entra ID stand-in and a real tokenwell-agent for the
scripts under bench/ (soak.py, footprint.py). Everything started is stopped by
Harness.close(), also on Ctrl-C.

    with Harness(build="build") as h:
        h.start_standin(token_lifetime=20)
        h.start_agent([h.entra_secret_credential("redis")])
        h.cli("get", "redis", "--json")
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Harness:
    def __init__(self, build="build"):
        self.build = os.path.join(ROOT, build)
        self.work = tempfile.mkdtemp(prefix="tokenwell-bench-")
        self.run_dir = os.path.join(self.work, "run")
        self.procs = []
        self.standin = None
        self.agent = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- processes
    def _spawn(self, args, log, env=None):
        out = open(os.path.join(self.work, log), "wb")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def start_standin(self, token_lifetime=3600):
        state = os.path.join(self.work, "standin")
        self._spawn([sys.executable, os.path.join(ROOT, "tests/fakes/entra_standin.py"), "--port", "0",
                     "--state-dir", state, "--token-lifetime", str(token_lifetime)], "standin.log")
        path = os.path.join(state, "standin.json")
        for _ in range(300):
            if os.path.exists(path):
                break
            time.sleep(0.1)
        with open(path) as f:
            self.standin = json.load(f)
        return self.standin

    def start_agent(self, credentials, keysets=(), extra=None):
        config = {"runtime_dir": self.run_dir, "listen": "127.0.0.1:0",
                  "log": {"level": "info", "format": "json"},
                  "credentials": list(credentials), "keysets": list(keysets)}
        config.update(extra or {})
        path = os.path.join(self.work, "config.json")
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        self.agent = self._spawn([os.path.join(self.build, "agent/tokenwell-agent"), "--config", path], "agent.log")
        for _ in range(300):
            if os.path.exists(os.path.join(self.run_dir, "agent.sock")):
                return self.agent
            if self.agent.poll() is not None:
                raise RuntimeError("agent exited:\n" + self.log("agent.log"))
            time.sleep(0.1)
        raise RuntimeError("agent did not start")

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.work, ignore_errors=True)

    def log(self, name):
        with open(os.path.join(self.work, name), errors="replace") as f:
            return f.read()

    # ---- config entries against the stand-in
    def entra_secret_credential(self, name, **refresh):
        s = self.standin
        c = {"name": name, "source": "entra", "tenant_id": s["tenant"], "client_id": s["client_id"],
             "authority_host": s["base_url"], "ca_file": s["ca_file"],
             "auth": {"method": "client_secret", "secret_file": s["files"]["client_secret"]}}
        if refresh:
            c["refresh"] = refresh
        return c

    def file_credential(self, name, value):
        path = os.path.join(self.work, "secret-" + name)
        with open(path, "w") as f:
            f.write(value)
        return {"name": name, "source": "file", "path": path, "username": "default"}

    # ---- observing
    def cli(self, *args):
        env = dict(os.environ, TOKENWELL_DIR=self.run_dir)
        return subprocess.run([os.path.join(self.build, "client-shim/cli/tokenwell"), *args],
                              capture_output=True, text=True, env=env)

    def admin(self, path, method="GET", body=None):
        req = urllib.request.Request(self.standin["admin_url"] + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read() or b"null")

    def token_requests(self):
        return [r for r in self.admin("/requests") if r.get("target") == "token"]
