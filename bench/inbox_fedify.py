"""The node's inbox against Fedify 1.5.9's, on the same signed activities, CPU per activity.

    .venv/bin/python bench/inbox_fedify.py [--activities 800] [--rounds 3] [--senders 4]
                                           [--feed-entries 800] [--workers N]

Runs, side by side on 127.0.0.1: a throwaway Branchline node (SQLite, gunicorn with
deploy/gunicorn.conf.py's defaults: sync workers, one per core), and a Fedify 1.5.9 inbox
(bench/fedify/inbox_server.mjs, Node.js, Fedify from tests/interop's node_modules: the
script runs `npm ci` there if they are missing). Fake fediverse accounts (Person actors,
Mastodon's shape) and fake Branchline groups live on a local server in their own process,
which both sides fetch the signers' keys from; both sides follow every one of them.

Each round sends both sides the same work, one side after the other (Branchline, Fedify,
then Branchline's signed feed): ``--activities`` Create(Note) activities from
``--senders`` followed accounts at once, each POST signed draft-cavage (RSA-SHA256, as
Mastodon signs) for the side it goes to; then, to the node only, ``--feed-entries`` signed
feed entries (Create(Event) with an Ed25519 proof, chained, as bench/ingest.py sends) from
as many groups. Each sender process signs its requests before the clock starts. A warm-up
round first lets both sides fetch and keep every signer's key.

Reports, per round and as medians: accepted/s (202) and the CPU each server's own
processes spent per accepted activity (gunicorn's master and workers; the node process),
and the ratio Branchline/Fedify within the round. Checks afterwards that each side kept
every activity it accepted. Targets: Branchline's CPU per plain activity <= 0.5x Fedify's
(median of the rounds' ratios); the feed path <= 1.5 ms CPU per entry. Exits 1 if a target
is missed or anything was refused.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gunicorn_server  # noqa: E402 - beside this script
import ingest  # noqa: E402 - beside this script: its fake groups, actor server and node set-up

from federation import feed, keys  # noqa: E402
from federation.httpsig import sign_request  # noqa: E402

CPU_RATIO_TARGET = 0.5
FEED_MS_TARGET = 1.5
WARM_UP = 250  # activities from each sender before the rounds: keys fetched, JIT settled
ACTIVITY_JSON = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
INTEROP = ROOT / "tests" / "interop"
FEDIFY_SERVER = Path(__file__).resolve().parent / "fedify" / "inbox_server.mjs"


# --- The senders ------------------------------------------------------------------------


class FakeAccount:
    """A fediverse account at http://127.0.0.1:PORT/people/N, shaped as Mastodon's are."""

    def __init__(self, port: int, n: int) -> None:
        self.base = f"http://127.0.0.1:{port}/people/{n}"
        self.actor = self.base
        self.http_key = keys.generate_rsa_key()

    def actor_document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": f"user{self.base.rsplit('/', 1)[1]}",
            "name": "A Mastodon user",
            "inbox": f"{self.base}/inbox",
            "outbox": f"{self.base}/outbox",
            "followers": f"{self.base}/followers",
            "publicKey": {
                "id": f"{self.actor}#main-key",
                "owner": self.actor,
                "publicKeyPem": keys.public_key_to_pem(self.http_key.public_key()),
            },
        }

    def note(self, label: str) -> bytes:
        """One Create(Note) as Mastodon sends it; ``label`` makes its ids unique."""
        status = f"{self.base}/statuses/{label}"
        published = "2030-01-01T10:00:00Z"
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{status}/activity",
            "type": "Create",
            "actor": self.actor,
            "published": published,
            "to": [PUBLIC],
            "cc": [f"{self.base}/followers"],
            "object": {
                "id": status,
                "type": "Note",
                "attributedTo": self.actor,
                "content": f"<p>Canvassing on Saturday, meet at the library ({label})</p>",
                "published": published,
                "to": [PUBLIC],
                "cc": [f"{self.base}/followers"],
            },
        }
        return json.dumps(activity).encode()


