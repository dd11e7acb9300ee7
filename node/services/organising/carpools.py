"""Carpools for an event: members offer seats or ask for a ride, and organisers match them.

Names and e-mail addresses pass between a driver and a rider only once an organiser has
matched them (organisers, who do the matching, see everyone's). Carpools are members'
personal data: nothing here is recorded in the feed, so none of it federates.

A rider takes a seat with one conditional UPDATE that counts the offer's riders, after
locking the offer's row (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time, and
its write transaction begins with that UPDATE), so two organisers matching riders to the
last seat at the same moment cannot both have it: the second UPDATE counts the first
rider and changes nothing. Cutting an offer's seats below its riders is refused the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext, ngettext
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import CarpoolOffer, CarpoolRequest, Event, Member, utcnow
from ...models.carpool import SEATS_MAX
from ..errors import Conflict, Invalid, NotFound
from . import carpool_mail, events
from .records import commit

PLACE_MAX = 120
NOTE_MAX = 300
FROM_WHERE = "Say where you set off from: a town, an area or a station."


@dataclass(frozen=True)
class Contact:
    """Someone a member travels with: their driver, or a rider in their car."""

    role: str  # "driver" or "rider"
    name: str
    email: str
    from_place: str
    note: str


# Reading -----------------------------------------------------------------------------


def is_online_only(event: Event) -> bool:
    """Say whether an event is online with no place to travel to (so no carpools)."""
    has_place = event.place_name or event.address or event.latitude is not None
    return bool(event.online_url) and not has_place


def is_open(event: Event) -> bool:
    """Say whether the event still takes offers, requests and matches."""
    return event.status != "cancelled" and not events.is_over(event) and not is_online_only(event)


def offer_of(event: Event, member: Member | None) -> CarpoolOffer | None:
    if member is None:
        return None
    return db.session.scalar(
        select(CarpoolOffer).where(
            CarpoolOffer.event_id == event.id, CarpoolOffer.member_id == member.id
        )
    )


def request_of(event: Event, member: Member | None) -> CarpoolRequest | None:
    if member is None:
        return None
    return db.session.scalar(
        select(CarpoolRequest).where(
            CarpoolRequest.event_id == event.id, CarpoolRequest.member_id == member.id
        )
    )


def _riders(offer_id: int):
    """Count the riders matched to an offer, as a subquery the conditional UPDATEs use."""
    rider = aliased(CarpoolRequest)
    return (
        select(func.count()).select_from(rider).where(rider.offer_id == offer_id).scalar_subquery()
    )


def riders_count(offer: CarpoolOffer) -> int:
    return db.session.scalar(select(_riders(offer.id))) or 0


def seats_left(offer: CarpoolOffer) -> int:
    return max(0, offer.seats - riders_count(offer))


def offers(event: Event) -> list[tuple[CarpoolOffer, Member, int]]:
    """List an event's offers with their drivers and seats left, earliest first."""
    taken = (
        select(CarpoolRequest.offer_id, func.count().label("riders"))
        .where(CarpoolRequest.event_id == event.id, CarpoolRequest.offer_id.is_not(None))
        .group_by(CarpoolRequest.offer_id)
        .subquery()
    )
    rows = db.session.execute(
        select(CarpoolOffer, Member, func.coalesce(taken.c.riders, 0))
        .join(Member, Member.id == CarpoolOffer.member_id)
        .outerjoin(taken, taken.c.offer_id == CarpoolOffer.id)
        .where(CarpoolOffer.event_id == event.id)
        .order_by(CarpoolOffer.created_at, CarpoolOffer.id)
    )
    return [(offer, member, max(0, offer.seats - riders)) for offer, member, riders in rows]


def requests(event: Event) -> list[tuple[CarpoolRequest, Member]]:
    """List an event's ride requests with their riders, earliest first."""
    rows = db.session.execute(
        select(CarpoolRequest, Member)
        .join(Member, Member.id == CarpoolRequest.member_id)
        .where(CarpoolRequest.event_id == event.id)
        .order_by(CarpoolRequest.created_at, CarpoolRequest.id)
    )
    return [(request, member) for request, member in rows]


