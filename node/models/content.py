"""What a group publishes: campaigns, events (with RSVPs), candidates and news posts."""

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .picture import PICTURE_NAME_LENGTH
from .types import NEVER_REUSED_IDS, UTCDateTime, utcnow


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WithPicture:
    """An uploaded picture (services/pictures.py) shown with the item, and its alt text."""

    image: Mapped[str | None] = mapped_column(String(PICTURE_NAME_LENGTH), nullable=True)
    image_alt: Mapped[str | None] = mapped_column(String(300), nullable=True)


class Campaign(Timestamps, WithPicture, db.Model):
    __tablename__ = "campaign"
    __table_args__ = (
        Index("ix_campaign_status_visibility", "status", "visibility"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    starts_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    visibility: Mapped[str] = mapped_column(String(16), default="public")


class Event(Timestamps, WithPicture, db.Model):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_starts_at_visibility", "starts_at", "visibility"),
        UniqueConstraint("series_id", "occurrence_at", name="uq_event_series_occurrence"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    place_name: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    online_url: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Kept in step with the 'going' RSVPs by the events service; the capacity check
    # is a conditional UPDATE of this counter, which is atomic on SQLite and PostgreSQL.
    going_count: Mapped[int] = mapped_column(Integer, default=0)
    # How many came, as organisers recorded it after the event (a number only, federated).
    attended_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    accessibility: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")

    # An occurrence of a recurring event: its series, and the start the series' rule gave it
    # (kept when the occurrence itself is moved, so it is never made twice).
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("event_series.id", ondelete="SET NULL"), nullable=True, index=True
    )
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    campaign = relationship("Campaign", lazy="raise")


class Rsvp(Timestamps, db.Model):
    __tablename__ = "rsvp"
    __table_args__ = (UniqueConstraint("event_id", "member_id", name="uq_rsvp_event_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    response: Mapped[str] = mapped_column(String(16))
    # Set at the door by an organiser's check-in (see services.checkin).
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    member = relationship("Member", lazy="raise")
    event = relationship("Event", lazy="raise")


class Candidate(Timestamps, db.Model):
    __tablename__ = "candidate"
    __table_args__ = (
        Index("ix_candidate_endorsement_visibility", "endorsement", "visibility"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    office: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(120), default="")
    stage: Mapped[str] = mapped_column(String(16), default="interested")
    endorsement: Mapped[str] = mapped_column(String(16), default="none")
    statement: Mapped[str] = mapped_column(Text, default="")
    contest_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    result: Mapped[str] = mapped_column(String(500), default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")


class Post(Timestamps, WithPicture, db.Model):
    __tablename__ = "post"
    __table_args__ = (
        Index("ix_post_published_at_visibility", "published_at", "visibility"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
