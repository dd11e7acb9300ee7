"""People at events who are not members: RSVPs by name and e-mail, and walk-ins."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .content import Timestamps
from .types import UTCDateTime


class GuestRsvp(Timestamps, db.Model):
    """An RSVP without an account, held by the link e-mailed to the guest.

    ``state`` is "pending" until the guest confirms from the e-mail, then "going" (a place
    taken from Event.going_count, as a member's RSVP takes one) or "cancelled". A walk-in
    recorded at the door is "going" with ``walk_in`` set and no place taken; its name and
    e-mail may be blank. Only the SHA-256 of the link's token is stored.
    """

    __tablename__ = "guest_rsvp"
    # Several walk-ins may have no e-mail: NULLs never collide in a unique constraint.
    __table_args__ = (UniqueConstraint("event_id", "email", name="uq_guest_rsvp_event_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)  # lower case
    state: Mapped[str] = mapped_column(String(16), default="pending")
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    event = relationship("Event", lazy="raise")
