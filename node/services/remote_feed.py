"""What other groups published: their feed entries, checked and stored, and their objects.

``apply_entry`` is the one way an entry of a peer's feed gets in, whether it was pushed to
the inbox or pulled from the peer's outbox: the proof must verify against the peer's own
assertion key and the entry must be the next link of the chain we hold. Entries are kept
verbatim; ``RemoteObject`` rows hold the latest state of each campaign, event, candidate
or post they describe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from flask import current_app
from sqlalchemy import select

from federation import feed
from federation.errors import ProofError
from federation.proofs import verify_object

from ..extensions import db
from ..models import Peer, RemoteEntry, RemoteObject
from . import peers

Outcome = Literal["applied", "duplicate", "behind", "refused"]

VERIFIED = "verified"
SIGNATURE_ONLY = "signature-only"
REDACTED = "redacted"
ANNOUNCED = "announced"

IN_STEP = "in_step"
BEHIND = "behind"
CHAIN_BROKEN = "chain_broken"

MAX_SEQ = 2**31 - 1  # what an INTEGER column holds on every database we support

# Object types the Network page shows; other objects (a group profile) update the peer.
CONTENT_TYPES = ("Campaign", "Event", "Candidate", "Note", "Article", "Question", "Page")
ACTOR_TYPES = ("Group", "Person", "Service", "Application", "Organization")


@dataclass(frozen=True)
class ApplyResult:
    """What became of one entry: applied, a duplicate, ahead of what we hold, or refused."""

    outcome: Outcome
    seq: int | None
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


def _now() -> datetime:
    return datetime.now(UTC)


def _break(peer: Peer, seq: int | None, reason: str) -> ApplyResult:
    peer.state = CHAIN_BROKEN
    peer.state_reason = f"entry {seq}: {reason}" if seq is not None else reason
    current_app.logger.warning("chain of %s broken: %s", peer.actor_id, peer.state_reason)
    return ApplyResult("refused", seq, reason)


def apply_entry(peer: Peer, entry: dict[str, Any], body: str) -> ApplyResult:
    """Check ``entry`` (parsed from ``body``) as the next link of ``peer``'s feed and store it.

    A seq already held is a duplicate (and a different entry at that seq breaks the
    chain); a seq beyond the next leaves everything as it is and marks the peer behind,
    so the puller fetches ``outbox?after=held_seq``; a bad proof or link marks the peer's
    chain broken, with the reason. The caller commits.
    """
    seq = entry.get("seq") if isinstance(entry, dict) else None
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        return _break(peer, None, "an entry without a usable seq")
    if seq <= peer.held_seq:
        return _duplicate(peer, entry, seq)
    if seq > peer.held_seq + 1:
        peer.state = BEHIND
        peer.head_seq = max(peer.head_seq, seq)
        peer.state_reason = f"received entry {seq} while holding {peer.held_seq}"
        return ApplyResult("behind", seq, f"entry {peer.held_seq + 1} is missing")

    activity_id = entry.get("id")
    if not isinstance(activity_id, str) or not peers.same_origin(activity_id, peer.actor_id):
        return _break(peer, seq, "the entry's id is not on the group's own server")
    if entry.get("actor") not in (None, peer.actor_id) and not feed.is_redacted(entry):
        return _break(peer, seq, "the entry names another actor")
    report = _verify(peer, entry)
    if not report.ok and report.reason == "wrong-key":
        # The group may have rotated its proof key since we last fetched its actor.
        refreshed = peers.peer_for_key(peer.key_id or peer.actor_id, refetch=True)
        if refreshed is not None:
            report = _verify(peer, entry)
    if not report.ok:
        problem = report.problem
        return _break(peer, seq, f"{problem.reason}: {problem.detail}" if problem else "invalid")
    if db.session.scalar(select(RemoteEntry.id).where(RemoteEntry.activity_id == activity_id)):
        return _break(peer, seq, f"activity id {activity_id} was already used by another entry")

    redacted = feed.is_redacted(entry)
    stored = RemoteEntry(
        peer_id=peer.id,
        seq=seq,
        activity_id=activity_id,
        activity_type=str(entry.get("type", ""))[:40],
        object_id=object_id_of(entry.get("object")),
        body=body,
        entry_hash=feed.entry_hash(entry),
        verification=REDACTED if redacted else VERIFIED,
    )
    db.session.add(stored)
    db.session.flush()
    peer.held_seq = seq
    peer.held_hash = stored.entry_hash
    peer.head_seq = max(peer.head_seq, seq)
    peer.state = IN_STEP if peer.held_seq >= peer.head_seq else BEHIND
    peer.state_reason = ""
    peer.last_contact_at = _now()
    if not redacted:
        apply_activity(peer, entry, stored, verification=VERIFIED)
    return ApplyResult("applied", seq)


def _verify(peer: Peer, entry: dict[str, Any]) -> feed.RunReport:
    start = (peer.held_seq, peer.held_hash) if peer.held_seq else None
    return feed.verify_run(
        [entry],
        actor=peer.actor_id,
        lookup_key=peers.proof_key_lookup(peer),
        start_after=start,
        now=_now(),
    )


def _duplicate(peer: Peer, entry: dict[str, Any], seq: int) -> ApplyResult:
    held = db.session.scalar(
        select(RemoteEntry).where(RemoteEntry.peer_id == peer.id, RemoteEntry.seq == seq)
    )
    try:
        same = held is None or held.entry_hash == feed.entry_hash(entry)
    except (TypeError, ValueError):
        same = False
    if not same:
        # Two different entries with one seq: the group (or someone with its key) forked
        # its feed. Keep what we hold and say so.
        return _break(peer, seq, "a different entry with a seq we already hold")
    return ApplyResult("duplicate", seq)


# Objects -----------------------------------------------------------------------------


def object_id_of(value: object) -> str | None:
    if isinstance(value, str):
        return value[:2000]
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"][:2000]
    return None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _title(obj: dict[str, Any]) -> str:
    for name in ("name", "summary", "content"):
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return ""


def _as_aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def apply_activity(
    peer: Peer, activity: dict[str, Any], entry: RemoteEntry, *, verification: str
) -> None:
    """Bring the stored objects up to date with one checked Create, Update, Delete or Announce."""
    kind = activity.get("type")
    obj = activity.get("object")
    if kind in ("Create", "Update") and isinstance(obj, dict):
        _upsert(peer, obj, entry, verification, create=kind == "Create")
    elif kind == "Delete":
        object_id = object_id_of(obj)
        if object_id and peers.same_origin(object_id, peer.actor_id):
            _tombstone(peer, object_id, entry)
    elif kind == "Announce" and isinstance(obj, dict):
        _announced(peer, obj, entry)


def _upsert(
    peer: Peer, obj: dict[str, Any], entry: RemoteEntry, verification: str, *, create: bool
) -> None:
    object_id = object_id_of(obj)
    object_type = obj.get("type")
    if not object_id or not isinstance(object_type, str):
        return
    if not peers.same_origin(object_id, peer.actor_id):
        return  # nobody writes another server's objects
    if object_type in ACTOR_TYPES:
        if object_id == peer.actor_id and isinstance(obj.get("name"), str):
            peer.name = obj["name"][:300]
        return
    if object_type not in CONTENT_TYPES:
        return
    updated = _moment(obj.get("updated")) or _moment(obj.get("published"))
    stored = db.session.scalar(select(RemoteObject).where(RemoteObject.object_id == object_id))
    if stored is not None:
        if stored.peer_id != peer.id or stored.deleted:
            return  # a Delete came first (or the id is another peer's): remembered, ignored
        held = _as_aware(stored.updated_at)
        if held is not None and (updated is None or updated < held):
            return  # older than what we show
        if create and held is not None and updated == held:
            return
    else:
        stored = RemoteObject(peer_id=peer.id, object_id=object_id)
        db.session.add(stored)
    stored.object_type = object_type[:40]
    stored.data = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    stored.title = _title(obj)
    stored.starts_at = _moment(obj.get("startTime"))
    stored.published_at = _moment(obj.get("published")) or stored.published_at or _now()
    stored.updated_at = updated
    stored.verification = verification
    stored.source_entry_id = entry.id
    stored.received_at = _now()


def _tombstone(peer: Peer, object_id: str, entry: RemoteEntry) -> None:
    stored = db.session.scalar(select(RemoteObject).where(RemoteObject.object_id == object_id))
    if stored is None:
        stored = RemoteObject(peer_id=peer.id, object_id=object_id, object_type="Tombstone")
        db.session.add(stored)
    elif stored.peer_id != peer.id:
        return
    stored.deleted = True
    stored.data = "{}"
    stored.title = ""
    stored.starts_at = None
    stored.source_entry_id = entry.id
    stored.received_at = _now()


def _announced(peer: Peer, obj: dict[str, Any], entry: RemoteEntry) -> None:
    # An announced object from another group counts only if it carries that group's own
    # valid proof; Fedify does not check it, we must. Its origin's actor signs it.
    proof = obj.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    object_id = object_id_of(obj)
    if not isinstance(method, str) or not object_id:
        return
    signer_id = peers.actor_of_key(method)
    if not peers.same_origin(signer_id, object_id):
        return
    signer = peers.find(signer_id)
    if signer is None:
        return  # not a group we know; the announce alone vouches for nothing
    try:
        verify_object(obj, peers.proof_key_lookup(signer), now=_now())
    except ProofError:
        entry.verification = "announce-unverified"
        return
    inner = obj.get("object") if obj.get("type") in ("Create", "Update") else obj
    if isinstance(inner, dict):
        _upsert(signer, inner, entry, ANNOUNCED, create=True)
