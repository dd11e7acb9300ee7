"""Shifts: time slots inside an event, each with its own places and a waitlist."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .content import Timestamps
from .types import NEVER_REUSED_IDS, UTCDateTime, utcnow


class Shift(Timestamps, db.Model):
    __tablename__ = "event_shift"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    label: Mapped[str] = mapped_column(String(120), default="")  # "Morning canvass"
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Kept in step with the 'going' signups by the shifts service, as Event.going_count is:
    # the capacity check is a conditional UPDATE of this counter.
    going_count: Mapped[int] = mapped_column(Integer, default=0)

    event = relationship("Event", lazy="raise")


class ShiftSignup(db.Model):
    __tablename__ = "shift_signup"
    __table_args__ = (
        UniqueConstraint("shift_id", "member_id", name="uq_shift_signup_shift_member"),
        # The waitlist is read in this order: earliest first.
        Index("ix_shift_signup_shift_state_created", "shift_id", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("event_shift.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # "going" or "waitlisted"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member = relationship("Member", lazy="raise")
    shift = relationship("Shift", lazy="raise")
