"""A member of this group answering a twinned group's event (this group is A): the events
they can answer, their RSVP sent there, changed or cancelled, and the twin's answer."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import and_, or_, select
from sqlalchemy import delete as sql_delete

from federation.urls import same_origin
from schemas import vocab

from ...extensions import db
from ...models import Delivery, Member, OutgoingRsvp, Peer, RemoteObject, Twinning, utcnow
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising.records import commit
from ..peering import follows, outbound
from ..peering.remote_objects import object_id_of
from .remote_rsvp import (
    CANCELLED,
    CONFIRMED,
    FULL,
    MAX_PARTY,
    NAME_MAX,
    PENDING,
    REFUSALS,
    REFUSED,
    RESPONSE_TYPES,
    SHARE_CHOICES,
    signed,
)


@dataclass(frozen=True)
class TwinEvent:
    """An event a twinned group published, as a member of this group sees it."""

    id: int  # the RemoteObject row's id: what this node's pages link to
    object_id: str
    peer: Peer
    title: str
    starts_at: datetime | None
    ends_at: datetime | None
    timezone: str
    place: str
    status: str
    capacity: int | None
    remaining: int | None
    url: str
    rsvp: OutgoingRsvp | None

    @property
    def is_over(self) -> bool:
        moment = self.ends_at or self.starts_at
        return moment is not None and moment < utcnow()

    @property
    def open(self) -> bool:
        return not self.is_over and self.status != "cancelled"


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _place(location: object) -> str:
    for place in location if isinstance(location, list) else [location]:
        if isinstance(place, dict) and isinstance(place.get("name"), str):
            return place["name"][:200]
    return ""


def _twin_event(stored: RemoteObject, rsvp: OutgoingRsvp | None) -> TwinEvent:
    try:
        data = json.loads(stored.data or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    url = data.get("url") if isinstance(data.get("url"), str) else stored.object_id
    zone = data.get("timezone") if isinstance(data.get("timezone"), str) else None
    return TwinEvent(
        id=stored.id,
        object_id=stored.object_id,
        peer=stored.peer,
        title=stored.title or "(untitled event)",
        starts_at=stored.starts_at,
        ends_at=stored.ends_at,
        timezone=zone if zone and len(zone) < 64 else "UTC",
        place=_place(data.get("location")),
        status=stored.status or "scheduled",
        capacity=_number(data.get("maximumAttendeeCapacity")),
        remaining=_number(data.get("remainingAttendeeCapacity")),
        url=url if url.startswith(("https://", "http://")) else stored.object_id,
        rsvp=rsvp,
    )


def _twin_events_query():
    return (
        select(RemoteObject)
        .join(Twinning, Twinning.peer_id == RemoteObject.peer_id)
        .where(
            Twinning.state == "active",
            RemoteObject.object_type == "Event",
            RemoteObject.deleted.is_(False),
        )
    )


def twin_events(member: Member | None, limit: int = 50) -> list[TwinEvent]:
    """List the twinned groups' upcoming events, soonest first, with the member's answers."""
    now = utcnow()
    still_on = or_(
        and_(RemoteObject.ends_at.is_not(None), RemoteObject.ends_at >= now),
        and_(RemoteObject.ends_at.is_(None), RemoteObject.starts_at >= now),
    )
    rows = list(
        db.session.scalars(
            _twin_events_query()
            .where(still_on)
            .order_by(RemoteObject.starts_at, RemoteObject.id)
            .limit(limit)
        )
    )
    answers: dict[str, OutgoingRsvp] = {}
    if member is not None and rows:
        query = select(OutgoingRsvp).where(
            OutgoingRsvp.member_id == member.id,
            OutgoingRsvp.event_object_id.in_([row.object_id for row in rows]),
        )
        answers = {rsvp.event_object_id: rsvp for rsvp in db.session.scalars(query)}
    return [_twin_event(row, answers.get(row.object_id)) for row in rows]


def twin_event(event_row_id: int, member: Member | None) -> TwinEvent:
    """Return one event of a twinned group (a 404 when it is not one)."""
    stored = db.session.scalar(_twin_events_query().where(RemoteObject.id == event_row_id))
    if stored is None:
        raise NotFound(gettext("No such event of a twinned group."))
    return _twin_event(stored, outgoing_of(member, stored.object_id))


def outgoing_of(member: Member | None, event_object_id: str) -> OutgoingRsvp | None:
    if member is None:
        return None
    return db.session.scalar(
        select(OutgoingRsvp).where(
            OutgoingRsvp.member_id == member.id, OutgoingRsvp.event_object_id == event_object_id
        )
    )


def _check_answer(response: str, party_size: object, share: str) -> int:
    if response not in RESPONSE_TYPES:
        raise Invalid.on(
            "response", gettext("Choose one of: %(join)s.", join=", ".join(vocab.RSVP_RESPONSES))
        )
    if isinstance(party_size, bool) or not isinstance(party_size, int):
        raise Invalid.on("party_size", gettext("Give a whole number."))
    if not 1 <= party_size <= MAX_PARTY:
        raise Invalid.on(
            "party_size", gettext("Give a number from 1 to %(max_party)s.", max_party=MAX_PARTY)
        )
    if share not in SHARE_CHOICES:
        raise Invalid.on("share", gettext("Choose what to share."))
    return party_size


def send(member: Member, event_row_id: int, response: str, party_size: int, share: str):
    """Answer a twinned group's event for ``member`` and send it there; return the RSVP.

    ``share`` is "name" (the member's display name and the count) or "count" (the count
    only: the twin sees "a member of" this group).
    """
    party_size = _check_answer(response, party_size, share)
    found = twin_event(event_row_id, member)
    if found.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if found.is_over:
        raise Conflict(gettext("This event is over."))
    share_name = share == "name"
    rsvp = found.rsvp
    if rsvp is not None and rsvp.state != CANCELLED:
        unchanged = (rsvp.response, rsvp.party_size, rsvp.share_name) == (
            response,
            party_size,
            share_name,
        )
        if unchanged and rsvp.state in (PENDING, CONFIRMED):
            return rsvp  # nothing new to tell the twin
        rsvp.revision += 1
        rsvp.activity_id = f"{rsvp.rsvp_id}/{rsvp.revision}"
    else:
        rsvp_id = f"{current_group().base_url}/rsvps/{secrets.token_urlsafe(18)}"
        if rsvp is None:
            rsvp = OutgoingRsvp(member_id=member.id, event_object_id=found.object_id)
            db.session.add(rsvp)
        rsvp.peer_id = found.peer.id
        rsvp.rsvp_id = rsvp.activity_id = rsvp_id
        rsvp.revision = 1
        rsvp.confirmed_response = rsvp.confirmed_party_size = None
    rsvp.response = response
    rsvp.party_size = party_size
    rsvp.share_name = share_name
    rsvp.state = PENDING
    rsvp.refusal = ""
    statement = _statement(rsvp, found.peer, member)
    if rsvp.revision == 1:
        activity = statement
    else:
        activity = {
            "id": rsvp.activity_id,
            "type": "Update",
            "actor": outbound.actor_id(),
            "object": statement,
            "to": [found.peer.actor_id],
        }
    follows.queue(found.peer, signed(activity))
    commit()
    return rsvp


def cancel(member: Member, event_row_id: int) -> OutgoingRsvp:
    """Cancel the member's RSVP to a twinned group's event, and tell the twin."""
    found = twin_event(event_row_id, member)
    rsvp = found.rsvp
    if rsvp is None or rsvp.state == CANCELLED:
        raise NotFound(gettext("You have not answered this event."))
    _queue_undo(rsvp, found.peer)
    commit()
    return rsvp


def _queue_undo(rsvp: OutgoingRsvp, peer: Peer) -> None:
    statement = _statement(rsvp, peer, None)
    undo = {
        "id": f"{rsvp.rsvp_id}/undo",
        "type": "Undo",
        "actor": outbound.actor_id(),
        "object": {key: statement[key] for key in ("id", "type", "actor", "object")},
        "to": [peer.actor_id],
    }
    rsvp.activity_id = undo["id"]
    rsvp.state = CANCELLED
    rsvp.refusal = ""
    follows.queue(peer, signed(undo))


def withdraw_all(member: Member) -> None:
    """Cancel a leaving member's answers to twins' events still to come, without committing.

    The deliveries that carried their answers (and so perhaps their name) go first, sent or
    not; then each twin whose event is still to come is sent an Undo, which names no one.
    A twin keeps what it recorded of events that are over, as this group keeps its count.
    """
    answers = list(
        db.session.scalars(select(OutgoingRsvp).where(OutgoingRsvp.member_id == member.id))
    )
    for rsvp in answers:
        # The RSVP's id is random and in every activity about it, so this finds only those.
        db.session.execute(
            sql_delete(Delivery)
            .where(Delivery.feed_entry_id.is_(None), Delivery.body.contains(rsvp.rsvp_id))
            .execution_options(synchronize_session=False)
        )
    for rsvp in answers:
        if rsvp.state == CANCELLED:
            continue
        stored = db.session.scalar(
            _twin_events_query().where(RemoteObject.object_id == rsvp.event_object_id)
        )
        if stored is not None and _twin_event(stored, rsvp).open:
            _queue_undo(rsvp, stored.peer)


def _statement(rsvp: OutgoingRsvp, peer: Peer, member: Member | None) -> dict[str, Any]:
    """The RSVP as the twin reads it: only what the member agreed to share."""
    statement = {
        "id": rsvp.rsvp_id,
        "type": RESPONSE_TYPES[rsvp.response],
        "actor": outbound.actor_id(),
        "object": rsvp.event_object_id,
        "to": [peer.actor_id],
        "partySize": rsvp.party_size,
        "revision": rsvp.revision,
    }
    if rsvp.share_name and member is not None:
        statement["attendeeName"] = member.display_name[:NAME_MAX]
    return statement


def receive_answer(peer: Peer, activity: dict[str, Any]) -> bool:
    """Record a twin's Accept or Reject of one of our members' RSVPs; say if it was one."""
    answered = object_id_of(activity.get("object"))
    if not answered or not same_origin(answered, outbound.actor_id()):
        return False
    rsvp = db.session.scalar(select(OutgoingRsvp).where(OutgoingRsvp.activity_id == answered))
    if rsvp is None:
        # An answer to an older revision (superseded since) is still ours to ignore.
        return answered.startswith(f"{current_group().base_url}/rsvps/")
    if rsvp.peer_id != peer.id:
        raise Forbidden(gettext("Only the event's own group can answer this RSVP."))
    if rsvp.state == CANCELLED:
        return True
    if activity["type"] == "Accept":
        rsvp.state = CONFIRMED
        rsvp.refusal = ""
        rsvp.confirmed_response = rsvp.response
        rsvp.confirmed_party_size = rsvp.party_size
        return True
    reason = activity.get("refusalReason")
    reason = reason if reason in REFUSALS else "closed"
    rsvp.refusal = reason
    if rsvp.confirmed_response is not None and reason == "full":
        # A change asking for more places: the twin kept what it had confirmed.
        rsvp.response = rsvp.confirmed_response
        rsvp.party_size = rsvp.confirmed_party_size or 1
        rsvp.state = CONFIRMED
    else:
        rsvp.state = FULL if reason == "full" else REFUSED
    return True
