#!/usr/bin/env python3
"""The demo's live view: once a second, what `tokenwell get --json` returns
for each credential, how many token requests the Entra stand-in has seen,
and what the Redis app sees: commands ok / failed, re-AUTHs, and the
connections the Azure Redis stand-in dropped because their token expired.
At 30 s the stand-in goes down for 25 s (longer than a 20-second token: the
last good token is served until it expires, then readers get exit 4 until the
agent recovers); at 40 s the file secret is rotated.

    demo_view.py --cli PATH --admin URL --secret-file PATH [--duration S]
                 [--app-status FILE --redis-events FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

EXIT_MEANING = {3: "unknown name", 4: "no valid value", 5: "agent unavailable"}


def admin(url, method="GET", body=None):
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body else None)
    with urllib.request.urlopen(req, timeout=2) as r:
        return json.loads(r.read() or b"null")


def token_requests(admin_url):
    try:
        return sum(1 for r in admin(admin_url + "/requests") if r.get("path", "").endswith("/token"))
    except OSError:
        return "?"


def app_columns(status_file, events_file):
    try:
        with open(status_file) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return f"{'-':>7} {'-':>6} {'-':>6} {'-':>5}"
    drops = 0
    try:
        with open(events_file) as f:
            drops = sum(1 for line in f if '"expired_drop"' in line)
    except OSError:
        pass
    return f"{st['ok']:>7} {st['failed']:>6} {st['reauths']:>6} {drops:>5}"


def show(cli, name):
    p = subprocess.run([cli, "get", name, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        return f"{'-':<4} {'(exit ' + str(p.returncode) + ': ' + EXIT_MEANING.get(p.returncode, '?') + ')':<38} {'-':<10}"
    d = json.loads(p.stdout)
    left = "never" if d["expires_at"] == 0 else f"{d['expires_at'] - int(time.time())}s"
    return f"{d['generation']:<4} {d['username']:<38} {left:<10}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--admin", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--duration", type=int, default=0)
    ap.add_argument("--app-status", help="the Redis app's status file (examples/redis_app --status)")
    ap.add_argument("--redis-events", help="the Azure Redis stand-in's events.jsonl")
    a = ap.parse_args()
    phases = [
        (30, "IdP down for 25 s", lambda: admin(a.admin + "/fault", "POST", {"mode": "down"})),
        (40, "file secret rotated", lambda: rotate(a.secret_file, "legacy-password-2")),
        (55, "IdP back up", lambda: admin(a.admin + "/fault", "POST", {"mode": "up"})),
    ]
    app_head = f" {'CMD_OK':>7} {'FAILED':>6} {'REAUTH':>6} {'DROPS':>5}" if a.app_status else ""
    print(f"\n{'TIME':<8} {'CRED':<7} {'GEN':<4} {'USERNAME':<38} {'EXPIRES':<10} {'IDP_REQS':<8}{app_head} NOTE")
    start = time.monotonic()
    while True:
        t = time.monotonic() - start
        if a.duration and t >= a.duration:
            return 0
        note = ""
        while phases and t >= phases[0][0]:
            _, note, action = phases.pop(0)
            action()
        reqs = token_requests(a.admin)
        for name in ("redis", "legacy"):
            app = ""
            if a.app_status:
                app = " " + (app_columns(a.app_status, a.redis_events) if name == "redis"
                             else f"{'':>7} {'':>6} {'':>6} {'':>5}")
            print(f"{time.strftime('%H:%M:%S')} {name:<7} {show(a.cli, name)} "
                  f"{str(reqs) if name == 'redis' else '-':<8}{app} {note}", flush=True)
            note = ""
        time.sleep(max(0.0, 1 - (time.monotonic() - start - t)))


def rotate(path, value):
    with open(path + ".tmp", "w") as f:
        f.write(value)
    os.rename(path + ".tmp", path)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
