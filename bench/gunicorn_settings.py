"""Measure gunicorn's worker recycling (max_requests) on the public group page.

    .venv/bin/python bench/gunicorn_settings.py [--requests 20000] [--connections 32]

Builds the throwaway node of bench/pages.py (SQLite; 200 events, 50 campaigns, 30 candidates,
100 posts), serves it with deploy/gunicorn.conf.py as shipped (sync workers, WEB_CONCURRENCY
default) twice — once recycling each worker after 2,000 (+0-200) requests, as the config did
until issue 16, once never — and sends the same requests to ``/`` from 32 connections at
once. Prints p50/p99/max latency, requests/s, the workers' resident memory at the start and
end of each run, and how many worker processes served it. Exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

import gunicorn_server  # beside this script
import http_load
import pages

PAGE = "/"
RECYCLING = {
    "max_requests=2000": ("--max-requests", "2000", "--max-requests-jitter", "200"),
    "max_requests=0": ("--max-requests", "0"),
}


def resident_mib(pid: int) -> float:
    """Return a process's resident memory in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class WorkerWatch:
    """Sample gunicorn's worker processes every half second: their pids and memory."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.pids: set[int] = set()
        self.samples: list[float] = []  # total resident MiB of the workers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> float:
        workers = gunicorn_server._children(self.master)
        self.pids.update(workers)
        return sum(resident_mib(pid) for pid in workers)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append(self.sample())

    def __enter__(self) -> WorkerWatch:
        self.samples.append(self.sample())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.sample())


def measure(settings, port, log, workers, recycle, requests, connections):
    server = gunicorn_server.start_gunicorn(
        settings, port, log, workers=workers, threads=1, app=recycle
    )
    try:
        gunicorn_server.wait_until_answering(server, port, log, PAGE)
        http_load.load(port, PAGE, connections, 500)  # warm up every worker
        with WorkerWatch(server.pid) as watch:
            result = http_load.load(port, PAGE, connections, requests)
    finally:
        gunicorn_server.stop(server)
    return result, watch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    workers = min(multiprocessing.cpu_count() + 1, 8)  # the config's default
    print(gunicorn_server.machine_speed(), flush=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
        port = gunicorn_server.free_port()
        settings = pages.node_settings(Path(tmp) / "instance", port)
        print(f"filling a node with {pages.COUNTS} ...", flush=True)
        pages.fill(settings)
        print(
            f"gunicorn: deploy/gunicorn.conf.py, {workers} sync workers; {args.requests} x GET "
            f"{PAGE} over {args.connections} connections",
            flush=True,
        )
        print(
            f"{'recycling':<20}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
            f"{'errors':>8}{'RSS start':>11}{'RSS end':>9}{'RSS max':>9}{'workers':>9}"
        )
        for name, recycle in RECYCLING.items():
            log = Path(tmp) / f"gunicorn-{name}.log"
            started = time.monotonic()
            result, watch = measure(
                settings, port, log, workers, recycle, args.requests, args.connections
            )
            failed |= bool(result.errors)
            print(
                f"{name:<20}{result.per_second:>8.0f}{result.percentile(50):>9.1f}"
                f"{result.percentile(99):>9.1f}{max(result.latencies) * 1000:>9.0f}"
                f"{result.errors:>8}{watch.samples[0]:>9.0f}Mi{watch.samples[-1]:>7.0f}Mi"
                f"{max(watch.samples):>7.0f}Mi{len(watch.pids):>9}"
                f"   ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
