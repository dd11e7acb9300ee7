"""RSVPs across twinned groups: a member of this group answering a twin's event, and
members of a twin answering ours.

On the wire (signed like follows, sent through the delivery queue, never on the feed: it
is personal data):

- going is a ``Join`` of the Event (as Mobilizon and Pleroma send it), maybe a
  ``TentativeAccept`` and not going a ``Reject`` of it; the activity's id is the RSVP's
  opaque id, minted here from random bytes, and it carries ``partySize`` (1–10),
  ``revision`` (1) and, only when the member chose to share it, ``attendeeName``;
- a change is an ``Update`` whose object restates the RSVP (same id, next revision);
- a cancellation is an ``Undo`` of the RSVP.

The event's group answers ``Accept`` (its places are held) or ``Reject`` with
``refusalReason`` "full" or "closed" (cancelled or over) of the activity it decided on.
Nothing else about the member leaves this node: no e-mail, no member id, no account URL.

Places are taken with the same conditional UPDATE that members' own RSVPs use
(``events.take_places``), so a twin's RSVP and a member racing for the last place cannot
both get it. A change that asks for more places than are left is turned down and the
places held before are kept.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy import delete as sql_delete

from federation.feed import entry_context
from federation.proofs import sign_object
from federation.urls import same_origin
from schemas import vocab
from schemas.common import CONTROL_CHARS

from ...extensions import db
from ...keys import node_keys
from ...models import (
    Delivery,
    Event,
    Member,
    OutgoingRsvp,
    Peer,
    RemoteObject,
    RemoteRsvp,
    Twinning,
    utcnow,
)
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising import events
from ..organising.records import commit
from ..peering import follows, outbound
from ..peering.remote_objects import object_id_of

RESPONSE_TYPES = {"going": "Join", "maybe": "TentativeAccept", "not_going": "Reject"}
TYPE_RESPONSES = {kind: response for response, kind in RESPONSE_TYPES.items()}
MAX_PARTY = 10
NAME_MAX = 80
SHARE_CHOICES = ("name", "count")
REFUSALS = ("full", "closed")

# OutgoingRsvp states
PENDING = "pending"
CONFIRMED = "confirmed"
FULL = "full"
REFUSED = "refused"
CANCELLED = "cancelled"
# RemoteRsvp states
HELD = "held"


# A member's answers to twins' events (this group is A) ---------------------------------


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
        raise NotFound("No such event of a twinned group.")
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
        raise Invalid.on("response", f"Choose one of: {', '.join(vocab.RSVP_RESPONSES)}.")
    if isinstance(party_size, bool) or not isinstance(party_size, int):
        raise Invalid.on("party_size", "Give a whole number.")
    if not 1 <= party_size <= MAX_PARTY:
        raise Invalid.on("party_size", f"Give a number from 1 to {MAX_PARTY}.")
    if share not in SHARE_CHOICES:
        raise Invalid.on("share", "Choose what to share.")
    return party_size


def send(member: Member, event_row_id: int, response: str, party_size: int, share: str):
    """Answer a twinned group's event for ``member`` and send it there; return the RSVP.

    ``share`` is "name" (the member's display name and the count) or "count" (the count
    only: the twin sees "a member of" this group).
    """
    party_size = _check_answer(response, party_size, share)
    found = twin_event(event_row_id, member)
    if found.status == "cancelled":
        raise Conflict("This event is cancelled.")
    if found.is_over:
        raise Conflict("This event is over.")
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
    follows.queue(found.peer, _signed(activity))
    commit()
    return rsvp


def cancel(member: Member, event_row_id: int) -> OutgoingRsvp:
    """Cancel the member's RSVP to a twinned group's event, and tell the twin."""
    found = twin_event(event_row_id, member)
    rsvp = found.rsvp
    if rsvp is None or rsvp.state == CANCELLED:
        raise NotFound("You have not answered this event.")
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
    follows.queue(peer, _signed(undo))


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


def _signed(activity: dict[str, Any]) -> dict[str, Any]:
    document = {"@context": entry_context(), **activity}
    return sign_object(document, node_keys().proof, outbound.proof_key_id(), utcnow())


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
        raise Forbidden("Only the event's own group can answer this RSVP.")
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


# Members of twins answering our events (this group is B) -------------------------------


def _our_event_id(value: object) -> int | None:
    """Return the id of the event of ours an object id names, or None."""
    found = object_id_of(value)
    prefix = f"{current_group().base_url}/events/"
    if not found or not found.startswith(prefix):
        return None
    rest = found[len(prefix) :]
    if not (rest.isascii() and rest.isdigit()) or len(rest) > 9:
        return None
    return int(rest)


def _event_for(peer: Peer, value: object) -> Event:
    event_id = _our_event_id(value)
    event = db.session.get(Event, event_id) if event_id is not None else None
    if event is None or event.visibility != "public":
        raise NotFound("No such event.")
    twin = db.session.scalar(select(Twinning).where(Twinning.peer_id == peer.id))
    if twin is None or twin.state != "active":
        raise Forbidden("Only twinned groups may send RSVPs to this group's events.")
    return event


def _read_statement(statement: dict[str, Any]) -> tuple[str, int, str | None, int]:
    """Read response, party size, shared name and revision; a 400 naming the field."""
    response = TYPE_RESPONSES[statement["type"]]
    party = statement.get("partySize", 1)
    if isinstance(party, bool) or not isinstance(party, int) or not 1 <= party <= MAX_PARTY:
        raise Invalid(f"partySize must be a whole number from 1 to {MAX_PARTY}.")
    name = statement.get("attendeeName")
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
            raise Invalid(f"attendeeName must be text of 1 to {NAME_MAX} characters.")
        if CONTROL_CHARS.search(name):
            raise Invalid("attendeeName must not contain control characters.")
        name = name.strip()
    revision = statement.get("revision", 1)
    if isinstance(revision, bool) or not isinstance(revision, int) or not 1 <= revision < 2**31:
        raise Invalid("revision must be a positive whole number.")
    return response, party, name, revision


def receive_rsvp(peer: Peer, activity: dict[str, Any]) -> bool:
    """Apply a Join, TentativeAccept or Reject of one of our events; say if it was one."""
    if activity.get("type") not in TYPE_RESPONSES or _our_event_id(activity.get("object")) is None:
        return False
    event = _event_for(peer, activity.get("object"))
    _apply(peer, event, activity["id"], activity["id"], activity)
    return True


def receive_update(peer: Peer, activity: dict[str, Any]) -> bool:
    """Apply an Update that restates an RSVP to one of our events; say if it was one."""
    statement = activity.get("object")
    if not isinstance(statement, dict) or statement.get("type") not in TYPE_RESPONSES:
        return False
    if _our_event_id(statement.get("object")) is None:
        return False
    rsvp_id = statement.get("id")
    if not isinstance(rsvp_id, str) or not same_origin(rsvp_id, peer.actor_id):
        raise Invalid("The RSVP's id is not on the sender's server.")
    event = _event_for(peer, statement.get("object"))
    _apply(peer, event, rsvp_id, activity["id"], statement)
    return True


def _apply(
    peer: Peer, event: Event, rsvp_id: str, activity_id: str, statement: dict[str, Any]
) -> None:
    response, party, name, revision = _read_statement(statement)
    rsvp = db.session.scalar(select(RemoteRsvp).where(RemoteRsvp.rsvp_id == rsvp_id))
    if rsvp is not None:
        if rsvp.peer_id != peer.id:
            raise Forbidden("That RSVP belongs to another group.")
        if rsvp.event_id != event.id:
            raise Invalid("An RSVP cannot move to another event.")
        if rsvp.state == CANCELLED or revision <= rsvp.revision:
            return  # cancelled since, or older than what we hold
    else:
        # Turned down until places are taken; complete before anything flushes it.
        rsvp = RemoteRsvp(
            event_id=event.id, peer_id=peer.id, rsvp_id=rsvp_id, places=0, state=REFUSED
        )
        _describe(rsvp, response, party, name)
        rsvp.activity_id = activity_id
        db.session.add(rsvp)
    rsvp.revision = revision
    rsvp.activity_id = activity_id
    answered = {"id": activity_id, "type": statement["type"], "actor": peer.actor_id}
    answered["object"] = object_id_of(statement.get("object"))
    if event.status == "cancelled" or events.is_over(event):
        _tell(peer, "Reject", answered, "closed")
        if rsvp.state != HELD:
            _describe(rsvp, response, party, name)
        return
    wanted = party if response == "going" else 0
    held = rsvp.places if rsvp.state == HELD else 0
    if wanted > held and not events.take_places(event.id, wanted - held):
        _tell(peer, "Reject", answered, "full")
        if rsvp.state != HELD:  # a first answer turned down; a change keeps what it had
            _describe(rsvp, response, party, name)
        return
    if wanted < held:
        events.free_places(event.id, held - wanted)
    _describe(rsvp, response, party, name)
    rsvp.places = wanted
    rsvp.state = HELD
    _tell(peer, "Accept", answered, None)


def _describe(rsvp: RemoteRsvp, response: str, party: int, name: str | None) -> None:
    rsvp.response = response
    rsvp.party_size = party
    rsvp.shared_name = name


def _tell(peer: Peer, kind: str, answered: dict[str, Any], reason: str | None) -> None:
    activity: dict[str, Any] = {
        "id": follows.new_activity_id(),
        "type": kind,
        "actor": outbound.actor_id(),
        "object": answered,
        "to": [peer.actor_id],
    }
    if reason:
        activity["refusalReason"] = reason
    follows.queue(peer, _signed(activity))


def receive_undo(peer: Peer, activity: dict[str, Any]) -> bool:
    """Cancel a twin's RSVP to one of our events, freeing its places; say if it was one."""
    obj = activity.get("object")
    rsvp_id = object_id_of(obj)
    if not rsvp_id:
        return False
    rsvp = db.session.scalar(select(RemoteRsvp).where(RemoteRsvp.rsvp_id == rsvp_id))
    if rsvp is None:
        # The Undo may overtake the RSVP it cancels: remember it, so the RSVP is ignored.
        if not isinstance(obj, dict) or obj.get("type") not in TYPE_RESPONSES:
            return False
        event_id = _our_event_id(obj.get("object"))
        if event_id is None or db.session.get(Event, event_id) is None:
            return False
        rsvp = RemoteRsvp(
            event_id=event_id,
            peer_id=peer.id,
            rsvp_id=rsvp_id,
            activity_id=activity["id"],
            response=TYPE_RESPONSES[obj["type"]],
            party_size=1,
            places=0,
            state=CANCELLED,
        )
        db.session.add(rsvp)
        return True
    if rsvp.peer_id != peer.id:
        raise Forbidden("That RSVP belongs to another group.")
    if rsvp.state == HELD and rsvp.places:
        events.free_places(rsvp.event_id, rsvp.places)
    rsvp.places = 0
    rsvp.state = CANCELLED
    rsvp.activity_id = activity["id"]
    return True


