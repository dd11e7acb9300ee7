"""What other groups published: their feed entries, checked and stored, and their objects.

``apply_entry`` is the one way an entry of a peer's feed gets in, whether it was pushed to
the inbox or pulled from the peer's outbox: the proof must verify against the peer's own
assertion key and the entry must be the next link of the chain we hold. Entries are kept
verbatim; ``RemoteObject`` rows hold the latest state of each campaign, event, candidate
or post they describe.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from federation import feed
from federation.errors import ProofError
from federation.proofs import verify_object

from ..extensions import db
from ..models import Peer, RemoteEntry, RemoteObject
from . import geo, peers

Outcome = Literal["applied", "duplicate", "behind", "refused"]

VERIFIED = "verified"
SIGNATURE_ONLY = "signature-only"
REDACTED = "redacted"
ANNOUNCED = "announced"

IN_STEP = "in_step"
BEHIND = "behind"
CHAIN_BROKEN = "chain_broken"

# What another transaction may have moved on since ``peer`` was read: ``hold`` reads them back.
CHAIN_COLUMNS = ("held_seq", "held_hash", "head_seq", "state", "state_reason")

MAX_SEQ = 2**31 - 1  # what an INTEGER column holds on every database we support
CHUNK = 500  # values per IN (...): well within every database's limit on parameters

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


def _break(peer: Peer, seq: int | None, reason: str, body: str | None = None) -> ApplyResult:
    peer.state = CHAIN_BROKEN
    peer.state_reason = f"entry {seq}: {reason}" if seq is not None else reason
    current_app.logger.warning("chain of %s broken: %s", peer.actor_id, peer.state_reason)
    if body is not None:
        from . import aggregate  # it imports this module

        # An aggregator keeps what a listed group's feed served that failed, never serving it.
        aggregate.quarantine(peer, seq, body, reason)
    return ApplyResult("refused", seq, reason)


def hold(peer: Peer) -> None:
    """Take ``peer``'s row for this transaction and read it afresh.

    Two deliveries of the same entry (a push racing a pull, or two workers) must not both
    find the chain where it was: the second would see the first's entry and call it a
    forgery. Updating the row makes the other transaction wait until this one commits (a
    row lock on PostgreSQL, the database's write lock on SQLite); whatever it committed
    before is then read back (the chain columns, in the same statement). Pending changes to
    ``peer`` are flushed first, not lost.
    """
    db.session.flush()
    lock = (
        update(Peer)
        .where(Peer.id == peer.id)
        .values(held_seq=Peer.held_seq)
        .returning(*(getattr(Peer, name) for name in CHAIN_COLUMNS))
        .execution_options(synchronize_session=False)
    )
    row = db.session.execute(lock).one()
    for name, value in zip(CHAIN_COLUMNS, row, strict=True):
        set_committed_value(peer, name, value)


def apply_entry(peer: Peer, entry: dict[str, Any], body: str) -> ApplyResult:
    """Check ``entry`` (parsed from ``body``) as the next link of ``peer``'s feed and store it.

    A seq already held is a duplicate (and a different entry at that seq breaks the
    chain); a seq beyond the next leaves everything as it is and marks the peer behind,
    so the puller fetches ``outbox?after=held_seq``; a bad proof or link marks the peer's
    chain broken, with the reason. The caller holds the peer (``hold``) and commits.
    """
    seq = entry.get("seq") if isinstance(entry, dict) else None
    if not _usable_seq(seq):
        return _break(peer, None, "an entry without a usable seq", body)
    if seq <= peer.held_seq:
        return _duplicate(peer, entry, seq, body)
    if seq > peer.held_seq + 1:
        peer.state = BEHIND
        peer.head_seq = max(peer.head_seq, seq)
        peer.state_reason = f"received entry {seq} while holding {peer.held_seq}"
        return ApplyResult("behind", seq, f"entry {peer.held_seq + 1} is missing")

    problem = _origin_problem(peer, entry)
    if problem:
        return _break(peer, seq, problem, body)
    report = _verify(peer, [entry])
    if not report.ok and report.reason == "wrong-key":
        # The group may have rotated its proof key since we last fetched its actor.
        refreshed = peers.peer_for_key(peer.key_id or peer.actor_id, refetch=True)
        if refreshed is not None:
            report = _verify(peer, [entry])
    if not report.ok:
        problem = report.problem
        reason = f"{problem.reason}: {problem.detail}" if problem else "invalid"
        return _break(peer, seq, reason, body)
    activity_id = entry["id"]
    if _used_activity_ids([activity_id]):
        reused = f"activity id {activity_id} was already used by another entry"
        return _break(peer, seq, reused, body)
    _store(peer, [(entry, body)], report.hashes)
    return ApplyResult("applied", seq)


def apply_entries(peer: Peer, items: Sequence[tuple[dict[str, Any], str]]) -> list[ApplyResult]:
    """Apply a run of ``(entry, body)`` pairs in order, as ``apply_entry`` on each would.

    Stops after the first entry that is neither applied nor a duplicate; the entries before
    it stay applied. A stretch of entries that are each the next link is verified with one
    ``verify_run`` and stored together (one INSERT, one look-up of their objects); whatever
    does not fit that stretch (a duplicate, a gap, a bad proof) goes through
    ``apply_entry``, which decides it and says why. The caller holds the peer (``hold``)
    and commits.
    """
    results: list[ApplyResult] = []
    index = 0
    while index < len(items):
        run = _in_line(peer, items, index)
        stored = _apply_run(peer, items[index : index + run]) if run else 0
        results.extend(
            ApplyResult("applied", items[k][0]["seq"]) for k in range(index, index + stored)
        )
        index += stored
        if index == len(items):
            break
        # The entry that ended the stretch: the one-entry path rules on it.
        result = apply_entry(peer, *items[index])
        results.append(result)
        if result.outcome not in ("applied", "duplicate"):
            break
        index += 1
    return results


def _usable_seq(seq: object) -> bool:
    return isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_SEQ


def _origin_problem(peer: Peer, entry: dict[str, Any]) -> str:
    activity_id = entry.get("id")
    if not isinstance(activity_id, str) or not peers.same_origin(activity_id, peer.actor_id):
        return "the entry's id is not on the group's own server"
    if entry.get("actor") not in (None, peer.actor_id) and not feed.is_redacted(entry):
        return "the entry names another actor"
    return ""


def _in_line(peer: Peer, items: Sequence[tuple[dict[str, Any], str]], start: int) -> int:
    """Count the entries from ``start`` that are each the next seq, with their own ids."""
    expected = peer.held_seq + 1
    count = 0
    for entry, _body in items[start:]:
        seq = entry.get("seq") if isinstance(entry, dict) else None
        if not _usable_seq(seq) or seq != expected or _origin_problem(peer, entry):
            break
        count += 1
        expected += 1
    return count


def _apply_run(peer: Peer, run: Sequence[tuple[dict[str, Any], str]]) -> int:
    """Verify and store the longest good prefix of ``run``; return how many were stored."""
    entries = [entry for entry, _body in run]
    report = _verify(peer, entries)
    good = report.problem.index if report.problem is not None else len(entries)
    ids = [entry["id"] for entry in entries[:good]]
    used = _used_activity_ids(ids)
    seen: set[str] = set()
    for index, activity_id in enumerate(ids):
        if activity_id in used or activity_id in seen:
            good = index  # apply_entry refuses it, with the reason
            break
        seen.add(activity_id)
    if good:
        _store(peer, run[:good], report.hashes[:good])
    return good


def _used_activity_ids(ids: Sequence[str]) -> set[str]:
    used: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        query = select(RemoteEntry.activity_id).where(RemoteEntry.activity_id.in_(chunk))
        used.update(db.session.scalars(query))
    return used


def _store(peer: Peer, items: Sequence[tuple[dict[str, Any], str]], hashes: Sequence[str]) -> None:
    """Store verified entries that continue the chain held, then bring their objects up."""
    rows = []
    for (entry, body), entry_hash in zip(items, hashes, strict=True):
        rows.append(
            RemoteEntry(
                peer_id=peer.id,
                seq=entry["seq"],
                activity_id=entry["id"],
                activity_type=str(entry.get("type", ""))[:40],
                object_id=object_id_of(entry.get("object")),
                body=body,
                entry_hash=entry_hash,
                verification=REDACTED if feed.is_redacted(entry) else VERIFIED,
            )
        )
    # Everything is read before anything is written: the rows are inserted at the caller's
    # commit, in one flush, so SQLite's write lock is held only for that.
    objects = _prefetch([entry for entry, _body in items])
    db.session.add_all(rows)
    peer.held_seq = items[-1][0]["seq"]
    peer.held_hash = hashes[-1]
    peer.head_seq = max(peer.head_seq, peer.held_seq)
    peer.state = IN_STEP if peer.held_seq >= peer.head_seq else BEHIND
    peer.state_reason = ""
    peer.last_contact_at = _now()
    for (entry, _body), row in zip(items, rows, strict=True):
        if row.verification != REDACTED:
            apply_activity(peer, entry, row, verification=VERIFIED, objects=objects)


def _verify(peer: Peer, entries: list[dict[str, Any]]) -> feed.RunReport:
    start = (peer.held_seq, peer.held_hash) if peer.held_seq else None
    return feed.verify_run(
        entries,
        actor=peer.actor_id,
        lookup_key=peers.proof_key_lookup(peer),
        start_after=start,
        now=_now(),
    )


def _duplicate(peer: Peer, entry: dict[str, Any], seq: int, body: str | None = None) -> ApplyResult:
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
        return _break(peer, seq, "a different entry with a seq we already hold", body)
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


# Objects already looked up while applying a run of entries, by object id (None: no row).
Objects = dict[str, RemoteObject | None]


def _prefetch(entries: Sequence[dict[str, Any]]) -> Objects:
    """Look up the stored objects a run of entries names, with one query per CHUNK ids."""
    ids = list(dict.fromkeys(filter(None, (object_id_of(e.get("object")) for e in entries))))
    objects: Objects = dict.fromkeys(ids)
    for start in range(0, len(ids), CHUNK):
        query = select(RemoteObject).where(RemoteObject.object_id.in_(ids[start : start + CHUNK]))
        objects.update((stored.object_id, stored) for stored in db.session.scalars(query))
    return objects


def _stored_object(object_id: str, objects: Objects | None) -> RemoteObject | None:
    if objects is None:
        return db.session.scalar(select(RemoteObject).where(RemoteObject.object_id == object_id))
    if object_id not in objects:
        objects[object_id] = db.session.scalar(
            select(RemoteObject).where(RemoteObject.object_id == object_id)
        )
    return objects[object_id]


def _new_object(stored: RemoteObject, objects: Objects | None) -> RemoteObject:
    db.session.add(stored)
    if objects is not None:
        objects[stored.object_id] = stored
    return stored


def apply_activity(
    peer: Peer,
    activity: dict[str, Any],
    entry: RemoteEntry,
    *,
    verification: str,
    objects: Objects | None = None,
) -> None:
    """Bring the stored objects up to date with one checked Create, Update, Delete or Announce.

    ``objects`` holds the rows already looked up (see ``_prefetch``) when a run is applied.
    """
    _note_activity(peer, activity)
    kind = activity.get("type")
    obj = activity.get("object")
    if kind in ("Create", "Update") and isinstance(obj, dict):
        _upsert(peer, obj, entry, verification, create=kind == "Create", objects=objects)
    elif kind == "Delete":
        object_id = object_id_of(obj)
        if object_id and peers.same_origin(object_id, peer.actor_id):
            _tombstone(peer, object_id, entry, objects)
    elif kind == "Announce" and isinstance(obj, dict):
        _announced(peer, obj, entry, objects)


def _upsert(
    peer: Peer,
    obj: dict[str, Any],
    entry: RemoteEntry,
    verification: str,
    *,
    create: bool,
    objects: Objects | None = None,
) -> None:
    object_id = object_id_of(obj)
    object_type = obj.get("type")
    if not object_id or not isinstance(object_type, str):
        return
    if not peers.same_origin(object_id, peer.actor_id):
        return  # nobody writes another server's objects
    if object_type in ACTOR_TYPES:
        # An Update of the group itself: its name and profile (area, seat, place), unless
        # it is older than the profile held.
        fresh = object_id == peer.actor_id and peers.store_profile(peer, obj)
        if fresh and isinstance(obj.get("name"), str):
            peer.name = obj["name"][:300]
        return
    if object_type not in CONTENT_TYPES:
        return
    updated = _moment(obj.get("updated")) or _moment(obj.get("published"))
    stored = _stored_object(object_id, objects)
    if stored is not None:
        if stored.peer_id != peer.id or stored.deleted:
            return  # a Delete came first (or the id is another peer's): remembered, ignored
        held = _as_aware(stored.updated_at)
        if held is not None and (updated is None or updated < held):
            return  # older than what we show
        if create and held is not None and updated == held:
            return
    else:
        stored = _new_object(RemoteObject(peer_id=peer.id, object_id=object_id), objects)
    stored.object_type = object_type[:40]
    stored.data = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    stored.title = _title(obj)
    stored.starts_at = _moment(obj.get("startTime"))
    _fill_searchable(stored, obj)
    stored.published_at = _moment(obj.get("published")) or stored.published_at or _now()
    stored.updated_at = updated
    stored.verification = verification
    stored.source_entry = entry
    stored.received_at = _now()


def _fill_searchable(stored: RemoteObject, obj: dict[str, Any]) -> None:
    """Copy the fields the national pages filter on out of the object (None when absent)."""
    stored.ends_at = _moment(obj.get("endTime"))
    stored.kind = _term(obj.get("kind"))  # campaigns and events
    stored.status = _term(obj.get("status"))
    stored.latitude, stored.longitude = geo.place_of(obj.get("location"))
    stored.office = _term(obj.get("office"))  # candidates
    stored.stage = _term(obj.get("stage"))
    stored.endorsement = _term(obj.get("endorsement"))
    result = obj.get("electionResult")
    stored.election_result = (result.strip()[:500] or None) if isinstance(result, str) else None


def _term(value: object) -> str | None:
    """Return a vocabulary value (``canvass``, ``endorsed``) as stored, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:40]


