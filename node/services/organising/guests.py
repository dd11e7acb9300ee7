"""RSVPs without an account: a name and an e-mail address, confirmed by an e-mailed link.

Asking only queues an e-mail: nothing is held until the guest opens the link and confirms,
so nobody can put another person's address down for an event. The link (its token is
stored only as a hash) opens a page from which the guest confirms or cancels; confirming
takes a place from the same counter members' RSVPs and twins' RSVPs take from
(``events.take_places``), so a guest can never overfill an event. The link keeps working
until the event is over. Guests' names and addresses are shown to organisers only and
never leave the node.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import and_, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Event, GuestRsvp, digest, utcnow
from .. import mail
from ..errors import Conflict, Invalid, NotFound
from ..groups import base_url, current_group
from ..messaging import outbox
from . import events, shifts, waitlist

PENDING = "pending"
GOING = "going"
CANCELLED = "cancelled"

# A second ask for the same address inside this time sends no second e-mail, so the form
# cannot be used to flood somebody's inbox.
RESEND_AFTER = timedelta(minutes=5)


def _normal_email(email: str) -> str:
    return email.strip().lower()


def link(value: str) -> str:
    """The address of a guest's confirm-or-cancel page for the token ``value``."""
    return f"{(base_url() or '').rstrip('/')}/rsvp/{value}"


def _check_open(event: Event) -> None:
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if events.is_over(event):
        raise Conflict(gettext("This event is over."))


def of_event(event: Event, email: str) -> GuestRsvp | None:
    return db.session.scalar(
        select(GuestRsvp).where(
            GuestRsvp.event_id == event.id, GuestRsvp.email == _normal_email(email)
        )
    )


def ask(event: Event, name: str, email: str) -> bool:
    """Record a guest's wish to come and e-mail them the link; say whether a mail was queued.

    Whatever the address already has (nothing, a pending ask, a cancelled or confirmed
    RSVP) the caller answers the same way, so the form tells nobody who is coming.
    """
    _check_open(event)
    name = " ".join(name.split())
    if not name:
        raise Invalid.on("name", gettext("Give your name."))
    address = _normal_email(email)
    now = utcnow()
    for attempt in range(2):
        guest = of_event(event, address)
        if guest is not None and guest.mailed_at and now - guest.mailed_at < RESEND_AFTER:
            return False
        if guest is None:
            guest = GuestRsvp(event_id=event.id, email=address, state=PENDING)
            db.session.add(guest)
        if guest.walk_in:
            guest.walk_in = False  # a walk-in's address: from now on they hold the link
        if guest.state != GOING:
            guest.name = name[:120]
            if guest.state == CANCELLED:
                guest.state = PENDING
        value = "glt_" + secrets.token_urlsafe(32)
        guest.token_hash = digest(value)  # a new link; an older one stops working
        guest.mailed_at = now
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()  # the same address asked twice at once: take the other
            if attempt == 1:
                raise Conflict(
                    gettext("Your answer changed while this one was saved; try again.")
                ) from None
            continue
        _mail_link(event, guest, value)
        db.session.commit()
        return True
    raise AssertionError("unreachable")


def _when(event: Event) -> str:
    return outbox.when(event.starts_at, event.timezone)


def _mail_link(event: Event, guest: GuestRsvp, value: str) -> None:
    # Anyone can type any address into the form, so the mail holds only the node's and the
    # organisers' words: no greeting by the name typed in, nor that name anywhere (the
    # link's page shows it), so nobody can have the node mail a stranger text of theirs.
    title = " ".join(event.title.split())
    group = current_group()
    where = ", ".join(part for part in (event.place_name, event.address) if part)
    if group is not None:
        what = gettext("%(event)s at %(group)s", event=title, group=" ".join(group.name.split()))
    else:
        what = title
    if guest.state == GOING:
        subject = gettext("Your place at %(title)s", title=title)
        opening = gettext(
            "Someone asked for the link to your place at %(what)s to be sent to this address. "
            "You are going.",
            what=what,
        )
        action = gettext("To cancel your place, open this link:")
    else:
        subject = gettext("Confirm you are coming: %(title)s", title=title)
        opening = gettext(
            "Someone asked to RSVP to %(what)s with this e-mail address. Nothing is booked "
            "until you confirm.",
            what=what,
        )
        action = gettext("To confirm (or to say you cannot come after all), open this link:")
    body = (
        f"{opening}\n\n"
        + gettext("When: %(when)s", when=_when(event))
        + "\n"
        + (gettext("Where: %(where)s", where=" ".join(where.split())) + "\n" if where else "")
        + f"\n{action}\n{link(value)}\n\n"
        + gettext(
            "It works until the event is over. If you did not ask, ignore this e-mail: nothing "
            "happens unless the link is opened."
        )
    )
    # Not through the outbox's choices: the guest (or whoever typed the address) asked for
    # this very message, so it is ``account`` mail, like a password reset: it goes even to
    # an address that stopped all mail, and it carries no unsubscribe link.
    mail.send(guest.email or "", subject[:500], body, kind="account", source=f"guest:{event.id}")


