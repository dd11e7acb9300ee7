"""Sending queued deliveries: claim due rows, POST them signed, record how each went.

A row moves ``pending`` → ``sending`` (claimed) → ``done``, ``failed`` (a permanent 4xx,
or an address the node may not reach) or ``given_up`` (still failing when DELIVERY_MAX_AGE
has passed since it was queued), or back to ``pending`` with its next try time.

The rows are a lease queue (``services/queue.py``): while a row is ``sending``,
``next_attempt_at`` is the end of its lease, and a worker that dies mid-send leaves the row
to be taken again once the lease has run out (``QUEUE.release_expired``). The peer's inbox is
idempotent by activity id, so a second send after a crash is harmless.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from federation.errors import FetchError

from ...extensions import db
from ...models.federation import Delivery, FeedEntry
from ...models.types import utcnow
from ..queue import Clock, LeaseQueue, backoff_ceiling
from . import outbound, reachability

PENDING = "pending"
SENDING = "sending"
DONE = "done"
FAILED = "failed"
GIVEN_UP = "given_up"
UNDELIVERED = (PENDING, SENDING)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between tries, how long to keep trying, how long a claim lasts."""

    base: float = 30.0
    cap: float = 6 * 3600.0
    max_age: timedelta = timedelta(days=3)
    lease: timedelta = timedelta(minutes=5)

    @classmethod
    def from_config(cls, config: Any) -> RetryPolicy:
        """Read the DELIVERY_* settings."""
        return cls(
            base=float(config.get("DELIVERY_BACKOFF_BASE_SECONDS", 30)),
            cap=float(config.get("DELIVERY_BACKOFF_CAP_SECONDS", 6 * 3600)),
            max_age=timedelta(seconds=float(config.get("DELIVERY_MAX_AGE", 3 * 24 * 3600))),
            lease=timedelta(seconds=float(config.get("DELIVERY_LEASE_SECONDS", 300))),
        )

    def delay(self, attempts: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Return seconds to wait after ``attempts`` failed tries (full jitter, Retry-After)."""
        ceiling = backoff_ceiling(attempts, base=self.base, cap=self.cap)
        # Full jitter spreads the retries of many rows that failed together; the floor of one
        # second keeps an unlucky draw from retrying in a tight loop.
        delay = max(1.0, rng.uniform(0, ceiling))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_age.total_seconds()))
        return delay


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease on, with what it needs to send it."""

    id: int
    inbox: str
    peer_id: int | None
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """How one send went: the status when the peer answered, else the error."""

    status: int | None
    delivered: bool
    retryable: bool
    retry_after: float | None = None
    error: str = ""


@dataclass
class SendReport:
    """What one pass over the queue did."""

    sent: int = 0
    done: int = 0
    retrying: int = 0
    failed: int = 0
    given_up: int = 0
    released: int = 0

    def add(self, other: SendReport) -> None:
        """Add ``other``'s counts to these."""
        for name in ("sent", "done", "retrying", "failed", "given_up", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _load(ids: list[int]) -> list[Claimed]:
    rows = db.session.execute(
        select(Delivery.id, Delivery.inbox, Delivery.peer_id, Delivery.body, FeedEntry.body)
        .outerjoin(FeedEntry, FeedEntry.id == Delivery.feed_entry_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.next_attempt_at, Delivery.id)
    )
    return [
        Claimed(id_, inbox, peer_id, (entry_body or own_body or "").encode("utf-8"))
        for id_, inbox, peer_id, own_body, entry_body in rows
    ]


QUEUE = LeaseQueue(Delivery, Delivery.state, waiting=PENDING, claimed=SENDING, load=_load)


def send(claimed: Claimed, run: outbound.DeliveryRun | None = None) -> Outcome:
    """POST one claimed delivery, signed, and say how it went; never raise for the network."""
    try:
        result = outbound.deliver(claimed.inbox, claimed.body, run=run)
    except FetchError as error:
        return Outcome(
            error.status,
            False,
            error.retryable,
            error.retry_after,
            str(error) or type(error).__name__,
        )
    error = "" if result.delivered else f"{claimed.inbox} answered {result.status}"
    return Outcome(result.status, result.delivered, result.retryable, result.retry_after, error)


def record(
    claimed: Claimed,
    outcome: Outcome,
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> str:
    """Store how a send went, schedule the next try or end the row; return its new state."""
    delivery = db.session.get(Delivery, claimed.id)
    if delivery is None:  # deleted while we sent it (its feed entry was removed)
        return DONE
    delivery.attempts += 1
    delivery.last_status = outcome.status
    delivery.last_error = outcome.error[:2000]
    if outcome.delivered:
        delivery.state = DONE
    elif not outcome.retryable:
        delivery.state = FAILED
    else:
        deadline = delivery.created_at + policy.max_age
        if now >= deadline:
            delivery.state = GIVEN_UP
        else:
            wait = policy.delay(delivery.attempts, rng, outcome.retry_after)
            delivery.state = PENDING
            # The last try lands on the deadline itself, so "for at least max_age" holds.
            delivery.next_attempt_at = min(now + timedelta(seconds=wait), deadline)
    if outcome.status is not None and not outcome.retryable:
        reachability.contact_made(claimed.peer_id, now)
    elif outcome.retryable:
        reachability.contact_failed(claimed.peer_id, now, outcome.error)
    return delivery.state


def send_due(
    *,
    limit: int | None = None,
    executor: Executor | None = None,
    clock: Clock = utcnow,
    rng: random.Random | None = None,
) -> SendReport:
    """Claim one batch of due deliveries, send them (concurrently with ``executor``), record."""
    config = current_app.config
    policy = RetryPolicy.from_config(config)
    rng = rng or random.Random()
    report = SendReport(released=QUEUE.release_expired(clock()))
    claimed = QUEUE.claim_due(
        limit or int(config.get("DELIVERY_BATCH_SIZE", 100)), now=clock(), lease=policy.lease
    )
    if not claimed:
        return report
    with outbound.delivery_run() as run:
        outcomes = _send_all(claimed, executor, run)
    # One query for the whole batch; record() then finds each row in the identity map,
    # which keeps rows only while something else holds them: this list, until the end.
    batch = db.session.scalars(
        select(Delivery).where(Delivery.id.in_([c.id for c in claimed]))
    ).all()
    for item, outcome in zip(claimed, outcomes, strict=True):
        state = record(item, outcome, now=clock(), policy=policy, rng=rng)
        report.sent += 1
        if state == DONE:
            report.done += 1
        elif state == PENDING:
            report.retrying += 1
        elif state == FAILED:
            report.failed += 1
        elif state == GIVEN_UP:
            report.given_up += 1
    db.session.commit()
    del batch
    return report


def _send_all(
    claimed: Iterable[Claimed], executor: Executor | None, run: outbound.DeliveryRun
) -> list[Outcome]:
    # The run carries the key, the policy and the connections, so sender threads need no
    # app context and touch no database.
    if executor is None:
        return [send(item, run) for item in claimed]
    return list(executor.map(lambda item: send(item, run), claimed))


def oldest_undelivered() -> dict[int | None, datetime]:
    """Return, per peer id, when its oldest delivery still waiting to land was queued."""
    rows = db.session.execute(
        select(Delivery.peer_id, func.min(Delivery.created_at))
        .where(Delivery.state.in_(UNDELIVERED))
        .group_by(Delivery.peer_id)
    )
    return {peer_id: _aware(created) for peer_id, created in rows}


def _aware(moment: Any) -> datetime:
    # Aggregates may come back without the column type's conversion on some drivers.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
