"""A lease queue: rows that wait for their next-try time, taken by workers a batch at a time.

A row waits in one state until its ``next_attempt_at`` is due. A worker claims it by moving it
to the claimed state with ``next_attempt_at`` set to the end of its lease, does the work with
no transaction open, then records how it went: done, failed for good, or waiting again with a
later ``next_attempt_at`` (``backoff_ceiling`` spaces the tries). A worker that dies mid-batch
leaves its rows claimed; once the lease has run out ``release_expired`` puts them back, so the
work may (rarely) be done twice, and each queue's owner makes that harmless. Leases are short
(deliveries: 30 s) and the worker renews its claim (``renew``) while it is still at work on
the batch, so a slow batch keeps its rows while a dead worker's rows come back within seconds.

Claiming is the one place several workers meet. On PostgreSQL the due rows are locked with
``SELECT … FOR UPDATE SKIP LOCKED`` and marked in the same transaction, so concurrent workers
take disjoint batches without waiting for each other. SQLite has one writer at a time, so a
single conditional ``UPDATE … WHERE <state> = <waiting> … RETURNING`` suffices.

Deliveries to peers' inboxes (``peering/deliveries.py``) and outbound mail (``mail.py``) are
queues of this kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update

from ..extensions import db
from ..models.types import utcnow

Clock = Callable[[], datetime]

Item = TypeVar("Item")


@dataclass(frozen=True, eq=False)  # columns compare as SQL, not as values
class LeaseQueue(Generic[Item]):
    """A table used as a queue, and how a worker reads the rows it claimed (``load``)."""

    model: Any  # a model with ``id`` and ``next_attempt_at`` columns
    state: Any  # the model's column that holds ``waiting`` or ``claimed``
    waiting: str
    claimed: str
    load: Callable[[list[int]], list[Item]]

    def release_expired(self, now: datetime | None = None) -> int:
        """Put rows whose lease ran out (their worker died) back in the queue; return how many."""
        result = db.session.execute(
            update(self.model)
            .where(self.state == self.claimed, self.model.next_attempt_at <= (now or utcnow()))
            .values({self.state: self.waiting})
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return result.rowcount or 0

    def renew(self, ids: list[int], *, now: datetime, lease: timedelta) -> int:
        """Extend this worker's claim on ``ids`` to ``now + lease``; return how many it still held.

        A row another worker took meanwhile (our lease ran out) is no longer ours to extend;
        neither is one already recorded (no longer claimed).
        """
        if not ids:
            return 0
        result = db.session.execute(
            update(self.model)
            .where(self.model.id.in_(ids), self.state == self.claimed)
            .values({self.model.next_attempt_at: now + lease})
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return result.rowcount or 0

    def claim_due(self, limit: int, *, now: datetime, lease: timedelta) -> list[Item]:
        """Take up to ``limit`` due rows for this worker and return them, oldest due first."""
        model = self.model
        due = (
            select(model.id)
            .where(self.state == self.waiting, model.next_attempt_at <= now)
            .order_by(model.next_attempt_at, model.id)
            .limit(limit)
        )
        claim = {self.state: self.claimed, model.next_attempt_at: now + lease}
        if db.session.get_bind().dialect.name == "postgresql":
            ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
            if ids:
                db.session.execute(
                    update(model)
                    .where(model.id.in_(ids))
                    .values(claim)
                    .execution_options(synchronize_session=False)
                )
        else:
            ids = list(
                db.session.scalars(
                    update(model)
                    .where(model.id.in_(due.scalar_subquery()), self.state == self.waiting)
                    .values(claim)
                    .returning(model.id)
                    .execution_options(synchronize_session=False)
                )
            )
        # Read before the commit, while the claim still holds the rows (locked on PostgreSQL).
        claimed = self.load(ids) if ids else []
        db.session.commit()
        return claimed


def backoff_ceiling(attempts: int, *, base: float, cap: float) -> float:
    """Return the longest wait after ``attempts`` failures: from ``base``, doubling, to ``cap``."""
    return min(cap, base * 2 ** max(0, attempts - 1))