# What organisers see -------------------------------------------------------------------


@dataclass(frozen=True)
class TwinAttendance:
    """One twinned group's answers to one of our events: numbers, and names shared."""

    peer: Peer
    going: int
    maybe: int
    not_going: int
    rsvps: list[RemoteRsvp]


def attendance(event: Event) -> list[TwinAttendance]:
    """Count the answers each twinned group's members sent for ``event`` (held ones)."""
    rows = list(
        db.session.scalars(
            select(RemoteRsvp)
            .where(RemoteRsvp.event_id == event.id, RemoteRsvp.state == HELD)
            .order_by(RemoteRsvp.peer_id, RemoteRsvp.response, RemoteRsvp.created_at)
        )
    )
    by_peer: dict[int, list[RemoteRsvp]] = {}
    for rsvp in rows:
        by_peer.setdefault(rsvp.peer_id, []).append(rsvp)
    found = []
    for group_rows in by_peer.values():
        totals = {"going": 0, "maybe": 0, "not_going": 0}
        for rsvp in group_rows:
            totals[rsvp.response] = totals.get(rsvp.response, 0) + rsvp.party_size
        found.append(TwinAttendance(group_rows[0].peer, rsvps=group_rows, **totals))
    return sorted(found, key=lambda item: (item.peer.name or item.peer.actor_id).lower())
