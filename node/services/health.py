"""What the node's monitors read: the readiness checks, and the figures the metrics take
from the database at each scrape (queues, deliveries per peer).

Nothing here names a member, an address or a worker's host: /readyz answers anyone.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..models import Delivery, OutboundMail, Peer
from ..models.types import utcnow
from . import mail, workers
from .peering import deliveries

# Delivery states as the metrics name them: still to land, or never will.
DELIVERY_STATES = {
    deliveries.PENDING: "pending",
    deliveries.SENDING: "pending",
    deliveries.FAILED: "failed",
    deliveries.GIVEN_UP: "failed",
}
MAIL_STATES = (mail.QUEUED, mail.SENDING, mail.FAILED)
OTHER_PEERS = "other"  # the peers beyond the busiest few, counted together
UNKNOWN_PEER = "unknown"  # deliveries whose peer row is gone


@dataclass
class Readiness:
    """The checks /readyz reports: each passes, fails or was not reached."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)

    @property
    def failing(self) -> list[str]:
        """Name the checks that failed."""
        return [name for name, check in self.checks.items() if check.get("ok") is False]

    @property
    def ready(self) -> bool:
        """Say whether every check passed."""
        return all(check.get("ok") for check in self.checks.values())


def readiness(*, now: datetime | None = None) -> Readiness:
    """Check the database, its migrations and the workers' heartbeat; count the queues."""
    now = now or utcnow()
    result = Readiness()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        # The class only: the driver's message can name hosts, users and file paths.
        result.checks["database"] = {"ok": False, "error": type(exc).__name__}
        for name in ("migrations", "worker"):
            result.checks[name] = {"ok": None, "skipped": "the database is unreachable"}
        return result
    result.checks["database"] = {"ok": True}
    try:
        result.checks["migrations"] = _migrations()
        result.checks["worker"] = _worker(now)
        result.queues = queue_depths()
    except SQLAlchemyError as exc:
        db.session.rollback()
        result.checks["database"] = {"ok": False, "error": type(exc).__name__}
    return result


def _migrations() -> dict[str, Any]:
    expected = set(code_heads(current_app.extensions["migrate"].directory))
    try:
        found = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        db.session.rollback()
        found = set()
    check: dict[str, Any] = {"ok": found == expected, "code": sorted(expected)}
    check["database"] = sorted(found)
    return check


@functools.cache
def code_heads(directory: str) -> tuple[str, ...]:
    """Return the head revisions of the migrations in ``directory`` (read once a process)."""
    return tuple(ScriptDirectory(directory).get_heads())


def _worker(now: datetime) -> dict[str, Any]:
    stale = float(current_app.config["WORKER_HEARTBEAT_STALE_SECONDS"])
    beat = workers.latest(now=now)
    check: dict[str, Any] = {"live_workers": beat.live_workers}
    if beat.age_seconds is not None:
        check["last_beat_seconds_ago"] = round(beat.age_seconds, 1)
    if stale <= 0:
        check["ok"] = True
        check["note"] = "not checked (WORKER_HEARTBEAT_STALE_SECONDS is 0)"
        return check
    check["ok"] = beat.age_seconds is not None and beat.age_seconds <= stale
    check["threshold_seconds"] = stale
    return check


def queue_depths() -> dict[str, int]:
    """Count the deliveries and the mail still waiting to go."""
    waiting_deliveries = db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.state.in_(deliveries.UNDELIVERED))
    )
    waiting_mail = db.session.scalar(
        select(func.count())
        .select_from(OutboundMail)
        .where(OutboundMail.status.in_((mail.QUEUED, mail.SENDING)))
    )
    return {"deliveries": int(waiting_deliveries or 0), "mail": int(waiting_mail or 0)}


def deliveries_by_peer(limit: int) -> dict[tuple[str, str], int]:
    """Count deliveries pending and failed per peer host; beyond ``limit`` hosts, as "other"."""
    rows = db.session.execute(
        select(Delivery.peer_id, Delivery.state, func.count())
        .where(Delivery.state.in_(tuple(DELIVERY_STATES)))
        .group_by(Delivery.peer_id, Delivery.state)
    ).all()
    ids = {peer_id for peer_id, _, _ in rows if peer_id is not None}
    hosts = {}
    if ids:
        found = db.session.execute(select(Peer.id, Peer.actor_id).where(Peer.id.in_(ids)))
        hosts = {peer_id: urlsplit(actor_id).netloc or UNKNOWN_PEER for peer_id, actor_id in found}
    counts: Counter[tuple[str, str]] = Counter()
    for peer_id, state, count in rows:
        counts[(hosts.get(peer_id, UNKNOWN_PEER), DELIVERY_STATES[state])] += int(count)
    totals: Counter[str] = Counter()
    for (host, _), count in counts.items():
        totals[host] += count
    kept = {host for host, _ in totals.most_common(limit)}
    bounded: Counter[tuple[str, str]] = Counter()
    for (host, state), count in counts.items():
        bounded[(host if host in kept else OTHER_PEERS, state)] += count
    return dict(bounded)


def mail_by_state() -> dict[str, int]:
    """Count the outbound mail queued, being sent, and failed."""
    rows = db.session.execute(
        select(OutboundMail.status, func.count())
        .where(OutboundMail.status.in_(MAIL_STATES))
        .group_by(OutboundMail.status)
    )
    counts = dict.fromkeys(MAIL_STATES, 0)
    counts.update({status: int(count) for status, count in rows})
    return counts
