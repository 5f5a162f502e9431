#!/usr/bin/python3
"""Renders the Grafana dashboard's main panels from a real scenario to PNG.

Runs tests/observability/scenario.py with Timing.pictures() (60-second
tokens; 2 minutes healthy, 1 minute of 429s, an IdP outage of 2 minutes,
recovery), then asks the real Prometheus's query API each panel's queries,
exactly as the dashboard has them (helm/tokenwell/files/grafana-dashboard.json,
with the variables set to All), and draws them with matplotlib, the faults
shaded. Also draws the shipped alerts' states (Prometheus's ALERTS series).

Run it with scripts/observability-pictures.sh, which installs matplotlib
(Debian's python3-matplotlib) and builds the agent:

    /usr/bin/python3 docs/observability/make_pictures.py --agent build/agent/tokenwell-agent
"""
import argparse
import json
import math
import os
import re
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests/observability"))
from scenario import Scenario, Timing, concrete_query  # noqa: E402

DASHBOARD = os.path.join(ROOT, "helm/tokenwell/files/grafana-dashboard.json")
PANELS = ["Time to expiry", "Refreshes", "Failed refreshes in a row", "IdP requests by status", "IdP latency",
          "Keys per keyset", "Keyset age", "Socket requests by status", "Readiness"]
UNITS = {"s": "seconds", "reqps": "requests/s", "ops": "refreshes/s", "short": ""}
FAULT_COLOURS = {"429": "#f5a623", "down": "#d0021b"}


def slug(title):
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def legend(fmt, labels):
    # The pod is the same in every series of this scenario: leave it out
    # unless it is all the legend says.
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: "" if m[1] == "pod" else labels.get(m[1], ""), fmt)
    return " ".join(text.split()) or labels.get("pod", "value")


def shade_faults(ax, s):
    """Shades the throttling and the outage; returns nothing."""
    spans = list(zip(s.phases, s.phases[1:] + [(s.ended, "end")]))
    for (start, what), (end, _) in spans:
        kind = "429" if "429" in what else "down" if "down" in what else None
        if kind:
            ax.axvspan(start - s.started, end - s.started, color=FAULT_COLOURS[kind], alpha=0.12, lw=0,
                       label="IdP throttling (429)" if kind == "429" else "IdP down")


def plot_panel(s, panel, out_dir):
    fig, ax = plt.subplots(figsize=(10, 3.4), dpi=100)
    shade_faults(ax, s)
    for target in panel["targets"]:
        expr = concrete_query(target["expr"], s.timing)
        for series in sorted(s.query_range(expr, s.started, s.ended), key=lambda r: json.dumps(r["metric"])):
            xs = [float(t) - s.started for t, _ in series["values"]]
            ys = [float(v) for _, v in series["values"]]
            ys = [y if math.isfinite(y) else float("nan") for y in ys]
            if panel["type"] == "state-timeline":
                ax.step(xs, ys, where="post", lw=2, label=legend(target.get("legendFormat", ""), series["metric"]))
                ax.set_yticks([0, 1], ["not ready", "ready"])
            else:
                ax.plot(xs, ys, lw=1.6, label=legend(target.get("legendFormat", ""), series["metric"]))
    unit = panel["fieldConfig"]["defaults"].get("unit", "short")
    ax.set_title(panel["title"], loc="left", fontsize=11)
    ax.set_xlabel("seconds since the scenario started")
    ax.set_ylabel(UNITS.get(unit, unit))
    ax.set_xlim(0, s.ended - s.started)
    if panel["title"] == "Time to expiry":
        ax.axhline(0, color="black", lw=0.8)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    path = os.path.join(out_dir, f"{slug(panel['title'])}.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_alerts(s, out_dir):
    """The shipped rules on the scenario's data: which alert was pending or firing when."""
    result = s.query_range("ALERTS", s.started, s.ended)
    names = sorted({r["metric"]["alertname"] for r in result})
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * max(1, len(names))), dpi=100)
    shade_faults(ax, s)
    colours = {"pending": "#f8e71c", "firing": "#d0021b"}
    for r in result:
        y = names.index(r["metric"]["alertname"])
        xs = [float(t) - s.started for t, _ in r["values"]]
        step = s.timing.scrape_interval
        ax.broken_barh([(x, step) for x in xs], (y - 0.35, 0.7), color=colours[r["metric"]["alertstate"]],
                       label=r["metric"]["alertstate"])
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(0, s.ended - s.started)
    ax.set_title("Alerts (deploy/prometheus/tokenwell-rules.yaml, default windows)", loc="left", fontsize=11)
    ax.set_xlabel("seconds since the scenario started")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    fig.tight_layout()
    path = os.path.join(out_dir, "alerts.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", required=True)
    ap.add_argument("--out", default=HERE, help="where the PNGs go (default: docs/observability)")
    a = ap.parse_args()
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    panels = {p["title"]: p for p in dashboard["panels"]}
    with tempfile.TemporaryDirectory(prefix="tokenwell-pictures-") as work:
        with Scenario(a.agent, work, Timing.pictures()) as s:
            s.run()
            for title in PANELS:
                print("wrote", os.path.relpath(plot_panel(s, panels[title], a.out), ROOT))
            print("wrote", os.path.relpath(plot_alerts(s, a.out), ROOT))


if __name__ == "__main__":
    main()
