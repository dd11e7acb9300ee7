"""Worker heartbeats: each delivery worker's pass says it is alive and how the last one went.

A worker calls `beat` as each pass begins. That stores, in the worker's own row, the time,
the number of passes so far and a summary of the pass before (complete by then), at most
once a second, and tags the lines the worker logs during the new pass with its pass id
(node/logs.py). The
readiness check and the metrics read `latest`. Rows of workers silent for
WORKER_HEARTBEAT_KEEP_SECONDS are deleted, so restarts leave no trail.

A worker is named by its host, its process id and the time it first beat, so two processes
on two machines, or one process restarted with the same id, are never taken for each other.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from .. import logs
from ..extensions import db
from ..models import WorkerHeartbeat
from ..models.types import utcnow

# Expired rows are looked for on one write in this many, not on every one.
PRUNE_EVERY = 50
# An idle worker passes every WORKER_IDLE_SECONDS (0.2 s in the integration tests): its row
# is written at most this often, so heartbeats never crowd the database's writers.
WRITE_EVERY_SECONDS = 1.0


@dataclass
class _Worker:
    worker_id: str
    started_at: datetime
    passes: int = 0
    writes: int = 0
    written_at: datetime | None = None
    failing: bool = False  # the last write failed (said once, not on every pass)
    previous: Any = None  # the report of the pass in progress, complete at the next beat


# Keyed by the worker object, so a worker that is dropped (tests make many) takes its
# state with it.
_WORKERS: weakref.WeakKeyDictionary[Any, _Worker] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Heartbeat:
    """The newest beat any worker gave, and how many beat within the stale threshold."""

    beat_at: datetime | None
    age_seconds: float | None
    live_workers: int


def worker_id(started_at: datetime) -> str:
    """Name a worker of this process started at ``started_at``: ``host:pid:start``."""
    host = socket.gethostname()[:120] or "host"
    return f"{host}:{os.getpid()}:{started_at.strftime('%Y%m%dT%H%M%SZ')}"


def beat(worker: Any, report: Any, *, now: datetime | None = None) -> str:
    """Record that ``worker`` begins a pass whose report is ``report``; return the pass id.

    Never raises: a database that cannot take the row must not stop the pass (the
    readiness check will see the heartbeat go stale).
    """
    now = now or utcnow()
    state = _WORKERS.get(worker)
    if state is None:
        state = _WORKERS[worker] = _Worker(worker_id(now), now)
    state.passes += 1
    pass_id = f"{state.worker_id}#{state.passes}"
    logs.start_pass(pass_id)
    summary = summarise(state.previous)
    state.previous = report
    if (
        state.written_at is not None
        and (now - state.written_at).total_seconds() < WRITE_EVERY_SECONDS
    ):
        return pass_id
    state.written_at = now
    state.writes += 1
    try:
        row = db.session.get(WorkerHeartbeat, state.worker_id)
        if row is None:
            row = WorkerHeartbeat(worker_id=state.worker_id, started_at=state.started_at)
            db.session.add(row)
        row.beat_at = now
        row.passes = state.passes
        row.last_pass = json.dumps(summary, sort_keys=True)
        if state.writes % PRUNE_EVERY == 1:
            _prune(now)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        # A database that is down fails every pass alike: say so once, and when it is over.
        if not state.failing:
            current_app.logger.warning(
                "could not record the worker's heartbeat (%s); trying on each pass",
                type(exc).__name__,
            )
        state.failing = True
    else:
        if state.failing:
            current_app.logger.info("the worker's heartbeat is recorded again")
        state.failing = False
    return pass_id


def _prune(now: datetime) -> None:
    keep = timedelta(seconds=float(current_app.config["WORKER_HEARTBEAT_KEEP_SECONDS"]))
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - keep))


def summarise(report: Any) -> dict[str, int]:
    """Return a pass report's non-zero counts, nested reports flattened (``deliveries.sent``)."""
    if report is None or not dataclasses.is_dataclass(report):
        return {}
    counts: dict[str, int] = {}
    for name, value in dataclasses.asdict(report).items():
        if isinstance(value, dict):
            counts.update({f"{name}.{k}": v for k, v in value.items() if _count(v)})
        elif _count(value):
            counts[name] = value
    return counts


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value != 0


def latest(*, now: datetime | None = None) -> Heartbeat:
    """Return the newest heartbeat, and how many workers beat within the stale threshold."""
    now = now or utcnow()
    stale = float(current_app.config["WORKER_HEARTBEAT_STALE_SECONDS"])
    newest = db.session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    if newest is None:
        return Heartbeat(None, None, 0)
    newest = _aware(newest)
    live = 0
    if stale > 0:
        live = db.session.scalar(
            select(func.count())
            .select_from(WorkerHeartbeat)
            .where(WorkerHeartbeat.beat_at >= now - timedelta(seconds=stale))
        )
    return Heartbeat(newest, max(0.0, (now - newest).total_seconds()), int(live or 0))


def recent(limit: int = 20) -> list[WorkerHeartbeat]:
    """List the workers that beat most recently, the newest first."""
    query = select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc()).limit(limit)
    return list(db.session.scalars(query))


def _aware(moment: Any) -> datetime:
    # max() of a column comes back without the column type's conversion on some drivers.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