def feed_chain(group: ingest.FakePeer, count: int) -> list[bytes]:
    """Build ``count`` chained entries of ``group``'s feed (seq 1 on), proofs made."""
    built, previous = [], None
    now = datetime.now(UTC)
    for seq in range(1, count + 1):
        activity = {
            "id": f"{group.base}/outbox/{seq}",
            "type": "Create",
            "actor": group.actor,
            "object": {
                "id": f"{group.base}/events/{seq}",
                "type": "Event",
                "name": f"Door knocking, round {seq}",
                "startTime": "2031-05-01T18:00:00Z",
                "attributedTo": group.actor,
                "published": "2030-01-01T10:00:00Z",
            },
        }
        previous = feed.build_entry(
            activity,
            seq=seq,
            previous=previous,
            signing_key=group.proof_key,
            verification_method=f"{group.actor}#ed25519-key",
            created=now,
        )
        built.append(feed.serialize_entry(previous))
    return built


def send(
    port: int,
    bodies: list[bytes],
    key_id: str,
    private_key: Any,
    ready: Any,
    start: Any,
    out: Any,
) -> None:
    """One sender: sign every body for 127.0.0.1:``port``/inbox, then POST them in order."""
    inbox = f"http://127.0.0.1:{port}/inbox"
    now = datetime.now(UTC)
    signed = [
        (
            body,
            sign_request(
                "POST", inbox, {"Content-Type": ACTIVITY_JSON}, body, key_id, private_key, now
            ),
        )
        for body in bodies
    ]
    ready.put(True)
    start.wait()
    accepted, refused = 0, []
    for body, headers in signed:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/inbox", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            refused.append(f"{type(error).__name__}: {error}")
            continue
        finally:
            conn.close()  # a connection per request, as sync workers take them
        if response.status == 202:
            accepted += 1
        else:
            refused.append(f"{response.status} {answer[:200]!r}")
    out.put((accepted, refused))


