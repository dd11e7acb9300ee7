"""The waiting list of a full event: join it, leave it, and move it up when a place frees.

Members join from the event page, guests from the page their e-mailed link opens (so the
address is proven before anyone waits on it). Whenever a place comes free (``promote``,
which ``events.free_places`` calls, and an organiser raising the capacity), the earliest
person waiting is moved into it in the same transaction as the freeing:

- the place is taken with the same conditional UPDATE every RSVP takes one with, so the
  event is never overfilled;
- the waiting row is deleted with its id in the WHERE clause, and only the transaction
  whose DELETE removed it (rowcount 1) gives the person the place; another one racing for
  the same row gives its place back and tries the next. On PostgreSQL the UPDATE of the
  event's counter holds the event's row lock until commit, so promotions on one event
  happen one after another; SQLite has one writer at a time.

This module reads and writes the event's counter itself (it sits below ``events``, which
calls it), and holds nothing personal: a guest's name and address stay on their GuestRsvp,
forgotten with it.
"""

from __future__ import annotations

import secrets

from flask_babel import gettext
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Event, EventWaitlist, GuestRsvp, Member, Rsvp, digest, utcnow
from ..errors import Conflict
from ..groups import base_url
from ..messaging import outbox
from ..messaging.outbox import Recipient

GOING = "going"
PENDING = "pending"


# Reading -----------------------------------------------------------------------------


def _is_open(event: Event) -> bool:
    return event.status != "cancelled" and (event.ends_at or event.starts_at) >= utcnow()


def is_full(event: Event) -> bool:
    """Say whether an event has a capacity and no place left."""
    return event.capacity is not None and event.going_count >= event.capacity


def _entry(event_id: int, member: Member | None = None, guest: GuestRsvp | None = None):
    if member is not None:
        where = EventWaitlist.member_id == member.id
    elif guest is not None:
        where = EventWaitlist.guest_id == guest.id
    else:
        return None
    return db.session.scalar(select(EventWaitlist).where(EventWaitlist.event_id == event_id, where))


def position(event: Event, member: Member | None = None, guest: GuestRsvp | None = None):
    """Return the member's or guest's place in the queue (1 is next), or None if not in it."""
    entry = _entry(event.id, member, guest)
    if entry is None:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(EventWaitlist)
        .where(
            EventWaitlist.event_id == event.id,
            or_(
                EventWaitlist.created_at < entry.created_at,
                and_(EventWaitlist.created_at == entry.created_at, EventWaitlist.id < entry.id),
            ),
        )
    )
    return (ahead or 0) + 1


def length(event: Event) -> int:
    """Count who is waiting for a place at the event."""
    return db.session.scalar(
        select(func.count()).select_from(EventWaitlist).where(EventWaitlist.event_id == event.id)
    )


def queue(event: Event) -> list[tuple[int, Member | None, GuestRsvp | None]]:
    """List who waits, in order, as (place, member, guest), for organisers."""
    rows = db.session.execute(
        select(EventWaitlist, Member, GuestRsvp)
        .outerjoin(Member, Member.id == EventWaitlist.member_id)
        .outerjoin(GuestRsvp, GuestRsvp.id == EventWaitlist.guest_id)
        .where(EventWaitlist.event_id == event.id)
        .order_by(EventWaitlist.created_at, EventWaitlist.id)
    )
    return [(number, member, guest) for number, (_, member, guest) in enumerate(rows, 1)]


# Joining and leaving -----------------------------------------------------------------


def _check_can_wait(event: Event) -> None:
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if not _is_open(event):
        raise Conflict(gettext("This event is over."))
    db.session.refresh(event)
    if not is_full(event):
        raise Conflict(gettext("There are places left: say you are going instead."))


def _add(event: Event, **who) -> EventWaitlist:
    entry = EventWaitlist(event_id=event.id, created_at=utcnow(), **who)
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        # The same person joined twice at once (a unique constraint): the other one stands.
        db.session.rollback()
        found = db.session.scalar(select(EventWaitlist).filter_by(event_id=event.id, **who))
        if found is None:
            raise Conflict(
                gettext("Your place changed while this one was saved; try again.")
            ) from None
        return found
    return entry


def join(event: Event, member: Member) -> EventWaitlist:
    """Put a member on a full event's waiting list (joining twice keeps the first place)."""
    existing = _entry(event.id, member=member)
    if existing is not None:
        return existing
    going = db.session.scalar(
        select(Rsvp.response).where(Rsvp.event_id == event.id, Rsvp.member_id == member.id)
    )
    if going == GOING:
        raise Conflict(gettext("You are already going."))
    _check_can_wait(event)
    return _add(event, member_id=member.id)


def join_guest(guest: GuestRsvp) -> EventWaitlist:
    """Put a guest (holding their e-mailed link) on their event's waiting list."""
    event = db.session.get(Event, guest.event_id)
    existing = _entry(event.id, guest=guest)
    if existing is not None:
        return existing
    if guest.state == GOING:
        raise Conflict(gettext("You are already going."))
    _check_can_wait(event)
    if guest.state != PENDING:  # "I can come after all" from a cancelled RSVP
        guest.state = PENDING
    return _add(event, guest_id=guest.id)


