"""What each member wants to be sent, and how each address has fared.

``MailPreference`` holds a member's choice for one kind of message (the kinds are listed
in ``services/messaging/kinds.py``); a kind with no row has its default. ``MailAddress``
is one row per address the node has mailed or been asked to stop mailing: permanent
failures in a row (a bounce), and whether the address is suppressed (it kept bouncing) or
stopped (its owner, usually a guest, asked for no more mail from this node).
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class MailPreference(db.Model):
    __tablename__ = "mail_preference"
    __table_args__ = (UniqueConstraint("member_id", "kind", name="uq_mail_preference_member_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    choice: Mapped[str] = mapped_column(String(16))  # "single", "digest" or "off"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailAddress(db.Model):
    __tablename__ = "mail_address"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)  # lower case
    # Permanent failures since the last message the address accepted.
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    total_bounces: Mapped[int] = mapped_column(Integer, default=0)
    last_bounce_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # Set once ``bounces`` reaches MAIL_BOUNCE_LIMIT: nothing more is sent until an organiser
    # clears it (or the address accepts a message sent regardless, such as a reset link).
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set when the owner asked for no more mail at all (a guest's "stop all mail").
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
