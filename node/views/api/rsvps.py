"""Answering an event's invitation, and (for organisers) seeing who answered."""

from __future__ import annotations

from schemas import api as shapes
from schemas.content import RsvpIn, RsvpOut, WaitlistOut

from ...services.organising import events, waitlist
from .access import caller, operation, token
from .blueprint import bp
from .content import ID
from .exchange import body, page_response, query_args

EVENT_RSVP = f"/events/<{ID}:item_id>/rsvp"
EVENT_WAITLIST = f"/events/<{ID}:item_id>/waitlist"


@bp.put(EVENT_RSVP)
@operation(
    "Answer an event: going, maybe or not going",
    token("rsvp"),
    body=RsvpIn,
    response=RsvpOut,
    description="Answers for the token's own member. Saying going takes a place; an event "
    "at capacity answers 409 and nothing changes. Members-only events can be answered with "
    "scope `rsvp` alone: answering is something only members do.",
    errors=(404, 409),
)
def answer_event(item_id: int):
    member = caller()
    event = events.get(item_id, member)
    data = body(RsvpIn())
    return RsvpOut().dump(events.respond(event, member, data["response"]))


@bp.delete(EVENT_RSVP)
@operation(
    "Withdraw your answer to an event",
    token("rsvp"),
    status=204,
    description="Frees your place if you were going. Answers 204 even if you had not answered.",
    errors=(404,),
)
def withdraw_answer(item_id: int):
    member = caller()
    events.withdraw(events.get(item_id, member), member)
    return "", 204


@bp.get(f"/events/<{ID}:item_id>/rsvps")
@operation(
    "List who answered an event",
    token("members", "organiser"),
    query=shapes.RsvpQuery,
    response=shapes.page_of(shapes.RsvpItem),
    description="For organisers, with scope `members`: it names members, which is personal "
    "data, so it needs the same scope as the member list rather than `write`.",
    errors=(404,),
)
def list_answers(item_id: int):
    event = events.get(item_id, caller())
    args = query_args(shapes.RsvpQuery())
    found = events.responses_listing(event, **args)
    return page_response(found, shapes.RsvpItem())


def _waitlist_state(event, member) -> dict:
    return WaitlistOut().dump(
        {
            "event_id": event.id,
            "full": waitlist.is_full(event),
            "waiting": waitlist.length(event),
            "position": waitlist.position(event, member=member),
        }
    )


@bp.get(EVENT_WAITLIST)
@operation(
    "Your place on an event's waiting list",
    token("rsvp"),
    response=WaitlistOut,
    description="Whether the event is full, how many wait, and where you stand (null when "
    "you are not waiting). Only events with a capacity and no shifts' own lists have one.",
    errors=(404,),
)
def waitlist_state(item_id: int):
    member = caller()
    return _waitlist_state(events.get(item_id, member), member)


@bp.put(EVENT_WAITLIST)
@operation(
    "Join a full event's waiting list",
    token("rsvp"),
    response=WaitlistOut,
    description="Only while the event is full: with a place left, answer going instead "
    "(409). Joining again keeps your place. When a place frees, the first waiting is made "
    "going and e-mailed.",
    errors=(404, 409),
)
def join_waitlist(item_id: int):
    member = caller()
    event = events.get(item_id, member)
    waitlist.join(event, member)
    return _waitlist_state(event, member)


@bp.delete(EVENT_WAITLIST)
@operation(
    "Leave an event's waiting list",
    token("rsvp"),
    status=204,
    description="Answers 204 even if you were not waiting.",
    errors=(404,),
)
def leave_waitlist(item_id: int):
    member = caller()
    waitlist.withdraw(events.get(item_id, member), member)
    return "", 204
