"""The waiting list of an event without shifts: who asked for a place once it was full."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class EventWaitlist(db.Model):
    """One person waiting for a place: a member, or a guest who confirmed by the e-mailed link.

    Exactly one of ``member_id`` and ``guest_id`` is set. The row holds nothing personal of
    its own, so forgetting a guest's name and address (services.organising.guests) forgets
    it here too. A promotion deletes the row and takes the place in one transaction.
    """

    __tablename__ = "event_waitlist"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id", name="uq_event_waitlist_event_member"),
        # The queue is read in this order: earliest first.
        Index("ix_event_waitlist_event_created", "event_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="CASCADE"), nullable=True, index=True
    )
    guest_id: Mapped[int | None] = mapped_column(
        ForeignKey("guest_rsvp.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
