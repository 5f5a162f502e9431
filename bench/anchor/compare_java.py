#!/usr/bin/env python3
"""compare_java.py -- tokenwell vs redis-authx-entraid (Jedis), side by side in one run.

run_java.sh builds what it needs and runs this. Against one Entra stand-in issuing short-lived
tokens and the strict Azure Redis stand-in (tests/fakes/azure_redis_standin.py: live tokens only,
a connection closed when its token expires):
  "pod" A: one tokenwell-agent + N JVMs, Jedis 8 with tokenwell's AuthXManager (TokenwellAuthX)
  "pod" B: N JVMs, Jedis 8 with redis-authx-entraid's AuthXManager (MSAL4J, a token manager each)
Each side has its own app registration in the stand-in, so its request log attributes every IdP
request. Phases as bench/anchor/compare.js: steady, an IdP outage longer than a token lives,
recovery. Prints a Markdown report (docs/benchmarks-anchor.md holds one).

    compare_java.py --agent PATH --classpath FILE [--clients 8] [--lifetime 20] [--steady 60]
                    [--outage 110] [--recovery 45] [--entraid-timeout-ms MS]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable  # the test venv (run_java.sh): the stand-ins need cryptography
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]  # the same on both sides


def log(*a):
    print(time.strftime("[%H:%M:%S]"), *a, file=sys.stderr, flush=True)


def wait_for(what, check, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = check()
            if v:
                return v
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Client:
    """One JVM; its last JSON state line."""

    def __init__(self, mode, cmd, env):
        self.mode = mode
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.state = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.state = json.loads(line)
            except ValueError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--classpath", required=True, help="file with the bench's Java classpath")
    for name, default in (("clients", 8), ("lifetime", 20), ("steady", 60), ("outage", 110), ("recovery", 45),
                          ("entraid-timeout-ms", 0)):
        ap.add_argument(f"--{name}", type=int, default=default)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tokenwell-anchor-java-")
    procs = []

    def spawn(cmd, logname, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(work, logname), "wb"),
                             stderr=subprocess.STDOUT, start_new_session=True, **kw)
        procs.append(p)
        return p

    try:
        apps = {side: {"client_id": str(uuid.uuid4()), "oid": str(uuid.uuid4()), "secret": f"{side[:2]}~{uuid.uuid4().hex}"}
                for side in ("tokenwell", "entraid")}
        for side, app in apps.items():
            with open(os.path.join(work, f"{side}.secret"), "w") as f:
                f.write(app["secret"])
        with open(os.path.join(work, "standin-config.json"), "w") as f:
            json.dump({"tenants": [TENANT], "token_lifetime": a.lifetime,
                       "clients": [{"client_id": x["client_id"], "tenant": TENANT, "oid": x["oid"],
                                    "secrets": [x["secret"]]} for x in apps.values()]}, f)
        log(f"stand-in: {a.lifetime}-second tokens")
        spawn([PYTHON, os.path.join(ROOT, "tests/fakes/entra_standin.py"), "--port", "0", "--state-dir",
               f"{work}/standin", "--config", f"{work}/standin-config.json", "--token-lifetime", str(a.lifetime)],
              "entra.log")
        s = wait_for("the stand-in", lambda: json.load(open(f"{work}/standin/standin.json")))

        def admin(method, what, body=None):
            req = urllib.request.Request(f"{s['admin_url']}/{what}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None)
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)

        trust = f"{work}/trust.p12"
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "standin", "-file", s["ca_file"],
                        "-keystore", trust, "-storetype", "PKCS12", "-storepass", "changeit"],
                       check=True, capture_output=True)
        spawn([PYTHON, os.path.join(ROOT, "tests/fakes/azure_redis_standin.py"), "--entra", f"{work}/standin",
               "--state-dir", f"{work}/redis"], "redis.log")
        redis = wait_for("the Redis stand-in", lambda: json.load(open(f"{work}/redis/azure_redis.json")))
        redis_port = redis["nodes"][0]["port"]

        metrics_port = free_port()
        with open(f"{work}/agent.json", "w") as f:
            json.dump({"runtime_dir": f"{work}/run", "listen": f"127.0.0.1:{metrics_port}",
                       "log": {"level": "warn", "format": "json"},
                       "credentials": [{"name": "redis", "source": "entra", "tenant_id": TENANT,
                                        "client_id": apps["tokenwell"]["client_id"], "authority_host": s["base_url"],
                                        "ca_file": s["ca_file"],
                                        "auth": {"method": "client_secret", "secret_file": f"{work}/tokenwell.secret"}}]},
                      f)
        agent = spawn([a.agent, "--config", f"{work}/agent.json"], "agent.log")
        wait_for("the agent's first token", lambda: os.path.exists(f"{work}/run/segment") and
                 subprocess.run([os.path.join(os.path.dirname(a.agent), "../client-shim/cli/tokenwell"), "--dir",
                                 f"{work}/run", "get", "redis"], capture_output=True).returncode == 0)

        def scrape():
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
            total = lambda prefix, cond=lambda l: True: sum(float(l.split()[-1]) for l in text.splitlines()
                                                           if l.startswith(prefix) and cond(l))
            return {"idp": total("tokenwell_idp_requests_total{"),
                    "failures": total("tokenwell_credential_refresh_total{", lambda l: 'result="failure"' in l)}

        classpath = open(a.classpath).read().strip()
        env = dict(os.environ, REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port), TOKENWELL_DIR=f"{work}/run",
                   ENTRA_AUTHORITY=f"{s['base_url']}{TENANT}/", ENTRA_CLIENT_ID=apps["entraid"]["client_id"],
                   ENTRA_SECRET_FILE=f"{work}/entraid.secret",
                   ENTRA_REQUEST_TIMEOUT_MS=str(a.entraid_timeout_ms) if a.entraid_timeout_ms else "")
        java = ["java", *JVM_FLAGS, f"-Djavax.net.ssl.trustStore={trust}", "-Djavax.net.ssl.trustStorePassword=changeit",
                "-cp", classpath, "io.tokenwell.anchor.AnchorClient"]

        log("redis-authx-entraid's own service-principal path (EntraIDTokenAuthConfigBuilder.authority)")
        probe = Client("entraid-builder", java + ["entraid-builder"], env)
        wait_for("the probe's verdict", lambda: probe.state.get("failed", 0) > 0 or probe.state.get("fatal")
                 or probe.state.get("ok", 0) > 0, timeout=60)
        probe.proc.kill()
        builder_result = dict(probe.state)
        log("probe:", json.dumps(builder_result)[:600])

        log(f"{a.clients} tokenwell clients + {a.clients} redis-authx-entraid clients")
        clients = [Client(mode, java + [mode], env) for mode in ("tokenwell", "entraid") for _ in range(a.clients)]
        try:
            wait_for("every client issuing commands (or failing to start)",
                     lambda: all(c.state.get("ok", 0) > 0 or c.state.get("fatal") for c in clients), timeout=180)
        except RuntimeError:
            for c in clients:
                log(c.mode, json.dumps(c.state)[:600])
            raise

        def group(mode):
            return [c for c in clients if c.mode == mode]

        def totals(mode):
            t = {k: 0 for k in ("ok", "failed", "idpCalls", "idpFailures", "managerGaveUp", "reauthErrors")}
            for c in group(mode):
                for k in t:
                    t[k] += c.state.get(k, 0)
            t["gaveUpClients"] = sum(1 for c in group(mode) if c.state.get("managerGaveUp", 0) > 0)
            return t

        def token_requests():
            by = {"tokenwell": 0, "entraid": 0}
            for r in admin("GET", "requests"):
                if r.get("target") != "token":
                    continue
                for side, app in apps.items():
                    if r.get("client_id") == app["client_id"]:
                        by[side] += 1
            return by

        samples = []

        def sample(phase):
            samples.append({"t": time.time(), "phase": phase, "tokenwell": totals("tokenwell"), "entraid": totals("entraid"),
                            "rss": {"agent": rss_kb(agent.pid), "tokenwell": sum(rss_kb(c.proc.pid) for c in group("tokenwell")),
                                    "entraid": sum(rss_kb(c.proc.pid) for c in group("entraid"))}})

        def run(phase, seconds):
            for _ in range(seconds):
                time.sleep(1)
                sample(phase)

        log(f"steady: {a.steady} s")
        admin("DELETE", "requests")
        steady0 = {m: totals(m) for m in ("tokenwell", "entraid")}
        sample("steady")
        run("steady", a.steady)
        steady_reqs = token_requests()
        steady_end = {m: totals(m) for m in ("tokenwell", "entraid")}

        log(f"outage: the IdP refuses connections for {a.outage} s")
        m0 = scrape()
        outage0 = {m: totals(m) for m in ("tokenwell", "entraid")}
        outage_start = time.time()
        admin("POST", "fault", {"mode": "down"})
        run("outage", a.outage)
        m1 = scrape()
        outage_end = {m: totals(m) for m in ("tokenwell", "entraid")}

        log(f"recovery: the IdP is back, {a.recovery} s")
        admin("DELETE", "requests")
        admin("POST", "fault", {"mode": "up"})
        recovery_start = time.time()
        run("recovery", a.recovery)
        recovery_reqs = token_requests()
        end = {m: totals(m) for m in ("tokenwell", "entraid")}
        tail = [x for x in samples if x["phase"] == "recovery"][-10:]

        def first_failure(mode):
            base = next((x[mode]["failed"] for x in samples if x["t"] >= outage_start), 0)
            hit = next((x for x in samples if x["phase"] == "outage" and x[mode]["failed"] > base), None)
            return round(hit["t"] - outage_start) if hit else "none"

        def recovered_after(mode):
            rec = [x for x in samples if x["phase"] == "recovery"]
            for i in range(len(rec)):
                if all(x[mode]["failed"] == rec[i][mode]["failed"] for x in rec[i:]) and rec[-1][mode]["ok"] > rec[i][mode]["ok"]:
                    return round(rec[i]["t"] - recovery_start)
            return "never (in this run)"

        steady_samples = [x for x in samples if x["phase"] == "steady"]
        mean = lambda f: round(sum(f(x) for x in steady_samples) / len(steady_samples) / 1024)
        peak = lambda f: round(max(f(x) for x in steady_samples) / 1024)
        d = lambda x, y, k: y[k] - x[k]

        def errors_of(mode):
            agg = {}
            for c in group(mode):
                for k, v in c.state.get("errors", {}).items():
                    agg[k] = agg.get(k, 0) + v
            top = sorted(agg.items(), key=lambda kv: -kv[1])[:4]
            return "; ".join(f"{v}× `{k}`" for k, v in top) or "none"

        drops = {"tokenwell": 0, "entraid": 0}
        conn_user = {}
        with open(redis["events"]) as f:
            for line in f:
                e = json.loads(line)
                if e["event"] == "auth" and e.get("credited"):
                    conn_user[e["conn"]] = e["user"]
                elif e["event"] == "expired_drop":
                    for side, app in apps.items():
                        if conn_user.get(e["conn"]) == app["oid"]:
                            drops[side] += 1

        java_version = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        out = [f"Run: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {os.cpu_count()} CPUs, {java_version}, "
               f"JVM flags {' '.join(JVM_FLAGS)}; {a.clients} clients per side, {a.lifetime}-second tokens, steady "
               f"{a.steady} s, IdP down {a.outage} s, recovery {a.recovery} s; agent defaults; redis-authx-entraid "
               f"tokenRequestExecTimeoutInMs {a.entraid_timeout_ms or 'default (1000)'}.", ""]
        row = lambda *cells: out.append("| " + " | ".join(str(c) for c in cells) + " |")
        row("", f"tokenwell (1 agent + {a.clients} JVMs)", f"redis-authx-entraid ({a.clients} JVMs)")
        row("---", "---", "---")
        row("IdP token requests in the steady phase", steady_reqs["tokenwell"], steady_reqs["entraid"])
        row("… extrapolated to an hour", round(steady_reqs["tokenwell"] * 3600 / a.steady),
            round(steady_reqs["entraid"] * 3600 / a.steady))
        row("RSS, mean (max) in the steady phase, MiB",
            f"{mean(lambda x: x['rss']['agent'] + x['rss']['tokenwell'])} "
            f"({peak(lambda x: x['rss']['agent'] + x['rss']['tokenwell'])}); agent alone {mean(lambda x: x['rss']['agent'])}",
            f"{mean(lambda x: x['rss']['entraid'])} ({peak(lambda x: x['rss']['entraid'])})")
        row("RSS per client JVM, mean, MiB", round(mean(lambda x: x['rss']['tokenwell']) / a.clients),
            round(mean(lambda x: x['rss']['entraid']) / a.clients))
        for label, x0, x1 in (("steady", steady0, steady_end), ("IdP down", outage0, outage_end),
                              ("recovery", outage_end, end)):
            row(f"commands ok / failed, {label}", f"{d(x0['tokenwell'], x1['tokenwell'], 'ok')} / "
                f"{d(x0['tokenwell'], x1['tokenwell'], 'failed')}",
                f"{d(x0['entraid'], x1['entraid'], 'ok')} / {d(x0['entraid'], x1['entraid'], 'failed')}")
        row("first failed command after the IdP went down, s", first_failure("tokenwell"), first_failure("entraid"))
        row("IdP attempts while down", f"{round(m1['idp'] - m0['idp'])} (agent metric tokenwell_idp_requests_total; "
            f"{round(m1['failures'] - m0['failures'])} failed refreshes)",
            f"{d(outage0['entraid'], outage_end['entraid'], 'idpCalls')} (MSAL calls counted in the clients)")
        row("IdP token requests in the recovery phase", recovery_reqs["tokenwell"], recovery_reqs["entraid"])
        row("commands ok / failed in the last 10 s",
            f"{tail[-1]['tokenwell']['ok'] - tail[0]['tokenwell']['ok']} / {tail[-1]['tokenwell']['failed'] - tail[0]['tokenwell']['failed']}",
            f"{tail[-1]['entraid']['ok'] - tail[0]['entraid']['ok']} / {tail[-1]['entraid']['failed'] - tail[0]['entraid']['failed']}")
        row("failures stopped for good after the IdP returned, s", recovered_after("tokenwell"), recovered_after("entraid"))
        row("clients that could not start (AuthXManager start failed)",
            sum(1 for c in group("tokenwell") if c.state.get("fatal")), sum(1 for c in group("entraid") if c.state.get("fatal")))
        row("clients whose token manager gave up (never renews again)", end["tokenwell"]["gaveUpClients"],
            end["entraid"]["gaveUpClients"])
        row("connections closed by the strict Redis because their token expired", drops["tokenwell"], drops["entraid"])
        out += ["", f"Most frequent client errors — tokenwell: {errors_of('tokenwell')}", "",
                f"Most frequent client errors — redis-authx-entraid: {errors_of('entraid')}", "",
                "redis-authx-entraid's own service-principal path (clientId/secret/authority, no custom supplier) "
                f"against the stand-in: {json.dumps(builder_result)}"]
        print("\n".join(out), flush=True)
        with open(f"{work}/samples.json", "w") as f:
            json.dump(samples, f)
        log(f"samples: {work}/samples.json")
        for c in clients:
            c.proc.kill()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
