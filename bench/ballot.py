"""Votes cast per second through the HTTP API, and the time to close and count (gunicorn, SQLite).

    .venv/bin/python bench/ballot.py [--members 20000] [--senders 8] [--workers N]
                                     [--candidates 12] [--seats 5]

Builds a throwaway node (SQLite, a temporary folder) served by gunicorn with
deploy/gunicorn.conf.py on a free 127.0.0.1 port (its defaults: sync workers, cores + 1),
with ``--members`` members who joined before the freeze date, each holding a personal
token with scope ``vote``, and one ranked-choice ballot: ``--candidates`` candidates for
``--seats`` seats. Every member then casts a ranked paper (a random order of preference
of random length, skewed so the count takes several rounds) through
``POST /api/v1/ballots/<id>/vote``, from ``--senders`` concurrent processes, each request
on its own connection as sync workers take them. The papers are drawn before the clock
starts: the sender's cost is not the node's.

Counts a vote cast when the API answered 201 with a receipt, and checks afterwards that the
node holds exactly one paper and one voter row per member. Then an organiser's
``POST /api/v1/ballots/<id>/close`` closes it: that request counts every paper by STV,
checks the quorum, stores the result and appends the signed Question to the feed; its
wall time is the time to count. Reports votes/s, p50/p99 latency, the CPU the node spent
per vote, and the close. Targets: >= 300 votes/s, count < 5 s. Exits 1 if either is
missed or any vote was refused.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gunicorn_server  # noqa: E402 - beside this script

VOTES_TARGET = 300.0
COUNT_TARGET = 5.0
DEFAULT_WORKERS = min(multiprocessing.cpu_count() + 1, 8)


def node_settings(instance: Path, port: int) -> dict[str, str]:
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "WORKER_IN_PROCESS": "0",  # the close is the organiser's request, measured alone
    }


def set_up(settings: dict[str, str], members: int, candidates: int, seats: int) -> tuple:
    """Make the group, the members with their tokens, and the ballot; return what senders need."""
    from flask_migrate import upgrade

    from node import create_app
    from node.extensions import db
    from node.models import ApiToken, Member, digest
    from node.services import ballots, groups, tokens

    app = create_app(settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        groups.set_up(
            {
                "name": "Leeds North",
                "handle": "leedsnorth",
                "base_url": settings["BASE_URL"],
                "admin_email": "admin@example.org",
                "admin_name": "Admin",
                "password": "bench admin passphrase",
            }
        )
        organiser = db.session.query(Member).filter_by(email="admin@example.org").one()
        joined = datetime.now(UTC) - timedelta(days=60)
        people = [
            Member(
                email=f"member{n}@example.org",
                display_name=f"Member {n}",
                role="member",
                status="active",
                joined_at=joined,
            )
            for n in range(members)
        ]
        db.session.add_all(people)
        db.session.flush()
        values = [f"blt_bench{n:06d}{random.getrandbits(64):016x}" for n in range(members)]
        db.session.add_all(
            ApiToken(token_hash=digest(v), name="bench", scope="vote", member_id=p.id)
            for v, p in zip(values, people, strict=True)
        )
        db.session.commit()
        admin_token = tokens.create_personal(organiser)
        now = datetime.now(UTC)
        ballot = ballots.create(
            {
                "question": "Who should be our delegates?",
                "kind": "ranked",
                "options": [f"Candidate {n + 1}" for n in range(candidates)],
                "seats": seats,
                "opens_at": now - timedelta(minutes=1),
                "closes_at": now + timedelta(days=1),
                "freeze_at": now - timedelta(days=1),
                "quorum": members // 2,
                "allow_change": False,
                "visibility": "public",
            },
            organiser,
        )
        ballot_id = ballot.id
        db.session.remove()
        db.engine.dispose()
    return ballot_id, values, admin_token


def papers(count: int, candidates: int, rng: random.Random) -> list[list[int]]:
    """Ranked papers with a few popular candidates, so surpluses and exclusions both happen."""
    weights = [1.0 / (n + 1) for n in range(candidates)]
    drawn = []
    for _ in range(count):
        order = sorted(range(candidates), key=lambda c: -weights[c] * rng.random())
        drawn.append(order[: rng.randint(1, candidates)])
    return drawn


def stored(settings: dict[str, str], ballot_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import BallotPaper, BallotVoter

    app = create_app(settings)
    with app.app_context():
        found = (
            db.session.scalar(
                select(func.count())
                .select_from(BallotPaper)
                .where(BallotPaper.ballot_id == ballot_id)
            ),
            db.session.scalar(
                select(func.count())
                .select_from(BallotVoter)
                .where(BallotVoter.ballot_id == ballot_id)
            ),
        )
        db.engine.dispose()
    return found


def sender(port: int, path: str, requests: list[tuple[str, bytes]], start: Any, out: Any) -> None:
    """Cast each (token, body) on a connection of its own; report latencies and refusals."""
    latencies: list[float] = []
    refused: list[str] = []
    start.wait()
    for token, body in requests:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Host": f"127.0.0.1:{port}",
        }
        began = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            refused.append(f"{type(error).__name__}: {error}")
            continue
        finally:
            conn.close()
        if response.status == 201 and "receipt_code" in json.loads(answer):
            latencies.append(time.perf_counter() - began)
        else:
            refused.append(f"{response.status} {answer[:200]!r}")
    out.put((latencies, refused))


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000, help="eligible members, all vote")
    parser.add_argument("--senders", type=int, default=8, help="concurrent sending processes")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--seats", type=int, default=5)
    args = parser.parse_args()

    print(gunicorn_server.machine_speed(), flush=True)
    port = gunicorn_server.free_port()
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
        settings = node_settings(Path(tmp) / "instance", port)
        print(f"setting up {args.members} members with tokens ...", flush=True)
        ballot_id, values, admin_token = set_up(settings, args.members, args.candidates, args.seats)
        drawn = papers(args.members, args.candidates, random.Random(2026))
        requests = [
            (token, json.dumps({"choices": paper}).encode())
            for token, paper in zip(values, drawn, strict=True)
        ]
        slices = [requests[n :: args.senders] for n in range(args.senders)]
        log = Path(tmp) / "gunicorn.log"
        server = gunicorn_server.start_gunicorn(
            settings, port, log, workers=args.workers, threads=1
        )
        try:
            gunicorn_server.wait_until_answering(server, port, log, "/.well-known/nodeinfo")
            start, out = ctx.Event(), ctx.Queue()
            path = f"/api/v1/ballots/{ballot_id}/vote"
            senders = [
                ctx.Process(target=sender, args=(port, path, chunk, start, out)) for chunk in slices
            ]
            for process in senders:
                process.start()
            cpu_before = gunicorn_server.cpu_seconds(server)
            began = time.perf_counter()
            start.set()
            results = [out.get(timeout=3600) for _ in senders]
            elapsed = time.perf_counter() - began
            server_cpu = gunicorn_server.cpu_seconds(server) - cpu_before
            for process in senders:
                process.join()

            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            counting = time.perf_counter()
            conn.request(
                "POST",
                f"/api/v1/ballots/{ballot_id}/close",
                headers={"Authorization": f"Bearer {admin_token}", "Host": f"127.0.0.1:{port}"},
            )
            response = conn.getresponse()
            closed = json.loads(response.read() or b"{}")
            count_seconds = time.perf_counter() - counting
            conn.close()
        finally:
            gunicorn_server.stop(server)
        papers_stored, voters_stored = stored(settings, ballot_id)

    latencies = sorted(t for done, _ in results for t in done)
    refused = [reason for _, failed in results for reason in failed]
    rate = len(latencies) / elapsed
    print(
        f"{len(latencies)} votes cast in {elapsed:.1f} s by {args.senders} senders "
        f"({args.workers} sync workers): {rate:.0f} votes/s "
        f"(target >= {VOTES_TARGET:.0f}); p50 {percentile(latencies, 50):.1f} ms, "
        f"p99 {percentile(latencies, 99):.1f} ms; "
        f"node CPU {server_cpu / max(1, len(latencies)) * 1000:.2f} ms/vote"
    )
    print(f"stored: {papers_stored} papers, {voters_stored} voters (one each expected)")
    if response.status != 200:
        print(f"the close answered {response.status}: {closed}")
        return 1
    rounds = len(closed.get("rounds") or [])
    print(
        f"close and STV count ({args.candidates} candidates, {args.seats} seats, {rounds} rounds, "
        f"{closed.get('voters_count')} papers): {count_seconds:.2f} s "
        f"(target < {COUNT_TARGET:.0f} s); "
        f"elected (positions): {closed.get('winners')}"
    )
    if refused:
        print(f"{len(refused)} refused, e.g. {refused[:3]}")
    ok = (
        not refused
        and rate >= VOTES_TARGET
        and count_seconds < COUNT_TARGET
        and papers_stored == voters_stored == args.members
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
