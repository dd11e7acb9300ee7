"""Carpools: seats members offer to an event and rides they ask for, matched by organisers.

Carpools are members' personal data (where they set off from, who they travel with): they
stay on this node and never federate.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

SEATS_MAX = 8


class CarpoolOffer(db.Model):
    __tablename__ = "carpool_offer"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id", name="uq_carpool_offer_event_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    from_place: Mapped[str] = mapped_column(String(120))  # "Leeds station, 9am"
    seats: Mapped[int] = mapped_column(Integer)  # 1 to SEATS_MAX, checked by the service
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member = relationship("Member", lazy="raise")
    event = relationship("Event", lazy="raise")


class CarpoolRequest(db.Model):
    __tablename__ = "carpool_request"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id", name="uq_carpool_request_event_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    from_place: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The match: the offer this rider travels with. Set only by the carpools service, with a
    # conditional UPDATE that counts the offer's riders, so an offer is never overfilled.
    offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("carpool_offer.id", ondelete="SET NULL"), nullable=True, index=True
    )
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    member = relationship("Member", lazy="raise")
    event = relationship("Event", lazy="raise")
    offer = relationship("CarpoolOffer", lazy="raise")
