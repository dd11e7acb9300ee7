"""How long the monitors' addresses take: /healthz, /readyz and a /metrics scrape.

A node in a temporary folder (SQLite), its queue filled with deliveries to many peers, is
asked each address through Flask's test client (no server, no network), so the figures are
the node's own work. Run: `python bench/monitors.py [--peers 200] [--per-peer 50] [--calls 200]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gunicorn_server import machine_speed  # noqa: E402 - beside this script

from node import create_app  # noqa: E402
from node.extensions import db  # noqa: E402
from node.models import Delivery, Peer  # noqa: E402
from node.services import workers  # noqa: E402

TOKEN = "bench-metrics-token-0123456789abcdef"  # noqa: S105 - a throwaway for this run


class BenchWorker:
    """A stand-in the heartbeat is kept for."""


def fill(peers: int, per_peer: int) -> None:
    for index in range(peers):
        peer = Peer(actor_id=f"https://peer{index}.example/actor", handle=f"acct:p@peer{index}")
        db.session.add(peer)
        db.session.flush()
        for number in range(per_peer):
            # Half still to land, a tenth given up, the rest done (the table's usual bulk).
            state = "pending" if number % 2 else ("given_up" if number % 10 == 0 else "done")
            db.session.add(
                Delivery(
                    inbox=f"https://peer{index}.example/inbox",
                    peer_id=peer.id,
                    body="{}",
                    state=state,
                )
            )
    db.session.commit()


def timings(client, path: str, calls: int, headers: dict[str, str]) -> tuple[float, float]:
    spent = []
    for _ in range(calls):
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        spent.append(time.perf_counter() - began)
        assert response.status_code < 500, response.status_code
    spent.sort()
    return statistics.median(spent) * 1000, spent[int(len(spent) * 0.99) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peers", type=int, default=200)
    parser.add_argument("--per-peer", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    print(machine_speed())
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "SECRET_KEY": "bench",
                "METRICS_TOKEN": TOKEN,
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            fill(args.peers, args.per_peer)
            worker = BenchWorker()
            workers.beat(worker, None)
            client = app.test_client()
            rows = args.peers * args.per_peer
            print(f"{args.peers} peers, {rows} deliveries; {args.calls} calls each")
            for path, headers in (
                ("/healthz", {}),
                ("/readyz", {}),
                ("/metrics", {"Authorization": f"Bearer {TOKEN}"}),
            ):
                median, p99 = timings(client, path, args.calls, headers)
                print(f"{path:10} median {median:7.2f} ms   p99 {p99:7.2f} ms")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
