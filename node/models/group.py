"""The group this node belongs to: one row, its public profile."""

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class Group(db.Model):
    __tablename__ = "group_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    handle: Mapped[str] = mapped_column(String(30), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    area: Mapped[str] = mapped_column(String(120), default="")
    seat_name: Mapped[str] = mapped_column(String(120), default="")
    seat_majority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seat_marginality: Mapped[float | None] = mapped_column(Float, nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    logo_filename: Mapped[str | None] = mapped_column(String(64), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    base_url: Mapped[str] = mapped_column(String(500))
    follow_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # "group", or "aggregator" (`branchline init --aggregator`): the role kept across
    # restarts; BRANCHLINE_ROLE=aggregator switches it on too.
    role: Mapped[str] = mapped_column(String(20), default="group", server_default="group")
    # The public "Join us" form (node/services/membership/joining.py): open or not, and the
    # group's own questions on it, one a line.
    joining_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    join_questions: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When an admin put away the Manage dashboard's "what next" checklist (services/checklist).
    checklist_dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
