"""Twinning: one group proposes to pair with another, the other accepts or declines.

Every step is a signed entry of the acting group's own feed, addressed to the other group
and delivered to its inbox as well as to the followers:

- the proposal is an ``Offer`` (``target``: the other group) of an ActivityStreams
  ``Relationship`` whose ``subject`` is the proposer, ``object`` the other group and
  ``relationship`` the IRI ``TWIN_RELATIONSHIP``;
- the answer is an ``Accept`` or ``Reject`` of that Offer;
- either side ends it (or withdraws a proposal) with an ``Undo`` of its own Offer or
  Accept.

Twinned groups follow each other (once a proposal is accepted, each asks to follow the
other if it does not yet), so each holds the other's events; members may then RSVP to them
(see ``remote_rsvp``).
``receive`` is the inbox's way in, for these and for the RSVPs between twins: the inbox has
checked the signature and that the activity comes from the actor's own server; here we check
that it concerns this group and comes from the group it names.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from html import escape, unescape
from typing import Any

from flask_babel import gettext
from sqlalchemy import select, update

from federation.feed import NAMESPACE
from federation.urls import same_origin
from schemas.common import CONTROL_CHARS

from ...activitypub import documents
from ...extensions import db
from ...models import Delivery, FeedEntry, Following, Member, Peer, SiteState, Twinning, utcnow
from ...models.types import utcnow_whole_seconds
from .. import feed
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..groups import current_group
from ..organising.records import commit
from ..peering import blocks, follows, outbound, peers
from ..peering.remote_objects import object_id_of
from . import incoming_rsvps, outgoing_rsvps

TWIN_RELATIONSHIP = f"{NAMESPACE}twinnedWith"
NOTE_MAX = 500
TAGS = re.compile(r"<[^>]*>")
TARGET_MAX = 2000

PROPOSED = "proposed"
INCOMING = "incoming"
ACTIVE = "active"
DECLINED = "declined"
ENDED = "ended"
WAITING = (PROPOSED, INCOMING)


# Reading ------------------------------------------------------------------------------


def listing() -> list[Twinning]:
    """List every twinning this group has had, waiting and active ones first."""
    order = {INCOMING: 0, PROPOSED: 1, ACTIVE: 2, DECLINED: 3, ENDED: 4}
    found = list(db.session.scalars(select(Twinning).order_by(Twinning.updated_at.desc())))
    return sorted(found, key=lambda twin: order.get(twin.state, 9))


def get(twin_id: int) -> Twinning:
    """Return one twinning by its id (a 404 when there is none)."""
    found = db.session.get(Twinning, twin_id)
    if found is None:
        raise NotFound(gettext("No such twinning."))
    return found


def find(target: str) -> Twinning:
    """Return the twinning named by its id, the group's handle or its actor URL."""
    text = (target or "").strip()
    if text.isdigit():
        return get(int(text))
    handle = text.removeprefix("acct:").removeprefix("@")
    found = db.session.scalar(
        select(Twinning)
        .join(Peer, Twinning.peer_id == Peer.id)
        .where((Peer.actor_id == text) | (Peer.handle == handle) | (Peer.url == text))
    )
    if found is None:
        raise NotFound(gettext("This group has no twinning with %(text)s.", text=text))
    return found


def of_peer(peer: Peer) -> Twinning | None:
    return db.session.scalar(select(Twinning).where(Twinning.peer_id == peer.id))


def is_twinned(peer: Peer) -> bool:
    """Tell whether this group is twinned with ``peer`` now."""
    twin = of_peer(peer)
    return twin is not None and twin.state == ACTIVE


def twinned_peers() -> list[Peer]:
    """List the groups this group is twinned with, by name."""
    query = (
        select(Peer)
        .join(Twinning, Twinning.peer_id == Peer.id)
        .where(Twinning.state == ACTIVE)
        .order_by(Peer.name, Peer.id)
    )
    return list(db.session.scalars(query))


def candidates() -> list[Peer]:
    """List the Branchline groups this group follows and could propose twinning to."""
    busy = select(Twinning.peer_id).where(Twinning.state.in_((PROPOSED, INCOMING, ACTIVE)))
    query = (
        select(Peer)
        .join(Following, Following.peer_id == Peer.id)
        .where(
            Following.state == follows.ACCEPTED,
            Peer.is_branchline.is_(True),
            Peer.actor_type == "Group",
            Peer.id.not_in(busy),
        )
        .order_by(Peer.name, Peer.id)
    )
    return list(db.session.scalars(query))


