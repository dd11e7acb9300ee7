"""Follows both ways: groups this group follows, and peers that follow this group.

Follow, Undo, Accept and Reject are not feed entries: each is built here, signed with a
proof like the feed's, and queued as a Delivery row carrying its own body, which the
delivery worker sends (HTTP-signed) to the peer's inbox.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext
from sqlalchemy import bindparam, select

from federation.feed import ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT
from federation.jcs import canonicalize
from federation.proofs import sign_object
from federation.urls import same_origin

from ...extensions import db
from ...keys import node_keys
from ...models import Delivery, Follower, Following, Peer
from ...models.types import utcnow
from ..errors import Conflict, NotFound
from ..groups import current_group
from . import blocks, outbound, peers

PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"


def new_activity_id() -> str:
    """Return a fresh id for an activity this node sends outside its feed."""
    return f"{current_group().base_url.rstrip('/')}/activities/{uuid.uuid4()}"


def build_activity(kind: str, obj: Any, to: str, *, activity_id: str | None = None) -> dict:
    """Build and sign (FEP-8b32, as feed entries are) a ``kind`` activity for ``to``."""
    document = {
        "@context": [ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT],
        "id": activity_id or new_activity_id(),
        "type": kind,
        "actor": outbound.actor_id(),
        "object": obj,
        "to": [to],
    }
    return sign_object(document, node_keys().proof, outbound.proof_key_id(), utcnow())


def queue(peer: Peer, activity: dict) -> Delivery:
    """Queue ``activity`` for the delivery worker to send to ``peer``'s inbox."""
    delivery = Delivery(
        inbox=peer.inbox,
        peer_id=peer.id,
        body=canonicalize(activity).decode("utf-8"),
        state="pending",
        next_attempt_at=utcnow(),
    )
    db.session.add(delivery)
    return delivery


# Groups we follow --------------------------------------------------------------------


def follow(target: str) -> Following:
    """Ask the group at ``target`` (handle or actor URL) to let this group follow it."""
    blocks.refuse_blocked(target)  # before the look-up: nothing is fetched from it
    peer = peers.resolve(target)
    blocks.refuse_blocked(peer.actor_id)
    following = db.session.scalar(select(Following).where(Following.peer_id == peer.id))
    if following is not None and following.state == ACCEPTED:
        raise Conflict(
            gettext("This group already follows %(value)s.", value=peer.name or peer.actor_id)
        )
    activity_id = new_activity_id()
    if following is None:
        following = Following(peer_id=peer.id, follow_activity_id=activity_id)
        db.session.add(following)
    following.state = PENDING
    following.follow_activity_id = activity_id
    queue(peer, build_activity("Follow", peer.actor_id, peer.actor_id, activity_id=activity_id))
    peer.next_poll_at = utcnow()  # back-fill as soon as the puller runs
    db.session.commit()
    return following


def find_following(target: str) -> Following:
    """Return the follow of a group named by handle, actor URL or id, without fetching it."""
    text = (target or "").strip()
    handle = text.removeprefix("acct:").removeprefix("@")
    query = select(Following).join(Peer, Following.peer_id == Peer.id)
    if text.isdigit():
        found = db.session.get(Following, int(text))
    else:
        found = db.session.scalar(
            query.where((Peer.actor_id == text) | (Peer.handle == handle) | (Peer.url == text))
        )
    if found is None:
        raise NotFound(gettext("This group does not follow %(text)s.", text=text))
    return found


def get_following(following_id: int) -> Following:
    found = db.session.get(Following, following_id)
    if found is None:
        raise NotFound(gettext("This group does not follow that group."))
    return found


def unfollow(following: Following) -> None:
    """Stop following a group: tell it (Undo Follow) and forget the follow."""
    peer = following.peer
    original = {
        "id": following.follow_activity_id,
        "type": "Follow",
        "actor": outbound.actor_id(),
        "object": peer.actor_id,
    }
    queue(peer, build_activity("Undo", original, peer.actor_id))
    db.session.delete(following)
    db.session.commit()


def following_list() -> list[Following]:
    """List the groups this group follows (or has asked to), by name."""
    query = select(Following).join(Peer, Following.peer_id == Peer.id).order_by(Peer.name)
    return list(db.session.scalars(query))


