"""The observability scenario: a real Prometheus scraping a real tokenwell-agent
that rotates short-lived tokens from the Entra stand-in through IdP
throttling and an outage longer than a token's life.

Used by dashboard_test.py (CI, about a minute) and by
docs/observability/make_pictures.py (the PNGs in docs/observability.md, a
few minutes). Everything runs on loopback with ports the kernel picks; the
agent also refreshes a JWKS keyset from the stand-in and a generated
signing keyset, and a caller keeps the socket API busy.

    with Scenario(agent, work_dir, Timing.ci()) as s:
        s.run()                                   # the timeline, then returns
        s.query_range('tokenwell_ready', s.started, s.ended)

Runs under the test venv, build/venv/test (cryptography for the stand-in) and the
prometheus binary (Debian's package `prometheus`).
"""
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDIN = os.path.join(ROOT, "tests/fakes/entra_standin.py")
RULES = os.path.join(ROOT, "deploy/prometheus/tokenwell-rules.yaml")
PYTHON = sys.executable  # the test venv (cryptography for the stand-in; cmake/TokenwellPythonVenvs.cmake)
# The target labels the Prometheus Operator would add; the dashboard's
# variables select on them.
TARGET_LABELS = {"namespace": "demo", "pod": "orders-7d9f6-x2k4q"}


@dataclasses.dataclass
class Timing:
    """Seconds: token lifetime, scrape interval, and the timeline."""
    token_lifetime: int
    scrape_interval: int
    healthy: int        # normal rotation before the first fault
    throttled: int      # the token endpoint answers 429 + Retry-After
    between: int        # healthy again
    outage: int         # the IdP refuses connections (longer than token_lifetime)
    recovery: int       # back up until the end

    @staticmethod
    def ci():
        return Timing(token_lifetime=10, scrape_interval=1, healthy=14, throttled=8, between=4, outage=16,
                      recovery=10)

    @staticmethod
    def pictures():
        return Timing(token_lifetime=60, scrape_interval=2, healthy=120, throttled=60, between=30, outage=120,
                      recovery=90)

    @property
    def rate_interval(self):
        """What Grafana's $__rate_interval is at this scrape interval (4 scrapes)."""
        return f"{4 * self.scrape_interval}s"

    @property
    def total(self):
        return self.healthy + self.throttled + self.between + self.outage + self.recovery


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"scenario: timed out waiting for {what}")


