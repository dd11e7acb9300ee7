"""The lease queue: due rows claimed oldest first for a lease, lapsed claims put back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models.federation import Delivery
from node.services.queue import LeaseQueue, backoff_ceiling
from tests.node import sync_support as support

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


# Any table with a state and a next-try time will do; deliveries are one. Loading a claimed
# row here is knowing its id.
QUEUE = LeaseQueue(Delivery, Delivery.state, waiting="pending", claimed="sending", load=sorted)


def _row(state: str = "pending", due: datetime = NOW) -> int:
    return support.queue("http://127.0.0.1:9/inbox", state=state, next_attempt_at=due).id


def _state(row_id: int) -> tuple[str, datetime]:
    db.session.expire_all()
    row = db.session.get(Delivery, row_id)
    return row.state, row.next_attempt_at


def test_claim_takes_due_waiting_rows_oldest_due_first_up_to_the_limit(app, group):
    later = _row(due=NOW - timedelta(minutes=1))
    also_later = _row(due=NOW - timedelta(minutes=1))
    oldest = _row(due=NOW - timedelta(hours=1))  # queued last, due first
    _row(due=NOW + timedelta(seconds=1))  # not due yet
    _row(state="sending", due=NOW - timedelta(hours=2))  # another worker holds it
    _row(state="done", due=NOW - timedelta(hours=2))

    assert QUEUE.claim_due(2, now=NOW, lease=LEASE) == sorted([oldest, later])
    assert QUEUE.claim_due(10, now=NOW, lease=LEASE) == [also_later]
    assert QUEUE.claim_due(10, now=NOW, lease=LEASE) == []


def test_claiming_nothing_reads_nothing(app, group):
    _row(due=NOW + timedelta(seconds=1))
    read: list[list[int]] = []

    def load(ids: list[int]) -> list[int]:
        read.append(ids)
        return ids

    queue = LeaseQueue(Delivery, Delivery.state, "pending", "sending", load=load)
    assert queue.claim_due(10, now=NOW, lease=LEASE) == []
    assert read == []


def test_a_claimed_row_is_held_until_its_lease_ends(app, group):
    row_id = _row()

    assert QUEUE.claim_due(10, now=NOW, lease=LEASE) == [row_id]

    assert _state(row_id) == ("sending", NOW + LEASE)
    assert QUEUE.claim_due(10, now=NOW + LEASE, lease=LEASE) == []  # claimed, not waiting


def test_release_puts_back_only_claims_whose_lease_ran_out(app, group):
    expired = _row(state="sending", due=NOW)
    running = _row(state="sending", due=NOW + timedelta(seconds=1))
    waiting = _row(due=NOW - timedelta(hours=1))
    finished = _row(state="failed", due=NOW - timedelta(hours=1))

    assert QUEUE.release_expired(NOW) == 1

    assert _state(expired) == ("pending", NOW)  # due again at once
    assert _state(running)[0] == "sending"
    assert _state(waiting)[0] == "pending"
    assert _state(finished)[0] == "failed"
    assert QUEUE.claim_due(10, now=NOW, lease=LEASE) == sorted([waiting, expired])


def test_claims_and_releases_are_committed(app, group):
    row_id = _row()
    QUEUE.claim_due(10, now=NOW, lease=LEASE)
    db.session.rollback()
    assert db.session.scalar(select(Delivery.state).where(Delivery.id == row_id)) == "sending"

    QUEUE.release_expired(NOW + LEASE)
    db.session.rollback()
    assert db.session.scalar(select(Delivery.state).where(Delivery.id == row_id)) == "pending"


@pytest.mark.parametrize(
    ("attempts", "ceiling"),
    [(0, 30), (1, 30), (2, 60), (3, 120), (5, 480), (9, 3600), (40, 3600)],
)
def test_backoff_ceiling_doubles_from_base_up_to_cap(attempts, ceiling):
    assert backoff_ceiling(attempts, base=30, cap=3600) == ceiling


SHORT_LEASE = timedelta(seconds=30)


def test_a_dead_workers_claim_is_taken_over_when_its_short_lease_ends(app, group):
    row = _row()
    assert QUEUE.claim_due(10, now=NOW, lease=SHORT_LEASE) == [row]  # then the worker dies

    later = NOW + timedelta(seconds=29)
    assert QUEUE.release_expired(later) == 0
    assert QUEUE.claim_due(10, now=later, lease=SHORT_LEASE) == []

    taken_at = NOW + timedelta(seconds=30)
    assert QUEUE.release_expired(taken_at) == 1
    assert QUEUE.claim_due(10, now=taken_at, lease=SHORT_LEASE) == [row]  # a survivor has it


def test_a_live_workers_renewed_claim_is_not_taken(app, group):
    row = _row()
    QUEUE.claim_due(10, now=NOW, lease=SHORT_LEASE)

    for seconds in (10, 20, 30, 40):  # still at work on the batch: renews every 10 s
        renewed_at = NOW + timedelta(seconds=seconds)
        assert QUEUE.renew([row], now=renewed_at, lease=SHORT_LEASE) == 1
        assert QUEUE.release_expired(renewed_at + timedelta(seconds=5)) == 0
        assert QUEUE.claim_due(10, now=renewed_at + timedelta(seconds=5), lease=SHORT_LEASE) == []

    assert _state(row) == ("sending", NOW + timedelta(seconds=70))
    assert QUEUE.release_expired(NOW + timedelta(seconds=70)) == 1  # it stopped renewing


def test_renewing_leaves_rows_no_longer_claimed_alone(app, group):
    recorded = _row(state="done", due=NOW)
    waiting = _row(due=NOW + timedelta(hours=1))

    assert QUEUE.renew([recorded, waiting], now=NOW, lease=SHORT_LEASE) == 0
    assert _state(recorded) == ("done", NOW)
    assert _state(waiting) == ("pending", NOW + timedelta(hours=1))
