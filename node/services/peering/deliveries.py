"""Sending queued deliveries: claim due rows, POST them signed, record how each went.

A row moves ``pending`` → ``sending`` (claimed) → ``done``, ``failed`` (a permanent 4xx,
or an address the node may not reach) or ``given_up`` (still failing when DELIVERY_MAX_AGE
has passed since it was queued), or back to ``pending`` with its next try time.

The rows are a lease queue (``services/queue.py``): while a row is ``sending``,
``next_attempt_at`` is the end of its lease (DELIVERY_LEASE_SECONDS, 30 s), which the worker
renews while it is still sending the batch; a worker that dies mid-send leaves the row to be
taken again once the lease has run out (``QUEUE.release_expired``). The peer's inbox is
idempotent by activity id, so a second send after a crash is harmless.

Deliveries to one inbox go in the order they were queued, which is feed order: a batch's
rows are grouped by inbox, each inbox's rows are sent one after another while different
inboxes are sent at once, and when a send to an inbox fails (and will be retried) the rest
of that inbox's rows wait with it instead of overtaking it.

Failures are logged by peer, not by row: reachability logs a peer that stops or starts
answering, ``record_batch`` one line per peer whose deliveries were given up or refused in a
batch, and ``summary`` (the worker's, every DELIVERY_SUMMARY_SECONDS) what waits per peer.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Executor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from federation.errors import FetchError

from ...extensions import db
from ...models.federation import Delivery, FeedEntry, Peer
from ...models.types import utcnow
from ..queue import Clock, LeaseQueue, backoff_ceiling
from . import outbound, reachability

PENDING = "pending"
SENDING = "sending"
DONE = "done"
FAILED = "failed"
GIVEN_UP = "given_up"
UNDELIVERED = (PENDING, SENDING)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between tries, how long to keep trying, how long a claim lasts."""

    base: float = 30.0
    cap: float = 6 * 3600.0
    max_age: timedelta = timedelta(days=3)
    lease: timedelta = timedelta(seconds=30)

    @classmethod
    def from_config(cls, config: Any) -> RetryPolicy:
        """Read the DELIVERY_* settings."""
        return cls(
            base=float(config.get("DELIVERY_BACKOFF_BASE_SECONDS", 30)),
            cap=float(config.get("DELIVERY_BACKOFF_CAP_SECONDS", 6 * 3600)),
            max_age=timedelta(seconds=float(config.get("DELIVERY_MAX_AGE", 3 * 24 * 3600))),
            lease=timedelta(seconds=float(config.get("DELIVERY_LEASE_SECONDS", 30))),
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
    held_back: int = 0  # not sent: an earlier row to the same inbox failed in this batch

    def add(self, other: SendReport) -> None:
        """Add ``other``'s counts to these."""
        for name in ("sent", "done", "retrying", "failed", "given_up", "released", "held_back"):
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
    """Claim one batch of due deliveries, send them (one inbox's in order, inboxes at once
    with ``executor``) while renewing the claim, and record how each went."""
    config = current_app.config
    policy = RetryPolicy.from_config(config)
    rng = rng or random.Random()
    report = SendReport(released=QUEUE.release_expired(clock()))
    claimed = QUEUE.claim_due(
        limit or int(config.get("DELIVERY_BATCH_SIZE", 100)), now=clock(), lease=policy.lease
    )
    if not claimed:
        return report
    ids = [item.id for item in claimed]

    def renew() -> None:
        QUEUE.renew(ids, now=clock(), lease=policy.lease)

    lanes = _lanes(claimed)
    with outbound.delivery_run() as run:
        outcomes = _send_lanes(lanes, executor, run, renew, policy.lease.total_seconds() / 3)
    # One query for the whole batch; record() then finds each row in the identity map,
    # which keeps rows only while something else holds them: this list, until the end.
    batch = db.session.scalars(select(Delivery).where(Delivery.id.in_(ids))).all()
    ended: dict[str, Counter[str]] = defaultdict(Counter)
    last_error: dict[str, str] = {}
    for lane in lanes:
        retry_at: datetime | None = None
        held: list[int] = []
        for item in lane:
            outcome = outcomes.get(item.id)
            if outcome is None:
                held.append(item.id)
                continue
            state = record(item, outcome, now=clock(), policy=policy, rng=rng)
            report.sent += 1
            if state == DONE:
                report.done += 1
            elif state == PENDING:
                report.retrying += 1
                delivery = db.session.get(Delivery, item.id)
                retry_at = delivery.next_attempt_at if delivery is not None else None
            elif state in (FAILED, GIVEN_UP):
                report.failed += state == FAILED
                report.given_up += state == GIVEN_UP
                ended[item.inbox][state] += 1
                last_error[item.inbox] = outcome.error
        if held:
            report.held_back += len(held)
            _hold_back(lane[0].inbox, held, retry_at or clock())
    db.session.commit()
    del batch
    for inbox, counts in ended.items():
        log.warning(
            "deliveries to %s: %s; last error: %s",
            inbox,
            ", ".join(f"{count} {state.replace('_', ' ')}" for state, count in counts.items()),
            last_error[inbox][:300],
        )
    return report


def _lanes(claimed: list[Claimed]) -> list[list[Claimed]]:
    """Group a batch by inbox, each inbox's rows in the order they were claimed (feed order)."""
    lanes: dict[str, list[Claimed]] = {}
    for item in claimed:
        lanes.setdefault(item.inbox, []).append(item)
    return list(lanes.values())


def _send_lane(
    lane: list[Claimed], run: outbound.DeliveryRun, tick: Callable[[], None] | None = None
) -> dict[int, Outcome]:
    """Send one inbox's rows in order; stop at the first that failed and will be retried."""
    outcomes: dict[int, Outcome] = {}
    for item in lane:
        if tick is not None:
            tick()
        outcome = send(item, run)
        outcomes[item.id] = outcome
        if not outcome.delivered and outcome.retryable:
            break  # the rest would overtake it: they wait and go after it (_hold_back)
    return outcomes


def _send_lanes(
    lanes: list[list[Claimed]],
    executor: Executor | None,
    run: outbound.DeliveryRun,
    renew: Callable[[], None],
    renew_every: float,
) -> dict[int, Outcome]:
    # The run carries the key, the policy and the connections, so sender threads need no
    # app context and touch no database; the claim is renewed from this thread, which has.
    outcomes: dict[int, Outcome] = {}
    if executor is None:
        renewed = [time.monotonic()]

        def tick() -> None:
            if time.monotonic() - renewed[0] >= renew_every:
                renew()
                renewed[0] = time.monotonic()

        for lane in lanes:
            outcomes.update(_send_lane(lane, run, tick))
        return outcomes
    waiting = {executor.submit(_send_lane, lane, run) for lane in lanes}
    while waiting:
        done, waiting = wait(waiting, timeout=renew_every, return_when=FIRST_EXCEPTION)
        for future in done:
            outcomes.update(future.result())
        if waiting:
            renew()  # still at work on the batch: keep the claim
    return outcomes


def _hold_back(inbox: str, held: list[int], until: datetime) -> None:
    """Make the rows still waiting for ``inbox`` wait until its failed row is tried again.

    ``held`` (claimed in this batch, not sent) go back to the queue; rows queued later
    and waiting are held too, so a failing inbox costs one try per batch, not one per row.
    Order is kept: the failed row goes first again, the rest after it by id.
    """
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(held), Delivery.state == SENDING)
        .values(state=PENDING, next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.inbox == inbox,
            Delivery.state == PENDING,
            Delivery.next_attempt_at < until,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


def retry_now(*, clock: Clock = utcnow) -> int:
    """Make every waiting delivery due now (the node has just started); return how many.

    A failing inbox costs one try: the rest of its rows wait behind that one again.
    """
    now = clock()
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.state == PENDING, Delivery.next_attempt_at > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def summary(since: datetime) -> list[str]:
    """Log and return one line per peer with deliveries waiting, or failed since ``since``."""
    waiting = dict(
        db.session.execute(
            select(Delivery.inbox, func.count())
            .where(Delivery.state.in_(UNDELIVERED))
            .group_by(Delivery.inbox)
        ).all()
    )
    ended = dict(
        db.session.execute(
            select(Delivery.inbox, func.count())
            .where(Delivery.state.in_((FAILED, GIVEN_UP)), Delivery.updated_at >= since)
            .group_by(Delivery.inbox)
        ).all()
    )
    names = dict(
        db.session.execute(
            select(Delivery.inbox, Peer.handle)
            .join(Peer, Peer.id == Delivery.peer_id)
            .where(Delivery.inbox.in_(sorted(set(waiting) | set(ended))))
            .distinct()
        ).all()
    )
    lines = []
    for inbox in sorted(set(waiting) | set(ended)):
        name = names.get(inbox) or inbox
        line = f"{name}: {waiting.get(inbox, 0)} pending, {ended.get(inbox, 0)} failed"
        lines.append(line)
    if lines:
        log.info("deliveries since %s: %s", since.isoformat(timespec="seconds"), "; ".join(lines))
    return lines


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
