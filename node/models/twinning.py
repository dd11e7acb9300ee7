"""Twinning between groups, and RSVPs that cross from one twin to the other.

A ``Twinning`` is this group's side of a pair: one row per peer, whichever group proposed.
``RemoteRsvp`` rows live on the group whose event it is (B): places taken by members of a
twin, known only by what they chose to share. ``OutgoingRsvp`` rows live on the member's
own group (A): what the member answered to a twin's event, and what B said back.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .federation import URL
from .types import UTCDateTime, utcnow

# Twinning.state: we proposed and wait / they proposed and we have not answered / twinned /
# the proposal was declined (either way) / one side ended it (or withdrew the proposal).
TWIN_STATES = ("proposed", "incoming", "active", "declined", "ended")
# Who proposed: this group ("outgoing") or the peer ("incoming").
TWIN_DIRECTIONS = ("outgoing", "incoming")
# RemoteRsvp.state: its places are held (or it needs none) / turned down / cancelled by A.
REMOTE_RSVP_STATES = ("held", "refused", "cancelled")
# OutgoingRsvp.state, as the member sees it.
OUTGOING_RSVP_STATES = ("pending", "confirmed", "full", "refused", "cancelled")


class Twinning(db.Model):
    """This group's twinning with one peer: proposed, answered, active or ended."""

    __tablename__ = "twinning"
    __table_args__ = (UniqueConstraint("peer_id", name="uq_twinning_peer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    # The Relationship the Offer describes, the Offer itself, the Accept or Reject of it,
    # and the Undo that ended it: ids of feed entries (ours or the peer's).
    relationship_id: Mapped[str] = mapped_column(String(URL))
    offer_activity_id: Mapped[str] = mapped_column(String(URL), index=True)
    answer_activity_id: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    end_activity_id: Mapped[str | None] = mapped_column(String(URL), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # Which of our organisers proposed or answered (kept on this node only).
    proposed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    peer = relationship("Peer", lazy="joined")


class RemoteRsvp(db.Model):
    """Places on one of our events taken by members of a twinned group (B's side)."""

    __tablename__ = "remote_rsvp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"), index=True)
    # The opaque id the twin minted for this RSVP: all it says about who answered.
    rsvp_id: Mapped[str] = mapped_column(String(URL), unique=True)
    activity_id: Mapped[str] = mapped_column(String(URL))  # the last activity applied
    revision: Mapped[int] = mapped_column(Integer, default=1)
    response: Mapped[str] = mapped_column(String(16))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    # The name the member chose to share; None when they shared only the count.
    shared_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Places this RSVP holds in event.going_count right now, so freeing them is exact.
    places: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="held")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    peer = relationship("Peer", lazy="joined")


class OutgoingRsvp(db.Model):
    """A member's answer to a twinned group's event, sent there (A's side)."""

    __tablename__ = "outgoing_rsvp"
    __table_args__ = (
        UniqueConstraint("member_id", "event_object_id", name="uq_outgoing_rsvp_member_event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"), index=True)
    event_object_id: Mapped[str] = mapped_column(String(URL))  # the twin's event, as published
    rsvp_id: Mapped[str] = mapped_column(String(URL), unique=True)  # opaque, minted here
    activity_id: Mapped[str] = mapped_column(String(URL), index=True)  # the last one sent
    revision: Mapped[int] = mapped_column(Integer, default=1)
    response: Mapped[str] = mapped_column(String(16))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    share_name: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # What the twin last confirmed, kept when a later change is turned down.
    confirmed_response: Mapped[str | None] = mapped_column(String(16), nullable=True)
    confirmed_party_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Why the twin turned the last request down ('full', 'closed'), '' when it did not.
    refusal: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    peer = relationship("Peer", lazy="joined")