def get_offer(offer_id: int, viewer: Member | None) -> CarpoolOffer:
    """Fetch an offer, as a 404 when it or its event is missing or hidden from ``viewer``."""
    found = db.session.get(CarpoolOffer, offer_id) if _storable(offer_id) else None
    if found is None or not _visible(found.event_id, viewer):
        raise NotFound(gettext("No such carpool offer."))
    return found


def get_request(request_id: int, viewer: Member | None) -> CarpoolRequest:
    """Fetch a ride request, as a 404 when it or its event is missing or hidden."""
    found = db.session.get(CarpoolRequest, request_id) if _storable(request_id) else None
    if found is None or not _visible(found.event_id, viewer):
        raise NotFound(gettext("No such ride request."))
    return found


def event_of(event_id: int, viewer: Member | None) -> Event:
    """Fetch the event carpools are for, as a 404 when it is missing or hidden."""
    if not _storable(event_id):
        raise NotFound(gettext("No such event."))
    return events.get(event_id, viewer)


def _storable(row_id: int) -> bool:
    # A number no INTEGER column holds names nothing, and would fail in the database.
    return 0 < row_id < 2**31


def _visible(event_id: int, viewer: Member | None) -> bool:
    try:
        events.get(event_id, viewer)
    except NotFound:
        return False
    return True


def contacts_for(member: Member | None, event: Event) -> list[Contact]:
    """Return whom ``member`` travels with to ``event``: their driver, or their riders."""
    if member is None:
        return []
    found: list[Contact] = []
    asked = request_of(event, member)
    if asked is not None and asked.offer_id is not None:
        row = db.session.execute(
            select(CarpoolOffer, Member)
            .join(Member, Member.id == CarpoolOffer.member_id)
            .where(CarpoolOffer.id == asked.offer_id)
        ).first()
        if row is not None:
            their_offer, driver = row
            found.append(_contact("driver", driver, their_offer.from_place, their_offer.note))
    offered = offer_of(event, member)
    if offered is not None:
        rows = db.session.execute(
            select(CarpoolRequest, Member)
            .join(Member, Member.id == CarpoolRequest.member_id)
            .where(CarpoolRequest.offer_id == offered.id)
            .order_by(CarpoolRequest.matched_at, CarpoolRequest.id)
        )
        found.extend(_contact("rider", rider, req.from_place, req.note) for req, rider in rows)
    return found


def _contact(role: str, member: Member, from_place: str, note: str) -> Contact:
    return Contact(role, member.display_name, member.email, from_place, note)


def of_member(member: Member) -> list[tuple[str, Event, CarpoolOffer | CarpoolRequest]]:
    """List a member's offers and requests with their events, for their data export."""
    offered = db.session.execute(
        select(CarpoolOffer, Event)
        .join(Event, Event.id == CarpoolOffer.event_id)
        .where(CarpoolOffer.member_id == member.id)
    )
    asked = db.session.execute(
        select(CarpoolRequest, Event)
        .join(Event, Event.id == CarpoolRequest.event_id)
        .where(CarpoolRequest.member_id == member.id)
    )
    found = [("offer", event, row) for row, event in offered]
    found += [("request", event, row) for row, event in asked]
    return sorted(found, key=lambda item: (item[1].starts_at, item[1].id, item[0]))


# Checking input ----------------------------------------------------------------------


def _check_open(event: Event) -> None:
    if is_online_only(event):
        raise Conflict(gettext("This event is online only, so it has no carpools."))
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if events.is_over(event):
        raise Conflict(gettext("This event is over."))


def _text(field: str, value: str | None, limit: int, *, required: str = "") -> str:
    """Tidy a line of text onto one line; ``required`` is the message when it is empty."""
    text = " ".join((value or "").split())
    if required and not text:
        raise Invalid.on(field, required)
    if len(text) > limit:
        raise Invalid.on(field, gettext("At most %(limit)s characters.", limit=limit))
    return text


