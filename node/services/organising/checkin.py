"""Check-in at the door: organisers mark who came, and publish how many (a number only).

The list holds the members who said they are going or might come and the guests who
confirmed; anyone else is added as a walk-in. Checking in changes only this node's rows:
the count reaches the feed when an organiser publishes it (``publish``), as the
attendance form does, so a busy door does not sign an entry per arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy import update as sql_update

from ...extensions import db
from ...models import Event, GuestRsvp, Member, Rsvp, utcnow
from ..errors import Conflict, Invalid, NotFound
from . import events, guests

# Check-in opens this long before the start, for early arrivals and set-up crews.
DOORS_OPEN = timedelta(hours=12)
KINDS = ("member", "guest")


@dataclass(frozen=True)
class Attendee:
    kind: str  # "member" or "guest"
    id: int  # the Rsvp's or the GuestRsvp's id
    name: str
    response: str  # "going" or "maybe"; walk-ins are "walk_in"
    checked_in_at: datetime | None


def is_open(event: Event) -> bool:
    """Say whether people can be checked in now."""
    return event.status != "cancelled" and utcnow() >= event.starts_at - DOORS_OPEN


def _check_open(event: Event) -> None:
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if not is_open(event):
        raise Conflict(gettext("Check-in opens 12 hours before the event starts."))


def attendees(event: Event, search: str = "") -> list[Attendee]:
    """List who is expected (and who walked in), by name, optionally only names containing
    ``search``."""
    needle = f"%{search.strip().lower()}%" if search.strip() else None
    members = select(Rsvp.id, Member.display_name, Rsvp.response, Rsvp.checked_in_at).join(
        Member, Member.id == Rsvp.member_id
    )
    members = members.where(Rsvp.event_id == event.id, Rsvp.response.in_(("going", "maybe")))
    visitors = select(
        GuestRsvp.id, GuestRsvp.name, GuestRsvp.walk_in, GuestRsvp.checked_in_at
    ).where(GuestRsvp.event_id == event.id, GuestRsvp.state == guests.GOING)
    if needle:
        members = members.where(func.lower(Member.display_name).like(needle))
        visitors = visitors.where(func.lower(GuestRsvp.name).like(needle))
    found = [Attendee("member", *row) for row in db.session.execute(members)]
    found += [
        Attendee("guest", row[0], row[1] or "Walk-in", "walk_in" if row[2] else "going", row[3])
        for row in db.session.execute(visitors)
    ]
    return sorted(found, key=lambda a: (a.name.casefold(), a.kind, a.id))


def check_in(event: Event, kind: str, attendee_id: int, present: bool = True) -> None:
    """Mark (or, with present=False, unmark) one of the event's attendees as here."""
    _check_open(event)
    if kind not in KINDS:
        raise Invalid.on("kind", gettext("Choose member or guest."))
    model = Rsvp if kind == "member" else GuestRsvp
    expected = (
        Rsvp.response.in_(("going", "maybe")) if kind == "member" else GuestRsvp.state == "going"
    )
    marked = db.session.execute(
        sql_update(model)
        .where(model.id == attendee_id, model.event_id == event.id, expected)
        .values(checked_in_at=utcnow() if present else None)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:
        db.session.rollback()
        raise NotFound(gettext("That person is not on this event's list."))
    db.session.commit()


def walk_in(event: Event, name: str, email: str | None) -> GuestRsvp:
    """Record someone who came without an RSVP, checked in at once; no place is taken.

    With an address that already asked to come, that RSVP is checked in instead.
    """
    _check_open(event)
    name = " ".join(name.split())[:120]
    address = email.strip().lower() if email and email.strip() else None
    guest = guests.of_event(event, address) if address else None
    now = utcnow()
    if guest is None:
        guest = GuestRsvp(event_id=event.id, email=address, name=name, walk_in=True)
        db.session.add(guest)
    elif guest.state != guests.GOING:
        guest.walk_in = True  # came without confirming: no place was taken for them
    guest.name = guest.name or name
    guest.state = guests.GOING
    guest.checked_in_at = now
    db.session.commit()
    return guest


def here_count(event: Event) -> int:
    """Count everyone checked in: members, guests and walk-ins."""
    members = db.session.scalar(
        select(func.count())
        .select_from(Rsvp)
        .where(Rsvp.event_id == event.id, Rsvp.checked_in_at.is_not(None))
    )
    visitors = db.session.scalar(
        select(func.count())
        .select_from(GuestRsvp)
        .where(
            GuestRsvp.event_id == event.id,
            GuestRsvp.state == guests.GOING,
            GuestRsvp.checked_in_at.is_not(None),
        )
    )
    return (members or 0) + (visitors or 0)


def publish(event: Event) -> Event:
    """Record the check-in count as the event's attendance, which goes on the feed."""
    return events.record_attended(event, here_count(event))


def rsvp_of(event: Event, kind: str, attendee_id: int) -> Rsvp | GuestRsvp | None:
    model = Rsvp if kind == "member" else GuestRsvp
    found = db.session.get(model, attendee_id)
    return found if found is not None and found.event_id == event.id else None
