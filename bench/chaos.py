"""Kill a follower, the worker and the node while publishing; check every follower converges.

    .venv/bin/python bench/chaos.py [--entries 1000] [--followers 3] [--seed 16] [--fast]

Starts, as real processes on free 127.0.0.1 ports, one node served by gunicorn with
deploy/gunicorn.conf.py as shipped plus one `branchline worker` process, and 2-3 follower
nodes (`branchline run`, each with its worker on a thread) that follow it. Publishes
``--entries`` news posts through the API, each with its own Idempotency-Key and retried until
answered, and at three publish counts drawn from ``--seed`` SIGKILLs a follower, the worker
and the node (in an order drawn from the seed too), starting each again 1-4 s later.

Then it waits (at most ``--deadline`` seconds) until every follower holds every entry of the
node's feed exactly once, with the node's activity ids in the node's order, and reports the
time to full convergence after the last fault was over (the later of the last restart and
the last publish; target < 15 s). Last, the p99 latency of the public group page ``/`` from
32 concurrent connections against the node's gunicorn (target < 100 ms).

Settings are the production defaults (300 s poll, 30 s delivery back-off), as an operator
runs them, except that peers on loopback are allowed; ``--fast`` uses the integration tests'
1-2 s intervals instead. Prints a ``machine:`` line and a ``chaos:`` line of key=value
figures. Exits 1 if a follower misses, repeats or misorders an entry.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import gunicorn_server  # beside this script
import http_load
import requests

ROOT = Path(__file__).resolve().parent.parent
BRANCHLINE = Path(sys.executable).parent / "branchline"
PASSWORD = "chaos admin passphrase"  # noqa: S105 - a throwaway node's admin
LOOPBACK = {"ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8"}
FAST = {
    "POLL_INTERVAL_SECONDS": "1",
    "WORKER_IDLE_SECONDS": "0.2",
    "DELIVERY_BACKOFF_BASE_SECONDS": "1",
    "DELIVERY_BACKOFF_CAP_SECONDS": "2",
}
PAGE_CONNECTIONS = 32
PAGE_REQUESTS = 5_000


# --- Processes ------------------------------------------------------------------------------


@dataclass
class Process:
    """A process that can be SIGKILLed and started again with the same command."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill takes its children too
            )

    def kill(self) -> None:
        """SIGKILL the process and everything it started: no clean-up, as in a crash."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Node:
    name: str
    handle: str
    folder: Path
    settings: dict[str, str]
    port: int = field(default_factory=gunicorn_server.free_port)
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.url}/actor"

    @property
    def acct(self) -> str:
        return f"acct:{self.handle}@127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.folder / "instance" / "branchline.sqlite3"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
        for name, value in {**self.settings, **extra}.items():
            env[f"BRANCHLINE_{name}"] = value
        env.update(
            BRANCHLINE_INSTANCE_PATH=str(self.folder / "instance"),
            BRANCHLINE_ADMIN_PASSWORD=PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        return env

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BRANCHLINE), *args],
            cwd=ROOT,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode:
            raise SystemExit(
                f"{self.name}: branchline {' '.join(args)}\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def init(self) -> None:
        self.folder.mkdir(parents=True)
        self.cli(
            *("init", "--name", self.name, "--handle", self.handle),
            *("--base-url", self.url, "--admin-email", f"admin@{self.handle}.test"),
        )

    def query(self, sql: str, *params: object) -> list[tuple]:
        with closing(
            sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        ) as conn:
            return conn.execute(sql, params).fetchall()

    def wait_answering(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/", timeout=2, allow_redirects=False)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit(f"{self.name} did not answer within {timeout:.0f}s")


def origin_processes(node: Node) -> tuple[Process, Process]:
    """gunicorn with the shipped config, and one `branchline worker` beside it."""
    web_env = node.env(WORKER_IN_PROCESS="0")
    web_env.update(
        BRANCHLINE_BIND=f"127.0.0.1:{node.port}",
        GUNICORN_ACCESS_LOG="",
        GUNICORN_LOG_LEVEL="warning",
    )
    config = str(ROOT / "deploy" / "gunicorn.conf.py")
    web = Process(
        "node",
        [sys.executable, "-m", "gunicorn", "--config", config],
        web_env,
        node.folder / "web.log",
    )
    worker = Process("worker", [str(BRANCHLINE), "worker"], node.env(), node.folder / "worker.log")
    return web, worker


def follower_process(node: Node) -> Process:
    argv = [str(BRANCHLINE), "run", "--host", "127.0.0.1", "--port", str(node.port)]
    return Process(node.name, argv, node.env(), node.folder / "node.log")


# --- Feeds, as each node's database holds them ------------------------------------------------


def own_feed(node: Node) -> list[tuple[int, str]]:
    return node.query("SELECT seq, activity_id FROM feed_entry ORDER BY seq")


def held(follower: Node, actor: str) -> list[tuple[int, str]]:
    """Return (seq, activity id) of each entry of ``actor`` the follower stored, as stored."""
    try:
        return follower.query(
            "SELECT e.seq, e.activity_id FROM remote_entry e JOIN peer p ON p.id = e.peer_id "
            "WHERE p.actor_id = ? ORDER BY e.id",
            actor,
        )
    except sqlite3.OperationalError:
        return []  # locked for longer than the timeout by a writer: look again


def counts(follower: Node, actor: str) -> tuple[int, int, int]:
    try:
        row = follower.query(
            "SELECT count(*), count(DISTINCT e.seq), coalesce(max(e.seq), 0) FROM remote_entry e "
            "JOIN peer p ON p.id = e.peer_id WHERE p.actor_id = ?",
            actor,
        )[0]
    except sqlite3.OperationalError:
        return (0, 0, 0)
    return row


def wait_following(follower: Node, origin: Node, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = follower.query(
            "SELECT f.state FROM following f JOIN peer p ON p.id = f.peer_id WHERE p.actor_id = ?",
            origin.actor,
        )
        if rows and rows[0][0] == "accepted":
            return
        time.sleep(0.3)
    raise SystemExit(f"{origin.name} did not accept {follower.name}'s follow within {timeout}s")


# --- Publishing through faults ----------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    at_entry: int
    down_seconds: float
    killed_at: float = 0.0
    back_at: float = 0.0


@dataclass
class Publishing:
    answered: int = 0
    retries: int = 0
    replayed: int = 0
    unknown: int = 0  # the node died mid-request: its claim never got an answer (409)


def publish(origin: Node, token: str, index: int, seed: int, tally: Publishing) -> None:
    """Publish post ``index``, retrying with the same Idempotency-Key until it is answered."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"chaos-{seed}-{index}"}
    body = {"title": f"Chaos {index}", "body": f"Entry {index} of the chaos run."}
    in_flight = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            answer = requests.post(
                f"{origin.url}/api/v1/posts", json=body, headers=headers, timeout=30
            )
        except requests.RequestException:
            tally.retries += 1
            time.sleep(0.2)
            continue
        if answer.status_code == 201:
            tally.answered += 1
            tally.replayed += answer.headers.get("Idempotent-Replayed") == "true"
            return
        if answer.status_code == 409:
            in_flight += 1
            if in_flight >= 5:  # a claim whose request died with the node: never re-run
                tally.unknown += 1
                return
        tally.retries += 1
        time.sleep(0.2)
    raise SystemExit(f"post {index} was not answered within 120 s")


