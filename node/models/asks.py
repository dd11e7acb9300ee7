"""Asks across the network: the ones this group published, and the ones it received.

``OutboundAsk`` is an ask this group (or aggregator) put on its own feed as an ``Offer`` of
a Branchline ``Ask``; ``AskReply`` is, per ask and per group that answered, the latest
outcome it reported (passed on to so many members, or declined: counts only).
``InboundAsk`` is an ask from a group this one follows, kept only when this group is in
its area (or it asked all its followers), waiting in the organisers' queue.
"""

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class OutboundAsk(db.Model):
    __tablename__ = "outbound_ask"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    when_text: Mapped[str] = mapped_column(String(200), default="")
    where_text: Mapped[str] = mapped_column(String(200), default="")
    # The area: a centre and a radius (from coordinates or a postcode district), or none
    # when the ask goes to every follower.
    all_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    area_name: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    radius_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    object_id: Mapped[str] = mapped_column(String(500), unique=True)
    offer_activity_id: Mapped[str] = mapped_column(String(500), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    replies = relationship("AskReply", lazy="selectin", order_by="AskReply.id")


class AskReply(db.Model):
    __tablename__ = "ask_reply"
    __table_args__ = (UniqueConstraint("ask_id", "peer_id", name="uq_ask_reply_ask_peer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ask_id: Mapped[int] = mapped_column(ForeignKey("outbound_ask.id", ondelete="CASCADE"))
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # "passed_on" or "declined"
    members: Mapped[int] = mapped_column(Integer, default=0)
    activity_id: Mapped[str] = mapped_column(String(2000))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    peer = relationship("Peer", lazy="joined")


class InboundAsk(db.Model):
    __tablename__ = "inbound_ask"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"), index=True)
    offer_activity_id: Mapped[str] = mapped_column(String(2000), unique=True)
    object_id: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown as the asker wrote it
    when_text: Mapped[str] = mapped_column(String(200), default="")
    where_text: Mapped[str] = mapped_column(String(200), default="")
    all_followers: Mapped[bool] = mapped_column(Boolean, default=False)
    area_name: Mapped[str] = mapped_column(String(200), default="")
    radius_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    distance_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="new", index=True)
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcement.id", ondelete="SET NULL"), nullable=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The signed answer queued to the asker (Accept with a count, or Reject), once.
    reply_activity_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reply_members: Mapped[int | None] = mapped_column(Integer, nullable=True)

    peer = relationship("Peer", lazy="joined")
