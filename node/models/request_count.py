"""Counters behind request limits, shared by every worker process through the database."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class RequestCount(db.Model):
    """How often one limit's key was spent in its current window, and when the window ends.

    A row past ``expires_at`` counts as nothing and is deleted (node/request_limits.py).
    """

    __tablename__ = "request_counts"

    # The limiter's key: the limit, what it counts by (a client address, an event) and
    # its window, e.g. ``LIMITER/event:12/guests.ask/100/1/hour``.
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
