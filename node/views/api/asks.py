"""Asks across the network as JSON: the asks this group received (pass on, decline), and
the asks it published with the counts groups answered. Organisers' business: scope write."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from schemas.asks import AskIn, InboundAskOut, OutboundAskOut

from ...services.asks import published, received
from .access import caller, operation
from .blueprint import bp
from .content import ID, WRITE
from .exchange import body, created

ONE_RECEIVED = f"/asks/received/<{ID}:ask_id>"


class InboundAskList(Schema):
    items = fields.List(fields.Nested(InboundAskOut))


class OutboundAskList(Schema):
    items = fields.List(fields.Nested(OutboundAskOut))


class PassedOnOut(Schema):
    ask = fields.Nested(InboundAskOut)
    announcement_id = fields.Integer()
    announcement_url = fields.String()


def _inbound(ask) -> dict[str, Any]:
    document = InboundAskOut().dump(ask)
    document["asked_by"] = received.asker_name(ask)
    document["asker"] = ask.peer.actor_id
    return document


def _outbound(sent: published.SentAsk) -> dict[str, Any]:
    document = OutboundAskOut().dump(sent.ask)
    document.update(
        groups_passed_on=sent.groups_passed_on,
        members_reached=sent.members_reached,
        groups_declined=sent.groups_declined,
        replies=[
            {
                "group": reply.group,
                "outcome": reply.outcome,
                "members": reply.members,
                "received_at": reply.received_at.isoformat(),
            }
            for reply in sent.replies
        ],
    )
    return document


@bp.get("/asks/received")
@operation(
    "List the asks received from the network",
    WRITE,
    response=InboundAskList,
    description="Asks from groups this group follows that concern it (inside the ask's area, "
    "or asked of all followers): new and seen first, then passed on and declined.",
)
def list_received_asks():
    return {"items": [_inbound(ask) for ask in received.queue()]}


@bp.get(ONE_RECEIVED)
@operation("Get one ask received", WRITE, response=InboundAskOut, errors=(404,))
def get_received_ask(ask_id: int):
    return _inbound(received.get(ask_id))


@bp.post(f"{ONE_RECEIVED}/pass-on")
@operation(
    "Pass an ask on to this group's members",
    WRITE,
    response=PassedOnOut,
    status=201,
    description="Makes a draft announcement to all members, attributed to the asker, for the "
    "organisers to edit and send. When it is sent the asker is told how many it went to "
    "(a count only).",
    errors=(404, 409),
)
def pass_on_ask(ask_id: int):
    ask = received.get(ask_id)
    announcement = received.pass_on(ask, by=caller())
    document = {
        "ask": _inbound(ask),
        "announcement_id": announcement.id,
        "announcement_url": f"/manage/messages/{announcement.id}",
    }
    return document, 201


@bp.post(f"{ONE_RECEIVED}/decline")
@operation(
    "Decline an ask",
    WRITE,
    response=InboundAskOut,
    description="The asker is told it was declined (no reason, no names).",
    errors=(404, 409),
)
def decline_ask(ask_id: int):
    return _inbound(received.decline(received.get(ask_id), by=caller()))


@bp.get("/asks/sent")
@operation(
    "List the asks this group published, with the counts",
    WRITE,
    response=OutboundAskList,
    description="Per ask: how many groups passed it on, to how many members in total, how "
    "many declined, and each answering group's public name with its count.",
)
def list_sent_asks():
    return {"items": [_outbound(sent) for sent in published.sent()]}


@bp.post("/asks/sent")
@operation(
    "Publish an ask to the network",
    WRITE,
    body=AskIn,
    response=OutboundAskOut,
    status=201,
    description="Appended to this group's signed feed as an Offer of an Ask: groups that "
    "follow this one receive it, and keep it if they lie within `radius_km` of the place "
    "(`postcode` district, or `latitude` and `longitude`) or `reach` is `followers`.",
    errors=(409,),
)
def create_ask():
    ask = published.publish(body(AskIn()), by=caller())
    return created(_outbound(published.sent_one(ask.id)), "api.get_sent_ask", ask_id=ask.id)


@bp.get(f"/asks/sent/<{ID}:ask_id>")
@operation(
    "Get one ask this group published, with the counts",
    WRITE,
    response=OutboundAskOut,
    errors=(404,),
)
def get_sent_ask(ask_id: int):
    return _outbound(published.sent_one(ask_id))
