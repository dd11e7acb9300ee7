"""A burst of posts on one node reaches its followers by push, in seconds; a follower that
was down catches up as soon as it is back.

Real `branchline run` processes on 127.0.0.1, each with its own instance folder and its
in-process worker, with the shipped settings except that loopback peers are allowed (and,
with --poll, the poll interval): the followers' regular poll is 300 s, so what arrives
within the run came by push, or by the immediate pull a gap or a restart asks for.

1. Three nodes follow a fourth; ``--posts`` posts are published through its JSON API in
   about one second (``--publishers`` at once). Reported: per follower, the seconds from the
   first post until it holds every entry. Target: every follower within 5 s.
2. One follower is stopped, ``--missed`` posts are published, and it is started again.
   Reported: the seconds from its start until it holds every entry (and from when it first
   answers HTTP).

    .venv/bin/python bench/burst.py [--posts 100] [--followers 3] [--missed 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gunicorn_server  # noqa: E402 - beside this script

BRANCHLINE = Path(sys.executable).parent / "branchline"
PASSWORD = "bench admin passphrase"  # noqa: S105 - throwaway nodes, deleted after the run
TARGET_SECONDS = 5.0
GIVE_UP_SECONDS = 120.0


@dataclass
class Node:
    handle: str
    port: int
    instance: Path
    log: Path
    settings: dict[str, str]
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.url}/actor"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
        env.update({f"BRANCHLINE_{name}": value for name, value in self.settings.items()})
        env.update(
            BRANCHLINE_INSTANCE_PATH=str(self.instance),
            BRANCHLINE_ADMIN_PASSWORD=PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        return env

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(BRANCHLINE), *args],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"branchline {' '.join(args)}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BRANCHLINE), "run", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_answering(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.handle} exited:\n{self.log.read_text()[-3000:]}")
            try:
                requests.get(self.url + "/", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.handle} did not answer")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def query(self, sql: str, *params: object) -> list[tuple]:
        database = self.instance / "branchline.sqlite3"
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as db:
            return db.execute(sql, params).fetchall()

    def held(self, actor: str) -> int:
        rows = self.query("SELECT held_seq FROM peer WHERE actor_id = ?", actor)
        return rows[0][0] if rows else 0


def make_node(folder: Path, handle: str, settings: dict[str, str]) -> Node:
    home = folder / handle
    home.mkdir()
    node = Node(handle, gunicorn_server.free_port(), home / "instance", home / "node.log", settings)
    node.cli(
        "init",
        *("--name", f"Bench {handle}", "--handle", handle),
        *("--base-url", node.url, "--admin-email", f"admin@{handle}.test"),
    )
    node.start()
    node.wait_answering()
    return node


def wait_for(condition, what: str, timeout: float = GIVE_UP_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.05)


def publish(node: Node, token: str, count: int, publishers: int, label: str) -> float:
    """Publish ``count`` posts through the API, ``publishers`` at once; return the seconds."""

    def one(number: int) -> None:
        answer = requests.post(
            f"{node.url}/api/v1/posts",
            json={"title": f"{label} {number}", "body": f"Post {number} of the {label}."},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        answer.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(publishers) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def feed_head(node: Node) -> int:
    return node.query("SELECT coalesce(max(seq), 0) FROM feed_entry")[0][0]


def watch(followers: list[Node], actor: str, head: int, started: float) -> dict[str, float]:
    """Return, per follower, the seconds from ``started`` until it holds ``head``."""
    reached: dict[str, float] = {}
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while len(reached) < len(followers) and time.monotonic() < deadline:
        for node in followers:
            if node.handle not in reached and node.held(actor) >= head:
                reached[node.handle] = time.monotonic() - started
        time.sleep(0.05)
    return reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--followers", type=int, default=3)
    parser.add_argument("--missed", type=int, default=200)
    parser.add_argument("--publishers", type=int, default=8)
    parser.add_argument("--poll", default="300", help="followers' POLL_INTERVAL_SECONDS")
    args = parser.parse_args()
    print(gunicorn_server.machine_speed(), flush=True)

    settings = {"ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8", "POLL_INTERVAL_SECONDS": args.poll}
    nodes: list[Node] = []
    with tempfile.TemporaryDirectory() as folder:
        try:
            source = make_node(Path(folder), "source", settings)
            nodes.append(source)
            followers = []
            for n in range(args.followers):
                follower = make_node(Path(folder), f"follower{n}", settings)
                nodes.append(follower)
                followers.append(follower)
                follower.cli("follow", f"acct:source@127.0.0.1:{source.port}")
            for follower in followers:
                wait_for(
                    lambda f=follower: f.query(
                        "SELECT 1 FROM following f JOIN peer p ON p.id = f.peer_id"
                        " WHERE p.actor_id = ? AND f.state = 'accepted'",
                        source.actor,
                    ),
                    f"{follower.handle}'s follow accepted",
                )
                wait_for(
                    lambda f=follower: f.held(source.actor) >= feed_head(source),
                    f"{follower.handle} in step before the burst",
                )
            token = source.cli("token", "create", "admin@source.test").strip()
            publish(source, token, 1, 1, "warm-up")  # first-request set-up is not timed
            wait_for(
                lambda: all(f.held(source.actor) >= feed_head(source) for f in followers),
                "followers hold the warm-up post",
            )

            started = time.monotonic()
            took = publish(source, token, args.posts, args.publishers, "burst")
            head = feed_head(source)
            reached = watch(followers, source.actor, head, started)
            print(
                f"burst: {args.posts} posts published in {took:.2f} s to {args.followers}"
                " followers (seconds from the first post, and after the last)"
            )
            for follower in followers:
                seconds = reached.get(follower.handle)
                held = follower.held(source.actor)
                shown = (
                    f"{seconds:.2f} s ({seconds - took:.2f} s)"
                    if seconds is not None
                    else f"NOT within {GIVE_UP_SECONDS:.0f} s"
                )
                print(f"  {follower.handle}: holds {held}/{head} after {shown}")
            slowest = max(reached.values()) if len(reached) == len(followers) else None
            verdict = "met" if slowest is not None and slowest <= TARGET_SECONDS else "MISSED"
            shown = f"{slowest:.2f} s" if slowest is not None else "never"
            print(f"all followers hold all: {shown}  (target <= {TARGET_SECONDS:.0f} s: {verdict})")

            down = followers[-1]
            down.stop()
            took = publish(source, token, args.missed, args.publishers, "while down")
            head = feed_head(source)
            restarted = time.monotonic()
            down.start()
            down.wait_answering()
            answering = time.monotonic() - restarted
            caught = watch([down], source.actor, head, restarted).get(down.handle)
            shown = f"{caught:.2f} s" if caught is not None else "NOT within 120 s"
            print(
                f"catch-up: {args.missed} posts published in {took:.2f} s while {down.handle}"
                f" was down; it held all {shown} after its start"
                f" ({answering:.2f} s of which until it answered HTTP)"
            )
        finally:
            for node in nodes:
                node.stop()


if __name__ == "__main__":
    main()
