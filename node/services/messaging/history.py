"""What a member was sent: their own list of messages, and their choices, as they see them.

A message's body is erased once it is sent (it may hold a reset link), so the list shows
its subject, kind, time and state. An announcement's text is kept on the announcement
itself, so a member who was one of its recipients can read it again here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import Announcement, Member, OutboundMail
from .. import mail
from ..errors import Invalid
from ..organising.records import Page, paginate
from . import kinds, preferences

# What a member reads for a message's status: "sending" is still waiting, "logged" (no SMTP
# server configured) was handed over as far as the node goes.
STATES = {
    mail.QUEUED: "waiting",
    mail.SENDING: "waiting",
    mail.SENT: "sent",
    mail.LOGGED: "sent",
    mail.FAILED: "failed",
    mail.SKIPPED: "skipped",
}
STATE_LABELS = {
    "waiting": "Waiting to be sent",
    "sent": "Sent",
    "failed": "Could not be delivered",
    "skipped": "Not sent: you turned it off, or your address stopped taking mail",
}
_ANNOUNCEMENT = re.compile(r"announcement:(\d+)")


@dataclass(frozen=True)
class Message:
    """One message the member was sent, as they see it."""

    id: int
    subject: str
    kind: str
    kind_label: str
    state: str  # waiting, sent, failed or skipped
    queued_at: datetime
    sent_at: datetime | None
    announcement: Announcement | None  # its text, when it was an announcement to them

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class Choice:
    """A kind of message, what the member may choose for it, and what they chose."""

    kind: str
    label: str
    choices: tuple[str, ...]
    choice: str
    required: bool


def _label(kind: str) -> str:
    found = kinds.KINDS.get(kind)
    return found.label if found is not None else kind


def sent_to(member: Member, page: int = 1, per_page: int = 50) -> Page[Message]:
    """List one page of the messages sent (or being sent) to ``member``, newest first."""
    query = (
        select(OutboundMail)
        .where(_theirs(member))
        .order_by(OutboundMail.created_at.desc(), OutboundMail.id.desc())
    )
    found = paginate(query, page, per_page)
    return Page(_messages(found.items), found.page, found.per_page, found.total)


def all_sent_to(member: Member) -> list[OutboundMail]:
    """Return every message row sent to ``member``, oldest first (for their data export)."""
    return list(
        db.session.scalars(select(OutboundMail).where(_theirs(member)).order_by(OutboundMail.id))
    )


def _messages(rows: list[OutboundMail]) -> list[Message]:
    wanted = {int(m.group(1)) for row in rows if (m := _ANNOUNCEMENT.fullmatch(row.source or ""))}
    announcements = {}
    if wanted:
        query = select(Announcement).where(Announcement.id.in_(wanted))
        announcements = {a.id: a for a in db.session.scalars(query)}
    result = []
    for row in rows:
        found = _ANNOUNCEMENT.fullmatch(row.source or "")
        result.append(
            Message(
                row.id,
                row.subject,
                row.kind or "account",
                _label(row.kind or "account"),
                STATES.get(row.status, "waiting"),
                row.created_at,
                row.sent_at,
                # The row names them, so they were one of its recipients.
                announcements.get(int(found.group(1))) if found else None,
            )
        )
    return result


def count_sent_to(member: Member) -> int:
    """Count the messages `sent_to` lists for ``member``."""
    return db.session.scalar(select(func.count()).select_from(OutboundMail).where(_theirs(member)))


def _theirs(member: Member):
    # Queued for them as a member, or to their address before they had an account (an
    # invitation, a guest's link).
    return or_(
        OutboundMail.member_id == member.id,
        func.lower(OutboundMail.to_address) == member.email.lower(),
    )


def choices(member: Member) -> list[Choice]:
    """List every kind a member may choose for, in the page's order, with their choice."""
    chosen = preferences.choices_for(member)
    return [
        Choice(
            name, kinds.get(name).label, kinds.get(name).choices, value, kinds.get(name).required
        )
        for name, value in chosen.items()
    ]


def update_choices(member: Member, chosen: dict[str, str]) -> None:
    """Record the member's choices for the kinds given, all or none; 400 names each bad one."""
    problems: dict[str, list[str]] = {}
    for name, value in chosen.items():
        kind = kinds.KINDS.get(name)
        if kind is None or name not in kinds.MEMBER_KINDS:
            problems[f"choices.{name}"] = [gettext("There is no kind of message by that name.")]
        elif value not in kind.choices:
            problems[f"choices.{name}"] = [f"Choose one of: {', '.join(kind.choices)}."]
    if problems:
        raise Invalid(gettext("Some fields are not valid."), problems)
    preferences.save(member, chosen)