# What organisers do -------------------------------------------------------------------


def _clean_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid.on(
            "note", gettext("Keep the note to %(note_max)s characters.", note_max=NOTE_MAX)
        )
    if CONTROL_CHARS.search(note):
        raise Invalid.on("note", gettext("Must not contain control characters."))
    return note


def propose(target: str, note: str = "", *, by: Member | None = None) -> Twinning:
    """Propose twinning to the group at ``target`` (handle or actor URL) and tell it."""
    text = (target or "").strip()
    if not text:
        raise Invalid.on("target", gettext("Give the group's handle or actor URL."))
    if len(text) > TARGET_MAX:
        raise Invalid.on("target", gettext("That is too long for a handle or URL."))
    note = _clean_note(note)
    blocks.refuse_blocked(text)
    peer = peers.resolve(text)  # a PeerError names the target field
    if not peer.is_branchline or peer.actor_type != "Group":
        raise Invalid.on(
            "target", gettext("Only Branchline groups can twin: that actor publishes no feed.")
        )
    twin = of_peer(peer)
    if twin is not None and twin.state == ACTIVE:
        raise Conflict(
            gettext(
                "This group is already twinned with %(value)s.", value=peer.name or peer.actor_id
            )
        )
    if twin is not None and twin.state == PROPOSED:
        raise Conflict(
            gettext("This group has already proposed twinning to %(name)s.", name=peer.name)
        )
    if twin is not None and twin.state == INCOMING:
        raise Conflict(
            gettext(
                "%(value)s has already proposed: accept its proposal.",
                value=peer.name or peer.actor_id,
            )
        )
    group = current_group()
    now = utcnow_whole_seconds()
    relationship = {
        "id": f"{group.base_url}/twins/{uuid.uuid4()}",
        "type": "Relationship",
        "subject": documents.actor_id(group),
        "relationship": TWIN_RELATIONSHIP,
        "object": peer.actor_id,
    }
    if note:
        relationship["summary"] = escape(note)
    activity = _addressed(documents.activity(group, "Offer", relationship, now), peer)
    activity["target"] = peer.actor_id
    entry = feed.append(activity)
    if twin is None:
        twin = Twinning(peer_id=peer.id)
    _reset(twin, PROPOSED, "outgoing", relationship["id"], entry.activity_id, note, now)
    db.session.add(twin)
    twin.proposed_by_id = by.id if by is not None else None
    # Only the Offer goes now: following waits for the answer. (The other group meets us
    # with this first delivery; a second one at the same moment would race it to store us.)
    _deliver_to(peer, entry)
    commit()
    return twin


def accept(twin: Twinning, *, by: Member | None = None) -> Twinning:
    """Accept a proposal made to this group: twin, and tell the proposer."""
    if twin.state != INCOMING:
        raise Conflict(gettext("Only a proposal waiting for this group's answer can be accepted."))
    _answer(twin, "Accept", by)
    twin.state = ACTIVE
    _ensure_following(twin.peer)
    _public_pages_changed()
    commit()
    return twin


def decline(twin: Twinning, *, by: Member | None = None) -> Twinning:
    """Turn down a proposal made to this group, and tell the proposer."""
    if twin.state != INCOMING:
        raise Conflict(gettext("Only a proposal waiting for this group's answer can be declined."))
    _answer(twin, "Reject", by)
    twin.state = DECLINED
    commit()
    return twin


def end(twin: Twinning, *, by: Member | None = None) -> Twinning:
    """End a twinning (or withdraw this group's proposal), and tell the other group."""
    if twin.state == INCOMING:
        raise Conflict(gettext("Decline the proposal instead."))
    if twin.state not in (PROPOSED, ACTIVE):
        raise Conflict(gettext("This twinning is not active."))
    # Undo what this group itself said: its Offer if it proposed, else its Accept.
    if twin.direction == "outgoing":
        own = {"id": twin.offer_activity_id, "type": "Offer", "object": twin.relationship_id}
    else:
        own = {"id": twin.answer_activity_id, "type": "Accept", "object": twin.offer_activity_id}
    group = current_group()
    now = utcnow_whole_seconds()
    own["actor"] = documents.actor_id(group)
    entry = feed.append(_addressed(documents.activity(group, "Undo", own, now), twin.peer))
    _deliver_to(twin.peer, entry)
    if twin.state == ACTIVE:
        _public_pages_changed()
    twin.state = ENDED
    twin.end_activity_id = entry.activity_id
    twin.ended_at = now
    if by is not None and twin.answered_by_id is None:
        twin.answered_by_id = by.id
    commit()
    return twin


