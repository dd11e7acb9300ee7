"""E-mails to everyone who answered an event when it is postponed, cancelled, back on or moved.

``changed`` is called by the events service inside the change's own unit of work, so the
messages are queued (``outbox.queue_many``) in the same commit as the new status: both or
neither, and the worker sends them. Who is told: active members who said they are going or
might come, members on one of its shifts, and guests who confirmed; each address once.
Walk-ins recorded at the door are not told (the event had begun). Members who turned
"changes to events" off, and guests who stopped all mail from the node, are not told.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ...extensions import db
from ...models import Event, GuestRsvp, Member, Rsvp, Shift, ShiftSignup
from ..groups import base_url
from ..messaging import outbox
from ..messaging.outbox import Recipient


def _when(event: Event, at: datetime) -> str:
    zone = ZoneInfo(event.timezone)
    return f"{at.astimezone(zone):%a %d %b %Y, %H:%M} ({event.timezone} time)"


def what_changed(event: Event, status: str, starts_at: datetime) -> str | None:
    """Name the change people must hear of, or None: "cancelled", "postponed", "back on" or
    "moved" (a new start for an event still on)."""
    if event.status == status:
        moved = event.status == "scheduled" and event.starts_at != starts_at
        return "moved" if moved else None
    if event.status == "scheduled":
        return "back on"
    return event.status  # "cancelled" or "postponed"


def recipients(event: Event) -> list[Recipient]:
    """List everyone to tell, each address once; a guest is a recipient with no member id."""
    members = db.session.execute(
        select(Member.email, Member.display_name, Member.status, Member.id)
        .join(Rsvp, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event.id, Rsvp.response.in_(("going", "maybe")))
    ).all()
    members += db.session.execute(
        select(Member.email, Member.display_name, Member.status, Member.id)
        .join(ShiftSignup, ShiftSignup.member_id == Member.id)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(Shift.event_id == event.id)
    ).all()
    found: dict[str, Recipient] = {}
    for email, name, status, member_id in members:
        if status == "active":
            found.setdefault(email.lower(), Recipient(email, name, member_id))
    guests = db.session.execute(
        select(GuestRsvp.email, GuestRsvp.name).where(
            GuestRsvp.event_id == event.id,
            GuestRsvp.state == "going",
            GuestRsvp.walk_in.is_(False),
            GuestRsvp.email.is_not(None),
        )
    )
    for email, name in guests:
        found.setdefault(email.lower(), Recipient(email, name))
    return list(found.values())


def _message(event: Event, change: str, was_at: datetime) -> tuple[str, str]:
    title = " ".join(event.title.split())
    shown = outbox.literal(title)
    now_at = _when(event, event.starts_at)
    if change == "cancelled":
        return f"Cancelled: {title}", f"{shown}, {_when(event, was_at)}, is cancelled."
    if change == "postponed":
        return (
            f"Postponed: {title}",
            f"{shown}, {_when(event, was_at)}, is postponed. We will write again when it has "
            "a new date.",
        )
    if change == "back on":
        return f"Back on: {title}", f"{shown} is back on: {now_at}."
    return f"New time: {title}", f"{shown} has moved from {_when(event, was_at)} to {now_at}."


def changed(event: Event, status: str, starts_at: datetime) -> int:
    """Queue the e-mails for a change from (``status``, ``starts_at``); return how many."""
    change = what_changed(event, status, starts_at)
    if change is None:
        return 0
    subject, news = _message(event, change, starts_at)
    page = outbox.link(f"{(base_url() or '').rstrip('/')}/events/{event.id}")
    everyone = recipients(event)
    source = f"event-change:{event.id}"
    # The greeting ("Hello <name>") is the outbox's, per recipient. A guest's name is as they
    # typed it; the outbox escapes it in the HTML part.
    members = outbox.compose(subject, f"{news}\n\nThe event: {page}")
    guests = outbox.compose(
        subject,
        f"{news}\n\nIf you cannot come now, cancel with the link in the e-mail you confirmed "
        f"from, so somebody else can have the place. The event: {page}",
    )
    told = outbox.queue_many(
        [r for r in everyone if r.member_id is not None], "event_changes", members, source=source
    )
    told += outbox.queue_many(
        [r for r in everyone if r.member_id is None], "guest", guests, source=source
    )
    return told