def by_token(value: str) -> GuestRsvp:
    """Find the guest RSVP a link's token belongs to, or 404."""
    guest = (
        db.session.scalar(select(GuestRsvp).where(GuestRsvp.token_hash == digest(value)))
        if value.startswith("glt_") and len(value) < 100
        else None
    )
    if guest is None:
        raise NotFound(gettext("That link is not valid: it may have been replaced by a newer one."))
    return guest


def event_of(guest: GuestRsvp) -> Event:
    return db.session.get(Event, guest.event_id)


def confirm(guest: GuestRsvp) -> GuestRsvp:
    """Take a place for the guest (refused when the event is full, cancelled or over)."""
    event = event_of(guest)
    _check_open(event)
    if guest.state == GOING:
        return guest
    # Only the request that moves the row out of its current state takes the place, so two
    # clicks on the link at once take one place.
    moved = db.session.execute(
        sql_update(GuestRsvp)
        .where(GuestRsvp.id == guest.id, GuestRsvp.state == guest.state)
        .values(state=GOING, confirmed_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 1 and not events.take_places(event.id, 1):
        db.session.rollback()
        raise Conflict(gettext("Sorry: this event is full."))
    waitlist.leave(event, guest=guest)
    db.session.commit()
    db.session.refresh(guest)
    return guest


def cancel(guest: GuestRsvp) -> GuestRsvp:
    """Give up the guest's place (or their pending ask)."""
    event = event_of(guest)
    if events.is_over(event):
        raise Conflict(gettext("This event is over."))
    if guest.state == CANCELLED:
        return guest
    moved = db.session.execute(
        sql_update(GuestRsvp)
        .where(GuestRsvp.id == guest.id, GuestRsvp.state == guest.state)
        .values(state=CANCELLED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    waitlist.leave(event, guest=guest)
    if moved.rowcount == 1 and guest.state == GOING:
        shifts.release_guest(guest)  # no place at the event, no place on its shifts
        if not guest.walk_in:
            events.free_places(event.id, 1)
    db.session.commit()
    db.session.refresh(guest)
    return guest


def going(event: Event) -> list[GuestRsvp]:
    """List the guests coming (walk-ins included), for organisers, in the order they said."""
    return list(
        db.session.scalars(
            select(GuestRsvp)
            .where(GuestRsvp.event_id == event.id, GuestRsvp.state == GOING)
            .order_by(GuestRsvp.created_at, GuestRsvp.id)
        )
    )


def counts(event: Event) -> dict[str, int]:
    """Count an event's guests by state (walk-ins counted apart), for organisers."""
    found = {PENDING: 0, GOING: 0, CANCELLED: 0, "walk_in": 0}
    for guest in db.session.scalars(select(GuestRsvp).where(GuestRsvp.event_id == event.id)):
        found["walk_in" if guest.walk_in and guest.state == GOING else guest.state] += 1
    return found


def forget_past(now=None) -> int:
    """Erase guests' names and addresses once their event has been over GUEST_RETENTION_DAYS
    (0 keeps them); what they did (confirmed, came) stays as counts. Return how many."""
    days = float(current_app.config.get("GUEST_RETENTION_DAYS", 90))
    if days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    long_over = select(Event.id).where(
        or_(
            and_(Event.ends_at.is_not(None), Event.ends_at < cutoff),
            and_(Event.ends_at.is_(None), Event.starts_at < cutoff),
        )
    )
    erased = db.session.execute(
        sql_update(GuestRsvp)
        .where(
            GuestRsvp.event_id.in_(long_over),
            or_(
                GuestRsvp.email.is_not(None),
                GuestRsvp.name != "",
                GuestRsvp.token_hash.is_not(None),
            ),
        )
        .values(name="", email=None, token_hash=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return erased.rowcount