def _answer(twin: Twinning, kind: str, by: Member | None) -> None:
    group = current_group()
    now = utcnow_whole_seconds()
    offer = {
        "id": twin.offer_activity_id,
        "type": "Offer",
        "actor": twin.peer.actor_id,
        "object": twin.relationship_id,
    }
    entry = feed.append(_addressed(documents.activity(group, kind, offer, now), twin.peer))
    twin.answer_activity_id = entry.activity_id
    twin.answered_at = now
    twin.answered_by_id = by.id if by is not None else None
    _deliver_to(twin.peer, entry)


def _reset(
    twin: Twinning,
    state: str,
    direction: str,
    relationship_id: str,
    offer_id: str,
    note: str,
    now: datetime,
) -> None:
    twin.state = state
    twin.direction = direction
    twin.relationship_id = relationship_id
    twin.offer_activity_id = offer_id
    twin.note = note
    twin.proposed_at = now
    twin.proposed_by_id = None
    twin.answer_activity_id = twin.end_activity_id = None
    twin.answered_at = twin.ended_at = None
    twin.answered_by_id = None


def _addressed(activity: dict[str, Any], peer: Peer) -> dict[str, Any]:
    """Address a public feed activity to ``peer`` as well."""
    activity["to"] = [documents.PUBLIC, peer.actor_id]
    return activity


def _deliver_to(peer: Peer, entry: FeedEntry) -> None:
    """Queue ``entry`` for ``peer``'s inbox too, unless it follows us and gets it anyway."""
    target = peer.shared_inbox or peer.inbox
    if not target:
        return
    queued = db.session.scalar(
        select(Delivery.id).where(Delivery.feed_entry_id == entry.id, Delivery.inbox == target)
    )
    if queued is None:
        db.session.add(
            Delivery(
                inbox=target,
                peer_id=peer.id,
                feed_entry_id=entry.id,
                state="pending",
                next_attempt_at=utcnow(),
            )
        )


def _ensure_following(peer: Peer) -> None:
    """Ask to follow ``peer`` unless this group already follows it (or has asked)."""
    following = db.session.scalar(select(Following).where(Following.peer_id == peer.id))
    if following is not None and following.state != follows.REJECTED:
        return
    activity_id = follows.new_activity_id()
    if following is None:
        following = Following(peer_id=peer.id, follow_activity_id=activity_id)
        db.session.add(following)
    following.state = follows.PENDING
    following.follow_activity_id = activity_id
    activity = follows.build_activity(
        "Follow", peer.actor_id, peer.actor_id, activity_id=activity_id
    )
    follows.queue(peer, activity)
    peer.next_poll_at = utcnow()


def _public_pages_changed() -> None:
    # The group page lists twins, and visitors' copies of it are kept until the content
    # version moves (node/page_cache.py); twinning rows are not among the content models
    # whose changes move it by themselves.
    table = SiteState.__table__
    db.session.execute(
        update(table).where(table.c.id == 1).values(content_version=table.c.content_version + 1)
    )


# What the inbox hands over ------------------------------------------------------------


def receive(peer: Peer, activity: dict[str, Any]) -> bool:
    """Apply a twinning step or an RSVP between twins; say whether the activity was one.

    Raise a ServiceError (the inbox answers with its status) for one that concerns this
    group but does not hold: a proposal naming another proposer, an answer from a group
    the proposal was not made to, an RSVP from a group that is not a twin.
    """
    kind = activity.get("type")
    if kind == "Offer":
        return _receive_offer(peer, activity)
    if kind in ("Accept", "Reject"):
        if _receive_answer(peer, activity):
            return True
        if outgoing_rsvps.receive_answer(peer, activity):
            return True
        return kind == "Reject" and incoming_rsvps.receive_rsvp(peer, activity)
    if kind == "Undo":
        return _receive_undo(peer, activity) or incoming_rsvps.receive_undo(peer, activity)
    if kind in ("Join", "TentativeAccept"):
        return incoming_rsvps.receive_rsvp(peer, activity)
    if kind == "Update" and "seq" not in activity:
        return incoming_rsvps.receive_update(peer, activity)
    return False


