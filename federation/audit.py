"""Audit a feed as a stranger would: every group's chain, every proof, every group's head.

``branchline verify`` hands an ``Auditor`` the entries of a group's outbox or of an
aggregator's combined feed, page by page, in the order they were served. For each origin
group (the entry's ``actor``) it checks that the chain starts at seq 1 and runs on without
a gap, a repeat or a step back; that each ``prevHash`` names the previous entry's hash;
that each proof is the group's own (a key on the entry's actor, found through
``lookup_key``, which must read the group's own actor document, never the aggregator's
word) and verifies; and that each entry's id is on the group's origin. ``finish`` then
compares each group's last entry with the head the group itself declares (``feedHead`` on
its actor document), which is what catches a dropped tail.

Only the first problem of each group is reported: after it, the chain can no longer be
trusted to say what the next entry should be. The module does no I/O: key look-ups and
declared heads come in as callables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from federation.errors import ProofError
from federation.feed import ENTRY_HASH, entry_hash, is_redacted
from federation.jcs import RepeatedMembers
from federation.keys import PublicKey
from federation.proofs import verify_object
from federation.rotation import ContinuityError, KeyContinuity
from federation.urls import origin, same_origin

ProblemKind = Literal[
    "gap",  # an entry is missing: a later one came instead
    "duplicate",  # a seq already passed came again
    "reordered",  # a missing seq came late, after a higher one
    "wrong-prev",  # prevHash does not name the previous entry's hash
    "bad-proof",  # the proof is missing or does not verify: the entry was altered or invented
    "unknown-key",  # signed with a key the group's own actor document does not publish
    "wrong-actor",  # signed with a key of someone else, or served in another group's outbox
    "wrong-origin",  # the entry's id is not on its group's origin
    "malformed",  # not an entry: no usable seq or actor, repeated member names, bad stub
    "tail-dropped",  # the group's head is further on than the last entry served
    "head-mismatch",  # the last entry served is not the group's head
    "head-not-confirmed",  # the group's own actor document could not tell us its head
    "unproven-key",  # the actor document publishes it, but no rotation entry introduces it
    "retired-key",  # a rotation earlier in the feed replaced it
    "compromised-key",  # it signed after the time its group declared it compromised
    "bad-rotation",  # a rotation entry that does not prove its new key
]


class GroupUnavailable(Exception):  # noqa: N818 - a condition reported, not a bug raised
    """Raised by a key look-up or head look-up when the group's actor cannot be read."""


@dataclass(frozen=True)
class FeedHead:
    """A position in a group's feed: its seq and the hash the next entry must name."""

    seq: int
    hash: str | None


@dataclass(frozen=True)
class Problem:
    """The first thing found wrong with a group's entries (``seq`` where it went wrong)."""

    seq: int | None
    kind: ProblemKind
    detail: str


@dataclass(frozen=True)
class GroupReport:
    """What the audit found for one origin group."""

    actor: str
    entries: int  # entries of this group the feed served
    verified: int  # entries whose proof and chain link held (redaction stubs not counted)
    redacted: tuple[int, ...]  # seqs of redaction stubs: held by their declared hash only
    head: FeedHead | None  # the last entry that held
    declared_head: FeedHead | None  # what the group's own actor document says
    problem: Problem | None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Tell whether every entry held and the group's own head was reached."""
        return self.problem is None


@dataclass(frozen=True)
class StrayEntry:
    """An item of the feed that names no group it could be checked against."""

    index: int  # position in the whole feed, from 0
    problem: Problem


@dataclass(frozen=True)
class AuditReport:
    """Every group's report, and the items no group could be named for."""

    groups: tuple[GroupReport, ...]
    stray: tuple[StrayEntry, ...]
    entries: int  # items the feed served

    @property
    def ok(self) -> bool:
        """Tell whether everything verified and every group's head matched."""
        return not self.stray and all(group.ok for group in self.groups)

    @property
    def failed(self) -> tuple[GroupReport, ...]:
        """Return the reports of the groups that did not verify."""
        return tuple(group for group in self.groups if not group.ok)


# Reading JSON as a stranger's feed may write it ----------------------------------------


class RepeatedNames(dict):
    """A JSON object that named a member more than once (``names`` lists which)."""

    names: tuple[str, ...] = ()


