"""Benchmark the public group page against a bare Flask endpoint on the same gunicorn server.

    .venv/bin/python bench/pages.py [--seconds 5] [--clients 4]

Builds a throwaway node (SQLite) holding 200 events, 50 campaigns, 30 candidates and 100
posts, serves it with gunicorn (2 gthread workers, deploy/gunicorn.conf.py) on a free
127.0.0.1 port, and measures requests/s and p50/p99 latency of ``/`` and of a bare endpoint
in alternating rounds of the same run. Target: the page reaches at least 25% of the bare
endpoint's requests/s. Also counts the SQL statements one page view runs.
Exits 1 if the target is missed or any request fails.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gunicorn_server  # beside this script

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.25
PAGE = "/"
BARE = "/__bench/bare"
UNCACHED = "/__bench/uncached/"  # the same page, rendered for every request
GROUP_NAME = "Leeds North Momentum"
COUNTS = {"events": 200, "campaigns": 50, "candidates": 30, "posts": 100}
WORKERS = 2
THREADS = 4


# --- The node and its data ---------------------------------------------------------------


def node_settings(instance: Path, port: int) -> dict[str, str]:
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "BASE_URL": f"http://127.0.0.1:{port}",
    }


def fill(settings: dict[str, str]) -> None:
    """Set up the group and its content through the app's own services."""
    from flask_migrate import upgrade

    from node import create_app
    from node.extensions import db
    from node.services import groups
    from node.services.organising import campaigns, candidates, events, posts

    rng = random.Random(1)  # the same data on every run
    app = create_app(settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        groups.set_up(
            {
                "name": GROUP_NAME,
                "handle": "leedsnorth",
                "base_url": settings["BASE_URL"],
                "admin_email": "admin@example.org",
                "admin_name": "Admin",
                "password": "bench admin passphrase",
            }
        )
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        made = [
            campaigns.create(
                {
                    "title": f"Campaign {n}: save the library",
                    "summary": "Keep the branch library open six days a week.",
                    "body": "## Why\n\nBecause **libraries** matter.\n\n- sign\n- share\n",
                    "kind": rng.choice(["community", "election", "union_solidarity"]),
                    "status": rng.choice(["active", "active", "planned", "won"]),
                    "visibility": "members" if n % 5 == 0 else "public",
                }
            )
            for n in range(COUNTS["campaigns"])
        ]
        for n in range(COUNTS["events"]):
            starts = now + timedelta(days=rng.randint(-60, 90), hours=rng.randint(9, 19))
            events.create(
                {
                    "title": f"Event {n}: door knocking in Chapel Allerton",
                    "description": "Meet at the clock. Leaflets and clipboards provided.",
                    "kind": rng.choice(["canvass", "phonebank", "meeting", "street_stall"]),
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=2),
                    "place_name": "Chapel Allerton library",
                    "address": "Harrogate Road, Leeds LS7",
                    "capacity": rng.choice([None, 20, 40]),
                    "campaign_id": rng.choice(made).id if n % 2 else None,
                    "visibility": "members" if n % 7 == 0 else "public",
                }
            )
        for n in range(COUNTS["candidates"]):
            candidates.create(
                {
                    "name": f"Candidate {n}",
                    "office": rng.choice(["council_ward", "parliamentary_seat", "mayor"]),
                    "area": "Chapel Allerton",
                    "stage": rng.choice(["selected", "shortlisted", "elected"]),
                    "endorsement": rng.choice(["endorsed", "proposed", "none"]),
                    "statement": "A renter, a nurse and a trade unionist.",
                    "visibility": "public",
                }
            )
        for n in range(COUNTS["posts"]):
            posts.create(
                {
                    "title": f"News {n}: what we did this week",
                    "body": "We knocked **300 doors** and signed up 12 new members.\n\n" * 3,
                    "published_at": now - timedelta(hours=n * 7),
                    "visibility": "members" if n % 6 == 0 else "public",
                }
            )
        db.session.remove()
        db.engine.dispose()


@dataclass
class PageCheck:
    status: int
    size: int
    queries: int
    has_group_name: bool


