"""An aggregator's own tables: its directory of groups, its combined feed, its quarantine.

The combined feed re-serves entries held in ``remote_entry`` (verbatim, as each group signed
them); ``combined_entry`` only numbers them in the order this aggregator admitted them, so a
reader can resume after any entry (``?after=CURSOR``) and never miss one committed later.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .federation import URL
from .types import UTCDateTime, utcnow


class Listing(db.Model):
    """A group (or another aggregator whose combined feed we pull) in the directory."""

    __tablename__ = "aggregate_listing"
    __table_args__ = (Index("ix_aggregate_listing_state_kind", "state", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="group")  # group | aggregator
    # listed, requested (the group asked, by following us), refused, removed
    state: Mapped[str] = mapped_column(String(16), default="listed")
    # command, csv, request, or aggregator (learned from the combined feed of ``via``)
    source: Mapped[str] = mapped_column(String(16), default="command")
    via_id: Mapped[int | None] = mapped_column(
        ForeignKey("aggregate_listing.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")  # why refused or removed; a problem
    # The proof keys its entries verified with when it was listed (JSON, as Peer keeps them):
    # a different set later is a key change, held until an admin approves the group again.
    proof_keys: Mapped[str] = mapped_column(Text, default="")
    key_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What the combined feed serves of this group: entries 1..served_seq.
    served_seq: Mapped[int] = mapped_column(Integer, default=0)
    served_hash: Mapped[str] = mapped_column(String(80), default="")
    # Another aggregator: its combined feed, where the next pull starts, when it is due.
    feed_url: Mapped[str] = mapped_column(String(URL), default="")
    cursor: Mapped[str] = mapped_column(String(100), default="")
    next_pull_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    peer = relationship("Peer", lazy="joined")
    via = relationship("Listing", remote_side=[id], lazy="select")


class CombinedEntry(db.Model):
    """One entry of the combined feed: a held entry of a listed group, with its cursor."""

    __tablename__ = "combined_entry"

    # Handed out one after the other under CombinedFeedState's lock, at commit order.
    cursor: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    remote_entry_id: Mapped[int] = mapped_column(
        ForeignKey("remote_entry.id", ondelete="CASCADE"), unique=True
    )
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("aggregate_listing.id", ondelete="CASCADE"), index=True
    )
    served_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CombinedFeedState(db.Model):
    """One row: the last cursor handed out (its lock orders writers) and the entries served."""

    __tablename__ = "combined_feed_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_cursor: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)


class QuarantinedEntry(db.Model):
    """An entry a listed group's feed served that failed its checks: kept, never served."""

    __tablename__ = "quarantined_entry"
    __table_args__ = (
        UniqueConstraint("peer_id", "body_hash", name="uq_quarantined_entry_peer_body"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"), index=True)
    # The aggregator whose combined feed served it, when it did not come from the group.
    via_peer_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer.id", ondelete="SET NULL"), nullable=True
    )
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str] = mapped_column(Text)  # exactly as it came
    body_hash: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    peer = relationship("Peer", foreign_keys=[peer_id], lazy="joined")
    via_peer = relationship("Peer", foreign_keys=[via_peer_id], lazy="joined")
