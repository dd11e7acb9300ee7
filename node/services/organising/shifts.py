"""Shifts inside an event: places taken atomically, and a waitlist promoted on cancellation.

Every change to a shift's places starts by locking the shift's row (``FOR UPDATE`` on
PostgreSQL; SQLite has one writer at a time, and its write transaction begins with the
first UPDATE or DELETE), so sign-ups, cancellations and promotions on one shift happen one
after another: a freed place goes to the first on the waitlist in the same transaction,
and is never lost or given twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext, ngettext
from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Event, GuestRsvp, Member, Shift, ShiftSignup, utcnow
from ..errors import Conflict, Invalid, NotFound
from ..groups import base_url
from ..messaging import outbox
from ..messaging.outbox import Recipient
from . import event_notices, events
from .records import Page, assign, commit, paginate

GOING = "going"
WAITLISTED = "waitlisted"
MAX_LENGTH = timedelta(hours=24)
# An event without an end is taken to last a day: shifts later than that need an end.
OPEN_ENDED = events.OPEN_ENDED


# Reading -----------------------------------------------------------------------------


def listing(event: Event, page: int = 1, per_page: int = 100) -> Page[Shift]:
    """List one page of an event's shifts, earliest first."""
    query = select(Shift).where(Shift.event_id == event.id).order_by(Shift.starts_at, Shift.id)
    return paginate(query, page, per_page)


def of_event(event: Event) -> list[Shift]:
    """List all of an event's shifts, earliest first."""
    query = select(Shift).where(Shift.event_id == event.id).order_by(Shift.starts_at, Shift.id)
    return list(db.session.scalars(query))


def get(shift_id: int, viewer: Member | None) -> Shift:
    """Fetch a shift, as a 404 when it or its event is missing or hidden from ``viewer``."""
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(gettext("No such shift."))
    try:
        events.get(shift.event_id, viewer)
    except NotFound:
        raise NotFound(gettext("No such shift.")) from None
    return shift


def event_of(shift: Shift) -> Event:
    return db.session.get(Event, shift.event_id)


def places_left(shift: Shift) -> int | None:
    """Return how many more can be going, or None without a capacity."""
    if shift.capacity is None:
        return None
    return max(0, shift.capacity - shift.going_count)


def has_ended(shift: Shift) -> bool:
    return shift.ends_at <= utcnow()


def signup_of(shift: Shift, member: Member | None) -> ShiftSignup | None:
    if member is None:
        return None
    return db.session.scalar(
        select(ShiftSignup).where(
            ShiftSignup.shift_id == shift.id, ShiftSignup.member_id == member.id
        )
    )


def waitlist_position(signup: ShiftSignup) -> int | None:
    """Return where a waitlisted signup stands (1 is next), or None when it is going."""
    if signup.state != WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(ShiftSignup)
        .where(
            ShiftSignup.shift_id == signup.shift_id,
            ShiftSignup.state == WAITLISTED,
            or_(
                ShiftSignup.created_at < signup.created_at,
                and_(ShiftSignup.created_at == signup.created_at, ShiftSignup.id < signup.id),
            ),
        )
    )
    return (ahead or 0) + 1


def signups_of(member: Member | None, shifts: list[Shift]) -> dict[int, tuple[str, int | None]]:
    """Map shift id to the member's (state, waitlist position) for the given shifts."""
    if member is None or not shifts:
        return {}
    found = db.session.scalars(
        select(ShiftSignup).where(
            ShiftSignup.member_id == member.id,
            ShiftSignup.shift_id.in_([shift.id for shift in shifts]),
        )
    )
    return {s.shift_id: (s.state, waitlist_position(s)) for s in found}


# Organisers: adding, changing and removing shifts ------------------------------------


