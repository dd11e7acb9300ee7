"""Pictures organisers uploaded: re-encoded files in the instance folder, named by their hash."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

# The stored name: 32 hex digits of the re-encoded file's SHA-256 and its format's extension.
PICTURE_NAME_LENGTH = 40


class Picture(db.Model):
    """One uploaded picture; its thumbnail is the same name with ``-t`` before the extension."""

    __tablename__ = "picture"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(PICTURE_NAME_LENGTH), unique=True)
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