def _note_activity(peer: Peer, activity: dict[str, Any]) -> None:
    """Move the peer's last activity on to when this entry was published (or now)."""
    now = _now()
    proof = activity.get("proof")
    published = _moment(activity.get("published")) or (
        _moment(proof.get("created")) if isinstance(proof, dict) else None
    )
    # A clock ahead of ours (or a made-up date) must not pin a group to the top of a list.
    moment = min(published, now) if published is not None else now
    held = _as_aware(peer.last_activity_at)
    if held is None or moment > held:
        peer.last_activity_at = moment


def _tombstone(
    peer: Peer, object_id: str, entry: RemoteEntry, objects: Objects | None = None
) -> None:
    stored = _stored_object(object_id, objects)
    if stored is None:
        stored = _new_object(
            RemoteObject(peer_id=peer.id, object_id=object_id, object_type="Tombstone"), objects
        )
    elif stored.peer_id != peer.id:
        return
    stored.deleted = True
    stored.data = "{}"
    stored.title = ""
    stored.starts_at = None
    _fill_searchable(stored, {})
    stored.source_entry = entry
    stored.received_at = _now()


def _announced(
    peer: Peer, obj: dict[str, Any], entry: RemoteEntry, objects: Objects | None = None
) -> None:
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
        _upsert(signer, inner, entry, ANNOUNCED, create=True, objects=objects)
