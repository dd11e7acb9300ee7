"""E-mails to everyone who answered an event when it is postponed, cancelled, back on or moved.

``changed`` is called by the events service inside the change's own unit of work, so the
messages are queued (``outbox.queue_many``) in the same commit as the new status: both or
neither, and the worker sends them. Who is told: active members who said they are going or
might come, members on one of its shifts, and guests who confirmed; each address once.
Walk-ins recorded at the door are not told (the event had begun). Members who turned
"changes to events" off, and guests who stopped all mail from the node, are not told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext, ngettext
from sqlalchemy import select

from ...extensions import db
from ...models import Event, GuestRsvp, Member, Rsvp, Shift, ShiftSignup
from ..groups import base_url
from ..messaging import outbox
from ..messaging.outbox import Recipient


def _when(event: Event, at: datetime) -> str:
    return outbox.when(at, event.timezone)


def what_changed(event: Event, status: str, starts_at: datetime) -> str | None:
    """Name the change people must hear of, or None: "cancelled", "postponed", "back on" or
    "moved" (a new start for an event still on)."""
    return change_between(status, starts_at, event.status, event.starts_at)


def change_between(
    status: str, starts_at: datetime, new_status: str, new_starts_at: datetime
) -> str | None:
    """Name the change from (``status``, ``starts_at``) to the new pair, as ``what_changed``."""
    if new_status == status:
        moved = new_status == "scheduled" and new_starts_at != starts_at
        return "moved" if moved else None
    if new_status == "scheduled":
        return "back on"
    return new_status  # "cancelled" or "postponed"


@dataclass(frozen=True)
class Audience:
    """How many a change to an event would e-mail: those answering, and those on shifts."""

    going: int
    on_shifts: int

    @property
    def total(self) -> int:
        return self.going + self.on_shifts


def describe(told: Audience) -> str:
    """Say whom a change e-mails, as "12 people going and 3 on shifts"."""

    going = ngettext("%(num)d person going", "%(num)d people going", told.going)
    if told.going and told.on_shifts:
        return gettext(
            "%(going)s and %(on_shifts)s",
            going=going,
            on_shifts=ngettext("%(num)d on shifts", "%(num)d on shifts", told.on_shifts),
        )
    if told.on_shifts:
        return ngettext("%(num)d person on shifts", "%(num)d people on shifts", told.on_shifts)
    return going if told.going else gettext("Nobody")


def _on_shifts(event: Event) -> dict[int, list[Shift]]:
    """Map member id to the event's shifts they are on (going or waiting), earliest first."""
    rows = db.session.execute(
        select(ShiftSignup.member_id, Shift)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .where(Shift.event_id == event.id)
        .order_by(Shift.starts_at, Shift.id)
    )
    found: dict[int, list[Shift]] = {}
    for member_id, shift in rows:
        found.setdefault(member_id, []).append(shift)
    return found


def audience(event: Event) -> Audience:
    """Count who a change would tell: people on shifts, and everyone else who answered."""
    everyone = recipients(event)
    on_shifts = set(_on_shifts(event))
    shifts = sum(1 for r in everyone if r.member_id in on_shifts)
    return Audience(len(everyone) - shifts, shifts)


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
    was = _when(event, was_at)
    if change == "cancelled":
        return (
            gettext("Cancelled: %(title)s", title=title),
            gettext("%(title)s, %(when)s, is cancelled.", title=shown, when=was),
        )
    if change == "postponed":
        return (
            gettext("Postponed: %(title)s", title=title),
            gettext(
                "%(title)s, %(when)s, is postponed. We will write again when it has a new date.",
                title=shown,
                when=was,
            ),
        )
    if change == "back on":
        return (
            gettext("Back on: %(title)s", title=title),
            gettext("%(title)s is back on: %(when)s.", title=shown, when=now_at),
        )
    return (
        gettext("New time: %(title)s", title=title),
        gettext("%(title)s has moved from %(was)s to %(when)s.", title=shown, was=was, when=now_at),
    )


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
    the_event = gettext("The event: %(link)s", link=page)
    members = outbox.compose(subject, f"{news}\n\n{the_event}")
    guests = outbox.compose(
        subject,
        f"{news}\n\n"
        + gettext(
            "If you cannot come now, cancel with the link in the e-mail you confirmed from, so "
            "somebody else can have the place. The event: %(link)s",
            link=page,
        ),
    )
    on_shifts = _on_shifts(event) if change == "moved" else {}
    told = outbox.queue_many(
        [r for r in everyone if r.member_id is not None and r.member_id not in on_shifts],
        "event_changes",
        members,
        source=source,
    )
    for recipient in everyone:
        # The shifts moved with the event: each volunteer is given their own new times.
        if recipient.member_id in on_shifts:
            times = "\n".join(
                f"- {_shift_line(event, shift)}" for shift in on_shifts[recipient.member_id]
            )
            told += outbox.queue_many(
                [recipient],
                "event_changes",
                outbox.compose(
                    subject,
                    f"{news}\n\n"
                    + gettext("Your shift moved with it. Your new shift times:")
                    + f"\n\n{times}\n\n{the_event}",
                ),
                source=source,
            )
    told += outbox.queue_many(
        [r for r in everyone if r.member_id is None], "guest", guests, source=source
    )
    return told


def _shift_line(event: Event, shift: Shift) -> str:
    label = outbox.literal(" ".join(shift.label.split())) if shift.label else gettext("Shift")
    return gettext(
        "%(label)s: %(starts)s to %(ends)s (%(zone)s time)",
        label=label,
        starts=outbox.local_time(shift.starts_at, event.timezone),
        ends=outbox.local_time(shift.ends_at, event.timezone, "%H:%M"),
        zone=event.timezone,
    )


def deleted(event: Event) -> int:
    """Queue the e-mails saying a deleted event will not happen; return how many."""
    title = " ".join(event.title.split())
    news = gettext(
        "%(title)s, %(when)s, is cancelled.",
        title=outbox.literal(title),
        when=_when(event, event.starts_at),
    )
    everyone = recipients(event)
    source = f"event-change:{event.id}"
    # No link: the event's page goes with it.
    message = outbox.compose(gettext("Cancelled: %(title)s", title=title), news)
    told = outbox.queue_many(
        [r for r in everyone if r.member_id is not None], "event_changes", message, source=source
    )
    told += outbox.queue_many(
        [r for r in everyone if r.member_id is None], "guest", message, source=source
    )
    return told


def shift_removed(event: Event, shift: Shift, members: list[Member]) -> int:
    """Queue the e-mails telling a removed shift's volunteers it is gone; return how many."""
    what = (
        gettext("%(shift)s at %(event)s", shift=shift.label, event=event.title)
        if shift.label
        else event.title
    )
    what = " ".join(what.split())
    line = _shift_line(event, shift)
    page = outbox.link(f"{(base_url() or '').rstrip('/')}/events/{event.id}")
    message = outbox.compose(
        gettext("Shift removed: %(what)s", what=what),
        gettext(
            "The organisers removed a shift you were on: %(shift)s, at %(title)s. You no longer "
            "have a place on it.",
            shift=line,
            title=outbox.literal(" ".join(event.title.split())),
        )
        + "\n\n"
        + gettext("The event, and any other shifts: %(link)s", link=page),
    )
    return outbox.queue_many(
        [Recipient(m.email, m.display_name, m.id) for m in members if m.is_active],
        "event_changes",
        message,
        source=f"shift-removed:{event.id}",
    )
