"""Which notices, reminders and digests the worker has queued: one row each, by key."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class MailNotice(db.Model):
    """That the notice ``key`` ("new_event:40", "digest:7:150") was queued.

    Written in the same commit as the messages it queued, so a notice is queued once even
    when two workers try at once or one dies half way: the unique key turns the second
    attempt into a clash, which rolls it back. The row with key ``started`` marks when the
    node began sending notices, so nothing published before then is announced.
    """

    __tablename__ = "mail_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
