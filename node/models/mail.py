"""Outbound e-mail: messages queued by a request and sent by the worker.

A row moves ``queued`` → ``sending`` (claimed by a worker) → ``sent``, ``logged`` (no
SMTP server is configured, so the worker wrote it to the log), ``failed`` (refused for
good, or still failing after MAIL_MAX_ATTEMPTS tries) or ``skipped`` (its recipient
turned that kind of mail off, or the address was suppressed, after it was queued), or
back to ``queued`` with its next try time. The body is emptied once the row is done
with: a reset link's token is otherwise stored only hashed.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class OutboundMail(db.Model):
    """One plain-text message to one address, retried until it is sent or fails."""

    __tablename__ = "outbound_mail"
    __table_args__ = (
        Index("ix_outbound_mail_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))  # the longest an address may be
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)  # the plain-text part
    html: Mapped[str] = mapped_column(Text, default="")  # the HTML part, if any
    # Extra headers as a JSON object (e.g. List-Unsubscribe); From, To, Subject, Date and
    # Message-ID are the node's own.
    headers: Mapped[str] = mapped_column(Text, default="{}")
    # Chosen when queued, so a message sent again after a crash keeps its identity.
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While ``sending``, the end of the claim: a worker that died mid-batch leaves the row
    # to be taken again once it has passed.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed for MAIL_RATE_PER_MINUTE, which counts the messages sent in the last minute.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # The kind of message (services/messaging/kinds.py): the worker checks it against the
    # recipient's choices again just before sending, so a choice made meanwhile holds.
    kind: Mapped[str] = mapped_column(String(32), default="account", server_default="account")
    # The member it went to, for their own list of what they were sent; NULL for guests.
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("member.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # What sent it, e.g. "announcement:12" or "reminder:event:40", for organisers' counts.
    source: Mapped[str] = mapped_column(String(80), default="", index=True)
