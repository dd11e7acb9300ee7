"""Reminders the day before: an event's to members going and confirmed guests, a shift's to
the members on it.

The worker calls `send_due` each pass. An event (or shift) that starts within the next
REMINDER_HOURS and has not started gets its reminders once (key "reminder:event:<id>" or
"reminder:shift:<id>" and its start, in the same commit as the messages: one moved
after its reminder is reminded again). An event's reminder asks
"Still coming?" with a yes and a no link (``still_coming``), so a member or guest who can
no longer come frees their place with one click. Members' reminders are kind
``reminder`` (on unless turned off); guests' are kind ``guest`` (they can stop all mail).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select

from ...extensions import db
from ...models import Event, GuestRsvp, Member, Rsvp, Shift, ShiftSignup
from ...models.types import utcnow
from ..groups import current_group
from . import notices, outbox, still_coming
from .outbox import Recipient


def _ahead() -> timedelta:
    return timedelta(hours=float(current_app.config.get("REMINDER_HOURS", 24)))


def _still_coming(who: str, who_id: int, event_id: int) -> str:
    yes, no = still_coming.urls(who, who_id, event_id)
    return gettext(
        "**Still coming?** [Yes, I'm coming](%(yes)s) · [No, I can't come](%(no)s)", yes=yes, no=no
    )


def _event_reminders(event_id: int) -> int:
    event = db.session.get(Event, event_id)
    going = db.session.execute(
        select(Member.id, Member.email, Member.display_name)
        .join(Rsvp, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event.id, Rsvp.response == "going", Member.status == "active")
        .order_by(Member.id)
    ).all()
    confirmed = db.session.execute(
        select(GuestRsvp.id, GuestRsvp.email, GuestRsvp.name)
        .where(
            GuestRsvp.event_id == event.id,
            GuestRsvp.state == "going",
            GuestRsvp.email.is_not(None),
        )
        .order_by(GuestRsvp.id)
    ).all()
    title = " ".join(event.title.split())
    subject = gettext("Reminder: %(title)s", title=title)
    opening = gettext(
        "A reminder from %(group)s: you said you are going to", group=notices.group_name()
    )
    source = f"reminder:event:{event.id}"
    lines = notices.event_lines(event)
    queued = 0
    for member_id, email, name in going:
        text = f"{opening}\n\n{lines}\n\n{_still_coming(still_coming.MEMBER, member_id, event.id)}"
        queued += outbox.queue_many(
            [Recipient(email, name, member_id)],
            "reminder",
            outbox.compose(subject, text),
            source=source,
        )
    for guest_id, email, _name in confirmed:
        # No greeting by the name a guest typed: anyone can type anything (guests.py says why).
        text = f"{opening}\n\n{lines}\n\n{_still_coming(still_coming.GUEST, guest_id, event.id)}"
        queued += outbox.queue_many(
            [Recipient(email)], "guest", outbox.compose(subject, text), source=source
        )
    return queued


def _shift_reminders(shift_id: int) -> int:
    shift = db.session.get(Shift, shift_id)
    event = db.session.get(Event, shift.event_id)
    on_it = db.session.execute(
        select(Member.id, Member.email, Member.display_name)
        .join(ShiftSignup, ShiftSignup.member_id == Member.id)
        .where(
            ShiftSignup.shift_id == shift.id,
            ShiftSignup.state == "going",
            Member.status == "active",
        )
        .order_by(Member.id)
    ).all()
    label = " ".join(shift.label.split()) or gettext("Your shift")
    zone = event.timezone
    text = (
        gettext("A reminder from %(group)s: you are on a shift.", group=notices.group_name())
        + "\n\n"
        + gettext(
            "**%(label)s**, %(when)s to %(ends)s",
            label=label,
            when=notices.when(shift.starts_at, zone),
            ends=outbox.local_time(shift.ends_at, zone, "%H:%M"),
        )
        + "  \n"
        + gettext("At: %(event)s", event=notices.event_lines(event))
        + "\n\n"
        + gettext("If you can no longer do it, say so on the event's page, so someone else can.")
    )
    message = outbox.compose(
        gettext(
            "Reminder: %(shift)s at %(title)s",
            shift=label,
            title=" ".join(event.title.split()),
        ),
        text,
    )
    return outbox.queue_many(
        [Recipient(email, name, member_id) for member_id, email, name in on_it],
        "reminder",
        message,
        source=f"reminder:shift:{shift.id}",
    )


def send_due(now: datetime | None = None) -> int:
    """Queue the reminders of events and shifts starting soon, once each; return how many."""
    now = now or utcnow()
    if current_group() is None:
        return 0
    horizon = now + _ahead()
    # The key holds the start, so an event moved after its reminder is reminded again.
    due_events = db.session.execute(
        select(Event.id, Event.starts_at).where(
            Event.starts_at > now,
            Event.starts_at <= horizon,
            Event.status.not_in(("cancelled", "postponed")),
        )
    ).all()
    due_shifts = db.session.execute(
        select(Shift.id, Shift.starts_at)
        .join(Event, Event.id == Shift.event_id)
        .where(
            Shift.starts_at > now,
            Shift.starts_at <= horizon,
            Event.status.not_in(("cancelled", "postponed")),
        )
    ).all()
    work = [
        (f"reminder:event:{i}:{at:%Y%m%d%H%M}", lambda i=i: _event_reminders(i))
        for i, at in due_events
    ]
    work += [
        (f"reminder:shift:{i}:{at:%Y%m%d%H%M}", lambda i=i: _shift_reminders(i))
        for i, at in due_shifts
    ]
    finished = notices.done(key for key, _ in work)
    return sum(notices.once(key, now, make) for key, make in work if key not in finished)
