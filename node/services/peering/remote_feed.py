"""What other groups published: their feed entries, checked and stored, and their objects.

``apply_entry`` is the one way an entry of a peer's feed gets in, whether it was pushed to
the inbox or pulled from the peer's outbox: the proof must verify against the peer's own
assertion key and the entry must be the next link of the chain we hold. Entries are kept
verbatim; ``remote_objects`` keeps the latest state of each campaign, event, candidate or
post they describe. Proofs may be checked before the write lock (``check_ahead``): the
result counts if the chain has not moved by the time the peer is held.

An entry pushed ahead of the next one we lack (a burst whose deliveries crossed, or a
retry that overtook) is not thrown away: ``keep_early`` stores it as it came (the inbox
has checked its HTTP signature), up to EARLY_ENTRIES_PER_PEER ahead, and asks for a pull
of the peer now; ``apply_early`` applies the kept entries that have become the next links,
verified like any other, whenever the chain moves on (a push or a pull).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from flask import current_app
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm.attributes import set_committed_value

from federation import feed
from federation.jcs import canonicalize
from federation.limits import oversized_array
from federation.urls import same_origin

from ...extensions import db
from ...models import EarlyEntry, Peer, RemoteEntry
from ...models.types import utcnow
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
    if not _usable_seq(seq) or seq != peer.held_seq + 1 or _origin_problem(peer, entry):
        return None
    report = _verify(peer, [entry])
    return Checked((peer.held_seq, peer.held_hash), report) if report.ok else None


def check_run_ahead(peer: Peer, items: Sequence[tuple[dict[str, Any], str]]) -> Checked | None:
    """``check_ahead`` for a run of entries (a page of a peer's outbox): verify, before
    ``hold``, the stretch that continues the chain held now; ``apply_entries`` uses it if
    the chain has not moved meanwhile. None when the first entry is not the next link."""
    run = _in_line(peer, items, 0)
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
        run = _in_line(peer, items, index)
        ahead = checked if index == 0 else None
        stored = _apply_run(peer, items[index : index + run], ahead) if run else 0
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
    if not isinstance(activity_id, str) or not same_origin(activity_id, peer.actor_id):
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


def _apply_run(
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
            moments.append(_activity_moment(entry))
            remote_objects.apply(peer, entry, entry_id, verification=VERIFIED, objects=objects)
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
    return feed.verify_run(
        entries,
        actor=peer.actor_id,
        lookup_key=peers.proof_key_lookup(peer),
        start_after=start,
        now=utcnow(),
    )


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


def _activity_moment(activity: dict[str, Any]) -> datetime:
    """When an entry was published (its own date, its proof's, or now), never in the future."""
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
    later = _later_activity(peer, [_activity_moment(activity)])
    if later is not None:
        peer.last_activity_at = later


# Entries that came early ----------------------------------------------------------------


def keep_early(peer: Peer, entry: dict[str, Any], body: str) -> bool:
    """Keep an entry that came ahead of a gap until the gap fills; pull the peer now.

    Kept only within EARLY_ENTRIES_PER_PEER of what we hold (one row per seq, so that is
    also the bound on rows); anything further is left to the pull. Say whether it was kept.
    The caller holds the peer (``hold``) and commits.
    """
    peer.next_poll_at = utcnow()  # the gap is filled by a pull (``sync.poll_due``) at once
    seq = entry.get("seq")
    window = int(current_app.config.get("EARLY_ENTRIES_PER_PEER", 500))
    if not _usable_seq(seq) or seq > peer.held_seq + window:
        return False
    kept = db.session.scalar(
        select(EarlyEntry.id).where(EarlyEntry.peer_id == peer.id, EarlyEntry.seq == seq)
    )
    if kept is None:
        db.session.add(EarlyEntry(peer_id=peer.id, seq=seq, body=body))
        db.session.flush()
    return True


def apply_early(peer: Peer) -> int:
    """Apply the kept entries that now continue the chain; drop those it has passed.

    They are verified as any entry is; one that does not verify is not held against the
    peer (it came early, unchecked): every kept entry of the peer is dropped and the pull,
    which reads the feed from the group itself, decides. Return how many were applied.
    The caller holds the peer (``hold``) and commits.
    """
    connection = db.session.connection()
    rows = connection.execute(
        select(EarlyEntry.seq, EarlyEntry.body)
        .where(EarlyEntry.peer_id == peer.id)
        .order_by(EarlyEntry.seq)
    ).all()
    if not rows:
        return 0
    items = []
    for seq, body in rows:
        if seq <= peer.held_seq:
            continue
        try:
            entry = json.loads(body)
        except ValueError:
            break
        items.append((entry, body))
    run = _in_line(peer, items, 0) if items else 0
    stored = _apply_run(peer, items[:run]) if run else 0
    if stored < run:
        connection.execute(delete(EarlyEntry).where(EarlyEntry.peer_id == peer.id))
        peer.next_poll_at = utcnow()
        return stored
    connection.execute(
        delete(EarlyEntry).where(EarlyEntry.peer_id == peer.id, EarlyEntry.seq <= peer.held_seq)
    )
    return stored
