"""Answering an event's invitation, and (for organisers) seeing who answered."""

from __future__ import annotations

from schemas import api as shapes
from schemas.content import RsvpIn, RsvpOut

from ...services.organising import events
from .access import caller, operation, token
from .blueprint import bp
from .content import ID
from .exchange import body, page_response, query_args

EVENT_RSVP = f"/events/<{ID}:item_id>/rsvp"


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
