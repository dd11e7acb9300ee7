"""Shifts inside an event: organisers set them up; members sign up, or join the waitlist."""

from __future__ import annotations

from typing import Any

from schemas import api as shapes
from schemas.common import PageArgs
from schemas.shifts import ShiftIn, ShiftOut, SignupOut

from ...models import Shift, ShiftSignup
from ...services.organising import events, shifts
from .access import PUBLIC, caller, operation, token, viewer
from .blueprint import bp
from .content import ID, WRITE
from .exchange import body, created, page_response, query_args

EVENT_SHIFTS = f"/events/<{ID}:item_id>/shifts"
ONE = f"/shifts/<{ID}:shift_id>"


def _shift(shift: Shift) -> dict[str, Any]:
    return {**ShiftOut().dump(shift), "places_left": shifts.places_left(shift)}


def _signup(signup: ShiftSignup) -> dict[str, Any]:
    return {**SignupOut().dump(signup), "position": shifts.waitlist_position(signup)}


@bp.get(EVENT_SHIFTS)
@operation(
    "List an event's shifts",
    PUBLIC,
    query=PageArgs,
    response=shapes.page_of(ShiftOut),
    description="Earliest first, with the places left in each. Visible to whoever may see "
    "the event.",
    errors=(404,),
)
def list_shifts(item_id: int):
    event = events.get(item_id, viewer())
    args = query_args(PageArgs())
    found = shifts.listing(event, **args)
    document = page_response(found, ShiftOut())
    for item, shift in zip(document["items"], found.items, strict=True):
        item["places_left"] = shifts.places_left(shift)
    return document


@bp.post(EVENT_SHIFTS)
@operation(
    "Add a shift to an event",
    WRITE,
    body=ShiftIn,
    response=ShiftOut,
    status=201,
    description="A start or end without a UTC offset is read in the event's time zone. A "
    "shift lasts at most 24 hours and lies within the event (within a day of its start when "
    "it has no end). The Location header names the new shift.",
    errors=(404, 409),
)
def create_shift(item_id: int):
    event = events.get(item_id, caller())
    data = body(ShiftIn())
    shift = shifts.create(event, data)
    return created(_shift(shift), "api.get_shift", shift_id=shift.id)


@bp.get(ONE)
@operation(
    "Get one shift",
    PUBLIC,
    response=ShiftOut,
    description="Visible to whoever may see the event.",
    errors=(404,),
)
def get_shift(shift_id: int):
    return _shift(shifts.get(shift_id, viewer()))


@bp.patch(ONE)
@operation(
    "Change a shift",
    WRITE,
    body=ShiftIn,
    response=ShiftOut,
    description="Send only the fields to change. A capacity below the number already going "
    "answers 400; a higher one (or none) moves the waitlist up, and those promoted are "
    "e-mailed.",
    errors=(404,),
)
def update_shift(shift_id: int):
    shift = shifts.get(shift_id, caller())
    data = body(ShiftIn(), partial=True)
    return _shift(shifts.update(shift, data))


@bp.delete(ONE)
@operation("Delete a shift and its sign-ups", WRITE, status=204, errors=(404,))
def delete_shift(shift_id: int):
    shifts.delete(shifts.get(shift_id, caller()))
    return "", 204


@bp.put(f"{ONE}/signup")
@operation(
    "Sign up for a shift, or join its waitlist",
    token("rsvp"),
    response=SignupOut,
    description="Signs up the token's own member: `going` while there is room, otherwise "
    "`waitlisted` with a `position` (1 is next). When a place comes free the first on the "
    "waitlist is promoted and e-mailed. Signing up again changes nothing. A cancelled "
    "event or a shift that is over answers 409.",
    errors=(404, 409),
)
def sign_up(shift_id: int):
    member = caller()
    return _signup(shifts.sign_up(shifts.get(shift_id, member), member))


@bp.delete(f"{ONE}/signup")
@operation(
    "Cancel your sign-up for a shift",
    token("rsvp"),
    status=204,
    description="A place freed goes to the first on the waitlist. Answers 204 even if you "
    "had not signed up.",
    errors=(404,),
)
def withdraw(shift_id: int):
    member = caller()
    shifts.withdraw(shifts.get(shift_id, member), member)
    return "", 204