def _receive_offer(peer: Peer, activity: dict[str, Any]) -> bool:
    obj = activity.get("object")
    if not isinstance(obj, dict) or obj.get("type") != "Relationship":
        return False
    if obj.get("relationship") != TWIN_RELATIONSHIP:
        return False
    if obj.get("object") != outbound.actor_id():
        return True  # a proposal to another group, seen because we follow the proposer
    if obj.get("subject") != peer.actor_id:
        raise Forbidden(gettext("A twinning proposal must come from the group that proposes."))
    relationship_id = obj.get("id")
    if not isinstance(relationship_id, str) or not same_origin(relationship_id, peer.actor_id):
        raise Invalid.on(
            "object", gettext("The relationship's id is not on the proposer's server.")
        )
    if not peer.is_branchline:
        raise Forbidden(gettext("Only Branchline groups can twin."))
    twin = of_peer(peer)
    if twin is not None and twin.offer_activity_id == activity["id"]:
        return True  # the same proposal again
    if twin is not None and twin.state == ACTIVE:
        return True  # already twinned
    note = obj.get("summary") if isinstance(obj.get("summary"), str) else ""
    # Kept as plain text (the page escapes it): a summary is HTML on the wire.
    note = CONTROL_CHARS.sub("", unescape(TAGS.sub("", note))).strip()[:NOTE_MAX]
    now = utcnow_whole_seconds()
    if twin is not None and twin.state == PROPOSED:
        # Both groups proposed at once: each wanted it, so each accepts the other's.
        _reset(twin, INCOMING, "incoming", relationship_id, activity["id"], note, now)
        _answer(twin, "Accept", None)
        twin.state = ACTIVE
        _ensure_following(peer)
        _public_pages_changed()
        return True
    if twin is None:
        twin = Twinning(peer_id=peer.id)
        db.session.add(twin)
    _reset(twin, INCOMING, "incoming", relationship_id, activity["id"], note, now)
    return True


def _our_offer_target(offer_id: str) -> str | None:
    """Return the group an Offer of our feed was made to, or None if it is not our Offer."""
    body = db.session.scalar(
        select(FeedEntry.body).where(
            FeedEntry.activity_id == offer_id, FeedEntry.activity_type == "Offer"
        )
    )
    if body is None:
        return None
    target = json.loads(body).get("target")
    return target if isinstance(target, str) else ""


def _receive_answer(peer: Peer, activity: dict[str, Any]) -> bool:
    offer_id = object_id_of(activity.get("object"))
    if not offer_id or not same_origin(offer_id, outbound.actor_id()):
        return False
    target = _our_offer_target(offer_id)
    if target is None:
        return False
    if target != peer.actor_id:
        raise Forbidden(gettext("Only the group a proposal was made to can answer it."))
    twin = of_peer(peer)
    if twin is None or twin.state != PROPOSED or twin.offer_activity_id != offer_id:
        return True  # answered already, or withdrawn meanwhile
    twin.answer_activity_id = activity["id"]
    twin.answered_at = utcnow_whole_seconds()
    if activity["type"] == "Accept":
        twin.state = ACTIVE
        _ensure_following(peer)
        _public_pages_changed()
    else:
        twin.state = DECLINED
    return True


def _receive_undo(peer: Peer, activity: dict[str, Any]) -> bool:
    undone = object_id_of(activity.get("object"))
    twin = of_peer(peer)
    if twin is None or not undone:
        return False
    # The inbox has checked that the undone activity is on the sender's own server, so it
    # is the peer's own Offer or Accept, never ours.
    if undone not in (twin.offer_activity_id, twin.answer_activity_id):
        return False
    if twin.state in (INCOMING, PROPOSED, ACTIVE):
        if twin.state == ACTIVE:
            _public_pages_changed()
        twin.state = ENDED
        twin.end_activity_id = activity["id"]
        twin.ended_at = utcnow_whole_seconds()
    return True