def _in_utc(value: datetime, zone: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(ZoneInfo("UTC"))


def _normalise(event: Event, shift: Shift | None, data: dict[str, Any]) -> dict[str, Any]:
    """Put times into UTC (naive ones read in the event's zone) and check they make sense."""
    data = dict(data)
    for key in ("starts_at", "ends_at"):
        if data.get(key) is not None:
            data[key] = _in_utc(data[key], event.timezone)
    starts = data.get("starts_at", shift.starts_at if shift else None)
    ends = data.get("ends_at", shift.ends_at if shift else None)
    if starts is None:
        raise Invalid.on("starts_at", gettext("Give the start."))
    if ends is None:
        raise Invalid.on("ends_at", gettext("Give the end."))
    if ends <= starts:
        raise Invalid.on("ends_at", gettext("Must be after the start."))
    if ends - starts > MAX_LENGTH:
        raise Invalid.on("ends_at", gettext("A shift lasts at most 24 hours."))
    if starts < event.starts_at:
        raise Invalid.on("starts_at", gettext("Must not be before the event starts."))
    if event.ends_at is not None and ends > event.ends_at:
        raise Invalid.on("ends_at", gettext("Must not be after the event ends."))
    if event.ends_at is None and starts >= event.starts_at + OPEN_ENDED:
        raise Invalid.on(
            "starts_at",
            gettext("Must be within a day of the event's start (or give the event an end)."),
        )
    capacity = data.get("capacity")
    if capacity is not None and (isinstance(capacity, bool) or capacity < 1):
        raise Invalid.on("capacity", gettext("Give at least 1, or leave it empty for no limit."))
    return data


def create(event: Event, data: dict[str, Any]) -> Shift:
    """Add a shift to an event from validated fields."""
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    shift = Shift(event_id=event.id, label="", going_count=0)
    assign(shift, _normalise(event, None, data))
    db.session.add(shift)
    commit()
    return shift


def update(shift: Shift, data: dict[str, Any]) -> Shift:
    """Apply validated changes; a capacity below those going is refused, a higher one fills."""
    event = event_of(shift)
    data = _normalise(event, shift, data)
    capacity_given = "capacity" in data
    capacity = data.pop("capacity", None)
    if capacity_given:
        _lock(shift.id)
        room = Shift.going_count <= capacity if capacity is not None else true()
        changed = db.session.execute(
            sql_update(Shift)
            .where(Shift.id == shift.id, room)
            .values(capacity=capacity, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            db.session.rollback()
            raise Invalid.on(
                "capacity",
                ngettext(
                    "%(num)d person is already going; capacity cannot be lower.",
                    "%(num)d people are already going; capacity cannot be lower.",
                    shift.going_count,
                ),
            )
    assign(shift, data)
    if capacity_given and not has_ended(shift) and event.status != "cancelled":
        db.session.flush()
        _promote_waiting(shift, event)  # more room: the waitlist moves up
    commit()
    db.session.refresh(shift)
    return shift


def delete(shift: Shift) -> int:
    """Remove a shift; its sign-ups go with it, and those signed up are told; return how many."""
    event = event_of(shift)
    told = 0
    if event.status != "cancelled" and not has_ended(shift):
        told = event_notices.shift_removed(event, shift, [m for _, m in roster(shift)])
    db.session.delete(shift)
    commit()
    return told


# Members: signing up and cancelling --------------------------------------------------


def _lock(shift_id: int) -> None:
    """Take the shift's row lock for this transaction (PostgreSQL; a no-op on SQLite)."""
    db.session.execute(select(Shift.id).where(Shift.id == shift_id).with_for_update())


def _take_place(shift_id: int) -> bool:
    """Take one place if there is room, in one conditional UPDATE; say whether it did."""
    taken = db.session.execute(
        sql_update(Shift)
        .where(
            Shift.id == shift_id,
            or_(Shift.capacity.is_(None), Shift.going_count + 1 <= Shift.capacity),
        )
        .values(going_count=Shift.going_count + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def _free_place(shift_id: int) -> None:
    db.session.execute(
        sql_update(Shift)
        .where(Shift.id == shift_id)
        .values(going_count=case((Shift.going_count > 0, Shift.going_count - 1), else_=0))
        .execution_options(synchronize_session=False)
    )


def sign_up(shift: Shift, member: Member) -> ShiftSignup:
    """Sign a member up: going while there is room, otherwise on the waitlist."""
    event = event_of(shift)
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if has_ended(shift):
        raise Conflict(gettext("This shift is over."))
    for _attempt in range(2):
        existing = signup_of(shift, member)
        if existing is not None:
            return existing  # signing up again changes nothing, and keeps the waitlist place
        _lock(shift.id)
        state = GOING if _take_place(shift.id) else WAITLISTED
        signup = ShiftSignup(
            shift_id=shift.id, member_id=member.id, state=state, created_at=utcnow()
        )
        db.session.add(signup)
        try:
            db.session.commit()
        except IntegrityError:
            # The same member signed up twice at once: the other won, and the rollback
            # gives back the place this one took.
            db.session.rollback()
            continue
        db.session.refresh(shift)
        return signup
    raise Conflict(gettext("Your sign-up changed while this one was saved; try again."))


def withdraw(shift: Shift, member: Member) -> None:
    """Cancel a member's sign-up; a place freed goes to the first on the waitlist."""
    existing = signup_of(shift, member)
    if existing is None:
        return
    _release(shift, existing)
    db.session.commit()
    db.session.refresh(shift)


def release_all(member: Member) -> None:
    """Take a departing member off every shift, moving waitlists up; no commit."""
    signups = list(
        db.session.scalars(select(ShiftSignup).where(ShiftSignup.member_id == member.id))
    )
    for signup in signups:
        _release(db.session.get(Shift, signup.shift_id), signup)


def _release(shift: Shift, existing: ShiftSignup) -> None:
    event = event_of(shift)
    _lock(shift.id)
    # The state as it is now, not as read above: a promotion may have come in between.
    state = db.session.scalar(
        sql_delete(ShiftSignup)
        .where(ShiftSignup.id == existing.id)
        .returning(ShiftSignup.state)
        .execution_options(synchronize_session=False)
    )
    db.session.expunge(existing)
    if state == GOING:
        _free_place(shift.id)
        if event.status != "cancelled" and not has_ended(shift):
            _promote_waiting(shift, event)


def _promote_waiting(shift: Shift, event: Event) -> list[ShiftSignup]:
    """Move the earliest waitlisted into free places and queue a message to each; no commit."""
    promoted: list[ShiftSignup] = []
    while True:
        first = db.session.scalar(
            select(ShiftSignup)
            .where(ShiftSignup.shift_id == shift.id, ShiftSignup.state == WAITLISTED)
            .order_by(ShiftSignup.created_at, ShiftSignup.id)
            .limit(1)
        )
        if first is None or not _take_place(shift.id):
            return promoted
        moved = db.session.execute(
            sql_update(ShiftSignup)
            .where(ShiftSignup.id == first.id, ShiftSignup.state == WAITLISTED)
            .values(state=GOING)
            .execution_options(synchronize_session=False)
        )
        db.session.expire(first)
        if moved.rowcount != 1:  # withdrawn or promoted meanwhile: give the place back
            _free_place(shift.id)
            continue
        promoted.append(first)
        _tell_promoted(first, shift, event)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _described(shift: Shift, event: Event) -> tuple[str, str]:
    """Return (when, what) of ``shift`` as mail to its volunteer says them, in the event's zone."""
    when = gettext(
        "%(starts)s to %(ends)s (%(zone)s time)",
        starts=outbox.local_time(shift.starts_at, event.timezone),
        ends=outbox.local_time(shift.ends_at, event.timezone, "%H:%M"),
        zone=event.timezone,
    )
    what = (
        gettext("%(shift)s at %(event)s", shift=shift.label, event=event.title)
        if shift.label
        else event.title
    )
    return when, _one_line(what)


def _tell_promoted(signup: ShiftSignup, shift: Shift, event: Event) -> None:
    if signup.guest_id is not None:
        _tell_promoted_guest(signup.guest_id, shift, event)
        return
    member = db.session.get(Member, signup.member_id)
    if member is None or not member.is_active:
        return
    when, what = _described(shift, event)
    link = outbox.link(f"{(base_url() or '').rstrip('/')}/events/{event.id}")
    # A place coming free on an event they signed up for is a change to it (event_changes):
    # a member who turned those off finds it on the event's page instead.
    outbox.queue(
        Recipient(member.email, member.display_name, member.id),
        "event_changes",
        gettext("You have a place: %(title)s", title=what),
        gettext(
            "A place came free, and you are now going: %(what)s, %(when)s.",
            what=outbox.literal(what),
            when=when,
        )
        + "\n\n"
        + gettext("The event: %(link)s", link=link)
        + "\n\n"
        + gettext("If you cannot come after all, cancel there so the next person gets the place."),
        source=f"waitlist:{event.id}",
    )


def roster(shift: Shift) -> list[tuple[ShiftSignup, Member | GuestRsvp]]:
    """List a shift's sign-ups with their member or guest, going first, then the waitlist."""
    query = (
        select(ShiftSignup, Member, GuestRsvp)
        .outerjoin(Member, Member.id == ShiftSignup.member_id)
        .outerjoin(GuestRsvp, GuestRsvp.id == ShiftSignup.guest_id)
        .where(ShiftSignup.shift_id == shift.id)
        .order_by(
            case((ShiftSignup.state == GOING, 0), else_=1),
            ShiftSignup.created_at,
            ShiftSignup.id,
        )
    )
    return [(signup, member or guest) for signup, member, guest in db.session.execute(query)]


# Guests: a confirmed guest RSVP takes shifts by the same e-mailed link ------------------


def guest_signup_of(shift: Shift, guest: GuestRsvp) -> ShiftSignup | None:
    return db.session.scalar(
        select(ShiftSignup).where(
            ShiftSignup.shift_id == shift.id, ShiftSignup.guest_id == guest.id
        )
    )


def guest_signups(guest: GuestRsvp) -> dict[int, tuple[str, int | None]]:
    """Map shift id to the guest's (state, waitlist position) on their event's shifts."""
    found = db.session.scalars(select(ShiftSignup).where(ShiftSignup.guest_id == guest.id))
    return {s.shift_id: (s.state, waitlist_position(s)) for s in found}


def sign_up_guest(shift: Shift, guest: GuestRsvp) -> ShiftSignup:
    """Sign a guest who confirmed their RSVP up for a shift of the same event."""
    event = event_of(shift)
    if guest.event_id != event.id:
        raise NotFound(gettext("No such shift."))
    if guest.state != GOING:
        raise Conflict(gettext("Confirm your place at the event first, then choose a shift."))
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if has_ended(shift):
        raise Conflict(gettext("This shift is over."))
    existing = guest_signup_of(shift, guest)
    if existing is not None:
        return existing
    _lock(shift.id)
    state = GOING if _take_place(shift.id) else WAITLISTED
    signup = ShiftSignup(shift_id=shift.id, guest_id=guest.id, state=state, created_at=utcnow())
    db.session.add(signup)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same click twice at once: the other one stands
        found = guest_signup_of(shift, guest)
        if found is None:
            raise Conflict(
                gettext("Your sign-up changed while this one was saved; try again.")
            ) from None
        return found
    db.session.refresh(shift)
    return signup


def withdraw_guest(shift: Shift, guest: GuestRsvp) -> None:
    """Cancel a guest's sign-up; a place freed goes to the first on the waitlist."""
    existing = guest_signup_of(shift, guest)
    if existing is None:
        return
    _release(shift, existing)
    db.session.commit()


def release_guest(guest: GuestRsvp) -> None:
    """Take a guest who cancelled their RSVP off every shift, moving waitlists up; no commit."""
    found = list(db.session.scalars(select(ShiftSignup).where(ShiftSignup.guest_id == guest.id)))
    for signup in found:
        _release(db.session.get(Shift, signup.shift_id), signup)


def _tell_promoted_guest(guest_id: int, shift: Shift, event: Event) -> None:
    guest = db.session.get(GuestRsvp, guest_id)
    if guest is None or not guest.email:
        return
    when, what = _described(shift, event)
    outbox.queue(
        Recipient(guest.email, guest.name, None),
        "guest",
        gettext("You have a place: %(title)s", title=what),
        gettext(
            "A place came free, and you are now on the shift: %(what)s, %(when)s.",
            what=outbox.literal(what),
            when=when,
        )
        + "\n\n"
        + gettext(
            "If you cannot come after all, cancel it from the link in the e-mail that confirmed "
            "your place, so the next person gets it."
        ),
        source=f"waitlist:{event.id}",
    )
