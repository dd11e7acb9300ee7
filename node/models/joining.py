"""Requests to join the group, made on the public "Join us" form, waiting for an organiser."""

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class JoinRequest(db.Model):
    """One person's request to join: personal data, never federated, deleted once decided."""

    __tablename__ = "join_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    postcode: Mapped[str] = mapped_column(String(10), default="")
    # JSON list of {"question": ..., "answer": ...}: the questions as they were asked.
    answers: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
