"""Recurring events: a series with a repeat rule, whose occurrences are ordinary events."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .content import Timestamps
from .types import NEVER_REUSED_IDS, UTCDateTime


class EventSeries(Timestamps, db.Model):
    """A repeating event (the weekly stall): an RFC 5545 RRULE read in the series' zone.

    Each occurrence is an Event row (series_id, occurrence_at) made ahead up to a horizon by
    the series service and the worker, so it is RSVPed, edited, cancelled and federated on
    its own. ``details`` is the JSON of the fields new occurrences are made with.
    """

    __tablename__ = "event_series"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(300))  # "FREQ=WEEKLY;BYDAY=SA;COUNT=10"
    # The first occurrence's wall-clock start in ``timezone``: 10:00 stays 10:00 across
    # a change to or from summer time.
    starts_local: Mapped[datetime] = mapped_column(DateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    duration_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[str] = mapped_column(Text)
    # Occurrences starting up to here have been made (or were skipped).
    made_until: Mapped[datetime] = mapped_column(UTCDateTime)


class SeriesException(db.Model):
    """A date taken out of a series: its occurrence is not made (or was removed)."""

    __tablename__ = "event_series_exception"
    __table_args__ = (
        UniqueConstraint("series_id", "occurrence_at", name="uq_event_series_exception_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("event_series.id", ondelete="CASCADE"))
    occurrence_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the start the rule gives
