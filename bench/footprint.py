#!/usr/bin/env python3
"""footprint.py -- what an idle tokenwell-agent costs: resident memory and CPU.

Starts the real agent with 4 credentials (3 Entra via the stand-in with
1-hour tokens, 1 file secret) and the given keysets, waits until all are
published, then samples the agent for --minutes (default 10): RSS and peak
RSS from /proc/PID/status, CPU seconds (utime + stime) from /proc/PID/stat
over the idle window.

    python3 bench/footprint.py [--minutes 10] [--build build] [--keysets JSON]
"""
import argparse
import json
import os
import sys
import time

from harness import Harness

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--build", default="build")
    ap.add_argument("--keysets", default="[]", help="JSON list of keyset entries for the config")
    a = ap.parse_args()
    with Harness(a.build) as h:
        h.start_standin(token_lifetime=3600)
        creds = [h.entra_secret_credential(f"redis-{i}") for i in range(3)] + [h.file_credential("legacy", "pw")]
        keysets = json.loads(a.keysets)
        h.start_agent(creds, keysets)
        names = [c["name"] for c in creds] + [k["name"] for k in keysets]
        for _ in range(600):
            p = h.cli("list")
            if p.returncode == 0 and p.stdout.count("valid") >= len(names):
                break
            time.sleep(0.1)
        pid = h.agent.pid
        cpu0, t0 = cpu_seconds(pid), time.time()
        rss_max = 0
        while time.time() - t0 < a.minutes * 60:
            rss_max = max(rss_max, status_kib(pid, "VmRSS"))
            time.sleep(5)
        cpu = cpu_seconds(pid) - cpu0
        elapsed = time.time() - t0
        print(f"footprint: {len(creds)} credentials, {len(keysets)} keysets; idle {elapsed / 60:.1f} min: "
              f"CPU {cpu:.2f} s ({100 * cpu / elapsed:.4f} %), RSS {status_kib(pid, 'VmRSS')} KiB "
              f"(max sampled {rss_max} KiB, VmHWM {status_kib(pid, 'VmHWM')} KiB), "
              f"threads {status_kib(pid, 'Threads')}")
        print("list:\n" + h.cli("list").stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