def run_faults(
    faults: list[Fault], targets: dict[str, Process | list[Process]], rng: random.Random
):
    """Return a callback for the publish loop: at each fault's entry, kill and later restart."""
    timers: list[threading.Thread] = []
    pending = sorted(faults, key=lambda f: f.at_entry)

    def at(index: int) -> None:
        while pending and pending[0].at_entry == index:
            fault = pending.pop(0)
            choice = targets[fault.kind]
            process = rng.choice(choice) if isinstance(choice, list) else choice
            fault.kind = f"{fault.kind}:{process.name}" if isinstance(choice, list) else fault.kind
            process.kill()
            fault.killed_at = time.monotonic()
            print(f"  entry {index}: SIGKILL {fault.kind}, back in {fault.down_seconds:.1f}s")

            def back(process: Process = process, fault: Fault = fault) -> None:
                time.sleep(fault.down_seconds)
                process.start()
                fault.back_at = time.monotonic()

            timer = threading.Thread(target=back)
            timer.start()
            timers.append(timer)

    def join() -> None:
        for timer in timers:
            timer.join()

    return at, join


# --- Main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--followers", type=int, default=3, choices=(2, 3))
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--deadline", type=float, default=150.0, help="seconds to converge")
    parser.add_argument("--fast", action="store_true", help="the tests' 1-2 s intervals")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    settings = {**LOOPBACK, **(FAST if args.fast else {})}
    print(gunicorn_server.machine_speed(), flush=True)

    with tempfile.TemporaryDirectory(prefix="branchline-chaos-") as tmp:
        origin = Node("Chaos Origin", "origin", Path(tmp) / "origin", settings)
        followers = [
            Node(f"Follower {n}", f"follower{n}", Path(tmp) / f"follower{n}", settings)
            for n in range(1, args.followers + 1)
        ]
        processes: list[Process] = []
        try:
            for node in (origin, *followers):
                node.init()
            web, worker = origin_processes(origin)
            processes += [web, worker]
            for follower in followers:
                follower.processes.append(follower_process(follower))
                processes += follower.processes
            for process in processes:
                process.start()
            for node in (origin, *followers):
                node.wait_answering()
            token = origin.cli("token", "create", "admin@origin.test").strip()
            for follower in followers:
                follower.cli("follow", origin.acct)
            for follower in followers:
                wait_following(follower, origin)
            print(
                f"node (gunicorn, shipped config) + 1 worker + {len(followers)} followers up; "
                f"publishing {args.entries} posts, seed {args.seed}, "
                f"{'fast' if args.fast else 'production'} intervals",
                flush=True,
            )

            points = sorted(rng.sample(range(args.entries // 10, args.entries * 9 // 10), 3))
            kinds = ["follower", "worker", "node"]
            rng.shuffle(kinds)
            faults = [
                Fault(kind, at, round(rng.uniform(1, 4), 1))
                for kind, at in zip(kinds, points, strict=True)
            ]
            targets = {"follower": [f.processes[0] for f in followers], "worker": worker}
            targets["node"] = web
            at, join_restarts = run_faults(faults, targets, rng)

            tally = Publishing()
            began = time.monotonic()
            for index in range(1, args.entries + 1):
                at(index)
                publish(origin, token, index, args.seed, tally)
            published_at = time.monotonic()
            join_restarts()
            origin.wait_answering()
            last_fault = max([published_at] + [f.back_at for f in faults])
            head = len(own_feed(origin))
            print(
                f"published {tally.answered} posts in {published_at - began:.1f} s "
                f"({tally.retries} retries, {tally.replayed} replayed answers, "
                f"{tally.unknown} lost with the node); the node's feed holds {head} entries",
                flush=True,
            )

            converged: dict[str, float] = {}
            deadline = last_fault + args.deadline
            while len(converged) < len(followers) and time.monotonic() < deadline:
                for follower in followers:
                    if follower.name in converged:
                        continue
                    total, distinct, top = counts(follower, origin.actor)
                    if total == distinct == top == head:
                        converged[follower.name] = time.monotonic() - last_fault
                time.sleep(0.25)

            feed = own_feed(origin)
            problems = []
            for follower in followers:
                stored = held(follower, origin.actor)
                seqs = [seq for seq, _ in stored]
                if sorted(stored) != feed:
                    missing = len({s for s, _ in feed} - set(seqs))
                    problems.append(
                        f"{follower.name}: holds {len(stored)} of {len(feed)} "
                        f"({missing} missing, {len(seqs) - len(set(seqs))} repeated)"
                    )
                elif seqs != sorted(seqs):
                    problems.append(f"{follower.name}: every entry once, but stored out of order")
                rows = follower.cli("peers").splitlines()
                row = next((r for r in rows if r.startswith(f"{origin.handle}@")), "")
                print(
                    f"  {follower.name}: {len(stored)}/{len(feed)} entries; {' '.join(row.split())}"
                )

            page = http_load.load(origin.port, "/", PAGE_CONNECTIONS, PAGE_REQUESTS)
        finally:
            for process in reversed(processes):
                process.stop()

    print()
    for fault in faults:
        print(
            f"fault {fault.kind:<20} at entry {fault.at_entry:>5}: down "
            f"{fault.back_at - fault.killed_at:.1f} s"
        )
    slowest = max(converged.values()) if len(converged) == len(followers) else None
    for follower in followers:
        took = converged.get(follower.name)
        shown = f"{took:.1f} s" if took is not None else f"NOT within {args.deadline:.0f} s"
        print(f"{follower.name}: converged {shown} after the last fault")
    print(
        f"public page / under {PAGE_CONNECTIONS} connections: p50 {page.percentile(50):.1f} ms, "
        f"p99 {page.percentile(99):.1f} ms, {page.per_second:.0f} req/s, {page.errors} errors "
        f"(target p99 < 100 ms)"
    )
    for problem in problems:
        print(f"PROBLEM {problem}")
    convergence = f"{slowest:.1f}" if slowest is not None else f">{args.deadline:.0f}"
    print(
        f"chaos: entries={head} followers={len(followers)} seed={args.seed} "
        f"intervals={'fast' if args.fast else 'production'} convergence_s={convergence} "
        f"(target<15) page_p99_ms={page.percentile(99):.1f} (target<100) "
        f"lost_answers={tally.unknown} correct={'yes' if not problems else 'no'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
