"""Federation state: this group's signed feed, the peers it knows, follows, deliveries,
and what other groups published.

Entries are kept as the exact bytes that were signed (``body``), so they can be served and
re-served byte for byte; the other columns are indexes into them.
"""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow

URL = 2000  # the longest actor, object or inbox address we store


class FeedEntry(db.Model):
    """One entry of this group's feed: append-only, numbered from 1 with no gaps."""

    __tablename__ = "feed_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    activity_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(URL), nullable=True, index=True)
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    body: Mapped[str] = mapped_column(Text)  # the signed JSON, exactly as served
    entry_hash: Mapped[str] = mapped_column(String(80))  # sha256:<hex> of the JCS bytes
    redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Peer(db.Model):
    """Another actor this node has met: a Branchline group, or any fediverse actor."""

    __tablename__ = "peer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(URL), unique=True)
    actor_type: Mapped[str] = mapped_column(String(40), default="Group")
    handle: Mapped[str] = mapped_column(String(300), default="")  # acct:handle@host
    name: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(URL), default="")  # its HTML page
    inbox: Mapped[str] = mapped_column(String(URL), default="")
    shared_inbox: Mapped[str] = mapped_column(String(URL), default="")
    outbox: Mapped[str] = mapped_column(String(URL), default="")
    # HTTP-signature key (RSA, PEM) and the object-proof keys (JSON {key id: multibase}).
    key_id: Mapped[str] = mapped_column(String(URL), default="")
    public_key_pem: Mapped[str] = mapped_column(Text, default="")
    assertion_keys: Mapped[str] = mapped_column(Text, default="{}")
    is_branchline: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Pull state: what we hold of its feed and what it says its head is.
    state: Mapped[str] = mapped_column(String(20), default="new")
    state_reason: Mapped[str] = mapped_column(Text, default="")
    held_seq: Mapped[int] = mapped_column(Integer, default=0)
    held_hash: Mapped[str] = mapped_column(String(80), default="")
    head_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Deliveries and polls that failed in a row (timeouts, 5xx); any answer resets it.
    contact_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The group's profile as its actor document (or an Update of it) last said; the
    # national pages search and rank groups by these.
    area: Mapped[str] = mapped_column(String(300), default="", server_default=text("''"))
    seat_name: Mapped[str] = mapped_column(String(300), default="", server_default=text("''"))
    seat_majority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The majority as a percentage of the votes cast: lower is more marginal.
    seat_marginality: Mapped[float | None] = mapped_column(Float, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The ``updated`` time of the profile held, so an older Update never overwrites it.
    profile_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the peer's latest feed entry was published (or received, if it names no time).
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follower(db.Model):
    """A peer that follows this group (accepted, or waiting for an organiser)."""

    __tablename__ = "follower"
    __table_args__ = (UniqueConstraint("peer_id", name="uq_follower_peer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    follow_activity_id: Mapped[str] = mapped_column(String(URL))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    peer = relationship("Peer", lazy="joined")


class Following(db.Model):
    """A peer this group follows (or has asked to)."""

    __tablename__ = "following"
    __table_args__ = (UniqueConstraint("peer_id", name="uq_following_peer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    follow_activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    peer = relationship("Peer", lazy="joined")


class Delivery(db.Model):
    """One signed POST of an activity to one inbox, retried until it lands or is given up."""

    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbox: Mapped[str] = mapped_column(String(URL))
    peer_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer.id", ondelete="SET NULL"), nullable=True, index=True
    )
    feed_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_entry.id", ondelete="CASCADE"), nullable=True
    )
    # Activities that are not feed entries (Accept, Follow, Undo) carry their own body.
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    feed_entry = relationship("FeedEntry", lazy="raise")


class EarlyEntry(db.Model):
    """A feed entry a peer pushed ahead of the next one we lack, kept until the gap fills.

    Only the HTTP signature has been checked: the entry's proof and link are verified when
    it becomes the next link and is applied like any other (``peering.early_entries.apply``).
    """

    __tablename__ = "early_entry"
    __table_args__ = (UniqueConstraint("peer_id", "seq", name="uq_early_entry_peer_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # as it came, to be verified when its turn comes
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteEntry(db.Model):
    """An entry of a peer's feed, stored verbatim with what verifying it found."""

    __tablename__ = "remote_entry"
    __table_args__ = (UniqueConstraint("peer_id", "seq", name="uq_remote_entry_peer_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: not a Branchline feed
    activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    activity_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(URL), nullable=True, index=True)
    body: Mapped[str] = mapped_column(Text)
    entry_hash: Mapped[str] = mapped_column(String(80), default="")
    verification: Mapped[str] = mapped_column(String(20), default="verified")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteObject(db.Model):
    """The latest state of a campaign, event, candidate or post another group published."""

    __tablename__ = "remote_object"
    __table_args__ = (
        # Upcoming events across the network, soonest first.
        Index("ix_remote_object_object_type_starts_at", "object_type", "starts_at"),
        # A group's objects (its peer_id alone too); its upcoming events counted and ranked
        # from the index alone ("where am I needed": PostgreSQL reads deleted and status
        # from it as well).
        Index(
            "ix_remote_object_peer_id_object_type_starts_at",
            "peer_id",
            "object_type",
            "starts_at",
            "id",
            postgresql_include=["deleted", "status"],
        ),
        # Events near a place: a bounding box on these two, then the exact distance.
        Index("ix_remote_object_latitude_longitude", "latitude", "longitude"),
        # Campaigns (and events) by kind and status.
        Index("ix_remote_object_object_type_kind_status", "object_type", "kind", "status"),
        # Endorsed candidates by office, for the win rates.
        Index(
            "ix_remote_object_object_type_endorsement_office",
            "object_type",
            "endorsement",
            "office",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peer.id", ondelete="CASCADE"))
    object_id: Mapped[str] = mapped_column(String(URL), unique=True)
    object_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)  # the object's JSON as published
    title: Mapped[str] = mapped_column(String(300), default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # Searchable copies of fields of ``data`` (the national pages filter on them).
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    kind: Mapped[str | None] = mapped_column(String(40), nullable=True)  # campaigns, events
    status: Mapped[str | None] = mapped_column(String(40), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)  # an event's place
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    office: Mapped[str | None] = mapped_column(String(40), nullable=True)  # candidates
    stage: Mapped[str | None] = mapped_column(String(40), nullable=True)
    endorsement: Mapped[str | None] = mapped_column(String(40), nullable=True)
    election_result: Mapped[str | None] = mapped_column(String(500), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The object's own updated time: an Update older than this is ignored.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A Delete may arrive before its Create: the tombstone is kept so the Create is ignored.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    verification: Mapped[str] = mapped_column(String(20), default="verified")
    source_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_entry.id", ondelete="SET NULL"), nullable=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    peer = relationship("Peer", lazy="joined")
    # The entry that last changed it (remote_feed writes entries with Core: it sets the id).
    source_entry = relationship("RemoteEntry")


class ReceivedActivity(db.Model):
    """Activity ids already processed by the inbox, so the same activity twice is stored once."""

    __tablename__ = "received_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(URL), unique=True)
    actor_id: Mapped[str] = mapped_column(String(URL))
    activity_type: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
