"""One feed entry delivered to 200 follower inboxes, each request signed: deliveries/s.

Loopback only: the inboxes are paths on a local threaded sink server on 127.0.0.1 that
answers 202. The node is a fresh SQLite instance in a temporary folder; the worker makes one
pass with N concurrent senders. Target: >= 200 deliveries/s.

    .venv/bin/python bench/fanout.py [--followers 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402

from node import create_app  # noqa: E402
from node.extensions import db  # noqa: E402
from node.models import Group  # noqa: E402
from node.models.federation import Delivery, FeedEntry  # noqa: E402
from node.worker import Worker  # noqa: E402

TARGET = 200.0


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this the body waits for the
    # client's delayed ACK (40 ms) on a kept connection, which no real server makes it do.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "Signature" not in self.headers:
            self.send_response_only(401)
        else:
            self.send_response_only(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve_sink(ready: multiprocessing.Queue) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    ready.put(server.server_address[1])
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    # The sink runs in its own process, so it does not compete with the node for the GIL.
    ready: multiprocessing.Queue = multiprocessing.Queue()
    sink = multiprocessing.Process(target=serve_sink, args=(ready,), daemon=True)
    sink.start()
    port = ready.get(timeout=10)

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "INSTANCE_PATH": folder,
                "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                "SECRET_KEY": "bench",
                "BASE_URL": "http://127.0.0.1:5000",
                "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
                "DELIVERY_BATCH_SIZE": args.followers,
            }
        )
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            db.session.add(Group(name="Bench", handle="bench", base_url="http://127.0.0.1:5000"))
            entry = FeedEntry(
                seq=1,
                activity_id="http://127.0.0.1:5000/activities/1",
                activity_type="Create",
                body='{"seq":1,"type":"Create","id":"http://127.0.0.1:5000/activities/1"}',
                entry_hash="sha256:" + "0" * 64,
            )
            db.session.add(entry)
            db.session.flush()
            now = datetime.now(UTC)
            db.session.add(Delivery(inbox=f"http://127.0.0.1:{port}/warm-up", next_attempt_at=now))
            db.session.commit()
            from node.keys import node_keys
            from node.services.peering import deliveries

            node_keys()  # made before the clock starts: key generation is not delivery
            deliveries.send_due(limit=1)  # first-request set-up (imports, pools) is not timed
            db.session.add_all(
                Delivery(
                    inbox=f"http://127.0.0.1:{port}/inbox/{n}",
                    feed_entry_id=entry.id,
                    next_attempt_at=now,
                )
                for n in range(args.followers)
            )
            db.session.commit()
            db.session.remove()

        worker = Worker(app, concurrency=args.concurrency)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(worker.concurrency) as pool:
            started = time.perf_counter()
            report = worker.run_once(pool)
            elapsed = time.perf_counter() - started
        with app.app_context():
            db.engine.dispose()
    sink.terminate()
    sink.join()

    rate = report.deliveries.done / elapsed
    print(f"followers: {args.followers}, concurrent senders: {worker.concurrency}")
    print(f"delivered: {report.deliveries.done} in {elapsed:.2f} s")
    verdict = "met" if rate >= TARGET else "MISSED"
    print(f"deliveries/s: {rate:.0f}  (target >= {TARGET:.0f}: {verdict})")


if __name__ == "__main__":
    main()