def http_json(url, method="GET", body=None, timeout=5):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def unix_get(path, sock_path):
    """One HTTP/1.1 GET on the agent's socket; returns the status code (0: no answer)."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(sock_path)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: tokenwell\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64).decode("latin-1")
            return int(head.split(" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0


class Scenario:
    def __init__(self, agent, work, timing, log=print):
        self.agent_bin = agent
        self.work = work
        self.timing = timing
        self.log = log
        self.procs = []
        self.started = self.ended = None

    # --- start and stop -----------------------------------------------------
    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _spawn(self, name, argv, **kw):
        out = open(os.path.join(self.work, f"{name}.log"), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs.append((name, p))
        return p

    def _start(self):
        os.makedirs(self.work, exist_ok=True)
        t = self.timing
        self._spawn("standin", [PYTHON, STANDIN, "--port", "0", "--state-dir", f"{self.work}/standin",
                                "--token-lifetime", str(t.token_lifetime)])
        state = wait_for("the Entra stand-in", lambda: json.load(open(f"{self.work}/standin/standin.json")))
        self.admin_url = state["admin_url"]
        margin = self.margin_seconds = max(2, t.token_lifetime // 5)
        self.rotation_seconds = max(10, 2 * t.token_lifetime)
        config = {
            "runtime_dir": f"{self.work}/run",
            "listen": "127.0.0.1:0",
            "log": {"level": "info", "format": "json"},
            "credentials": [{
                "name": "redis", "source": "entra", "tenant_id": state["tenant"],
                "client_id": state["client_id"], "authority_host": state["base_url"], "ca_file": state["ca_file"],
                "auth": {"method": "client_secret", "secret_file": state["files"]["client_secret"]},
                "refresh": {"ratio": 0.75, "min_remaining": f"{margin}s", "jitter": 0.05, "retry_min": "1s",
                            "retry_max": f"{max(2, t.token_lifetime // 4)}s", "timeout": "2s"}}],
            "keysets": [
                {"name": "entra-keys", "source": "jwks", "issuer": f"{state['base_url']}{state['tenant']}/v2.0",
                 "ca_file": state["ca_file"], "timeout": "2s",
                 "refresh": {"min": "1s", "max": f"{t.token_lifetime}s", "default": f"{max(2, t.token_lifetime // 3)}s",
                             "cooldown": "1s", "retry_min": "1s", "retry_max": f"{max(2, t.token_lifetime // 4)}s"}},
                {"name": "sessions", "source": "generated", "algorithm": "ES256",
                 "rotate_every": f"{self.rotation_seconds}s", "publish_ahead": f"{max(2, t.token_lifetime // 3)}s",
                 "max_token_lifetime": f"{t.token_lifetime}s", "leeway": "1s",
                 "retain": f"{t.token_lifetime + 1}s"}],
        }
        with open(f"{self.work}/agent.json", "w") as f:
            json.dump(config, f, indent=2)
        self._spawn("agent", [self.agent_bin, "--config", f"{self.work}/agent.json"])
        self.socket_path = f"{self.work}/run/agent.sock"

        def agent_port():
            with open(f"{self.work}/agent.log") as f:
                for line in f:
                    if '"started"' in line:
                        return int(json.loads(line)["listen"].lstrip(":"))
            return None
        self.agent_port = wait_for("the agent's start", agent_port)
        self.metrics_url = f"http://127.0.0.1:{self.agent_port}/metrics"
        wait_for("the agent to be ready",
                 lambda: urllib.request.urlopen(f"http://127.0.0.1:{self.agent_port}/readyz", timeout=2).status == 200)

        self.prom_port = free_port()
        prom_config = {
            "global": {"scrape_interval": f"{t.scrape_interval}s", "evaluation_interval": f"{t.scrape_interval}s",
                       "scrape_timeout": f"{t.scrape_interval}s"},
            "rule_files": [RULES],
            "scrape_configs": [{"job_name": "tokenwell",
                                "static_configs": [{"targets": [f"127.0.0.1:{self.agent_port}"],
                                                    "labels": TARGET_LABELS}]}],
        }
        with open(f"{self.work}/prometheus.yml", "w") as f:
            json.dump(prom_config, f, indent=2)  # JSON is YAML
        self._spawn("prometheus", [shutil.which("prometheus") or "/usr/bin/prometheus",
                                   f"--config.file={self.work}/prometheus.yml",
                                   f"--storage.tsdb.path={self.work}/tsdb",
                                   f"--web.listen-address=127.0.0.1:{self.prom_port}",
                                   "--storage.tsdb.retention.time=1d", "--log.level=warn"])
        self.prom_url = f"http://127.0.0.1:{self.prom_port}"
        wait_for("Prometheus to scrape the agent", lambda: any(
            tg["health"] == "up" for tg in self.api("targets")["activeTargets"]))

    def close(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []

    # --- the timeline ----------------------------------------------------------
    def fault(self, body):
        http_json(self.admin_url + "/fault", "POST", body)

    def clear_faults(self):
        http_json(self.admin_url + "/fault", "DELETE")

    def run(self):
        """Runs the timeline; a caller uses the socket API once a second."""
        t = self.timing
        phases = [
            (0, "healthy: tokens rotate at ~75% of their life", lambda: None),
            (t.healthy, "IdP throttles: 429 with Retry-After 2",
             lambda: self.fault({"mode": "status", "status": 429, "retry_after": 2})),
            (t.healthy + t.throttled, "IdP healthy again", self.clear_faults),
            (t.healthy + t.throttled + t.between, f"IdP down for {t.outage}s (tokens live {t.token_lifetime}s)",
             lambda: self.fault({"mode": "down"})),
            (t.healthy + t.throttled + t.between + t.outage, "IdP back up", self.clear_faults),
        ]
        self.phases = []
        self.started = time.time()
        paths = ["/v1/credentials", "/v1/credentials/redis", "/v1/keysets/entra-keys/jwks",
                 "/v1/keysets/sessions/jwks", "/v1/credentials/no-such-credential"]
        while (elapsed := time.time() - self.started) < t.total:
            while phases and phases[0][0] <= elapsed:
                at, what, action = phases.pop(0)
                action()
                self.phases.append((self.started + at, what))
                self.log(f"scenario: {elapsed:5.1f}s {what}")
            for path in paths:
                unix_get(path, self.socket_path)
            time.sleep(1)
        # One more scrape and rule evaluation after the end.
        time.sleep(2 * t.scrape_interval)
        self.ended = time.time()

    # --- Prometheus and the agent -----------------------------------------------
    def api(self, endpoint, **params):
        url = f"{self.prom_url}/api/v1/{endpoint}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:  # 400 bad_data: the query does not parse
            body = json.loads(e.read())
        if body.get("status") != "success":
            raise ValueError(f"{endpoint}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query_range(self, expr, start, end, step=None):
        """The series of a range query: [{"metric": {...}, "values": [[t, "v"], ...]}]."""
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=str(step or self.timing.scrape_interval))["result"]

    def scrape(self):
        with urllib.request.urlopen(self.metrics_url, timeout=5) as r:
            return r.read().decode()

    def exported_metric_names(self):
        """The series names the agent's /metrics really has (histograms as _bucket/_sum/_count)."""
        names = set()
        for line in self.scrape().splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
        return names


def concrete_query(expr, timing):
    """A dashboard query as Grafana sends it with every variable set to All."""
    for var in ("namespace", "pod", "credential", "keyset"):
        expr = expr.replace(f"${var}", ".*").replace(f"${{{var}}}", ".*")
    return expr.replace("$__rate_interval", timing.rate_interval)


def dashboard_queries(dashboard, timing):
    """[(panel title, concrete query)] for every panel target, and the
    selectors inside the template variables' label_values()."""
    out = [(panel["title"], concrete_query(target["expr"], timing))
           for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            inner = q[len("label_values("):q.rindex(",")] if q.startswith("label_values(") else q
            out.append((f"variable {var['name']}", concrete_query(inner, timing)))
    return out


if __name__ == "__main__":
    sys.exit("scenario.py is a module: see tests/observability/dashboard_test.py")
