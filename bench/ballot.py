"""Votes cast per second through the HTTP API, and the time to open and count a sealed ballot.

    .venv/bin/python bench/ballot.py [--members 20000] [--senders 8] [--workers N]
                                     [--candidates 12] [--seats 5]

Builds a throwaway node (SQLite, a temporary folder) served by gunicorn with
deploy/gunicorn.conf.py on a free 127.0.0.1 port (its defaults: sync workers, one per core),
with ``--members`` members who joined before the freeze date, each holding a personal
token with scope ``vote``, and one sealed ranked-choice ballot: ``--candidates`` candidates
for ``--seats`` seats, three of the members its tellers, any two of whom count. Before the
clock starts the tellers take and confirm their codes through the services, which deals the
ballot's key. Every member then casts a ranked paper (a random order of preference of random
length, skewed so the count takes several rounds) through ``POST /api/v1/ballots/<id>/vote``,
from ``--senders`` concurrent processes, each request on its own connection as sync workers
take them; the node seals each paper to the ballot's public key. The papers are drawn before
the clock starts: the sender's cost is not the node's.

Counts a vote cast when the API answered 201 with a tracker. Then an organiser's
``POST /api/v1/ballots/<id>/close`` closes it (202, counting) and two tellers give their
shares with ``POST /api/v1/ballots/<id>/shares``: the second share's request rebuilds the
key, opens every sealed paper, shuffles and publishes the opened papers, counts them by STV,
checks the quorum, stores the result and appends the signed Question to the feed; its wall
time is the time to open and count. Checks afterwards that the node holds exactly one voter
row with a sealed paper per member, that the result's voters count is the members, and that
no given share is left. Reports votes/s, p50/p99 latency, the CPU the node spent per vote,
and the open and count. Targets: >= 300 votes/s, open and count < 10 s. Exits 1 if either
is missed, any vote or share was refused, or a check fails.
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
COUNT_TARGET = 10.0
TELLERS, TELLERS_NEEDED = 3, 2
DEFAULT_WORKERS = gunicorn_server.DEFAULT_WORKERS


def node_settings(instance: Path, port: int) -> dict[str, str]:
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "WORKER_IN_PROCESS": "0",  # the count is the last share's request, measured alone
    }


def set_up(settings: dict[str, str], members: int, candidates: int, seats: int) -> tuple:
    """Make the group, the members with their tokens, and the dealt ballot; return what we need."""
    from flask_migrate import upgrade

    from node import create_app
    from node.extensions import db
    from node.models import ApiToken, Member, digest
    from node.services import groups
    from node.services.membership import tokens
    from node.services.voting import ballot_tellers, ballots

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
                "tellers": [p.id for p in people[:TELLERS]],
                "tellers_needed": TELLERS_NEEDED,
            },
            organiser,
        )
        # The tellers take and keep their codes; the last confirmation deals the ballot key.
        tellers = []
        for person, value in zip(people[:TELLERS], values, strict=False):
            code = ballot_tellers.take_code(ballot, person)
            ballot_tellers.confirm_code(ballot, person, code)
            tellers.append((value, code))
        if ballot.public_key is None:
            raise SystemExit("the tellers confirmed their codes but the ballot key was not dealt")
        ballot_id = ballot.id
        db.session.remove()
        db.engine.dispose()
    return ballot_id, values, admin_token, tellers


def papers(count: int, candidates: int, rng: random.Random) -> list[list[int]]:
    """Ranked papers with a few popular candidates, so surpluses and exclusions both happen."""
    weights = [1.0 / (n + 1) for n in range(candidates)]
    drawn = []
    for _ in range(count):
        order = sorted(range(candidates), key=lambda c: -weights[c] * rng.random())
        drawn.append(order[: rng.randint(1, candidates)])
    return drawn


def stored(settings: dict[str, str], ballot_id: int) -> dict[str, int]:
    """Count what the node holds for the ballot after the count."""
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import BallotOpened, BallotPaper, BallotTeller, BallotVoter

    def count(*where: Any, of: Any) -> int:
        return db.session.scalar(select(func.count(of)).where(*where)) or 0

    app = create_app(settings)
    with app.app_context():
        voters = BallotVoter.ballot_id == ballot_id
        found = {
            "voter rows": count(voters, of=BallotVoter.voter),
            "with a sealed paper": count(
                voters, BallotVoter.sealed_paper.is_not(None), of=BallotVoter.voter
            ),
            "members": count(voters, of=BallotVoter.member_id.distinct()),
            "trackers": count(voters, of=BallotVoter.tracker.distinct()),
            "plain papers": count(BallotPaper.ballot_id == ballot_id, of=BallotPaper.receipt),
            "opened papers": count(BallotOpened.ballot_id == ballot_id, of=BallotOpened.position),
            "shares kept": count(
                BallotTeller.ballot_id == ballot_id,
                BallotTeller.submitted_share.is_not(None),
                of=BallotTeller.id,
            ),
        }
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
        if response.status == 201 and json.loads(answer).get("tracker"):
            latencies.append(time.perf_counter() - began)
        else:
            refused.append(f"{response.status} {answer[:200]!r}")
    out.put((latencies, refused))


def call(port: int, method: str, path: str, token: str, body: Any = None) -> tuple:
    """Send one request as ``token``'s member; return (status, answer, wall seconds)."""
    headers = {"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{port}"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    wall = time.perf_counter() - began
    try:
        return response.status, json.loads(answer or b"{}"), wall
    except ValueError:
        return response.status, {"body": answer[:200].decode(errors="replace")}, wall


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
    if args.members < TELLERS:
        parser.error(f"--members: at least {TELLERS}, the tellers are members")

    print(gunicorn_server.machine_speed(), flush=True)
    port = gunicorn_server.free_port()
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
        settings = node_settings(Path(tmp) / "instance", port)
        print(f"setting up {args.members} members with tokens ...", flush=True)
        ballot_id, values, admin_token, tellers = set_up(
            settings, args.members, args.candidates, args.seats
        )
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

            # The organiser closes (202: counting); the second teller's share opens and counts.
            one = f"/api/v1/ballots/{ballot_id}"
            steps = [("close", *call(port, "POST", f"{one}/close", admin_token))]
            for n, (teller_token, code) in enumerate(tellers[:TELLERS_NEEDED], start=1):
                given = call(port, "POST", f"{one}/shares", teller_token, {"code": code})
                steps.append((f"share {n}", *given))
            count_seconds = steps[-1][3]
            result = call(port, "GET", f"{one}/result", admin_token)
        finally:
            gunicorn_server.stop(server)
        found = stored(settings, ballot_id)

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
    print("stored: " + ", ".join(f"{n} {what}" for what, n in found.items()))
    expected = {"close": 202, "share 1": 200, f"share {TELLERS_NEEDED}": 200}
    wrong = [
        f"{step} answered {status}: {answer}"
        for step, status, answer, _ in steps
        if status != expected.get(step, 200)
    ]
    status, counted, _ = result
    if status != 200:
        wrong.append(f"the result answered {status}: {counted}")
    print(
        "close and shares: "
        + ", ".join(f"{step} {status} in {wall:.2f} s" for step, status, _, wall in steps)
    )
    for reason in wrong:
        print(reason)
    if wrong:
        return 1
    rounds = len(counted.get("rounds") or [])
    print(
        f"open and STV count at share {TELLERS_NEEDED} of {TELLERS} tellers "
        f"({args.candidates} candidates, {args.seats} seats, {rounds} rounds, "
        f"{counted.get('sealed_count')} sealed papers, {counted.get('spoilt_count')} spoilt, "
        f"{counted.get('voters_count')} voters): {count_seconds:.2f} s "
        f"(target < {COUNT_TARGET:.0f} s); "
        f"elected (positions): {counted.get('winners')}"
    )
    if refused:
        print(f"{len(refused)} refused, e.g. {refused[:3]}")
    # One voter row with a sealed paper per member, every paper opened, no share kept.
    checks = {
        "one sealed paper per member": found["voter rows"]
        == found["with a sealed paper"]
        == found["members"]
        == found["trackers"]
        == args.members,
        "no plain papers": found["plain papers"] == 0,
        "every paper opened": found["opened papers"] == args.members,
        "voters counted are the members": counted.get("voters_count") == args.members,
        "no share left": found["shares kept"] == 0,
    }
    failed = [name for name, passed in checks.items() if not passed]
    if failed:
        print(f"checks failed: {', '.join(failed)}")
    ok = not refused and not failed and rate >= VOTES_TARGET and count_seconds < COUNT_TARGET
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
