"""The asker's side: publish an ask on this group's feed and keep the counts groups answer.

An ask is an entry of this group's own signed feed, so it reaches followers the way every
entry does (pushed, and pulled when a push fails). Each group that passes it on or declines
it answers with a signed ``Accept`` (carrying how many members it was sent to) or
``Reject``; ``receive_answer`` is the inbox's way in for those, after the inbox has checked
the HTTP signature and that the activity comes from the actor's own server. Only a group
that follows this one may answer, and only an ask of this group; the latest answer per ask
and group is kept. Counts only: no name or address ever comes back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from federation.urls import same_origin

from ...activitypub import asks as ask_documents
from ...extensions import db
from ...models import AskReply, Follower, Member, OutboundAsk, Peer
from ...models.types import utcnow, utcnow_whole_seconds
from .. import feed, geo
from ..errors import Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising.records import commit

PASSED_ON = "passed_on"
DECLINED = "declined"
MAX_MEMBERS = 10_000_000  # more than any group has: a larger count is refused as nonsense


def publish(data: dict[str, Any], *, by: Member | None = None) -> OutboundAsk:
    """Publish an ask (fields as ``schemas.asks.AskIn`` loads them) on the feed and commit."""
    group = current_group()
    if group is None:
        raise Invalid(gettext("Set the group up first."))
    ask = OutboundAsk(
        subject=data["subject"],
        body=data.get("body") or "",
        when_text=data.get("when") or "",
        where_text=data.get("where") or "",
        all_followers=data.get("reach") == ask_documents.FOLLOWERS,
        area_name=data.get("area_name") or "",
        respond_by=data.get("respond_by"),
        object_id=f"{group.base_url}/asks/{uuid.uuid4()}",
        created_by_id=by.id if by is not None else None,
    )
    if not ask.all_followers:
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if data.get("postcode"):
            district = geo.find_district(data["postcode"])
            if district is None:
                raise Invalid.on("postcode", gettext("Not a postcode district this node knows."))
            latitude, longitude = district.latitude, district.longitude
            ask.area_name = ask.area_name or district.district
        ask.latitude, ask.longitude, ask.radius_km = latitude, longitude, data["radius_km"]
    now = utcnow_whole_seconds()
    document = ask_documents.ask_document(group, ask, now)
    entry = feed.append_exclusive(ask_documents.offer(group, document, now))
    ask.offer_activity_id = entry.activity_id
    ask.created_at = now
    db.session.add(ask)
    commit()
    return ask


def get(ask_id: int) -> OutboundAsk:
    """Return one ask this group published (a 404 when there is none)."""
    found = db.session.get(OutboundAsk, ask_id)
    if found is None:
        raise NotFound(gettext("No such ask."))
    return found


@dataclass(frozen=True)
class Answered:
    """One group's latest answer to an ask: its public name and a count."""

    group: str
    outcome: str
    members: int
    received_at: datetime


@dataclass(frozen=True)
class SentAsk:
    """An ask this group published, with what the groups that answered reported."""

    ask: OutboundAsk
    replies: list[Answered]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ask, name)

    @property
    def groups_passed_on(self) -> int:
        return sum(1 for reply in self.replies if reply.outcome == PASSED_ON)

    @property
    def members_reached(self) -> int:
        return sum(reply.members for reply in self.replies if reply.outcome == PASSED_ON)

    @property
    def groups_declined(self) -> int:
        return sum(1 for reply in self.replies if reply.outcome == DECLINED)


def _sent(ask: OutboundAsk) -> SentAsk:
    replies = [
        Answered(
            reply.peer.name or reply.peer.handle or reply.peer.actor_id,
            reply.outcome,
            reply.members,
            reply.received_at,
        )
        for reply in ask.replies
    ]
    return SentAsk(ask, sorted(replies, key=lambda reply: reply.group.lower()))


def sent(limit: int = 100) -> list[SentAsk]:
    """List the asks this group published, newest first, each with its answers."""
    found = db.session.scalars(
        select(OutboundAsk)
        .order_by(OutboundAsk.created_at.desc(), OutboundAsk.id.desc())
        .limit(limit)
    )
    return [_sent(ask) for ask in found]


def sent_one(ask_id: int) -> SentAsk:
    """Return one published ask with its answers."""
    return _sent(get(ask_id))


# What the inbox hands over ------------------------------------------------------------


def _object_id(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def receive_answer(peer: Peer, activity: dict[str, Any]) -> bool:
    """Store a group's answer to one of this group's asks; say whether it was one.

    Raise a ServiceError (the inbox answers with its status) for an answer that claims to
    be one but does not hold: about an ask that is not this group's, from a group that
    does not follow this one, or with a count that is not a count.
    """
    result = activity.get("result")
    claims = isinstance(result, dict) and result.get("type") == ask_documents.OUTCOME_TYPE
    offer_id = _object_id(activity.get("object"))
    group = current_group()
    ask = None
    if offer_id and group is not None and same_origin(offer_id, group.base_url):
        ask = db.session.scalar(
            select(OutboundAsk).where(OutboundAsk.offer_activity_id == offer_id)
        )
    if ask is None:
        if claims:
            raise Forbidden(gettext("That answers no ask of this group."))
        return False
    follower = db.session.scalar(select(Follower).where(Follower.peer_id == peer.id))
    if follower is None or follower.state != feed.ACCEPTED:
        raise Forbidden(gettext("Only a group that follows this one can answer its asks."))
    members = 0
    if activity["type"] == "Accept":
        count = result.get("reachedCount") if isinstance(result, dict) else None
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_MEMBERS:
            raise Invalid.on(
                "result.reachedCount", gettext("Give how many members, as a whole number.")
            )
        members = count
    reply = db.session.scalar(
        select(AskReply).where(AskReply.ask_id == ask.id, AskReply.peer_id == peer.id)
    )
    if reply is None:
        reply = AskReply(ask_id=ask.id, peer_id=peer.id)
        db.session.add(reply)
    reply.outcome = PASSED_ON if activity["type"] == "Accept" else DECLINED
    reply.members = members
    reply.activity_id = activity["id"][:2000]
    reply.received_at = utcnow()
    return True
