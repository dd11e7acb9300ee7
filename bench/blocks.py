"""What the block list costs: the inbox's check, and a feed entry's fan-out, with a long list.

    .venv/bin/python bench/blocks.py [--blocks 10000] [--followers 1000] [--checks 2000]

A fresh SQLite node in a temporary folder imports a Mastodon-format list of --blocks domains
(timed), then times ``blocks.blocks_sender`` (what the inbox asks of every request: one
indexed query for the actor and its key) for URLs that are and are not blocked, and
``feed.append`` with --followers accepted followers (it reads the blocks that could cover
them once per entry, to leave blocked followers out), and that read on its own. Nothing
leaves the machine.

Targets: the inbox check's median < 1 ms (its p99 is printed: on a shared machine it says
more about the neighbours); reading the blocks that could cover 1,000 followers (what the
list adds to each entry's fan-out) median < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gunicorn_server  # noqa: E402 - beside this script
from flask_migrate import upgrade  # noqa: E402

from node import create_app  # noqa: E402
from node.extensions import db  # noqa: E402
from node.models import Block, Follower, Group, Peer  # noqa: E402
from node.services import feed  # noqa: E402
from node.services.peering import blocking, blocks  # noqa: E402

CHECK_P50_TARGET_MS = 1.0
FANOUT_TARGET_MS = 50.0


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] * 1000


def _fanout(count: int) -> float:
    """Append ``count`` entries; return the median milliseconds of one."""
    timings = []
    for n in range(count):
        started = time.perf_counter()
        feed.append({"type": "Announce", "object": f"https://elsewhere.example/{n}"})
        db.session.commit()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()
    print(gunicorn_server.machine_speed(), flush=True)

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                "SECRET_KEY": "bench",
                "BASE_URL": "http://127.0.0.1:5000",
            }
        )
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            db.session.add(Group(name="Bench", handle="bench", base_url="http://127.0.0.1:5000"))
            for n in range(args.followers):
                peer = Peer(
                    actor_id=f"https://g{n}.follow.example/actor",
                    inbox=f"https://g{n}.follow.example/inbox",
                )
                db.session.add(peer)
                db.session.flush()
                db.session.add(
                    Follower(peer_id=peer.id, state="accepted", follow_activity_id=str(n))
                )
            db.session.commit()
            from node.keys import node_keys

            node_keys()  # key generation is not what is measured
            _fanout(5)  # first-entry set-up (imports, the statement cache) is not measured

            lines = ["#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"]
            lines += [f"spam{n}.example,suspend,false,false,spam,false" for n in range(args.blocks)]
            started = time.perf_counter()
            report = blocking.import_csv("\n".join(lines) + "\n", by_name="bench")
            imported = time.perf_counter() - started
            assert len(report.added) == args.blocks, report.summary()
            assert db.session.query(Block).count() == args.blocks

            headers = [("Signature", 'keyId="https://x.example/actor#main-key",signature="x"')]
            timings = {"blocked": [], "not blocked": []}
            for n in range(args.checks):
                blocked = n % 2 == 0
                host = f"a.spam{n % args.blocks}.example" if blocked else f"ok{n}.example"
                started = time.perf_counter()
                found = blocks.blocks_sender(f"https://{host}/users/x", headers)
                timings["blocked" if blocked else "not blocked"].append(
                    time.perf_counter() - started
                )
                assert found is blocked
            with_list = _fanout(20)  # the list's read is part of it, as in production
            urls = [url for row in db.session.query(Peer.actor_id, Peer.inbox) for url in row]
            reads = []
            for _ in range(20):
                started = time.perf_counter()
                blocks.block_list(urls)
                reads.append(time.perf_counter() - started)
            read = statistics.median(reads) * 1000
        with app.app_context():
            db.engine.dispose()

    print(f"blocks: {args.blocks}, followers: {args.followers}")
    print(f"import of {args.blocks} domain blocks: {imported:.2f} s")
    worst = 0.0
    for name, samples in timings.items():
        p99 = _p99(samples)
        worst = max(worst, statistics.median(samples) * 1000)
        print(
            f"inbox check, {name}: p50 {statistics.median(samples) * 1000:.3f} ms, p99 {p99:.3f} ms"
        )
    print(f"feed entry to {args.followers} followers, with the list (median): {with_list:.1f} ms")
    print(f"reading the blocks that could cover the followers (median): {read:.1f} ms")
    verdict = "met" if worst < CHECK_P50_TARGET_MS else "MISSED"
    print(f"inbox check median < {CHECK_P50_TARGET_MS} ms: {verdict}")
    verdict = "met" if read < FANOUT_TARGET_MS else "MISSED"
    print(f"fan-out read < {FANOUT_TARGET_MS} ms: {verdict}")


if __name__ == "__main__":
    main()
