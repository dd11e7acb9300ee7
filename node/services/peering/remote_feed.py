"""What other groups published: their feed entries, checked and stored, and their objects.

``apply_entry`` is the one way an entry of a peer's feed gets in, whether it was pushed to
the inbox or pulled from the peer's outbox: the proof must verify against the peer's own
assertion key and the entry must be the next link of the chain we hold. Entries are kept
verbatim; ``remote_objects`` keeps the latest state of each campaign, event, candidate or
post they describe. Proofs may be checked before the write lock (``check_ahead``): the
result counts if the chain has not moved by the time the peer is held.

An entry pushed ahead of the next one we lack is kept by ``early_entries`` until the gap
fills, and then applied through ``apply_run`` like any other.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from federation import feed
from federation.jcs import canonicalize
from federation.limits import oversized_array
from federation.rotation import ContinuityError, KeyContinuity
from federation.urls import same_origin

from ...extensions import db
from ...models import Peer, RemoteEntry
from ...models.types import utcnow
from ..asks import received as received_asks
from ..groups import current_group
from . import peers, remote_objects

Outcome = Literal["applied", "duplicate", "behind", "refused"]

VERIFIED = "verified"
SIGNATURE_ONLY = "signature-only"
REDACTED = "redacted"

IN_STEP = "in_step"
BEHIND = "behind"
CHAIN_BROKEN = "chain_broken"

# What another transaction may have moved on since ``peer`` was read: ``hold`` reads them back.
CHAIN_COLUMNS = ("held_seq", "held_hash", "head_seq", "state", "state_reason")

MAX_SEQ = 2**31 - 1  # what an INTEGER column holds on every database we support
CHUNK = 500  # values per IN (...): well within every database's limit on parameters


@dataclass(frozen=True)
class ApplyResult:
    """What became of one entry: applied, a duplicate, ahead of what we hold, or refused."""

    outcome: Outcome
    seq: int | None
    reason: str = ""
    # A refused entry as it came: the caller decides whether to keep it (an aggregator
    # quarantines what a listed group's feed served that failed).
    body: str | None = field(default=None, repr=False)

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"


def _break(peer: Peer, seq: int | None, reason: str, body: str | None = None) -> ApplyResult:
    peer.state = CHAIN_BROKEN
    peer.state_reason = f"entry {seq}: {reason}" if seq is not None else reason
    current_app.logger.warning("chain of %s broken: %s", peer.actor_id, peer.state_reason)
    return ApplyResult("refused", seq, reason, body)


# The statements every entry runs: Core, built once (building one costs more than running it).
_peers = Peer.__table__
_entries = RemoteEntry.__table__
_HOLD = (
    _peers.update()
    .where(_peers.c.id == bindparam("peer_key"))
    .values(held_seq=_peers.c.held_seq)
    .returning(*(_peers.c[name] for name in CHAIN_COLUMNS))
)
_ADVANCE = _peers.update().where(_peers.c.id == bindparam("peer_key"))
_USED_IDS = select(_entries.c.activity_id).where(
    _entries.c.activity_id.in_(bindparam("ids", expanding=True))
)
_USED_ID = select(_entries.c.activity_id).where(_entries.c.activity_id == bindparam("wanted"))
_INSERT_ENTRIES = _entries.insert().returning(_entries.c.id, sort_by_parameter_order=True)
_AT_SEQ = select(RemoteEntry).where(
    RemoteEntry.peer_id == bindparam("peer_id"), RemoteEntry.seq == bindparam("seq")
)


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
    row = db.session.connection().execute(_HOLD, {"peer_key": peer.id}).one()
    for name, value in zip(CHAIN_COLUMNS, row, strict=True):
        set_committed_value(peer, name, value)


@dataclass(frozen=True)
class Checked:
    """An entry's proof and link, checked before ``hold`` against the chain as it stood."""

    after: tuple[int, str]  # the (held_seq, held_hash) it was checked against
    report: feed.RunReport
    count: int = 1  # how many entries from the first it covers

    def holds_for(self, peer: Peer, count: int) -> bool:
        """Say whether the check still stands: the chain has not moved, the run is the same."""
        return self.after == (peer.held_seq, peer.held_hash) and self.count == count