# Built once: the inbox asks for every entry it receives.
_FOLLOWED = select(Following).where(
    Following.peer_id == bindparam("peer_id"), Following.state != REJECTED
)
_following = Following.__table__
FOLLOWS = (
    select(_following.c.id)
    .where(_following.c.peer_id == bindparam("peer_id"), _following.c.state != REJECTED)
    .limit(1)
)


def followed_peer(peer: Peer) -> Following | None:
    """Return this group's follow of ``peer`` if it asked to follow it."""
    return db.session.scalar(_FOLLOWED, {"peer_id": peer.id})


def follows_peer(peer: Peer) -> bool:
    """Tell whether this group asked to follow ``peer`` (``followed_peer``, without the rows)."""
    return follows_peer_id(peer.id)


def follows_peer_id(peer_id: int) -> bool:
    """Tell whether this group asked to follow the peer with this row id."""
    found = db.session.connection().execute(FOLLOWS, {"peer_id": peer_id}).first()
    return found is not None


def answer_to_our_follow(peer: Peer, activity: dict[str, Any], accepted: bool) -> None:
    """Record a peer's Accept or Reject of this group's Follow."""
    obj = activity.get("object")
    object_id = obj if isinstance(obj, str) else obj.get("id") if isinstance(obj, dict) else None
    following = db.session.scalar(select(Following).where(Following.peer_id == peer.id))
    if following is None:
        return
    names_ours = object_id == following.follow_activity_id
    # Some servers answer with their own rendering of the Follow: actor us, object them.
    echoes_ours = (
        isinstance(obj, dict)
        and obj.get("type") == "Follow"
        and obj.get("actor") == outbound.actor_id()
        and same_origin(str(obj.get("object", "")), peer.actor_id)
    )
    if not (names_ours or echoes_ours):
        return
    following.state = ACCEPTED if accepted else REJECTED
    if accepted:
        peer.next_poll_at = utcnow()


# Peers that follow us ----------------------------------------------------------------


def receive_follow(peer: Peer, activity: dict[str, Any]) -> Follower:
    """Record a Follow of this group; it waits (pending) unless already accepted.

    The inbox then accepts it (``accept``) or leaves it for organisers or, on an
    aggregator, for an admin deciding on the group's request to be listed.
    """
    follower = db.session.scalar(select(Follower).where(Follower.peer_id == peer.id))
    if follower is None:
        follower = Follower(peer=peer, follow_activity_id=activity["id"], state=PENDING)
        db.session.add(follower)
    follower.follow_activity_id = activity["id"]
    if follower.state != ACCEPTED:
        follower.state = PENDING
    return follower


def approves_follows() -> bool:
    """Tell whether organisers approve each new follower of this group."""
    return bool(current_group().follow_approval)


def accept(follower: Follower) -> None:
    """Let a peer follow this group and tell it so (Accept), without committing."""
    follower.state = ACCEPTED
    _answer(follower, "Accept")


def receive_undo_follow(peer: Peer, activity: dict[str, Any]) -> bool:
    """Forget a follower that undid its Follow of this group; say whether one was."""
    obj = activity.get("object")
    follower = db.session.scalar(select(Follower).where(Follower.peer_id == peer.id))
    if follower is None:
        return False
    object_id = obj if isinstance(obj, str) else obj.get("id") if isinstance(obj, dict) else None
    is_follow = isinstance(obj, dict) and obj.get("type") == "Follow"
    if object_id == follower.follow_activity_id or is_follow:
        db.session.delete(follower)
        return True
    return False


def _answer(follower: Follower, kind: str) -> None:
    peer = follower.peer
    follow = {
        "id": follower.follow_activity_id,
        "type": "Follow",
        "actor": peer.actor_id,
        "object": outbound.actor_id(),
    }
    queue(peer, build_activity(kind, follow, peer.actor_id))


def followers_list(state: str | None = None) -> list[Follower]:
    """List the peers that follow this group (or ask to), newest first."""
    query = select(Follower).order_by(Follower.created_at.desc())
    if state:
        query = query.where(Follower.state == state)
    return list(db.session.scalars(query))


def get_follower(follower_id: int) -> Follower:
    found = db.session.get(Follower, follower_id)
    if found is None:
        raise NotFound(gettext("No such follower."))
    return found


def approve(follower: Follower) -> None:
    """Let a waiting peer follow this group, and tell it so."""
    accept(follower)
    db.session.commit()


def reject(follower: Follower) -> None:
    """Turn down (or remove) a follower, and tell it so."""
    _answer(follower, "Reject")
    db.session.delete(follower)
    db.session.commit()
