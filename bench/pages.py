"""Benchmark the public pages and a member's home against a bare Flask endpoint, with wrk.

    .venv/bin/python bench/pages.py [--seconds 5] [--rounds 3] [--connections 32]
                                    [--workers N] [--threads N]

Builds a throwaway node (SQLite) holding 200 events (some with shifts, RSVPs and shift
sign-ups from 40 members), 50 campaigns, 30 candidates and 100 news posts, and serves it
with gunicorn under the shipped settings (deploy/gunicorn.conf.py: sync workers, one per
core) on a free 127.0.0.1 port. The anchor, a bare Flask endpoint
(bench/bench_app.py), is mounted in the same server, so it runs under the same workers.

The load comes from wrk (the Debian package ``wrk``; the bench installs it with apt-get
when run as root, or says how), one thread: a C client costs little CPU, where Python
clients took a share of the two cores from the server and flattered the slower pages.
Each round measures the bare endpoint, then every page, then the bare endpoint again;
a page's ratio is its requests/s over the mean of its round's two bare figures, and the
figures printed are medians over the rounds. The pages: ``/``, ``/events``,
``/campaigns``, ``/candidates``, ``/news`` and one event page as a visitor (logged out),
and ``/`` as a logged-in member (wrk sends the session cookie). Every page is first
fetched once to check it answers 200 with the content expected (the member's page names
the member), and wrk's non-2xx count must stay 0, so every figure is of full 200 answers.

Targets: every public page >= 0.25x the bare endpoint; the member's home >= 0.12x.
Also printed: the server's CPU per request (all gunicorn processes, from /proc) for each
endpoint, the anchor's being the figure deploy/gunicorn.conf.py quotes, and the SQL
statements one warm view of each page runs. Exits 1 if a target is missed or any
request fails.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's node, not an installed one

import gunicorn_server  # noqa: E402 - beside this script

PUBLIC_TARGET = 0.25
MEMBER_TARGET = 0.12
BARE = "/__bench/bare"
GROUP_NAME = "Leeds North Momentum"
MEMBER_NAME = "Bench Member"
COUNTS = {"events": 200, "campaigns": 50, "candidates": 30, "posts": 100, "members": 40}


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    member: bool  # sent with the logged-in member's session cookie
    marker: str  # text the answer must hold

    @property
    def target(self) -> float:
        return MEMBER_TARGET if self.member else PUBLIC_TARGET


# --- The node and its data ---------------------------------------------------------------


def node_settings(instance: Path, port: int) -> dict[str, str]:
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "BASE_URL": f"http://127.0.0.1:{port}",
    }


@dataclass(frozen=True)
class Filled:
    event_id: int  # a public upcoming event with shifts and answers
    event_title: str
    cookie: str  # the member's session cookie, name=value


def fill(settings: dict[str, str]) -> Filled:
    """Set up the group, its members and its content through the app's own services."""
    from flask_migrate import upgrade

    from node import create_app
    from node.extensions import db
    from node.models import Member
    from node.services import groups
    from node.services.membership import passwords, sessions
    from node.services.organising import campaigns, candidates, events, posts, shifts

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
        hashed = passwords.hash_password("bench member passphrase")
        members = [
            Member(
                email=f"member{n}@example.org",
                display_name=MEMBER_NAME if n == 0 else f"Member {n}",
                role="member",
                status="active",
                password_hash=hashed,
            )
            for n in range(COUNTS["members"])
        ]
        db.session.add_all(members)
        db.session.commit()
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
        chosen = None
        for n in range(COUNTS["events"]):
            starts = now + timedelta(days=rng.randint(-60, 90), hours=rng.randint(9, 17))
            if n < 12:  # the first upcoming events, on the home page, carry the answers
                starts = now + timedelta(days=1 + n, hours=10)
            event = events.create(
                {
                    "title": f"Event {n}: door knocking in Chapel Allerton",
                    "description": "Meet at the clock. **Leaflets** and clipboards provided.\n\n"
                    "- bring water\n- wear good shoes\n",
                    "kind": rng.choice(["canvass", "phonebank", "meeting", "street_stall"]),
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=4),
                    "place_name": "Chapel Allerton library",
                    "address": "Harrogate Road, Leeds LS7",
                    "capacity": rng.choice([None, 40, 60]),
                    "campaign_id": rng.choice(made).id if n % 2 else None,
                    "visibility": "members" if n % 7 == 3 else "public",
                }
            )
            if n >= 12:
                continue
            made_shifts = [
                shifts.create(
                    event,
                    {
                        "label": f"Shift {s + 1}",
                        "starts_at": starts + timedelta(hours=s),
                        "ends_at": starts + timedelta(hours=s + 1),
                        "capacity": 10,
                    },
                )
                for s in range(3)
            ]
            for m, member in enumerate(members[: 10 + n]):
                events.respond(event, member, "going" if m % 3 else "maybe")
                if m % 2 == 0:
                    shifts.sign_up(made_shifts[m % 3], member)
            if chosen is None and event.visibility == "public":
                chosen = event
        for n in range(COUNTS["candidates"]):
            candidates.create(
                {
                    "name": f"Candidate {n}",
                    "office": rng.choice(["council_ward", "parliamentary_seat", "mayor"]),
                    "area": "Chapel Allerton",
                    "stage": rng.choice(["selected", "shortlisted", "elected"]),
                    "endorsement": rng.choice(["endorsed", "proposed", "none"]),
                    "statement": "A renter, a nurse and a **trade unionist**.",
                    "visibility": "members" if n % 4 == 0 else "public",
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
        key = sessions.start(members[0], "wrk")
        cookie = app.session_interface.get_signing_serializer(app).dumps(
            {"_permanent": True, "member_id": members[0].id, "key": key}
        )
        filled = Filled(chosen.id, chosen.title, f"{app.config['SESSION_COOKIE_NAME']}={cookie}")
        db.session.remove()
        db.engine.dispose()
    return filled


def pages_of(filled: Filled) -> list[Page]:
    return [
        Page("/", "/", False, GROUP_NAME),
        Page("/events", "/events", False, "Event "),
        Page("/campaigns", "/campaigns", False, "Campaign "),
        Page("/candidates", "/candidates", False, "Candidate "),
        Page("/news", "/news", False, "News "),
        Page("event page", f"/events/{filled.event_id}", False, filled.event_title),
        Page("/ (member)", "/", True, MEMBER_NAME),
    ]


def count_statements(
    settings: dict[str, str], pages: list[Page], cookie: str, cache_seconds: int
) -> dict[str, int]:
    """Count the SQL statements of a warm view of each page, in process."""
    from sqlalchemy import event

    from node import create_app
    from node.extensions import db

    app = create_app({**settings, "PAGE_CACHE_SECONDS": cache_seconds})
    with app.app_context():
        engine = db.engine
    counts: dict[str, int] = {}
    for page in pages:
        client = app.test_client()
        if page.member:
            name, value = cookie.split("=", 1)
            client.set_cookie(name, value)
        client.get(page.path)  # builds this process's copies (the group, the page)
        client.get(page.path)
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args, into=statements):
            into.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            client.get(page.path)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts[page.name] = len(statements)
    engine.dispose()
    return counts


# --- The load ----------------------------------------------------------------------------


def ensure_wrk() -> str:
    """Return wrk's path, installing the Debian package when run as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk ...", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
        installed = subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet)
        if installed.returncode != 0:
            subprocess.run(["apt-get", "update"], check=False, **quiet)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("This bench needs wrk: sudo apt-get install wrk (or build it from source).")


def check_answer(port: int, page: Page, cookie: str) -> None:
    """Fetch ``page`` once; stop unless it is a 200 holding its marker."""
    headers = {"Host": f"127.0.0.1:{port}"}
    if page.member:
        headers["Cookie"] = cookie
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", page.path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    conn.close()
    if response.status != 200 or page.marker not in body:
        raise SystemExit(f"{page.name} ({page.path}) answered {response.status} without the marker")
    if not page.member and MEMBER_NAME in body:
        raise SystemExit(f"{page.name} shows the member to a visitor")


@dataclass
class Run:
    per_second: float
    requests: int
    failures: int  # non-2xx/3xx answers and socket errors
    cpu_ms: float  # the server's CPU per request
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(output: str, percent: str) -> float:
    found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")


def wrk_run(
    wrk: str,
    server,
    port: int,
    path: str,
    seconds: float,
    connections: int,
    cookie: str | None,
    close: bool = False,
) -> Run:
    """Load ``path`` with wrk (one thread) for ``seconds``; measure the server's CPU too."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    command += ["-H", f"Host: 127.0.0.1:{port}"]
    if close:
        command += ["-H", "Connection: close"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    before = gunicorn_server.cpu_seconds(server)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = gunicorn_server.cpu_seconds(server) - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+)", output)
    if socket_errors:
        # A sync worker closes each connection after its answer: wrk may count a read on a
        # closed connection as an error though the answer was whole. Refused connects and
        # write errors are real failures.
        failures += int(socket_errors.group(1)) + int(socket_errors.group(3))
    return Run(
        rate,
        requests,
        failures,
        cpu / requests * 1000 if requests else float("nan"),
        _latency(output, "50"),
        _latency(output, "99"),
    )


# --- Main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections")
    parser.add_argument(
        "--workers", type=int, default=gunicorn_server.DEFAULT_WORKERS, help="gunicorn workers"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (above 1: gthread workers)"
    )
    parser.add_argument(
        "--close", action="store_true", help="a connection per request (sync workers do so)"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()

    print(gunicorn_server.machine_speed(), flush=True)
    with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
        port = gunicorn_server.free_port()
        settings = node_settings(Path(tmp) / "instance", port)
        print(f"filling a node with {COUNTS} ...", flush=True)
        filled = fill(settings)
        pages = pages_of(filled)
        statements = count_statements(settings, pages, filled.cookie, 30)
        rendered = count_statements(settings, pages, filled.cookie, 0)

        log = Path(tmp) / "gunicorn.log"
        server = gunicorn_server.start_gunicorn(
            settings,
            port,
            log,
            workers=args.workers,
            threads=args.threads,
            app=("--pythonpath", str(ROOT / "bench"), "bench_app:app"),
        )
        bare: list[list[Run]] = []
        runs: dict[str, list[Run]] = {page.name: [] for page in pages}
        try:
            gunicorn_server.wait_until_answering(server, port, log, BARE)
            for page in pages:
                check_answer(port, page, filled.cookie)
            kind = "sync workers" if args.threads == 1 else f"gthread workers x {args.threads}"
            print(
                f"gunicorn (deploy/gunicorn.conf.py): {args.workers} {kind} on "
                f"127.0.0.1:{port}; wrk -t1 -c{args.connections}"
                f"{' (Connection: close)' if args.close else ''}; {args.rounds} rounds of "
                f"{len(pages) + 2} x {args.seconds:g}s runs",
                flush=True,
            )

            def load(path: str, cookie: str | None, seconds: float) -> Run:
                return wrk_run(
                    wrk, server, port, path, seconds, args.connections, cookie, args.close
                )

            for page in pages:  # warm up: imports, template compilation, caches
                load(page.path, filled.cookie if page.member else None, 1)
            load(BARE, None, 1)
            for number in range(args.rounds):
                first = load(BARE, None, args.seconds)
                for page in pages:
                    cookie = filled.cookie if page.member else None
                    runs[page.name].append(load(page.path, cookie, args.seconds))
                bare.append([first, load(BARE, None, args.seconds)])
                anchor = statistics.mean(run.per_second for run in bare[-1])
                print(
                    f"round {number + 1}: bare {anchor:.0f}/s; "
                    + ", ".join(
                        f"{p.name} {runs[p.name][-1].per_second / anchor:.3f}x" for p in pages
                    ),
                    flush=True,
                )
        finally:
            gunicorn_server.stop(server)

    anchors = [statistics.mean(run.per_second for run in pair) for pair in bare]
    every_bare = [run for pair in bare for run in pair]
    print()
    print(
        f"{'endpoint':<16}{'req/s':>9}{'ratio':>9}{'target':>8}{'CPU ms/req':>12}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'SQL':>9}{'failed':>8}"
    )
    print(
        f"{'bare Flask':<16}{statistics.median(anchors):>9.0f}{1:>9.3f}{'':>8}"
        f"{statistics.median(r.cpu_ms for r in every_bare):>12.3f}"
        f"{statistics.median(r.p50_ms for r in every_bare):>9.2f}"
        f"{statistics.median(r.p99_ms for r in every_bare):>9.2f}{'':>9}"
        f"{sum(r.failures for r in every_bare):>8}"
    )
    failed = sum(r.failures for r in every_bare)
    missed = []
    for page in pages:
        found = runs[page.name]
        ratio = statistics.median(r.per_second / a for r, a in zip(found, anchors, strict=True))
        failed += sum(r.failures for r in found)
        if ratio < page.target:
            missed.append(page.name)
        print(
            f"{page.name:<16}{statistics.median(r.per_second for r in found):>9.0f}"
            f"{ratio:>9.3f}{page.target:>8.2f}{statistics.median(r.cpu_ms for r in found):>12.3f}"
            f"{statistics.median(r.p50_ms for r in found):>9.2f}"
            f"{statistics.median(r.p99_ms for r in found):>9.2f}"
            f"{f'{statements[page.name]}/{rendered[page.name]}':>9}"
            f"{sum(r.failures for r in found):>8}"
        )
    print()
    print("ratio: the page's req/s over its round's bare req/s, median of the rounds;")
    print("CPU ms/req: user + system CPU of every gunicorn process over the requests answered;")
    print("SQL: statements of one view served from the shared copy / rendered afresh.")
    print(gunicorn_server.machine_speed())
    if missed:
        print(f"MISSED the target: {', '.join(missed)}")
    if failed:
        print(f"{failed} requests failed")
    if not missed and not failed:
        print("every target met")
    return 1 if missed or failed else 0


if __name__ == "__main__":
    sys.exit(main())
