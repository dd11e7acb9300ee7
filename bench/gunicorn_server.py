"""A throwaway gunicorn serving the node on a free 127.0.0.1 port, for the benchmarks."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# As deploy/gunicorn.conf.py chooses them when WEB_CONCURRENCY is not set.
DEFAULT_WORKERS = max(2, min(os.cpu_count() or 1, 8))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    settings: dict[str, str],
    port: int,
    log: Path,
    *,
    workers: int,
    threads: int,
    app: tuple[str, ...] = (),
) -> subprocess.Popen:
    """Start gunicorn with the production config; ``app`` adds e.g. a --pythonpath and app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    env.update({f"BRANCHLINE_{k}": v for k, v in settings.items()})
    env.update(
        BRANCHLINE_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        GUNICORN_ACCESS_LOG="",
        GUNICORN_LOG_LEVEL="warning",
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--max-requests",
        "0",  # no worker recycling in the middle of a measurement
        *app,
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_answering(process: subprocess.Popen, port: int, log: Path, path: str) -> None:
    """Wait (at most 60 s) until ``path`` answers without a server error."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within 60s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """Stop gunicorn and its workers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by gunicorn's master and its workers (Linux).

    On a machine that is busy with other work a throughput figure says little; the CPU the
    server spent per request says what it would do on an idle one.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [process.pid, *_children(process.pid)]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def machine_speed() -> str:
    """Time a fixed piece of pure Python, so figures from a slow moment can be told apart.

    This machine's speed varies by up to twice from one hour to the next (shared cores):
    read a benchmark's figures together with this line.
    """
    began = time.process_time()
    total = 0
    for number in range(10_000_000):
        total += number
    return f"machine: 10 million Python additions in {time.process_time() - began:.2f} s CPU"
