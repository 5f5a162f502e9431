#!/usr/bin/env python3
"""The shipped Grafana dashboard against a real agent and a real Prometheus.

Runs the observability scenario (scenario.py: the Entra stand-in, the agent
rotating 10-second tokens through IdP throttling and an outage, Prometheus
scraping it every second with the shipped alert rules loaded), then checks:

  - the dashboard JSON: current schemaVersion, the namespace/pod/credential
    variables, every panel on the ${datasource} variable;
  - every panel query and variable selector parses (Prometheus's own grammar,
    @prometheus-io/lezer-promql, and the real Prometheus's query API), names
    only metrics the agent's /metrics really exports (read from a scrape, not
    a list), and returns data over the scenario;
  - Prometheus loaded the shipped rules and evaluates them without error;
  - the scenario did what it claims (the data shows the throttling, the
    outage and the recovery), so "returns data" means the interesting data.

  dashboard_test.py --agent PATH [--work DIR] [--keep]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenario import ROOT, Scenario, Timing, dashboard_queries  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(ROOT, "helm/tokenwell/files/grafana-dashboard.json")
# Grafana 12's classic dashboard model; Grafana migrates older ones on load.
MIN_SCHEMA_VERSION = 41

passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}", flush=True)
    except (AssertionError, ValueError) as e:
        failed += 1
        print(f"FAIL {name}\n     " + str(e).replace("\n", "\n     "), flush=True)


def promql_names(exprs):
    """[{names, error}] per expression, from Prometheus's Lezer grammar (npm, pinned by package-lock.json)."""
    stamp = os.path.join(HERE, "node_modules/.installed-from-package-lock.json")
    lock = os.path.join(HERE, "package-lock.json")
    if not os.path.exists(stamp) or open(stamp).read() != open(lock).read():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True,
                       stdout=subprocess.DEVNULL)
        shutil.copyfile(lock, stamp)
    p = subprocess.run(["node", os.path.join(HERE, "promql_names.mjs")], input=json.dumps(exprs),
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def finite_points(result):
    return sum(1 for series in result for _, v in series["values"] if math.isfinite(float(v)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--work", help="keep the scenario's files here (default: a temporary directory)")
    a = ap.parse_args()

    with open(DASHBOARD) as f:
        dashboard = json.load(f)

    def model():
        assert dashboard["schemaVersion"] >= MIN_SCHEMA_VERSION, f"schemaVersion {dashboard['schemaVersion']}"
        names = [v["name"] for v in dashboard["templating"]["list"]]
        for var in ("datasource", "namespace", "pod", "credential"):
            assert var in names, f"no ${var} variable"
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), "panel ids repeat"
        for p in dashboard["panels"]:
            if p["type"] != "row":
                assert p["datasource"]["uid"] == "${datasource}", f"{p['title']}: datasource {p['datasource']}"
                assert p["targets"], f"{p['title']}: no query"
                for t in p["targets"]:
                    assert 'namespace=~"$namespace"' in t["expr"] and 'pod=~"$pod"' in t["expr"], \
                        f"{p['title']}: {t['expr']} is not templated on namespace and pod"
                    if "tokenwell_credential_" in t["expr"] or "tokenwell_idp_" in t["expr"]:
                        assert 'credential=~"$credential"' in t["expr"], f"{p['title']}: not templated on credential"
    check("dashboard JSON: schemaVersion, variables, data source, templated queries", model)

    queries = dashboard_queries(dashboard, Timing.ci())
    parsed = promql_names([q for _, q in queries])
    def all_parse():
        bad = [f"{title}: {q}: {p['error']}" for (title, q), p in zip(queries, parsed) if p["error"]]
        assert not bad, "\n".join(bad)
    check(f"all {len(queries)} queries parse with Prometheus's PromQL grammar", all_parse)

    work = a.work or tempfile.mkdtemp(prefix="tokenwell-observability-")
    t0 = time.monotonic()
    try:
        with Scenario(a.agent, work, Timing.ci()) as s:
            s.run()
            exported = s.exported_metric_names()
            print(f"scenario: {time.monotonic() - t0:.0f}s; the agent exports {len(exported)} series names",
                  flush=True)

            for (title, q), p in zip(queries, parsed):
                def one(title=title, q=q, p=p):
                    unknown = sorted(set(p["names"]) - exported)
                    assert p["names"], f"{q} names no metric"
                    assert not unknown, f"{q} names {unknown}, which the agent does not export"
                    result = s.query_range(q, s.started, s.ended)  # ValueError when Prometheus cannot parse it
                    assert finite_points(result) > 0, f"{q} returned no data over the scenario"
                check(f"{title}: {q[:90]}", one)

            def rules_loaded():
                groups = s.api("rules")["groups"]
                rules = [r for g in groups for r in g["rules"]]
                assert len(rules) >= 14, f"Prometheus loaded {len(rules)} rules"
                bad = [f"{r['name']}: {r.get('lastError')}" for r in rules if r["health"] == "err"]
                assert not bad, "\n".join(bad)
            check("Prometheus loaded deploy/prometheus/tokenwell-rules.yaml and evaluates it without error",
                  rules_loaded)

            def scenario_shows_what_it_claims():
                def values(expr):
                    return [float(v) for series in s.query_range(expr, s.started, s.ended) for _, v in series["values"]]
                ready = values("tokenwell_ready")
                assert 0.0 in ready and ready[-1] == 1.0, f"tokenwell_ready never 0 or not 1 at the end: {ready}"
                assert max(values('tokenwell_idp_requests_total{code="429"}') or [0]) > 0, "no 429 counted"
                assert max(values('tokenwell_idp_requests_total{code="error"}') or [0]) > 0, "no failed connect counted"
                assert min(values("tokenwell_credential_expiry_timestamp_seconds - time()")) < 0, "never expired"
                assert max(values("tokenwell_keyset_consecutive_failures")) > 0, "the JWKS refresh never failed"
                assert values("tokenwell_credential_consecutive_failures")[-1] == 0, "not recovered at the end"
            check("the scenario's data shows throttling, expiry during the outage, and the recovery",
                  scenario_shows_what_it_claims)

            # The two alerts that compare with the agent's own settings, on the
            # agent's real series: the credential's margin (min_remaining, 2 s
            # here) is crossed during the outage (and may be while throttled)
            # with refreshes failing, so TokenwellCredentialExpiringBeforeRefresh
            # goes pending (its `for:` is longer than the scenario), never while
            # healthy; the generated keyset rotates on
            # time: the key's age climbs to its rotation period and drops back.
            def alerts_on_real_settings():
                def values(expr):
                    return [float(v) for series in s.query_range(expr, s.started, s.ended) for _, v in series["values"]]
                margin = values('tokenwell_credential_refresh_margin_seconds{credential="redis"}')
                assert margin and set(margin) == {float(s.margin_seconds)}, f"refresh margin {set(margin)}"
                period = values('tokenwell_keyset_rotation_period_seconds{keyset="sessions"}')
                assert period and set(period) == {float(s.rotation_seconds)}, f"rotation period {set(period)}"
                pending = s.query_range('ALERTS{alertname="TokenwellCredentialExpiringBeforeRefresh"}', s.started, s.ended)
                assert pending, "TokenwellCredentialExpiringBeforeRefresh never went pending during the outage"
                times = sorted(float(t) for series in pending for t, _ in series["values"])
                first_fault = next(at for at, what in s.phases if what.startswith("IdP throttles"))
                outage = next(at for at, what in s.phases if what.startswith("IdP down"))
                back = next(at for at, what in s.phases if what.startswith("IdP back"))
                assert times[0] >= first_fault - 1, f"pending at {times[0] - s.started:.0f}s, while healthy"
                assert any(outage <= t <= back + 1 for t in times), \
                    f"not pending during the outage, only at {[round(t - s.started) for t in times]}s"
                age = values('(time() - tokenwell_keyset_signing_key_activated_timestamp_seconds{keyset="sessions"})'
                             ' / tokenwell_keyset_rotation_period_seconds{keyset="sessions"}')
                assert age and max(age) > 0.5, f"the signing key's age never neared its period: {max(age or [0])}"
                # A scrape taken just before a rotation may show the old key a
                # scrape interval past its period (the alert's `for: 10m`
                # absorbs that); never more.
                slack = 1 + 2 * s.timing.scrape_interval / s.rotation_seconds
                assert max(age) <= slack, f"the signing key outlived its period: age/period {max(age):.2f}"
            check("TokenwellCredentialExpiringBeforeRefresh pending in the outage on the agent's refresh margin; "
                  "the signing key's age against the agent's rotation period", alerts_on_real_settings)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"dashboard: {passed} passed, {failed} failed ({time.monotonic() - t0:.0f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