def _seats(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SEATS_MAX:
        raise Invalid.on(
            "seats", gettext("Offer from 1 to %(seats_max)s seats.", seats_max=SEATS_MAX)
        )
    return value


# Members: offering and asking --------------------------------------------------------


def _add_once(made, stored, what: str):
    """Store a member's first offer or request; return it, or the one stored meanwhile.

    The same member sending the form twice at once: the other insert won, and this one
    changes that row instead.
    """
    db.session.add(made)
    try:
        db.session.commit()
        return made
    except IntegrityError:
        db.session.rollback()
        existing = stored()
        if existing is None:
            raise Conflict(
                gettext("Your %(what)s changed while this one was saved; try again.", what=what)
            ) from None
        return existing


def offer(
    event: Event, member: Member, from_place: str, seats: int, note: str | None = ""
) -> CarpoolOffer:
    """Offer seats to an event, or change the member's offer; fewer seats than riders is refused."""
    _check_open(event)
    from_place = _text("from_place", from_place, PLACE_MAX, required=FROM_WHERE)
    note = _text("note", note, NOTE_MAX)
    seats = _seats(seats)
    if request_of(event, member) is not None:
        raise Conflict(
            gettext("You have asked for a ride to this event: withdraw that to offer seats.")
        )
    existing = offer_of(event, member)
    if existing is None:
        made = CarpoolOffer(
            event_id=event.id,
            member_id=member.id,
            from_place=from_place,
            seats=seats,
            note=note,
            created_at=utcnow(),
        )
        existing = _add_once(made, lambda: offer_of(event, member), "offer")
        if existing is made:
            return made
    _lock(existing.id)
    changed = db.session.execute(
        sql_update(CarpoolOffer)
        .where(CarpoolOffer.id == existing.id, _riders(existing.id) <= seats)
        .values(from_place=from_place, seats=seats, note=note)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.rollback()
        riders = riders_count(existing)
        raise Invalid.on(
            "seats",
            ngettext(
                "%(num)d rider is already matched to you: offer at least %(num)d seat, "
                "or ask an organiser to unmatch them.",
                "%(num)d riders are already matched to you: offer at least %(num)d seats, "
                "or ask an organiser to unmatch one.",
                riders,
            ),
        )
    commit()
    db.session.refresh(existing)
    return existing


def ask(event: Event, member: Member, from_place: str, note: str | None = "") -> CarpoolRequest:
    """Ask for a ride to an event, or change the member's request (a match stands)."""
    _check_open(event)
    from_place = _text("from_place", from_place, PLACE_MAX, required=FROM_WHERE)
    note = _text("note", note, NOTE_MAX)
    if offer_of(event, member) is not None:
        raise Conflict(
            gettext("You are offering seats to this event: withdraw that to ask for a ride.")
        )
    existing = request_of(event, member)
    if existing is None:
        made = CarpoolRequest(
            event_id=event.id,
            member_id=member.id,
            from_place=from_place,
            note=note,
            created_at=utcnow(),
        )
        existing = _add_once(made, lambda: request_of(event, member), "request")
        if existing is made:
            return made
    existing.from_place, existing.note = from_place, note
    commit()
    return existing


def withdraw_offer(event: Event, member: Member) -> None:
    """Withdraw a member's offer: its riders are unmatched and told their ride is off."""
    existing = offer_of(event, member)
    if existing is None:
        return
    _drop_offer(existing, event, member)
    commit()


def withdraw_request(event: Event, member: Member) -> None:
    """Withdraw a member's ride request; a driver they were matched with is told."""
    existing = request_of(event, member)
    if existing is None:
        return
    _drop_request(existing, event, member)
    commit()


def release_all(member: Member) -> None:
    """Withdraw a departing member's offers and requests, telling those matched; no commit."""
    for kind, event, row in of_member(member):
        if kind == "offer":
            _drop_offer(row, event, member)
        else:
            _drop_request(row, event, member)


def _lock(offer_id: int) -> None:
    """Take the offer's row lock for this transaction (PostgreSQL; a no-op on SQLite)."""
    db.session.execute(select(CarpoolOffer.id).where(CarpoolOffer.id == offer_id).with_for_update())


def _drop_offer(offer: CarpoolOffer, event: Event, driver: Member) -> None:
    _lock(offer.id)
    # The riders as they are now, under the lock: a match may have come in since the read.
    unmatched = list(
        db.session.scalars(
            sql_update(CarpoolRequest)
            .where(CarpoolRequest.offer_id == offer.id)
            .values(offer_id=None, matched_at=None)
            .returning(CarpoolRequest.member_id)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.execute(
        sql_delete(CarpoolOffer)
        .where(CarpoolOffer.id == offer.id)
        .execution_options(synchronize_session=False)
    )
    db.session.expunge(offer)
    if not is_open(event):
        return  # nobody needs to hear about a ride to an event that is over or off
    for rider_id in unmatched:
        rider = db.session.get(Member, rider_id)
        if rider is None or not rider.is_active:
            continue
        carpool_mail.tell_ride_off(event, rider, driver)


def _drop_request(request: CarpoolRequest, event: Event, rider: Member) -> None:
    driver_id = None
    # Which driver they had, as it is now: an organiser may have unmatched them meanwhile.
    offer_id = db.session.scalar(
        sql_delete(CarpoolRequest)
        .where(CarpoolRequest.id == request.id)
        .returning(CarpoolRequest.offer_id)
        .execution_options(synchronize_session=False)
    )
    db.session.expunge(request)
    if offer_id is not None:
        driver_id = db.session.scalar(
            select(CarpoolOffer.member_id).where(CarpoolOffer.id == offer_id)
        )
    driver = db.session.get(Member, driver_id) if driver_id is not None else None
    if driver is None or not driver.is_active or not is_open(event):
        return
    carpool_mail.tell_seat_free(event, rider, driver)


# Organisers: matching ----------------------------------------------------------------


def match(request: CarpoolRequest, offer: CarpoolOffer) -> CarpoolRequest:
    """Give a rider a seat in a driver's car and e-mail each the other's name and address."""
    if offer.event_id != request.event_id:
        raise Invalid.on("offer_id", gettext("That offer is for another event."))
    event = db.session.get(Event, request.event_id)
    _check_open(event)
    if offer.member_id == request.member_id:
        raise Invalid.on("offer_id", gettext("Nobody can be their own driver."))
    rider = db.session.get(Member, request.member_id)
    driver = db.session.get(Member, offer.member_id)
    if not (rider.is_active and driver.is_active):
        raise Conflict(gettext("Only active members can be matched."))
    if request.offer_id == offer.id:
        return request  # matching again changes nothing and sends nothing
    if request.offer_id is not None:
        raise Conflict(gettext("This rider already has a driver: unmatch them first."))
    _lock(offer.id)
    seats = select(CarpoolOffer.seats).where(CarpoolOffer.id == offer.id).scalar_subquery()
    taken = db.session.execute(
        sql_update(CarpoolRequest)
        .where(
            CarpoolRequest.id == request.id,
            CarpoolRequest.offer_id.is_(None),
            _riders(offer.id) < seats,  # no row when the offer has gone
        )
        .values(offer_id=offer.id, matched_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        db.session.rollback()
        _refuse_match(request, offer)
    carpool_mail.tell_matched(event, request, offer, rider, driver)
    commit()
    db.session.refresh(request)
    return request


def _refuse_match(request: CarpoolRequest, offer: CarpoolOffer) -> None:
    """Say why the conditional UPDATE matched nothing, as it stands after the rollback."""
    now = db.session.execute(
        select(CarpoolRequest.offer_id).where(CarpoolRequest.id == request.id)
    ).first()
    if now is None:
        raise NotFound(gettext("That ride request was withdrawn."))
    if now.offer_id is not None:
        raise Conflict(gettext("This rider already has a driver: unmatch them first."))
    if db.session.scalar(select(CarpoolOffer.id).where(CarpoolOffer.id == offer.id)) is None:
        raise NotFound(gettext("That offer was withdrawn."))
    raise Conflict(gettext("That car is full: no seats are left in it."))


def unmatch(request: CarpoolRequest) -> None:
    """Undo a match; the rider goes back to waiting, and both are told."""
    if request.offer_id is None:
        return
    offer_id = request.offer_id
    _lock(offer_id)
    undone = db.session.execute(
        sql_update(CarpoolRequest)
        .where(CarpoolRequest.id == request.id, CarpoolRequest.offer_id == offer_id)
        .values(offer_id=None, matched_at=None)
        .execution_options(synchronize_session=False)
    )
    if undone.rowcount == 1:
        event = db.session.get(Event, request.event_id)
        rider = db.session.get(Member, request.member_id)
        driver_id = db.session.scalar(
            select(CarpoolOffer.member_id).where(CarpoolOffer.id == offer_id)
        )
        driver = db.session.get(Member, driver_id) if driver_id is not None else None
        if is_open(event) and rider is not None and driver is not None:
            carpool_mail.tell_unmatched(event, rider, driver)
    commit()
    db.session.refresh(request)
