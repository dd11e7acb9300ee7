"""API writes sent with an Idempotency-Key: the first answer, replayed to a retry."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class IdempotentRequest(db.Model):
    """One member's write under one key: in flight while ``status`` is None, then its answer.

    Rows older than a day are deleted (node/services/idempotency.py) and the key is free again.
    """

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("member_id", "key", name="uq_idempotent_request_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of the method, path, query and body: a reused key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[str | None] = mapped_column(Text)  # JSON object of the headers replayed
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
