#!/usr/bin/python3
"""plot.py CSV_DIR OUT_DIR -- one PNG per preset from `fleet --csv CSV_DIR`:
IdP requests per minute (top, log scale) and pods without a valid token
(bottom, the most in each minute) against time, one line per policy; for
the outage and throttle presets also PRESET-start.png, their first 45
minutes in 10-second bins.

Debian's matplotlib (python3-matplotlib, from scripts/install-deps.sh), so it
runs with /usr/bin/python3, not pyenv's python3.
"""
import csv
import pathlib
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"tokenwell": "#d62728", "redis-py": "#1f77b4", "node-redis": "#2ca02c",
          "go-redis": "#9467bd", "spire": "#ff7f0e"}


def load(path, bin_s, until_s=None):
    """{policy: (bin starts in hours, requests per bin, most pods without a token per bin)}"""
    requests = defaultdict(lambda: defaultdict(int))
    without = defaultdict(lambda: defaultdict(int))
    last = 0
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            t = int(row["t_s"])
            if until_s is not None and t >= until_s:
                continue
            last = max(last, t)
            b = t // bin_s
            p = row["policy"]
            requests[p][b] += int(row["requests"])
            without[p][b] = max(without[p][b], int(row["pods_without_valid_token"]))
    complete = (last + 1) // bin_s  # drop a last, partial bin
    out = {}
    for p in requests:
        bins = [b for b in sorted(requests[p]) if b < complete]
        out[p] = ([b * bin_s / 3600 for b in bins], [requests[p][b] for b in bins],
                  [without[p][b] for b in bins])
    return out


def plot(path, target, bin_s, until_s=None):
    data = load(path, bin_s, until_s)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    for policy, (hours, requests, without) in data.items():
        color = COLORS.get(policy)
        top.plot(hours, [max(r, 0.8) for r in requests], label=policy, color=color, linewidth=1)
        bottom.plot(hours, without, label=policy, color=color, linewidth=1)
    per = "min" if bin_s == 60 else f"{bin_s} s"
    top.set_yscale("log")
    top.set_ylabel(f"IdP requests / {per}")
    span = f", first {until_s // 60} min" if until_s else ""
    top.set_title(f"{path.stem}{span}: IdP load and pods without a valid token")
    top.grid(True, which="major", alpha=0.3)
    top.legend(loc="upper right", fontsize=8, ncol=len(data))
    bottom.set_ylabel("pods without\nvalid token")
    bottom.set_xlabel("hours")
    bottom.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=72)
    plt.close(fig)
    print(target)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py CSV_DIR OUT_DIR")
    src, out_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.csv")):
        plot(path, out_dir / f"{path.stem}.png", 60)
        if path.stem.startswith(("outage", "throttle")):  # the first 45 minutes, 10-second bins
            plot(path, out_dir / f"{path.stem}-start.png", 10, 45 * 60)


if __name__ == "__main__":
    main()
