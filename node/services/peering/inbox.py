"""The inbox: check what a peer sends, store it once, and answer.

Checks, in order: the media type (415), the JSON (400: not UTF-8, not JSON, nested
deeper than ``MAX_DEPTH``, not an activity), the HTTP signature (400 malformed, 401
failed; the key is found through its owner's actor document and the signed host must be
ours), that the key's owner is the activity's actor (401) and that the activity and its
object live on the actor's server (403). A document with an array longer than
``federation.limits`` allows (20,000 tags, 5,000 recipients) is refused (400, naming it)
before anything else is looked at. Then the activity is applied and the answer is
202. The same activity twice is processed once. Anything unexpected is logged and
answered 400: nothing a peer sends may make the inbox fail with a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam, case, exists, or_, select, union_all
from sqlalchemy.exc import IntegrityError, OperationalError

from federation.errors import MalformedSignature, SignatureError
from federation.httpsig import Verified
from federation.keys import PublicKey
from federation.limits import oversized_array
from federation.signed_requests import verify_signed_request
from federation.urls import authority, same_origin

from ... import write_lock
from ...extensions import db
from ...models import Peer, ReceivedActivity, RemoteEntry
from ...models.types import UTCDateTime, utcnow
from ..aggregator import directory, quarantine
from ..asks import published as published_asks
from ..errors import ServiceError
from ..groups import base_url as our_base_url
from ..role import is_aggregator
from ..twins import twinning
from . import blocks, early_entries, follows, peers, remote_feed, remote_objects
from .outbound import actor_id as our_actor_id
from .remote_feed import ApplyResult, apply_entry

__all__ = ["MAX_BODY", "Answer", "ApplyResult", "apply_entry", "receive"]

MAX_BODY = 1024 * 1024
MAX_DEPTH = 64
MEDIA_TYPES = ("application/activity+json", "application/ld+json")
FEED_TYPES = ("Create", "Update", "Delete", "Announce")


@dataclass(frozen=True)
class Answer:
    """How the inbox answers: a status, a short reason for the peer's logs, and the fields
    at fault when a part of the document is (``{"object.tag": ["At most 200 …"]}``)."""

    status: int
    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)


class Refused(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.answer = Answer(status, message, fields or {})


def receive(url: str, headers: Mapping[str, str], body: bytes) -> Answer:
    """Check and apply one POST to the inbox; return the answer, never raise."""
    try:
        return _receive(url, headers, body)
    except Refused as refusal:
        db.session.rollback()
        return refusal.answer
    except OperationalError:
        db.session.rollback()
        current_app.logger.exception("inbox: database unavailable")
        return Answer(503, "try again later")
    except IntegrityError:
        db.session.rollback()  # a race with another request writing the same row
        current_app.logger.warning("inbox: a concurrent request wrote first", exc_info=True)
        return Answer(503, "try again later")
    except Exception:  # noqa: BLE001 - a peer's input must never become a 500
        db.session.rollback()
        current_app.logger.exception("inbox: could not process an activity")
        return Answer(400, "could not process the activity")


def _receive(url: str, headers: Mapping[str, str], body: bytes) -> Answer:
    if len(body) > MAX_BODY:
        raise Refused(413, f"the body is larger than {MAX_BODY} bytes")
    _check_media_type(headers.get("Content-Type"))
    activity = parse_activity(body)
    _check_sizes(activity)
    ours = our_base_url()
    if ours is None:
        raise Refused(404, "this node has no group yet")

    if blocks.blocks_sender(activity["actor"], headers.items()):
        raise Refused(403, "blocked: this node does not accept activities from you")
    verified, signer, peer = _verify_signature(url, headers, body)
    _check_host(verified, headers.get("Host", ""), ours)
    actor = activity["actor"]
    if signer is None or signer.actor_id != actor:
        raise Refused(401, "the key that signed this is not the actor's")
    _check_origins(activity, actor)

    # Feed entries are idempotent by their place in the chain (apply_entry compares a
    # repeated seq with what it holds); everything else by its activity id.
    if _is_plain_post(signer, activity):
        received, following = _plain_post_state(activity["id"], signer.id)
        if received:
            return Answer(202, "already received")
        return _plain_post(signer, activity, body, following)
    if "seq" not in activity and _already_received(activity["id"]):
        return Answer(202, "already received")
    if peer is None:
        peer = peers.by_id(signer.id)
        if peer is None:  # the row went since the key was kept
            raise Refused(401, "the key that signed this is not the actor's")
    # A feed entry's proof is checked now, outside the write lock (the check is most of the
    # work); under the lock it counts if the chain has not moved meanwhile.
    checked = remote_feed.check_ahead(peer, activity) if "seq" in activity else None
    # Everything is written in one transaction, begun only now, after the checks and
    # look-ups: writers queue for it (write_lock) rather than hold each other up meanwhile.
    try:
        with write_lock.writing():
            answer = _apply(peer, activity, body, checked)
            if "seq" not in activity:  # a stored entry told the peer's row itself
                peer.last_contact_at = utcnow()
            if answer is None:
                _record(activity)
    except IntegrityError:
        if "seq" in activity:
            raise
        return Answer(202, "already received")  # the same activity, delivered twice at once
    return answer or Answer(202, "accepted")


# Reading the request -----------------------------------------------------------------


def _check_media_type(content_type: str | None) -> None:
    message = Message()
    message["Content-Type"] = content_type or ""
    if message.get_content_type() not in MEDIA_TYPES:
        raise Refused(415, f"send one of {', '.join(MEDIA_TYPES)}")


def _check_sizes(activity: dict[str, Any]) -> None:
    # Before the signature: an oversized document is refused whoever sent it, and its
    # 20,000 tags are never hashed, verified, stored or indexed.
    found = oversized_array(activity)
    if found is not None:
        raise Refused(
            400,
            f"{found.path} has {found.length} items, more than {found.limit}",
            {found.path: [found.message]},
        )


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, dict):
            current = list(current.values())
        if isinstance(current, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((item, level + 1) for item in current)
    return deepest


def parse_activity(body: bytes) -> dict[str, Any]:
    """Read an activity from a body: UTF-8 JSON, an object, not too deep, with id, type, actor."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise Refused(400, f"JSON nested deeper than {MAX_DEPTH}") from None
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(document, dict):
        raise Refused(400, "the body is not a JSON object")
    if _depth(document) > MAX_DEPTH:
        raise Refused(400, f"JSON nested deeper than {MAX_DEPTH}")
    actor = document.get("actor")
    if isinstance(actor, dict):
        actor = actor.get("id")
    for name, value in (("id", document.get("id")), ("actor", actor)):
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise Refused(400, f"the activity has no usable {name}")
        if len(value) > 2000:
            raise Refused(400, f"the activity's {name} is too long")
    if not isinstance(document.get("type"), str) or not document["type"]:
        raise Refused(400, "the activity has no type")
    document["actor"] = actor
    return document


