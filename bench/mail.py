"""Announcements to 5,000 members: queueing them in the request, and the worker sending them.

    .venv/bin/python bench/mail.py [--members 5000] [--batch 20] [--workers 1]
                                   [--database-url URL]

1. A throwaway node (SQLite in a temporary folder, or the PostgreSQL database --database-url
   names, emptied first) with --members active members and an organiser holding an
   ``announce`` token.
2. Timed: the real API routes, through the app's WSGI stack (Flask's test client; no
   sockets): POST /api/v1/announcements (the draft) and POST .../send with no send_at, which
   queues one message per member in the request (one bulk insert, one commit). Target:
   < 2 s of request time.
3. Timed: the worker's passes (node/worker.py ``Worker.run_once``, as `branchline worker`
   makes them) hand every queued message to a local aiosmtpd server on 127.0.0.1, which
   only counts them in its own process, with MAIL_BATCH_SIZE --batch (the node's default,
   20, unchanged) and --workers worker processes sharing the queue. Target: >= 200
   messages/s.

Prints a ``machine:`` line, the figures, and a ``mail:`` line of key=value pairs. Exits 1 if
a target is missed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gunicorn_server  # noqa: E402 - beside this script
from aiosmtpd.controller import Controller  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from node import create_app  # noqa: E402
from node.extensions import db  # noqa: E402
from node.models import Group, Member, OutboundMail  # noqa: E402
from node.models.types import utcnow  # noqa: E402
from node.services.membership import tokens  # noqa: E402
from node.worker import Worker  # noqa: E402

QUEUE_TARGET_S = 2.0
SEND_TARGET_PER_S = 200.0


class Counter:
    """An aiosmtpd handler that accepts every message and counts it in shared memory."""

    def __init__(self, count) -> None:
        self.count = count

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.count.get_lock():
            self.count.value += 1
        return "250 OK"


class Loopback(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _serve(count, port, stop) -> None:
    """Run the SMTP server in its own process, as a real one is: it takes no CPU from ours."""
    smtp = Loopback(Counter(count), hostname="127.0.0.1", port=0)
    smtp.start()
    port.value = smtp.port
    stop.wait()
    smtp.stop()


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _passes(app) -> int:
    """Make worker passes until one finds no mail; return how many."""
    worker = Worker(app)
    passes = 0
    while True:
        report = worker.run_once()
        passes += 1
        if not report.mailed:
            return passes


def _passes_in_child(settings: dict) -> int:
    app = create_app(settings)
    try:
        return _passes(app)
    finally:
        with app.app_context():
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker processes at once")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(gunicorn_server.machine_speed(), flush=True)

    count, port, stop = (
        multiprocessing.Value("i", 0),
        multiprocessing.Value("i", 0),
        multiprocessing.Event(),
    )
    server = multiprocessing.Process(target=_serve, args=(count, port, stop), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.05)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        if args.database_url:
            _empty_postgres(url)
        settings = {
            "INSTANCE_PATH": folder,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "BASE_URL": "http://127.0.0.1:5000",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": port.value,
            "SMTP_STARTTLS": False,
            "MAIL_FROM": "Bench <bench@bench.example>",
            "MAIL_BATCH_SIZE": args.batch,
            "WORKER_IN_PROCESS": False,
            "RATELIMIT_ENABLED": False,
        }
        app = create_app(settings)
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            db.session.add(Group(name="Bench", handle="bench", base_url="http://127.0.0.1:5000"))
            organiser = Member(
                email="organiser@bench.example", display_name="Organiser", role="organiser"
            )
            db.session.add(organiser)
            now = utcnow()
            db.session.execute(
                insert(Member),
                [
                    {
                        "email": f"member{n}@bench.example",
                        "display_name": f"Member {n}",
                        "role": "member",
                        "status": "active",
                        "joined_at": now,
                        "session_version": 1,
                    }
                    for n in range(args.members - 1)
                ],
            )
            db.session.commit()
            token = tokens.create_personal(organiser, ["announce"])
            db.session.commit()
            headers = {"Authorization": f"Bearer {token}"}
            client = app.test_client()

            # A first draft and send to nobody warm the routes (imports, statement caches).
            client.get("/api/v1/announcements", headers=headers)

            started = time.perf_counter()
            made = client.post(
                "/api/v1/announcements",
                headers=headers,
                json={"subject": "Stall on Saturday", "body": "**Be there** at 10:00."},
            )
            drafted = time.perf_counter() - started
            assert made.status_code == 201, made.get_data(as_text=True)
            started = time.perf_counter()
            sent = client.post(
                f"/api/v1/announcements/{made.get_json()['id']}/send", headers=headers, json={}
            )
            queued_s = time.perf_counter() - started
            assert sent.status_code == 200, sent.get_data(as_text=True)
            queued = sent.get_json()["recipients"]
            assert queued == args.members, queued
            db.session.remove()

        started = time.perf_counter()
        if args.workers == 1:
            passes = _passes(app)
        else:
            # Separate processes, as `branchline worker` processes are: they share the queue.
            context = multiprocessing.get_context("fork")
            with context.Pool(args.workers) as pool:
                passes = sum(pool.map(_passes_in_child, [settings] * args.workers))
        sending_s = time.perf_counter() - started
        with app.app_context():
            done = db.session.scalar(
                select(func.count()).select_from(OutboundMail).where(OutboundMail.status == "sent")
            )
            db.session.remove()
            db.engine.dispose()
    stop.set()
    server.join(10)

    sent_to_smtp = count.value
    rate = sent_to_smtp / sending_s if sending_s else 0.0
    print(f"members: {args.members}, database: {'postgresql' if args.database_url else 'sqlite'}")
    print(f"draft request: {drafted * 1000:.0f} ms")
    print(f"send request queueing {queued} messages: {queued_s:.2f} s")
    print(
        f"worker: {sent_to_smtp} messages to SMTP in {sending_s:.2f} s over {passes} passes "
        f"of {args.workers} worker process(es) (MAIL_BATCH_SIZE {args.batch}): "
        f"{rate:.0f} messages/s; {done} marked sent"
    )
    queue_ok = queued_s < QUEUE_TARGET_S
    send_ok = rate >= SEND_TARGET_PER_S and sent_to_smtp == args.members
    print(f"queueing < {QUEUE_TARGET_S} s: {'met' if queue_ok else 'MISSED'}")
    print(f"sending >= {SEND_TARGET_PER_S:.0f}/s: {'met' if send_ok else 'MISSED'}")
    print(
        f"mail: members={args.members} batch={args.batch} workers={args.workers} "
        f"queue_s={queued_s:.3f} "
        f"draft_ms={drafted * 1000:.1f} sent={sent_to_smtp} send_s={sending_s:.3f} "
        f"per_s={rate:.1f}"
    )
    sys.exit(0 if queue_ok and send_ok else 1)


if __name__ == "__main__":
    main()