def check_ahead(peer: Peer, entry: dict[str, Any]) -> Checked | None:
    """Verify ``entry`` as the next link of the chain ``peer`` holds now, reading nothing new.

    Verifying is most of the work of applying an entry, and needs no lock: run it before
    ``hold``, and ``apply_entry`` uses the result if the chain has not moved meanwhile.
    Returns None when the entry is not the next link or does not verify (``apply_entry``
    then decides it under the lock, and says why).
    """
    seq = entry.get("seq")
    if not usable_seq(seq) or seq != peer.held_seq + 1 or _origin_problem(peer, entry):
        return None
    report = _verify(peer, [entry])
    return Checked((peer.held_seq, peer.held_hash), report) if report.ok else None


def check_run_ahead(peer: Peer, items: Sequence[tuple[dict[str, Any], str]]) -> Checked | None:
    """``check_ahead`` for a run of entries (a page of a peer's outbox): verify, before
    ``hold``, the stretch that continues the chain held now; ``apply_entries`` uses it if
    the chain has not moved meanwhile. None when the first entry is not the next link."""
    run = in_line(peer, items, 0)
    if not run:
        return None
    report = _verify(peer, [entry for entry, _body in items[:run]])
    return Checked((peer.held_seq, peer.held_hash), report, run)


def apply_entry(
    peer: Peer, entry: dict[str, Any], body: str, checked: Checked | None = None
) -> ApplyResult:
    """Check ``entry`` (parsed from ``body``) as the next link of ``peer``'s feed and store it.

    A seq already held is a duplicate (and a different entry at that seq breaks the
    chain); a seq beyond the next leaves everything as it is and marks the peer behind,
    so the puller fetches ``outbox?after=held_seq``; a bad proof or link marks the peer's
    chain broken, with the reason, and the refusal carries the body for the caller to keep
    (an aggregator's quarantine). ``checked`` (from ``check_ahead``) spares verifying
    again when the chain is still where it was checked. The caller holds the peer
    (``hold``) and commits.
    """
    seq = entry.get("seq") if isinstance(entry, dict) else None
    if not usable_seq(seq):
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
    if checked is not None and checked.holds_for(peer, 1):
        report = checked.report
    else:
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


def apply_entries(
    peer: Peer, items: Sequence[tuple[dict[str, Any], str]], checked: Checked | None = None
) -> list[ApplyResult]:
    """Apply a run of ``(entry, body)`` pairs in order, as ``apply_entry`` on each would.

    Stops after the first entry that is neither applied nor a duplicate; the entries before
    it stay applied. A stretch of entries that are each the next link is verified with one
    ``verify_run`` and stored together (one INSERT, one look-up of their objects); whatever
    does not fit that stretch (a duplicate, a gap, a bad proof) goes through
    ``apply_entry``, which decides it and says why. ``checked`` (``check_run_ahead``)
    spares verifying the first stretch again if it still stands. The caller holds the peer
    (``hold``) and commits.
    """
    results: list[ApplyResult] = []
    index = 0
    while index < len(items):
        run = in_line(peer, items, index)
        ahead = checked if index == 0 else None
        stored = apply_run(peer, items[index : index + run], ahead) if run else 0
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


def usable_seq(seq: object) -> bool:
    """Tell whether ``seq`` is a whole number a feed entry may carry (1 to MAX_SEQ)."""
    return isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq <= MAX_SEQ


def _origin_problem(peer: Peer, entry: dict[str, Any]) -> str:
    activity_id = entry.get("id")
    if not isinstance(activity_id, str) or not same_origin(activity_id, peer.actor_id):
        return "the entry's id is not on the group's own server"
    if entry.get("actor") not in (None, peer.actor_id) and not feed.is_redacted(entry):
        return "the entry names another actor"
    return ""


def in_line(peer: Peer, items: Sequence[tuple[dict[str, Any], str]], start: int) -> int:
    """Count the entries from ``start`` that are each the next seq, with their own ids."""
    expected = peer.held_seq + 1
    count = 0
    for entry, _body in items[start:]:
        seq = entry.get("seq") if isinstance(entry, dict) else None
        if not usable_seq(seq) or seq != expected or _origin_problem(peer, entry):
            break
        count += 1
        expected += 1
    return count