# Who sent it -------------------------------------------------------------------------


def _verify_signature(
    url: str, headers: Mapping[str, str], body: bytes
) -> tuple[Any, peers.KnownSigner | None, Peer | None]:
    """Check the request's signature; return what verified, whose key it was, and the
    peer's row if the look-up read it (None when the key was kept from an earlier request)."""
    found: list[str] = []
    owners: dict[str, tuple[peers.KnownSigner, Peer | None]] = {}

    def lookup(key_id: str, *, refetch: bool = False) -> PublicKey | None:
        signer, peer = peers.signer_for_key(key_id, refetch=refetch)
        if signer is None:
            return None
        found.append(key_id)
        owners[key_id] = (signer, peer)
        return signer.public_key

    def relookup(key_id: str) -> PublicKey | None:
        return lookup(key_id, refetch=True)

    pairs = list(headers.items())
    try:
        try:
            verified = verify_signed_request(
                "POST", url, pairs, body, lookup_key=lookup, now=utcnow()
            )
        except SignatureError:
            if not found:
                raise
            # A known key that no longer verifies: the peer may have rotated it.
            verified = verify_signed_request(
                "POST", url, pairs, body, lookup_key=relookup, now=utcnow()
            )
        signer, peer = owners.get(verified.key_id, (None, None))
        return verified, signer, peer
    except MalformedSignature as error:
        db.session.commit()  # keep any actor we fetched meanwhile
        raise Refused(400, f"malformed signature: {error}") from None
    except SignatureError as error:
        db.session.commit()
        raise Refused(401, f"signature refused: {error}") from None


def _check_host(verified: object, host_header: str, base_url: str) -> None:
    ours = authority(base_url)
    sent = authority(f"{urlsplit(base_url).scheme}://{host_header.strip()}")
    if sent != ours:
        raise Refused(401, f"the request was signed for {host_header!r}, not {ours}")
    if isinstance(verified, Verified) and "host" not in verified.covered_headers:
        raise Refused(401, "the signature must cover the host")