def cpu_times(process: subprocess.Popen) -> tuple[float, float]:
    """User and system CPU seconds used so far by ``process`` and its children (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in [process.pid, *gunicorn_server._children(process.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / ticks, system / ticks


def run_senders(
    ctx: Any, port: int, jobs: list[tuple[list[bytes], str, Any]], cpu: Any
) -> tuple[int, list[str], float, tuple[float, float]]:
    """Run one sender per job at once; return accepted, refusals, seconds and the server's
    CPU seconds (user, system) meanwhile."""
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(target=send, args=(port, bodies, key_id, key, ready, start, out))
        for bodies, key_id, key in jobs
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=300)  # every request signed before the clock starts
    user_before, system_before = cpu()
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - began
    user_after, system_after = cpu()
    spent = (user_after - user_before, system_after - system_before)
    for process in processes:
        process.join()
    accepted = sum(count for count, _ in results)
    refused = [reason for _, failed in results for reason in failed]
    return accepted, refused, elapsed, spent


# --- The two servers --------------------------------------------------------------------


def fedify_modules() -> Path:
    """Return tests/interop's node_modules, running ``npm ci`` there first if missing."""
    modules = INTEROP / "node_modules"
    if not (modules / "@fedify" / "fedify").is_dir():
        print("installing Fedify (npm ci in tests/interop) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=INTEROP, check=True)
    return modules


def start_fedify(port: int, followed: list[str], log: Path) -> subprocess.Popen:
    """Start the Fedify inbox on 127.0.0.1:``port`` and wait until it listens."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("Node.js (node) is needed for the Fedify side")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, str(FEDIFY_SERVER), str(port), str(fedify_modules()), json.dumps(followed)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the Fedify server exited:\n{log.read_text()}")
        if fedify_stored(port) is not None:
            return process
        time.sleep(0.2)
    raise SystemExit(f"the Fedify server did not answer within 60 s:\n{log.read_text()}")


def fedify_stored(port: int) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/bench/stored")
        answer = json.loads(conn.getresponse().read())
        conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        return None
    return int(answer["stored"])


def node_stored(settings: dict[str, str]) -> tuple[int, int]:
    """Count what the node kept: (plain activities, feed entries)."""
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import RemoteEntry

    app = create_app(settings)
    with app.app_context():
        plain = db.session.scalar(
            select(func.count(RemoteEntry.id)).where(RemoteEntry.seq.is_(None))
        )
        chained = db.session.scalar(
            select(func.count(RemoteEntry.id)).where(RemoteEntry.seq.is_not(None))
        )
        db.engine.dispose()
    return plain or 0, chained or 0


# --- The run ----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=800, help="plain activities a round")
    parser.add_argument("--feed-entries", type=int, default=800, help="feed entries a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders")
    parser.add_argument("--workers", type=int, default=ingest.DEFAULT_WORKERS)
    args = parser.parse_args()
    each = max(1, args.activities // args.senders)
    each_feed = max(1, args.feed_entries // args.senders)

    node_port, fedify_port, actor_port = (gunicorn_server.free_port() for _ in range(3))
    accounts = [FakeAccount(actor_port, n) for n in range(args.senders)]
    groups = [ingest.FakePeer(actor_port, n) for n in range(args.senders)]
    documents = {
        f"/people/{n}": json.dumps(a.actor_document()).encode() for n, a in enumerate(accounts)
    }
    documents |= {
        f"/peers/{n}/actor": json.dumps(g.actor_document()).encode() for n, g in enumerate(groups)
    }
    print(
        f"building {args.rounds} rounds of feed entries for {args.senders} groups ...", flush=True
    )
    chains = [feed_chain(group, WARM_UP + args.rounds * each_feed) for group in groups]

    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    actors = ctx.Process(
        target=ingest.serve_actors, args=(actor_port, documents, ready), daemon=True
    )
    actors.start()
    ready.get(timeout=10)
    rows: list[dict[str, float]] = []
    refused: list[str] = []
    totals = {"branchline": 0, "fedify": 0, "feed": 0}
    try:
        with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
            settings = ingest.node_settings(Path(tmp) / "instance", node_port)
            ingest.set_up(settings, [a.actor for a in accounts] + [g.actor for g in groups])
            log = Path(tmp) / "gunicorn.log"
            fedify_log = Path(tmp) / "fedify.log"
            server = gunicorn_server.start_gunicorn(
                settings, node_port, log, workers=args.workers, threads=1
            )
            fedify = start_fedify(fedify_port, [a.actor for a in accounts], fedify_log)
            try:
                gunicorn_server.wait_until_answering(
                    server, node_port, log, "/.well-known/nodeinfo"
                )

                def node_cpu() -> tuple[float, float]:
                    return cpu_times(server)

                def fedify_cpu() -> tuple[float, float]:
                    return cpu_times(fedify)

                def plain_jobs(label: str, count: int) -> list[tuple[list[bytes], str, Any]]:
                    return [
                        (
                            [a.note(f"{label}-{i}") for i in range(count)],
                            f"{a.actor}#main-key",
                            a.http_key,
                        )
                        for a in accounts
                    ]

                def feed_jobs(first: int, count: int) -> list[tuple[list[bytes], str, Any]]:
                    return [
                        (chain[first : first + count], f"{g.actor}#main-key", g.http_key)
                        for g, chain in zip(groups, chains, strict=True)
                    ]

                # Warm-up: each side fetches every signer's key and warms up (JIT, caches).
                for side, port, jobs in (
                    ("branchline", node_port, plain_jobs("warm", WARM_UP)),
                    ("fedify", fedify_port, plain_jobs("warm", WARM_UP)),
                    ("feed", node_port, feed_jobs(0, WARM_UP)),
                ):
                    accepted, failed, _, _ = run_senders(ctx, port, jobs, lambda: (0.0, 0.0))
                    refused += failed
                    totals[side] += accepted

                for number in range(1, args.rounds + 1):
                    row: dict[str, float] = {}
                    for side, port, cpu in (
                        ("branchline", node_port, node_cpu),
                        ("fedify", fedify_port, fedify_cpu),
                    ):
                        accepted, failed, elapsed, spent = run_senders(
                            ctx, port, plain_jobs(f"r{number}", each), cpu
                        )
                        refused += failed
                        totals[side] += accepted
                        row[f"{side}_rate"] = accepted / elapsed
                        row[f"{side}_ms"] = sum(spent) / max(accepted, 1) * 1000
                        row[f"{side}_sys"] = spent[1] / max(accepted, 1) * 1000
                    accepted, failed, elapsed, spent = run_senders(
                        ctx,
                        node_port,
                        feed_jobs(WARM_UP + (number - 1) * each_feed, each_feed),
                        node_cpu,
                    )
                    refused += failed
                    totals["feed"] += accepted
                    row["feed_rate"] = accepted / elapsed
                    row["feed_ms"] = sum(spent) / max(accepted, 1) * 1000
                    row["feed_sys"] = spent[1] / max(accepted, 1) * 1000
                    row["ratio"] = row["branchline_ms"] / row["fedify_ms"]
                    rows.append(row)
                    print(
                        f"round {number}: Branchline {row['branchline_rate']:.0f}/s "
                        f"{row['branchline_ms']:.2f} ms CPU ({row['branchline_sys']:.2f} system); "
                        f"Fedify {row['fedify_rate']:.0f}/s {row['fedify_ms']:.2f} ms CPU "
                        f"({row['fedify_sys']:.2f} system); CPU ratio {row['ratio']:.2f}x; "
                        f"feed {row['feed_rate']:.0f}/s {row['feed_ms']:.2f} ms CPU "
                        f"({row['feed_sys']:.2f} system)",
                        flush=True,
                    )
                fedify_kept = fedify_stored(fedify_port)
            finally:
                gunicorn_server.stop(server)
                gunicorn_server.stop(fedify)
            plain_kept, feed_kept = node_stored(settings)
            server_log = log.read_text(errors="replace")
            fedify_text = fedify_log.read_text(errors="replace")
    finally:
        actors.terminate()
        actors.join()

    def median(name: str) -> float:
        return statistics.median(row[name] for row in rows)

    ratio, feed_ms = median("ratio"), median("feed_ms")
    plain_ok, feed_ok = ratio <= CPU_RATIO_TARGET, feed_ms <= FEED_MS_TARGET
    print(
        f"gunicorn: {args.workers} sync workers; Fedify 1.5.9 on Node.js {node_version()}; "
        f"{args.senders} concurrent senders, a connection per request; {args.rounds} rounds "
        f"of {each * args.senders} activities a side and {each_feed * args.senders} feed entries"
    )
    print("| medians | accepted/s | CPU ms per activity |")
    print("|---|---|---|")
    print(
        f"| Branchline, plain Create(Note) | {median('branchline_rate'):.0f} "
        f"| {median('branchline_ms'):.2f} |"
    )
    print(f"| Fedify 1.5.9, the same | {median('fedify_rate'):.0f} | {median('fedify_ms'):.2f} |")
    print(f"| Branchline, signed feed entries | {median('feed_rate'):.0f} | {feed_ms:.2f} |")
    print(
        f"CPU ratio Branchline/Fedify (median of the rounds' ratios): {ratio:.2f}x "
        f"(target <= {CPU_RATIO_TARGET}x: {'met' if plain_ok else 'MISSED'})"
    )
    print(
        f"feed path CPU per entry: {feed_ms:.2f} ms "
        f"(target <= {FEED_MS_TARGET} ms: {'met' if feed_ok else 'MISSED'})"
    )
    kept_ok = (
        plain_kept == totals["branchline"]
        and feed_kept == totals["feed"]
        and fedify_kept == totals["fedify"]
    )
    print(
        f"kept: Branchline {plain_kept} of {totals['branchline']} plain, {feed_kept} of "
        f"{totals['feed']} feed entries; Fedify {fedify_kept} of {totals['fedify']}"
    )
    print(gunicorn_server.machine_speed())
    if refused:
        print(f"refused: {len(refused)}; the first:", *refused[:5], sep="\n  ")
        print(server_log[-2000:])
        print(fedify_text[-2000:])
    return 0 if plain_ok and feed_ok and kept_ok and not refused else 1


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "?"
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