def apply_run(
    peer: Peer, run: Sequence[tuple[dict[str, Any], str]], checked: Checked | None = None
) -> int:
    """Verify and store the longest good prefix of ``run``; return how many were stored."""
    entries = [entry for entry, _body in run]
    if checked is not None and checked.holds_for(peer, len(run)):
        report = checked.report
    else:
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
    connection = db.session.connection()
    if len(ids) == 1:  # the inbox's case: a plain comparison, no IN list to render
        return set(connection.execute(_USED_ID, {"wanted": ids[0]}).scalars())
    used: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = {"ids": ids[start : start + CHUNK]}
        used.update(connection.execute(_USED_IDS, chunk).scalars())
    return used


def _store(peer: Peer, items: Sequence[tuple[dict[str, Any], str]], hashes: Sequence[str]) -> None:
    """Store verified entries that continue the chain held, then bring their objects up.

    Written with Core statements built once (one INSERT for the entries, one UPDATE of the
    peer): this is the inbox's hot path, and the unit of work costs several times the
    statements it runs. The peer object is told the values written, so nothing is stale.
    """
    now = utcnow()
    rows = [
        {
            "peer_id": peer.id,
            "seq": entry["seq"],
            "activity_id": entry["id"],
            "activity_type": str(entry.get("type", ""))[:40],
            "object_id": remote_objects.object_id_of(entry.get("object")),
            **_kept(peer, entry, body),
            "entry_hash": entry_hash,
            "received_at": now,
        }
        for (entry, body), entry_hash in zip(items, hashes, strict=True)
    ]
    objects = remote_objects.prefetch([entry for entry, _body in items])
    connection = db.session.connection()
    entry_ids = connection.execute(_INSERT_ENTRIES, rows).scalars().all()
    moments = []
    for (entry, _body), row, entry_id in zip(items, rows, entry_ids, strict=True):
        if row["verification"] != REDACTED:
            moments.append(activity_moment(entry))
            remote_objects.apply(peer, entry, entry_id, verification=VERIFIED, objects=objects)
            if entry.get("type") == "Offer":  # an ask to this group's organisers, perhaps
                received_asks.keep(peer, entry, current_group())
    remote_objects.write_held(objects)
    held_seq = items[-1][0]["seq"]
    head_seq = max(peer.head_seq, held_seq)
    advanced = {
        "held_seq": held_seq,
        "held_hash": hashes[-1],
        "head_seq": head_seq,
        "state": IN_STEP if held_seq >= head_seq else BEHIND,
        "state_reason": "",
        "last_contact_at": now,
    }
    later = _later_activity(peer, moments)
    if later is not None:
        advanced["last_activity_at"] = later
    connection.execute(_ADVANCE, {"peer_key": peer.id, **advanced})
    for name, value in advanced.items():
        set_committed_value(peer, name, value)


def _kept(peer: Peer, entry: dict[str, Any], body: str) -> dict[str, str]:
    """Return the body to store for a verified entry, and how it stands.

    An entry with an array over ``federation.limits`` (20,000 tags) keeps only its place
    in the chain: its redaction stub (its hash, seq and link), so the entries after it
    still verify and a catch-up goes on past it, while its content is neither stored nor
    applied. The inbox refuses such an entry outright; this is for what a pull brings.
    """
    if feed.is_redacted(entry):
        return {"body": body, "verification": REDACTED}
    found = oversized_array(entry)
    if found is None:
        return {"body": body, "verification": VERIFIED}
    current_app.logger.warning(
        "entry %s of %s kept as its hash only: %s has %d items, more than %d",
        entry.get("seq"),
        peer.actor_id,
        found.path,
        found.length,
        found.limit,
    )
    stub = canonicalize(feed.redact(entry)).decode("utf-8")
    return {"body": stub, "verification": REDACTED}


def _verify(peer: Peer, entries: list[dict[str, Any]]) -> feed.RunReport:
    start = (peer.held_seq, peer.held_hash) if peer.held_seq else None
    lookup = peers.proof_key_lookup(peer)
    continuity = _continuity(peer, lookup)
    report = feed.verify_run(
        entries,
        actor=peer.actor_id,
        lookup_key=lookup,
        start_after=start,
        now=utcnow(),
        continuity=continuity,
    )
    if report.head is not None and report.head != start:
        # The state after these entries is the next run's start, whichever process runs it.
        _remember(peer.actor_id, report.head[1], peer.assertion_keys or "", continuity)
    return report