def _check_origins(activity: dict[str, Any], actor: str) -> None:
    if not same_origin(activity["id"], actor):
        raise Refused(403, "the activity's id is not on the actor's server")
    if activity["type"] in ("Create", "Update", "Delete", "Undo"):
        obj = activity.get("object")
        object_id = obj.get("id") if isinstance(obj, dict) else obj
        if not isinstance(object_id, str) or not same_origin(object_id, actor):
            raise Refused(403, "the object's id is not on the actor's server")
        if isinstance(obj, dict) and activity["type"] != "Undo":
            author = obj.get("attributedTo")
            if isinstance(author, str) and author != actor:
                raise Refused(403, "the object is attributed to someone else")


# Built once (building a statement costs more than running it): is an activity id taken,
# as a plain activity received or as a feed entry stored?
_received = ReceivedActivity.__table__
_entries = RemoteEntry.__table__
_peers = Peer.__table__
_ALREADY_RECEIVED = union_all(
    select(_received.c.id).where(_received.c.activity_id == bindparam("activity_id")),
    select(_entries.c.id).where(_entries.c.activity_id == bindparam("activity_id")),
).limit(1)
_RECORD = _received.insert()
_INSERT_ENTRY = _entries.insert().returning(_entries.c.id)
_last_activity = _peers.c.last_activity_at
_CONTACT = _peers.update().where(_peers.c.id == bindparam("peer_key"))
_CONTACT_AND_ACTIVITY = _CONTACT.values(
    last_activity_at=case(
        (
            or_(_last_activity.is_(None), _last_activity < bindparam("moment", type_=UTCDateTime)),
            bindparam("moment", type_=UTCDateTime),
        ),
        else_=_last_activity,
    )
)


def _already_received(activity_id: str) -> bool:
    found = db.session.connection().execute(_ALREADY_RECEIVED, {"activity_id": activity_id})
    return found.first() is not None


# A post's two questions in one statement: received already? its author followed?
_PLAIN_POST_STATE = select(
    exists().where(_received.c.activity_id == bindparam("activity_id"))
    | exists().where(_entries.c.activity_id == bindparam("activity_id")),
    follows.FOLLOWS.exists(),
)


def _plain_post_state(activity_id: str, peer_id: int) -> tuple[bool, bool]:
    """Return whether a post was received already and whether its author is followed."""
    values = {"activity_id": activity_id, "peer_id": peer_id}
    received, following = db.session.connection().execute(_PLAIN_POST_STATE, values).one()
    return bool(received), bool(following)


def _record(activity: dict[str, Any]) -> None:
    """Remember a processed activity's id, so the same activity again is not processed."""
    db.session.connection().execute(
        _RECORD,
        {
            "activity_id": activity["id"],
            "actor_id": activity["actor"],
            "activity_type": activity["type"][:40],
            "received_at": utcnow(),
        },
    )


# What it does ------------------------------------------------------------------------


def _apply(
    peer: Peer, activity: dict[str, Any], body: bytes, checked: remote_feed.Checked | None
) -> Answer | None:
    """Apply a checked activity; return an answer for feed entries, None to record it."""
    kind = activity["type"]
    obj = activity.get("object")
    # A group's answer to one of our asks (before twinning, which answers Offers too).
    if kind in ("Accept", "Reject") and "seq" not in activity and _ask_answer(peer, activity):
        return None
    # Twinning steps (feed entries too) and RSVPs between twins, recognised by their object.
    if _twinning(peer, activity) and "seq" not in activity:
        return None
    if "seq" in activity:
        return _feed_entry(peer, activity, body, checked)
    if kind == "Follow":
        object_id = obj.get("id") if isinstance(obj, dict) else obj
        if object_id == our_actor_id():
            _follow(peer, activity)
    elif kind == "Undo" and isinstance(obj, dict) and obj.get("type") == "Follow":
        if follows.receive_undo_follow(peer, activity) and is_aggregator():
            directory.withdraw_request(peer)  # the group no longer asks to be listed
    elif kind in ("Accept", "Reject"):
        follows.answer_to_our_follow(peer, activity, accepted=kind == "Accept")
    elif kind in FEED_TYPES and not peer.is_branchline:
        _plain_activity(peer, activity, body)
    return None


def _follow(peer: Peer, activity: dict[str, Any]) -> None:
    """Record a Follow of this group; accept it now unless someone must approve it first."""
    follower = follows.receive_follow(peer, activity)
    if follower.state == follows.ACCEPTED or not _waits_for_approval(peer):
        follows.accept(follower)


def _waits_for_approval(peer: Peer) -> bool:
    # On an aggregator a group's Follow asks to be listed: it waits for an admin.
    if is_aggregator() and directory.receive_listing_request(peer):
        return True
    return follows.approves_follows()