def read_json(raw: bytes | str) -> Any:
    """Parse JSON, marking objects that repeat a member name (as ``RepeatedNames``).

    Parsers disagree on which of two same-named members wins, so one text can read as the
    signed entry to us and as something else to the next reader: such an entry is refused.
    """
    return json.loads(raw, object_pairs_hook=_object)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    marked = RepeatedNames(value)
    seen: set[str] = set()
    repeated: set[str] = set()
    for name, _value in pairs:
        (repeated if name in seen else seen).add(name)
    marked.names = tuple(sorted(repeated))
    return marked


def _repeated_names(value: Any) -> tuple[str, ...]:
    if isinstance(value, RepeatedNames):
        return value.names
    children: Iterable[Any] = ()
    if isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, list):
        children = value
    for child in children:
        if isinstance(child, (Mapping, list)):
            found = _repeated_names(child)
            if found:
                return found
    return ()


# Checking one group's chain -----------------------------------------------------------


class _Found(Exception):
    def __init__(self, kind: ProblemKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass
class _Chain:
    """One group's chain as far as the audit has followed it."""

    actor: str
    entries: int = 0
    verified: int = 0
    redacted: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head: FeedHead | None = None
    hashes: dict[int, str] = field(default_factory=dict)  # seq -> hash of entries that held
    problem: Problem | None = None
    missing: int | None = None  # seq of a gap not yet known to be a reordering
    seen_after: set[int] = field(default_factory=set)  # seqs served after the first problem
    keys: KeyContinuity | None = None  # which key may sign the next entry (rotations)

    @property
    def next_seq(self) -> int:
        return 1 if self.head is None else self.head.seq + 1


def _claimed_seq(entry: Mapping[str, Any]) -> int | None:
    seq = entry.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return None
    return seq


class Auditor:
    """Check the entries of one feed, page by page, and report per origin group.

    ``lookup_key(verification_method)`` returns the group's key from its own actor
    document (None when the document does not publish it) or raises GroupUnavailable.
    ``outbox_of`` names the group whose own outbox is being audited: every entry must
    then be that group's. Keys change only through the feed's own rotation entries
    (federation.rotation); ``revoked(actor)`` gives the times from which a group's
    document says its keys are not trusted.
    """

    def __init__(
        self,
        *,
        lookup_key: Callable[[str], PublicKey | None],
        outbox_of: str | None = None,
        now: datetime | None = None,
        revoked: Callable[[str], Mapping[str, datetime]] | None = None,
    ) -> None:
        self._lookup_key = lookup_key
        self._revoked = revoked
        self._outbox_of = outbox_of
        self._now = now
        self._chains: dict[str, _Chain] = {}
        self._stray: list[StrayEntry] = []
        self._served = 0
        # Every entry carries the same @context: canonicalise it once for the whole feed.
        self._members = RepeatedMembers(["@context"])
        if outbox_of is not None:
            self.expect_group(outbox_of)

    @property
    def entries(self) -> int:
        """Return how many items the feed has served so far."""
        return self._served

    @property
    def group_count(self) -> int:
        """Return how many groups the audit has met so far."""
        return len(self._chains)

    def expect_group(self, actor: str) -> None:
        """Report on ``actor`` even if the feed serves none of its entries (a listed group)."""
        if actor not in self._chains:
            self._chains[actor] = _Chain(actor)

    def _keys(self, chain: _Chain) -> KeyContinuity:
        if chain.keys is None:
            try:
                revoked = self._revoked(chain.actor) if self._revoked is not None else {}
            except GroupUnavailable:
                revoked = {}  # the key look-up reports the unreadable document
            chain.keys = KeyContinuity(chain.actor, self._lookup_key, revoked=revoked)
        return chain.keys

    def add_page(self, items: Sequence[Any]) -> None:
        """Check the items of one page, in the order they were served."""
        for item in items:
            self.add_entry(item)

    def add_entry(self, item: Any) -> None:
        """Check the next item the feed served."""
        index = self._served
        self._served += 1
        if not isinstance(item, Mapping):
            self._stray_problem(index, None, "malformed", "the item is not a JSON object")
            return
        seq = _claimed_seq(item)
        actor = self._group_of(item)
        if actor is None:
            detail = "the entry names no actor, so no group's key can check it"
            self._stray_problem(index, seq, "malformed", detail)
            return
        self.expect_group(actor)
        self._check(self._chains[actor], item, seq)

    def finish(self, head_of: Callable[[str], FeedHead | None]) -> AuditReport:
        """Compare each group's last entry with the head it declares; return the report.

        ``head_of(actor)`` reads the group's own actor document: None when it declares no
        head, GroupUnavailable when it cannot be read.
        """
        groups = [self._finish_chain(chain, head_of) for chain in self._chains.values()]
        return AuditReport(tuple(groups), tuple(self._stray), self._served)

    # Who an entry belongs to ------------------------------------------------------------

    def _group_of(self, entry: Mapping[str, Any]) -> str | None:
        if self._outbox_of is not None:
            return self._outbox_of  # a stranger's entry in it is reported as wrong-actor
        actor = entry.get("actor")
        if isinstance(actor, str) and origin(actor) is not None:
            return actor
        if actor is None and is_redacted(entry):
            return self._group_of_stub(entry)
        return None

    def _group_of_stub(self, stub: Mapping[str, Any]) -> str | None:
        # A redaction stub keeps id, seq and hashes but not the actor: it belongs to the
        # one group known on its id's origin, if there is exactly one.
        stub_id = stub.get("id")
        if not isinstance(stub_id, str):
            return None
        owners = [actor for actor in self._chains if same_origin(actor, stub_id)]
        return owners[0] if len(owners) == 1 else None

    def _stray_problem(self, index: int, seq: int | None, kind: ProblemKind, detail: str) -> None:
        self._stray.append(StrayEntry(index, Problem(seq, kind, detail)))

    # The chain ---------------------------------------------------------------------------

    def _check(self, chain: _Chain, entry: Mapping[str, Any], seq: int | None) -> None:
        chain.entries += 1
        if chain.problem is not None:
            self._after_problem(chain, seq)
            return
        if seq is None:
            chain.problem = Problem(None, "malformed", "the entry has no positive integer seq")
            return
        try:
            self._check_entry(chain, entry, seq)
        except _Found as found:
            at = seq
            if found.kind == "gap":
                at = chain.missing = chain.next_seq
                chain.seen_after.add(seq)
            chain.problem = Problem(at, found.kind, found.detail)

    def _check_entry(self, chain: _Chain, entry: Mapping[str, Any], seq: int) -> None:
        names = _repeated_names(entry)
        if names:
            raise _Found(
                "malformed",
                f"the entry names {', '.join(names)} more than once: readers may disagree "
                "on what it says",
            )
        members = self._canonical_members(entry)
        stub = is_redacted(entry)
        _check_attribution(chain.actor, entry, stub)
        if stub:
            _check_stub(entry)
        else:
            self._check_proof(chain, entry, members)
        _check_position(chain, entry, seq)
        _check_prev_hash(entry, chain.head)
        current = entry_hash(entry, members)
        if not stub:
            try:
                self._keys(chain).advance(entry, seq)
            except ContinuityError as error:
                raise _Found(error.reason, error.detail) from None
        chain.hashes[seq] = current
        chain.head = FeedHead(seq, current)
        if stub:
            chain.redacted.append(seq)
            chain.notes.append(
                f"seq {seq} is redacted: it holds by its declared hash; its content cannot "
                "be checked"
            )
        else:
            chain.verified += 1

    def _canonical_members(self, entry: Mapping[str, Any]) -> dict[str, bytes] | None:
        try:
            return self._members.members(entry)
        except (TypeError, ValueError):
            return None  # not canonical JSON: the proof check says so

    def _check_proof(
        self, chain: _Chain, entry: Mapping[str, Any], members: Mapping[str, bytes] | None
    ) -> None:
        actor, proof = chain.actor, entry.get("proof")
        if not isinstance(proof, Mapping):
            raise _Found("bad-proof", "the entry carries no proof")
        method = proof.get("verificationMethod")
        if not isinstance(method, str) or not method:
            raise _Found("bad-proof", "the proof names no verificationMethod")
        if method.partition("#")[0] != actor:
            raise _Found("wrong-actor", f"signed with {method}, which is not a key of {actor}")
        try:
            key = self._keys(chain).key_for(entry)
        except GroupUnavailable as error:
            raise _Found("unknown-key", f"the group's key could not be read: {error}") from None
        except ContinuityError as error:
            raise _Found(error.reason, error.detail) from None
        try:
            verify_object(entry, lambda _method: key, now=self._now, members=members)
        except ProofError as error:
            raise _Found(
                "bad-proof", f"the proof does not verify ({error.reason}): {error}"
            ) from None

    def _after_problem(self, chain: _Chain, seq: int | None) -> None:
        # Only a gap can still change its name: the entry that seemed dropped may come late.
        if seq is None:
            return
        if chain.missing is not None and seq == chain.missing:
            highest = max(chain.seen_after)
            chain.problem = Problem(
                seq, "reordered", f"seq {seq} was served after seq {highest}, not before it"
            )
            chain.missing = None
        chain.seen_after.add(seq)

    def _finish_chain(
        self, chain: _Chain, head_of: Callable[[str], FeedHead | None]
    ) -> GroupReport:
        declared: FeedHead | None = None
        problem = chain.problem
        try:
            declared = head_of(chain.actor)
        except GroupUnavailable as error:
            if problem is None:
                problem = Problem(
                    None,
                    "head-not-confirmed",
                    f"the group's own actor document could not be read: {error}",
                )
        else:
            if problem is None:
                problem = _compare_head(chain.head, declared)
        return GroupReport(
            actor=chain.actor,
            entries=chain.entries,
            verified=chain.verified,
            redacted=tuple(chain.redacted),
            head=chain.head,
            declared_head=declared,
            problem=problem,
            notes=tuple(chain.notes),
        )


def _check_attribution(actor: str, entry: Mapping[str, Any], stub: bool) -> None:
    named = entry.get("actor")
    if not (stub and named is None) and named != actor:
        raise _Found("wrong-actor", f"an entry of {named!r} served as one of {actor}")
    entry_id = entry.get("id")
    if not isinstance(entry_id, str) or not same_origin(entry_id, actor):
        raise _Found("wrong-origin", f"the entry's id {entry_id!r} is not on {actor}'s origin")


def _check_stub(entry: Mapping[str, Any]) -> None:
    declared = entry.get("redactedHash")
    if not isinstance(declared, str) or not ENTRY_HASH.fullmatch(declared):
        raise _Found("malformed", "a redaction stub whose redactedHash is not sha256:<hex>")


def _check_position(chain: _Chain, entry: Mapping[str, Any], seq: int) -> None:
    expected = chain.next_seq
    if seq < expected:
        same = chain.hashes.get(seq) == entry_hash(entry)
        again = "again, unchanged" if same else "again, with different content"
        raise _Found("duplicate", f"seq {seq} was served {again}")
    if seq > expected:
        came = "the feed starts at" if expected == 1 else f"seq {expected - 1} is followed by"
        raise _Found("gap", f"seq {expected} is missing: {came} seq {seq}")


def _check_prev_hash(entry: Mapping[str, Any], head: FeedHead | None) -> None:
    named = entry.get("prevHash")
    if head is None:
        if named is not None:
            raise _Found("wrong-prev", "the first entry names a previous entry")
        return
    if named != head.hash:
        raise _Found("wrong-prev", f"prevHash {named} is not seq {head.seq}'s hash {head.hash}")


def _compare_head(last: FeedHead | None, declared: FeedHead | None) -> Problem | None:
    if declared is None:
        detail = "the group's actor document declares no feedHead"
        return Problem(None, "head-not-confirmed", detail)
    served = 0 if last is None else last.seq
    if declared.seq > served:
        return Problem(
            served + 1,
            "tail-dropped",
            f"the group's head is seq {declared.seq} but the feed stops at seq {served}",
        )
    if declared.seq < served:
        return Problem(
            declared.seq + 1,
            "head-mismatch",
            f"the feed serves up to seq {served} but the group's head is seq {declared.seq}",
        )
    if last is not None and last.hash != declared.hash:
        return Problem(
            declared.seq,
            "head-mismatch",
            f"seq {declared.seq} hashes to {last.hash}; the group's head is {declared.hash}",
        )
    return None
