#!/usr/bin/python3
"""The naive comparison for the burst benchmark: a fixed pool of worker threads, each calling
pywinrm directly (one shell per call, no per-host limit, no queue), the way a script fanning out
over a fleet usually does it.

Reads {"workers": N, "user", "password", "timeoutSec", "jobs": [{"url", "script"}]} on stdin and
prints one JSON line: {"makespanSec", "ok", "failed", "errors": {...}}. Every call has a read
timeout and the whole run stops taking work after timeoutSec, so it always ends by itself.
"""
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import winrm


def main():
    cfg = json.load(sys.stdin)
    jobs = cfg["jobs"]
    deadline = time.monotonic() + cfg.get("timeoutSec", 300)
    lock = threading.Lock()
    tally = {"ok": 0, "failed": 0, "skipped": 0, "errors": {}}

    def run(job):
        if time.monotonic() > deadline:
            with lock:
                tally["skipped"] += 1
            return
        try:
            session = winrm.Session(
                job["url"],
                auth=(cfg["user"], cfg["password"]),
                transport="basic",
                operation_timeout_sec=20,
                read_timeout_sec=30,
            )
            r = session.run_ps(job["script"])
            good = r.status_code == 0 and b"HVGATE-RESULT:" in r.std_out
            key = None if good else "exit %s" % r.status_code
        except Exception as err:  # any client or transport failure counts against the pool
            good = False
            key = type(err).__name__
        with lock:
            if good:
                tally["ok"] += 1
            else:
                tally["failed"] += 1
                tally["errors"][key] = tally["errors"].get(key, 0) + 1

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=cfg["workers"]) as pool:
        list(pool.map(run, jobs))
    tally["makespanSec"] = time.monotonic() - start
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
