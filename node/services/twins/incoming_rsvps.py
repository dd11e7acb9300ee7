"""Members of a twinned group answering this group's events (this group is B): places held
or turned down, changes and cancellations, and what organisers see of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from federation.urls import same_origin
from schemas.common import CONTROL_CHARS

from ...extensions import db
from ...models import Event, Peer, RemoteRsvp, Twinning
from ..errors import Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising import events
from ..peering import follows, outbound
from ..peering.remote_objects import object_id_of
from .remote_rsvp import CANCELLED, HELD, MAX_PARTY, NAME_MAX, REFUSED, TYPE_RESPONSES, signed


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
    follows.queue(peer, signed(activity))


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