def check_page(settings: dict[str, str], cache_seconds: int = 30) -> PageCheck:
    """Render the page in-process twice; count the SQL statements of the second (warm) view."""
    from sqlalchemy import event

    from node import create_app
    from node.extensions import db

    app = create_app({**settings, "PAGE_CACHE_SECONDS": cache_seconds})
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    client = app.test_client()
    client.get(PAGE)
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(PAGE)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
    body = response.get_data(as_text=True)
    return PageCheck(response.status_code, len(body), len(statements), GROUP_NAME in body)


# --- The server ------------------------------------------------------------------------


# --- The load ----------------------------------------------------------------------------


def fetch(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{conn.port}"})
    response = conn.getresponse()
    return response.status, response.read()


def client_loop(port: int, path: str, stop_at: float, max_requests: int, out) -> None:
    """One client: sequential keep-alive requests until the time or the count runs out."""
    latencies: list[float] = []
    errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop_at and len(latencies) + errors < max_requests:
        started = time.perf_counter()
        try:
            status, _ = fetch(conn, path)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if status == 200:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
    conn.close()
    out.put((latencies, errors))


@dataclass
class Result:
    path: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def load(port: int, path: str, seconds: float, clients: int, max_requests: int) -> Result:
    """Run ``clients`` processes against ``path`` for at most ``seconds`` / ``max_requests``."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    started = time.monotonic()
    stop_at = started + seconds
    each = max(1, max_requests // clients)
    workers = [
        ctx.Process(target=client_loop, args=(port, path, stop_at, each, queue))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    result = Result(path)
    for _ in workers:
        latencies, errors = queue.get(timeout=seconds + 120)
        result.latencies += latencies
        result.errors += errors
    result.seconds = time.monotonic() - started
    for worker in workers:
        worker.join()
    return result


def merge(results: list[Result]) -> Result:
    merged = Result(results[0].path)
    for r in results:
        merged.latencies += r.latencies
        merged.errors += r.errors
        merged.seconds += r.seconds
    return merged


# --- Main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap per round")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
        port = gunicorn_server.free_port()
        settings = node_settings(Path(tmp) / "instance", port)
        print(f"filling a node with {COUNTS} ...", flush=True)
        fill(settings)
        page = check_page(settings)
        rendered = check_page(settings, cache_seconds=0)
        if page.status != 200 or not page.has_group_name:
            print(f"{PAGE} answered {page.status} (group name shown: {page.has_group_name})")

        log = Path(tmp) / "gunicorn.log"
        server = gunicorn_server.start_gunicorn(
            settings,
            port,
            log,
            workers=WORKERS,
            threads=THREADS,
            app=("--pythonpath", str(ROOT / "bench"), "bench_app:app"),
        )
        try:
            gunicorn_server.wait_until_answering(server, port, log, BARE)
            print(
                f"gunicorn: {WORKERS} gthread workers x {THREADS} threads on 127.0.0.1:{port}; "
                f"{args.clients} keep-alive clients; {args.rounds} x {args.seconds:g}s rounds each",
                flush=True,
            )
            paths = (BARE, PAGE, UNCACHED)
            for path in paths:  # warm up: imports, template compilation, caches
                load(port, path, 2.0, args.clients, 2_000)
            runs: dict[str, list[Result]] = {path: [] for path in paths}
            for _ in range(args.rounds):
                for path in paths:
                    runs[path].append(
                        load(port, path, args.seconds, args.clients, args.max_requests)
                    )
        finally:
            gunicorn_server.stop(server)

    bare, home, fresh = merge(runs[BARE]), merge(runs[PAGE]), merge(runs[UNCACHED])
    print()
    print(f"{'endpoint':<22}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for r in (bare, home, fresh):
        print(
            f"{r.path:<22}{r.requests:>10}{r.per_second:>10.0f}"
            f"{r.percentile(50):>10.2f}{r.percentile(99):>10.2f}{r.errors:>8}"
        )
    ratio = home.per_second / bare.per_second if bare.per_second else 0.0
    fresh_ratio = fresh.per_second / bare.per_second if bare.per_second else 0.0
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"\npage/bare: {ratio:.0%} ({verdict} the target of {TARGET_RATIO:.0%})")
    print(f"page rendered every time (cache off)/bare: {fresh_ratio:.0%}")
    print(
        f"SQL statements for one view of {PAGE}: {page.queries} from the visitors' copy, "
        f"{rendered.queries} when rendered (page {page.size} characters, status {page.status})"
    )
    failed = bare.errors or home.errors or fresh.errors or page.status != 200
    return 0 if ratio >= TARGET_RATIO and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
