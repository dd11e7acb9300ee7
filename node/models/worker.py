"""Delivery workers' heartbeats, so a health check can tell the queue is being worked."""

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class WorkerHeartbeat(db.Model):
    """One worker (a host, a process, a start time): when it last began a pass, and how
    the pass before went. Rows of workers silent for long are deleted
    (node/services/workers.py)."""

    __tablename__ = "worker_heartbeat"

    # ``host:pid:start``, e.g. ``web1:4211:20261206T105400Z``.
    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    passes: Mapped[int] = mapped_column(Integer, default=0)
    # What the pass before the latest did, as a JSON object of its non-zero counts.
    last_pass: Mapped[str] = mapped_column(Text, default="{}")