def _twinning(peer: Peer, activity: dict[str, Any]) -> bool:
    try:
        return twinning.receive(peer, activity)
    except ServiceError as refusal:
        raise Refused(refusal.status, refusal.message) from None


def _ask_answer(peer: Peer, activity: dict[str, Any]) -> bool:
    try:
        return published_asks.receive_answer(peer, activity)
    except ServiceError as refusal:
        raise Refused(refusal.status, refusal.message, refusal.fields) from None


def _feed_entry(
    peer: Peer, activity: dict[str, Any], body: bytes, checked: remote_feed.Checked | None
) -> Answer:
    if not follows.follows_peer(peer):
        peer.last_contact_at = utcnow()
        return Answer(202, "ignored: this group does not follow the sender")
    remote_feed.hold(peer)
    text = body.decode("utf-8")
    result = apply_entry(peer, activity, text, checked)
    if not result.applied:  # an applied entry moved the peer's row on, contact included
        peer.last_contact_at = utcnow()
    if result.outcome == "refused":
        # An aggregator keeps what a listed group pushed that failed, never serving it.
        quarantine.keep_refused(peer, result)
        return Answer(400, f"entry refused: {result.reason}")
    if result.outcome == "behind":
        # It came before the one we lack: keep it for when that one comes, and pull now.
        kept = early_entries.keep(peer, activity, text)
        return Answer(202, "kept until the entries before it arrive" if kept else "behind")
    if result.applied:
        early_entries.apply(peer)  # this one may have filled a gap
    return Answer(202, result.outcome)


def _plain_activity(peer: Peer, activity: dict[str, Any], body: bytes) -> None:
    # An ordinary fediverse actor (a Mastodon account, a Lemmy group) publishes no signed
    # feed: its posts are taken on the strength of the HTTP signature alone.
    if not follows.follows_peer(peer):
        return
    entry_id = _store_plain(peer.id, activity, body)
    if activity["type"] != "Announce":  # a boost of someone else's post vouches for nothing
        remote_feed.apply_activity(
            peer, activity, entry_id, verification=remote_feed.SIGNATURE_ONLY
        )


def _store_plain(peer_id: int, activity: dict[str, Any], body: bytes) -> int:
    return (
        db.session.connection()
        .execute(
            _INSERT_ENTRY,
            {
                "peer_id": peer_id,
                "seq": None,
                "activity_id": activity["id"],
                "activity_type": activity["type"][:40],
                "object_id": remote_objects.object_id_of(activity.get("object")),
                "body": body.decode("utf-8"),
                "verification": remote_feed.SIGNATURE_ONLY,
                "received_at": utcnow(),
            },
        )
        .scalar_one()
    )


# The plain path: a post from a fediverse account ----------------------------------------


def _is_plain_post(signer: peers.KnownSigner, activity: dict[str, Any]) -> bool:
    """Tell whether this is a fediverse account's new post (a Create of a Note, an Article):
    what most deliveries are, taken on a path that never loads the peer's row."""
    if "seq" in activity or activity["type"] != "Create" or signer.is_branchline:
        return False
    obj = activity.get("object")
    return isinstance(obj, dict) and obj.get("type") in remote_objects.CONTENT_TYPES


def _plain_post(
    signer: peers.KnownSigner, activity: dict[str, Any], body: bytes, following: bool
) -> Answer:
    """Store a followed account's post and its object, note the contact; record the id.

    What ``_apply`` and ``_plain_activity`` do for such a Create (no twinning step or ask
    answer is a Create), written with Core statements: the peer's row is updated, not read.
    A stored post's entry holds its activity id (unique, and ``_already_received`` reads
    it), so only a post that is not stored is recorded as received. ``following`` was read
    with the duplicate check, just before.
    """
    now = utcnow()
    try:
        with write_lock.writing():
            connection = db.session.connection()
            if following:
                entry_id = _store_plain(signer.id, activity, body)
                remote_objects.apply(
                    signer, activity, entry_id, verification=remote_feed.SIGNATURE_ONLY
                )
                moment = remote_feed.activity_moment(activity)
                connection.execute(
                    _CONTACT_AND_ACTIVITY,
                    {"peer_key": signer.id, "last_contact_at": now, "moment": moment},
                )
            else:
                connection.execute(_CONTACT, {"peer_key": signer.id, "last_contact_at": now})
                _record(activity)
    except IntegrityError:
        return Answer(202, "already received")  # the same activity, delivered twice at once
    return Answer(202, "accepted")
