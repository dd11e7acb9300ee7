"""What each member wants to be sent, and how each address has fared.

``MailPreference`` holds a member's choice for one kind of message (the kinds are listed
in ``services/messaging/kinds.py``); a kind with no row has its default. ``MailAddress``
is one row per address the node has mailed or been asked to stop mailing: permanent
failures in a row (a bounce), and whether the address is suppressed (it kept bouncing) or
stopped (its owner, usually a guest, asked for no more mail from this node).
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class Announcement(db.Model):
    """A message an organiser writes to an audience of members or guests.

    ``draft`` until sent or scheduled; ``scheduled`` waits for ``send_at`` (now, for "send
    now"), when the worker turns it into one queued message per recipient in one commit and
    marks it ``sent`` with how many were queued; ``cancelled`` if withdrawn before that.
    The audience is ``audience`` with ``audience_ref`` (an event, shift or ballot id).
    ``origin`` names what it passes on, if anything: an ask from the network
    (``ask:<id>``) or a twin's event (``twin-event:<address>``). Its messages carry the
    source ``announcement:<id>``.
    """

    __tablename__ = "announcement"
    __table_args__ = (Index("ix_announcement_status_send_at", "status", "send_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown
    kind: Mapped[str] = mapped_column(String(32), default="announcement")
    audience: Mapped[str] = mapped_column(String(32), default="members")
    audience_ref: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    origin: Mapped[str] = mapped_column(String(500), default="", index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recipients: Mapped[int | None] = mapped_column(Integer, nullable=True)  # queued at the send
