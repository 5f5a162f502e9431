#!/usr/bin/env python3
"""The shipped alert rules (deploy/prometheus/tokenwell-rules.yaml) with the real promtool:

  - `promtool check rules` on the file;
  - `promtool test rules` on tests/observability/rules_test.yaml;
  - what promtool does not check: every alert has a severity, a summary, a
    description naming the pod (or, for the API server's view, the webhook),
    a runbook_url whose anchor is a section of docs/runbooks.md, and at least
    one evaluation in the unit tests where it fires and one where it is silent.

  rules_test.py [--promtool PATH]
"""
import argparse
import os
import re
import subprocess
import sys

import yaml  # PyYAML from the test venv (tests/python/requirements/test.txt)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "deploy/prometheus/tokenwell-rules.yaml")
TESTS = os.path.join(ROOT, "tests/observability/rules_test.yaml")
RUNBOOKS = os.path.join(ROOT, "docs/runbooks.md")
SEVERITIES = {"critical", "warning", "info"}

passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}")
    except AssertionError as e:
        failed += 1
        print(f"FAIL {name}\n     " + str(e).replace("\n", "\n     "))


def run(promtool, *args):
    p = subprocess.run([promtool, *args], capture_output=True, text=True)
    assert p.returncode == 0, f"promtool {' '.join(args)} exited {p.returncode}:\n{p.stdout}{p.stderr}"


def github_anchor(heading):
    """The fragment GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--promtool", default="promtool")
    a = ap.parse_args()

    with open(RULES) as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"] if "alert" in r]
    with open(TESTS) as f:
        tests = yaml.safe_load(f)["tests"]
    with open(RUNBOOKS) as f:
        anchors = {github_anchor(m) for m in re.findall(r"^#{2,3} (.+)$", f.read(), re.M)}

    check("promtool check rules deploy/prometheus/tokenwell-rules.yaml", lambda: run(a.promtool, "check", "rules", RULES))
    check("promtool test rules tests/observability/rules_test.yaml", lambda: run(a.promtool, "test", "rules", TESTS))

    def has_labels_and_annotations(rule):
        def f():
            name = rule["alert"]
            assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity not one of {SEVERITIES}"
            ann = rule.get("annotations", {})
            assert ann.get("summary"), f"{name}: no summary"
            subject = "$labels.name" if "apiserver_" in rule["expr"] else "$labels.pod"
            assert subject in ann.get("description", ""), f"{name}: the description does not name {subject}"
            for entry in ("credential", "keyset"):
                if f"tokenwell_{entry}_" in rule["expr"]:
                    assert f"$labels.{entry}" in ann["description"], f"{name}: the description does not name the {entry}"
            url = ann.get("runbook_url", "")
            assert url.endswith("docs/runbooks.md#" + name.lower()), f"{name}: runbook_url {url!r}"
            assert name.lower() in anchors, f"{name}: docs/runbooks.md has no section '## {name}'"
        return f

    def fires_and_stays_silent(name):
        def f():
            evals = [e for t in tests for e in t.get("alert_rule_test", []) if e["alertname"] == name]
            assert any(e.get("exp_alerts") for e in evals), f"{name}: no unit test where it fires"
            assert any(not e.get("exp_alerts") for e in evals), f"{name}: no unit test where it stays silent"
        return f

    for rule in rules:
        check(f"{rule['alert']}: severity, summary, description, runbook section", has_labels_and_annotations(rule))
        check(f"{rule['alert']}: unit tests where it fires and where it stays silent", fires_and_stays_silent(rule["alert"]))
    def every_section_is_an_alert():
        extra = {a for a in anchors if re.fullmatch(r"tokenwell[a-z]+", a)} - {r["alert"].lower() for r in rules}
        assert not extra, f"docs/runbooks.md sections without an alert: {sorted(extra)}"
    check("every alert section of docs/runbooks.md is a shipped alert", every_section_is_an_alert)

    print(f"rules: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