# Which key signs a peer's next entry, by (actor, held hash, keys published): working it
# out reads the last entry held and checks its proof, too much for every push.
_KEY_STATES: OrderedDict[tuple[str, str, str], KeyContinuity] = OrderedDict()
_KEY_STATES_KEPT = 1024
_LAST_SIGNED = (
    select(_entries.c.body)
    .where(
        _entries.c.peer_id == bindparam("peer_id"),
        _entries.c.seq <= bindparam("seq"),
        _entries.c.verification != REDACTED,
    )
    .order_by(_entries.c.seq.desc())
    .limit(1)
)


def _continuity(peer: Peer, lookup: Callable[[str], Any]) -> KeyContinuity:
    """Say which key may sign the entry after those held: only what the feed has proven.

    The first entry's key is the one the peer's document publishes; after that, the key
    that signed the last entry held (its value as published must verify that entry), or
    the one a rotation entry held last introduced (federation.rotation).
    """
    if not peer.held_seq:
        return KeyContinuity(peer.actor_id, lookup)
    cache_key = (peer.actor_id, peer.held_hash, peer.assertion_keys or "")
    found = _KEY_STATES.get(cache_key)
    if found is None:
        body = (
            db.session.connection()
            .execute(_LAST_SIGNED, {"peer_id": peer.id, "seq": peer.held_seq})
            .scalar()
        )
        try:
            held = json.loads(body) if body is not None else None
            found = (
                KeyContinuity.after(peer.actor_id, lookup, held)
                if isinstance(held, dict)
                else KeyContinuity(peer.actor_id, lookup)
            )
        except (ValueError, ContinuityError):
            found = KeyContinuity(peer.actor_id, lookup)
        _remember(*cache_key, found)
    else:
        _KEY_STATES.move_to_end(cache_key)
    return found.copy(lookup)


def _remember(actor: str, head_hash: str, published: str, state: KeyContinuity) -> None:
    _KEY_STATES[(actor, head_hash, published)] = state
    while len(_KEY_STATES) > _KEY_STATES_KEPT:
        _KEY_STATES.popitem(last=False)


def _duplicate(peer: Peer, entry: dict[str, Any], seq: int, body: str | None = None) -> ApplyResult:
    held = db.session.scalar(_AT_SEQ, {"peer_id": peer.id, "seq": seq})
    try:
        same = held is None or held.entry_hash == feed.entry_hash(entry)
    except (TypeError, ValueError):
        same = False
    if not same:
        # Two different entries with one seq: the group (or someone with its key) forked
        # its feed. Keep what we hold and say so.
        return _break(peer, seq, "a different entry with a seq we already hold", body)
    return ApplyResult("duplicate", seq)


# Objects and the peer ------------------------------------------------------------------


def apply_activity(
    peer: Peer, activity: dict[str, Any], entry_id: int, *, verification: str
) -> None:
    """Apply one activity outside any feed (a fediverse actor's post) to the stored objects."""
    _note_activity(peer, activity)
    remote_objects.apply(peer, activity, entry_id, verification=verification)


def activity_moment(activity: dict[str, Any]) -> datetime:
    """Return when an entry was published (its own date, its proof's, or now), not after now."""
    now = utcnow()
    proof = activity.get("proof")
    published = remote_objects.moment(activity.get("published")) or (
        remote_objects.moment(proof.get("created")) if isinstance(proof, dict) else None
    )
    # A clock ahead of ours (or a made-up date) must not pin a group to the top of a list.
    return min(published, now) if published is not None else now


def _later_activity(peer: Peer, moments: Sequence[datetime]) -> datetime | None:
    """The peer's last activity after these entries, or None when it does not move on."""
    latest = max(moments, default=None)
    held = remote_objects.as_aware(peer.last_activity_at)
    return latest if latest is not None and (held is None or latest > held) else None


def _note_activity(peer: Peer, activity: dict[str, Any]) -> None:
    """Move the peer's last activity on to when this entry was published (or now)."""
    later = _later_activity(peer, [activity_moment(activity)])
    if later is not None:
        peer.last_activity_at = later
