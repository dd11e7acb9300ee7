"""Queued mail survives a down SMTP server and a killed worker; in the normal case it is
sent once.

A real node, a real `branchline worker` process and a real SMTP server (aiosmtpd) on
127.0.0.1. Messages are queued in the node's database by a `branchline`-environment Python
process, as a request would queue them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.node.mail_support import LoopbackController, Mailbox

from .conftest import BRANCHLINE, _stop, free_port, node_environment
from .support import query, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

QUEUE = """
import sys
from node import create_app
from node.extensions import db
from node.services import mail
app = create_app()
with app.app_context():
    for n in range(int(sys.argv[1])):
        mail.send(f"member{n}@example.org", f"Stall on Saturday ({n})", "Meet at ten.",
                  kind="announcement", source="test:resilience")
    db.session.commit()
"""


class SlowMailbox(Mailbox):
    """A mailbox that takes a moment over each message, so a worker can die mid-batch."""

    delay = 0.05

    async def handle_DATA(self, server, session, envelope):
        time.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def _worker(node, settings):
    return subprocess.Popen(
        [str(BRANCHLINE), "worker"],
        env=node_environment(node.instance, settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _queue(node, settings, count: int) -> None:
    subprocess.run(
        [sys.executable, "-c", QUEUE, str(count)],
        env={**node_environment(node.instance, settings), "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=120,
    )


def _states(node) -> dict[str, int]:
    return dict(query(node, "SELECT status, count(*) FROM outbound_mail GROUP BY status"))


def _received_ids(mailbox: Mailbox) -> Counter:
    with mailbox.lock:
        return Counter(message["Message-ID"] for _, _, message in mailbox.received)


def test_mail_waits_for_a_down_server_survives_a_killed_worker_and_goes_once(start_node):
    smtp_port = free_port()  # nothing listens here yet: the SMTP server is down
    settings = {
        "WORKER_IN_PROCESS": "0",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_STARTTLS": "0",
        "SMTP_TIMEOUT": "5",
        "MAIL_BATCH_SIZE": "10",
        "MAIL_LEASE_SECONDS": "3",
        "MAIL_BACKOFF_BASE_SECONDS": "1",
        "MAIL_BACKOFF_CAP_SECONDS": "2",
        "MAIL_MAX_ATTEMPTS": "1000",
    }
    node = start_node(settings=settings)
    _queue(node, settings, 60)
    worker = _worker(node, settings)
    handler = controller = None
    try:
        # Down: every message is still there, waiting for another try, none failed.
        wait_until(
            lambda: (
                query(node, "SELECT count(*) FROM outbound_mail WHERE attempts > 0")[0][0] >= 10
            ),
            "the worker tried while the SMTP server was down",
            timeout=90,
        )
        assert set(_states(node)) <= {"queued", "sending"}
        assert sum(_states(node).values()) == 60

        # Up, slowly; the worker is killed (SIGKILL) in the middle of a batch.
        handler = SlowMailbox()
        controller = LoopbackController(handler, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        wait_until(lambda: len(handler.received) >= 15, "some mail arrived", timeout=120)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        killed_at = len(handler.received)

        # A new worker takes the dead one's claim once it runs out, and finishes.
        worker = _worker(node, settings)
        wait_until(
            lambda: _states(node) == {"sent": 60},
            "every message was sent",
            timeout=180,
            explain=lambda: str(_states(node)),
        )
        received = _received_ids(handler)
        assert len(received) == 60  # every message arrived: nothing lost
        # Sent twice only if it was in flight when the worker died: at most one batch.
        twice = [mid for mid, n in received.items() if n > 1]
        assert len(twice) <= 10, (killed_at, twice)

        # The normal case: a live worker and a live server send each message exactly once.
        with handler.lock:
            handler.received.clear()
        handler.delay = 0
        _queue(node, settings, 40)
        wait_until(lambda: _states(node).get("sent") == 100, "the next 40 were sent", timeout=120)
        time.sleep(1)  # a duplicate would come in the next pass
        again = _received_ids(handler)
        assert len(again) == 40 and set(again.values()) == {1}
    finally:
        _stop(worker)
        if controller is not None:
            controller.stop()