def leave(event: Event, member: Member | None = None, guest: GuestRsvp | None = None) -> None:
    """Take a member or a guest off the waiting list, without committing."""
    if member is not None:
        where = EventWaitlist.member_id == member.id
    elif guest is not None:
        where = EventWaitlist.guest_id == guest.id
    else:
        return
    db.session.execute(
        sql_delete(EventWaitlist)
        .where(EventWaitlist.event_id == event.id, where)
        .execution_options(synchronize_session=False)
    )


def leave_everywhere(member: Member) -> None:
    """Take a departing member off every waiting list, without committing."""
    db.session.execute(
        sql_delete(EventWaitlist)
        .where(EventWaitlist.member_id == member.id)
        .execution_options(synchronize_session=False)
    )


def withdraw(event: Event, member: Member) -> None:
    """Take a member off the waiting list (if on it) and commit."""
    leave(event, member=member)
    db.session.commit()


# Promotion ---------------------------------------------------------------------------


def _take_place(event_id: int) -> bool:
    taken = db.session.execute(
        sql_update(Event)
        .where(
            Event.id == event_id,
            or_(Event.capacity.is_(None), Event.going_count + 1 <= Event.capacity),
        )
        .values(going_count=Event.going_count + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def _give_back(event_id: int) -> None:
    db.session.execute(
        sql_update(Event)
        .where(Event.id == event_id)
        .values(going_count=case((Event.going_count > 0, Event.going_count - 1), else_=0))
        .execution_options(synchronize_session=False)
    )


def promote(event_id: int) -> int:
    """Move the earliest waiting into free places and queue a message to each; no commit.

    Return how many were promoted.
    """
    event = db.session.get(Event, event_id)
    if event is None or not _is_open(event):
        return 0
    promoted = 0
    while True:
        first = db.session.scalar(
            select(EventWaitlist)
            .where(EventWaitlist.event_id == event_id)
            .order_by(EventWaitlist.created_at, EventWaitlist.id)
            .limit(1)
        )
        if first is None or not _take_place(event_id):
            return promoted
        member_id, guest_id, entry_id = first.member_id, first.guest_id, first.id
        db.session.expunge(first)
        gone = db.session.execute(
            sql_delete(EventWaitlist)
            .where(EventWaitlist.id == entry_id)
            .execution_options(synchronize_session=False)
        )
        if gone.rowcount != 1:  # promoted or withdrawn meanwhile: give the place back
            _give_back(event_id)
            continue
        placed = (
            _place_member(event, member_id)
            if member_id is not None
            else _place_guest(event, guest_id)
        )
        if not placed:
            _give_back(event_id)  # they were going already: the place is for the next
            continue
        promoted += 1


def _place_member(event: Event, member_id: int) -> bool:
    answered = db.session.execute(
        sql_update(Rsvp)
        .where(Rsvp.event_id == event.id, Rsvp.member_id == member_id, Rsvp.response != GOING)
        .values(response=GOING, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if answered.rowcount != 1:
        if db.session.scalar(
            select(Rsvp.id).where(Rsvp.event_id == event.id, Rsvp.member_id == member_id)
        ):
            return False  # already going
        db.session.add(Rsvp(event_id=event.id, member_id=member_id, response=GOING))
        db.session.flush()
    member = db.session.get(Member, member_id)
    if member is not None and member.is_active:
        # A place coming free on an event they asked for is a change to it (event_changes).
        outbox.queue(
            Recipient(member.email, member.display_name, member.id),
            "event_changes",
            gettext("You have a place: %(title)s", title=_title(event)),
            _promoted_text(event, _event_link(event)),
            source=f"waitlist:{event.id}",
        )
    return True


def _place_guest(event: Event, guest_id: int) -> bool:
    now = utcnow()
    value = "glt_" + secrets.token_urlsafe(32)
    moved = db.session.execute(
        sql_update(GuestRsvp)
        .where(GuestRsvp.id == guest_id, GuestRsvp.state != GOING)
        .values(state=GOING, confirmed_at=now, updated_at=now, token_hash=digest(value))
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return False
    guest = db.session.get(GuestRsvp, guest_id)
    db.session.refresh(guest)
    if guest.email:
        # A new link, as a guest's every mail carries one: the older link stops working.
        link = f"{(base_url() or '').rstrip('/')}/rsvp/{value}"
        outbox.queue(
            Recipient(guest.email, guest.name, None),
            "guest",
            gettext("You have a place: %(title)s", title=_title(event)),
            _promoted_text(event, outbox.link(link))
            + "\n\n"
            + gettext("This link replaces the one we sent before."),
            source=f"waitlist:{event.id}",
        )
    return True


def _title(event: Event) -> str:
    return " ".join(event.title.split())


def _event_link(event: Event) -> str:
    return outbox.link(f"{(base_url() or '').rstrip('/')}/events/{event.id}")


def _promoted_text(event: Event, link: str) -> str:
    when = outbox.when(event.starts_at, event.timezone)
    return (
        gettext(
            "A place came free and you were first on the waiting list: you are now going to "
            "%(title)s, %(when)s.",
            title=outbox.literal(_title(event)),
            when=when,
        )
        + "\n\n"
        + gettext(
            "If you cannot come after all, cancel here so the next person gets the place: %(link)s",
            link=link,
        )
    )
