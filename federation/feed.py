"""The signed feed: sequence-numbered, hash-chained, FEP-8b32-signed ActivityPub entries.

Each entry carries ``seq`` (1, 2, 3 … without gaps), ``prevHash`` (``sha256:<hex>`` of the
RFC 8785 form of the whole previous entry as published, proof included) and an
``eddsa-jcs-2022`` proof. The first entry has no ``prevHash``: nothing came before it, and
a verifier refuses a first entry that names a predecessor.

An entry whose content must be erased is replaced by a redaction stub (see ``redact``): a
``Tombstone`` that keeps ``id``, ``seq`` and ``prevHash`` and declares the erased entry's
hash as ``redactedHash``. The next entry's ``prevHash`` names that hash, so the chain still
verifies; the stub itself carries no proof and is reported as redacted, not as a break.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ed25519

from federation.errors import ProofError
from federation.jcs import RepeatedMembers, canonical_members, canonicalize, join_members
from federation.keys import PublicKey
from federation.proofs import sign_object, verify_object
from federation.rotation import ContinuityError, KeyContinuity, signer_of

ACTIVITYSTREAMS_CONTEXT = "https://www.w3.org/ns/activitystreams"
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v1"

# The one place the Branchline vocabulary's IRI is spelled. Every node must use the same
# value: it is part of what each entry's proof covers.
NAMESPACE = "https://branchline.example/ns#"
NAMESPACE_PREFIX = "branchline"
SCHEMA_NAMESPACE = "http://schema.org/"
ICAL_NAMESPACE = "http://www.w3.org/2002/12/cal/ical#"

HASH_PREFIX = "sha256:"
ENTRY_HASH = re.compile(r"sha256:[0-9a-f]{64}")  # what prevHash and redactedHash must look like
REDACTED_TYPE = "Tombstone"

# Fields build_entry owns; an activity handed in must not set them itself.
_CHAIN_FIELDS = ("seq", "prevHash", "redactedHash", "proof")

BreakReason = Literal[
    "malformed",
    "missing-proof",
    "wrong-key",
    "bad-proof",
    "duplicate",
    "gap",
    "out-of-order",
    "wrong-prev-hash",
    # federation.rotation: a key the feed has not proven, or a rotation that does not hold.
    "unproven-key",
    "retired-key",
    "compromised-key",
    "bad-rotation",
]

# How proofs.verify_object's reasons read in a feed report.
_PROOF_REASONS: dict[str, BreakReason] = {
    "missing-proof": "missing-proof",
    "unknown-key": "wrong-key",
    "wrong-key-type": "wrong-key",
    "malformed-document": "malformed",
}


def extension_terms() -> dict[str, Any]:
    """Return the Branchline term definitions embedded in every entry's ``@context``."""
    prefix = NAMESPACE_PREFIX
    return {
        prefix: NAMESPACE,
        "seq": f"{prefix}:seq",
        "prevHash": f"{prefix}:prevHash",
        "redactedHash": f"{prefix}:redactedHash",
        "Campaign": f"{prefix}:Campaign",
        "Candidate": f"{prefix}:Candidate",
        # What campaigns, events and candidates say beyond ActivityStreams. None of these
        # names is an ActivityStreams term (``result`` is, hence ``electionResult``).
        "kind": f"{prefix}:kind",
        "status": f"{prefix}:status",
        "timezone": f"{prefix}:timezone",
        "goingCount": f"{prefix}:goingCount",
        "accessibility": f"{prefix}:accessibility",
        "campaign": {"@id": f"{prefix}:campaign", "@type": "@id"},
        "office": f"{prefix}:office",
        "area": f"{prefix}:area",
        "seat": f"{prefix}:seat",
        # A group's seat: the sitting majority (votes) and marginality (that majority as a
        # percentage of the votes cast: lower is more marginal).
        "seatMajority": f"{prefix}:seatMajority",
        "seatMarginality": f"{prefix}:seatMarginality",
        # An aggregator's combined feed of the groups it follows, and the node's role.
        "aggregateFeed": {"@id": f"{prefix}:aggregateFeed", "@type": "@id"},
        "nodeRole": f"{prefix}:nodeRole",
        # Counts only, never names: how many came to an event.
        "attendedCount": f"{prefix}:attendedCount",
        # What an RSVP from a twinned group's member carries: how many are coming, the
        # name they chose to share (if any), the RSVP's revision (an older one is
        # ignored) and, in a Reject of it, why it was turned down ("full", "closed").
        # (A twinning Offer's Relationship names NAMESPACE + "twinnedWith".)
        "partySize": f"{prefix}:partySize",
        "attendeeName": f"{prefix}:attendeeName",
        "revision": f"{prefix}:revision",
        "refusalReason": f"{prefix}:refusalReason",
        "stage": f"{prefix}:stage",
        "endorsement": f"{prefix}:endorsement",
        "contestDate": f"{prefix}:contestDate",
        "electionResult": f"{prefix}:electionResult",
        "feedHead": f"{prefix}:feedHead",
        # A ballot's result (an ActivityStreams Question): Mastodon's voter count, and
        # the count's details as one JSON literal (kind, seats, who could vote, quorum,
        # outcome, the chosen, the candidate an endorsement ballot endorses); a
        # candidate names the ballot that endorsed it.
        "votersCount": "http://joinmastodon.org/ns#votersCount",
        "ballotResult": {"@id": f"{prefix}:ballotResult", "@type": "@json"},
        "endorsementBallot": {"@id": f"{prefix}:endorsementBallot", "@type": "@id"},
        # A sealed ballot's result: how many tellers held its key and how many had to act
        # together to count, how many sealed papers were opened and how many were spoilt,
        # and SHA-256 hashes (hex) of the tellers' names (in order, one per line), of the
        # ballot box's trackers (sorted, one per line) and of the opened papers as published
        # (RFC 8785 JSON), so the group cannot quietly change any of them later.
        "tellersCount": f"{prefix}:tellersCount",
        "tellersNeeded": f"{prefix}:tellersNeeded",
        "sealedCount": f"{prefix}:sealedCount",
        "spoiltCount": f"{prefix}:spoiltCount",
        "tellersHash": f"{prefix}:tellersHash",
        "trackerListHash": f"{prefix}:trackerListHash",
        "openedPapersHash": f"{prefix}:openedPapersHash",
        "hash": f"{prefix}:hash",
        # A key rotation (federation.rotation): the statement on the rotation entry, and
        # every rotation entry again on the actor document. Key ids are @id references.
        "keyRotation": {"@id": f"{prefix}:keyRotation", "@type": "@json"},
        "keyRotations": {"@id": f"{prefix}:keyRotations", "@type": "@json"},
        # An ask across the network (an Offer of an Ask to the asker's followers): when and
        # where, as words; whether it goes to groups in its area (``location``, a Place with
        # a ``radius`` in ``units``) or to every follower; the date to answer by. A group's
        # answer (Accept or Reject of the Offer) carries an AskOutcome: a count, no names.
        "Ask": f"{prefix}:Ask",
        "askWhen": f"{prefix}:askWhen",
        "askWhere": f"{prefix}:askWhere",
        "askReach": f"{prefix}:askReach",
        "respondBy": f"{prefix}:respondBy",
        "AskOutcome": f"{prefix}:AskOutcome",
        "reachedCount": f"{prefix}:reachedCount",
        # Borrowed, so event software that knows them (Mobilizon, Gancio) reads them too.
        "schema": SCHEMA_NAMESPACE,
        "ical": ICAL_NAMESPACE,
        "address": "schema:address",
        "startDate": "schema:startDate",
        "endDate": "schema:endDate",
        "maximumAttendeeCapacity": "schema:maximumAttendeeCapacity",
        "remainingAttendeeCapacity": "schema:remainingAttendeeCapacity",
    }


def entry_context() -> list[Any]:
    """Return the ``@context`` every feed entry carries."""
    return [ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT, extension_terms()]


def context_document() -> dict[str, Any]:
    """Return the JSON-LD context document a node serves for the Branchline terms."""
    return {"@context": extension_terms()}


def entry_hash(entry: Mapping[str, Any], members: Mapping[str, bytes] | None = None) -> str:
    """Return the hash the next entry's ``prevHash`` must name (a stub's ``redactedHash``).

    ``members`` may carry ``jcs.canonical_members(entry)`` when the caller has them.
    """
    if is_redacted(entry):
        return str(entry["redactedHash"])
    canonical = canonicalize(entry) if members is None else join_members(members)
    return HASH_PREFIX + hashlib.sha256(canonical).hexdigest()


def serialize_entry(entry: Mapping[str, Any]) -> bytes:
    """Return the canonical bytes to store and serve; their SHA-256 is the entry's hash."""
    return canonicalize(entry)


def build_entry(
    activity: Mapping[str, Any],
    *,
    seq: int,
    previous: Mapping[str, Any] | None,
    signing_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
) -> dict[str, Any]:
    """Chain ``activity`` after ``previous`` as entry ``seq`` and sign it."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"seq must be a positive integer, not {seq!r}")
    owned = [name for name in _CHAIN_FIELDS if name in activity]
    if owned:
        raise ValueError(f"activity must not set {', '.join(owned)}: build_entry adds them")
    context = entry_context()
    if "@context" in activity and activity["@context"] != context:
        raise ValueError("activity carries an @context other than the feed's")
    entry: dict[str, Any] = {"@context": context}
    entry.update((name, value) for name, value in activity.items() if name != "@context")
    entry["seq"] = seq
    if seq == 1:
        if previous is not None:
            raise ValueError("the first entry has no previous entry")
    else:
        if previous is None:
            raise ValueError(f"entry {seq} needs the previous entry")
        if previous.get("seq") != seq - 1:
            raise ValueError(f"previous entry has seq {previous.get('seq')!r}, not {seq - 1}")
        entry["prevHash"] = entry_hash(previous)
    return sign_object(entry, signing_key, verification_method, created)


def is_redacted(entry: Mapping[str, Any]) -> bool:
    """Tell whether ``entry`` is a redaction stub rather than a signed entry."""
    return entry.get("type") == REDACTED_TYPE and "redactedHash" in entry


def redact(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Return the stub that replaces ``entry`` when its content must be erased."""
    if is_redacted(entry):
        return dict(entry)
    seq = entry.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise ValueError("only feed entries (with an integer seq) can be redacted")
    # The proof is left out on purpose: its signature is the one part of the hashed bytes
    # nobody else can compute, so without it redactedHash cannot confirm a guess at what
    # the erased entry said.
    stub: dict[str, Any] = {"@context": entry_context()}
    if "id" in entry:
        stub["id"] = entry["id"]
    stub["type"] = REDACTED_TYPE
    if "type" in entry:
        stub["formerType"] = entry["type"]
    stub["seq"] = seq
    if "prevHash" in entry:
        stub["prevHash"] = entry["prevHash"]
    stub["redactedHash"] = entry_hash(entry)
    return stub


def redaction_matches(stub: Mapping[str, Any], original: Mapping[str, Any]) -> bool:
    """Tell whether ``original`` is the entry that ``stub`` stands in for."""
    return (
        is_redacted(stub)
        and not is_redacted(original)
        and (stub["redactedHash"] == entry_hash(original))
    )


@dataclass(frozen=True)
class ChainBreak:
    """Where and why a run of entries stopped verifying."""

    index: int  # position in the run handed to verify_run
    expected_seq: int
    seq: int | None  # the seq the entry claims, None when it has no usable one
    reason: BreakReason
    detail: str


@dataclass(frozen=True)
class RunReport:
    """What verify_run found: how far the run verified and the first break, if any."""

    verified: int  # entries whose proof and chain link checked out
    redacted: tuple[int, ...]  # seqs of redaction stubs: chain intact, content unverifiable
    head: tuple[int, str] | None  # (seq, hash) of the last entry that held, else start_after
    problem: ChainBreak | None
    # The hashes of the entries that held, in order (what the next prevHash must name).
    hashes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Tell whether every entry in the run held."""
        return self.problem is None

    @property
    def bad_seq(self) -> int | None:
        """Return the seq at which the run broke (the one expected there), or None."""
        return None if self.problem is None else self.problem.expected_seq

    @property
    def reason(self) -> BreakReason | None:
        """Return the reason code of the first break, or None."""
        return None if self.problem is None else self.problem.reason


class _Break(Exception):
    def __init__(self, reason: BreakReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def verify_run(
    entries: Sequence[Any],
    *,
    actor: str,
    lookup_key: Callable[[str], PublicKey | None],
    start_after: tuple[int, str] | None = None,
    now: datetime | None = None,
    continuity: KeyContinuity | None = None,
) -> RunReport:
    """Check a run of entries from one actor's feed and report how far it holds; never raise.

    The run continues from ``start_after`` (the (seq, hash) already held) or from the
    start of the feed. Each proof's verificationMethod must be a key on ``actor``'s own
    document (``ACTOR#fragment``) and ``lookup_key`` must know it; a key of anyone else
    is ``wrong-key``. Verification stops at the first break. A redacted head is only as
    good as its declared hash: compare ``head`` with the head the actor publishes.
    With ``continuity`` (federation.rotation) each entry must be signed by the key the
    feed has proven so far, not merely by any key ``lookup_key`` knows.
    """
    expected_seq = 1 if start_after is None else start_after[0] + 1
    previous_hash = None if start_after is None else start_after[1]
    head = start_after
    verified = 0
    redacted: list[int] = []
    hashes: list[str] = []
    claimed = [_claimed_seq(entry) for entry in entries]
    # Every entry of a feed has the same @context: canonicalise it once per run (a run of
    # one entry has nothing to share it with).
    repeated = RepeatedMembers(["@context"]) if len(entries) > 1 else None
    for index, entry in enumerate(entries):
        seq = claimed[index]
        try:
            if not isinstance(entry, Mapping):
                raise _Break("malformed", "entry is not a JSON object")
            if seq is None:
                raise _Break("malformed", "entry has no integer seq")
            # Canonicalised once: the proof covers the entry without its proof, the chain
            # hash the whole entry, and both are joined from these members. An entry that
            # is not canonical JSON is reported by the proof check, as before.
            try:
                members: dict[str, bytes] | None = (
                    canonical_members(entry) if repeated is None else repeated.members(entry)
                )
            except (TypeError, ValueError):
                members = None
            stub = is_redacted(entry)
            if stub:
                _check_stub(entry)
            else:
                _check_proof(entry, actor, _lookup(continuity, entry, lookup_key), now, members)
            _check_seq(seq, expected_seq, claimed, index + 1)
            _check_prev_hash(entry, previous_hash)
            current_hash = entry_hash(entry, members)
            if continuity is not None and not stub:
                _advance(continuity, entry, seq)
        except _Break as found:
            problem = ChainBreak(index, expected_seq, seq, found.reason, found.detail)
            return RunReport(verified, tuple(redacted), head, problem, tuple(hashes))
        if stub:
            redacted.append(seq)
        else:
            verified += 1
        hashes.append(current_hash)
        head = (seq, current_hash)
        previous_hash = current_hash
        expected_seq += 1
    return RunReport(verified, tuple(redacted), head, None, tuple(hashes))


def _lookup(
    continuity: KeyContinuity | None,
    entry: Mapping[str, Any],
    lookup_key: Callable[[str], PublicKey | None],
) -> Callable[[str], PublicKey | None]:
    if continuity is None:
        return lookup_key
    if isinstance(entry.get("proof"), Mapping) and signer_of(entry) is not None:
        method = signer_of(entry)
        if isinstance(method, str) and method.partition("#")[0] == continuity.actor:
            try:
                key = continuity.key_for(entry)
            except ContinuityError as error:
                raise _Break(_continuity_reason(error), error.detail) from None
            return lambda _method: key
    return lookup_key  # no usable proof: _check_proof says what is wrong with it


def _advance(continuity: KeyContinuity, entry: Mapping[str, Any], seq: int) -> None:
    try:
        continuity.advance(entry, seq)
    except ContinuityError as error:
        raise _Break(_continuity_reason(error), error.detail) from None


def _continuity_reason(error: ContinuityError) -> BreakReason:
    return "wrong-key" if error.reason == "unknown-key" else error.reason


def _claimed_seq(entry: object) -> int | None:
    if not isinstance(entry, Mapping):
        return None
    seq = entry.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        return None
    return seq


def _check_stub(entry: Mapping[str, Any]) -> None:
    declared = entry.get("redactedHash")
    if not isinstance(declared, str) or not ENTRY_HASH.fullmatch(declared):
        raise _Break("malformed", "redactedHash is not sha256:<64 lower-case hex digits>")


def _check_proof(
    entry: Mapping[str, Any],
    actor: str,
    lookup_key: Callable[[str], PublicKey | None],
    now: datetime | None,
    members: Mapping[str, bytes] | None,
) -> None:
    proof = entry.get("proof")
    if proof is None:
        raise _Break("missing-proof", "entry carries no proof")
    method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    if isinstance(method, str) and method.partition("#")[0] != actor:
        raise _Break("wrong-key", f"signed with {method!r}, not a key of {actor!r}")
    try:
        verify_object(entry, lookup_key, now=now, members=members)
    except ProofError as error:
        raise _Break(_PROOF_REASONS.get(error.reason, "bad-proof"), str(error)) from None


def _check_seq(seq: int, expected: int, claimed: Sequence[int | None], later: int) -> None:
    if seq < expected:
        raise _Break("duplicate", f"seq {seq} was already passed; expected {expected}")
    if seq > expected:
        # Only a break looks at the rest of the run: slicing it for every entry is quadratic.
        if expected in claimed[later:]:
            raise _Break("out-of-order", f"seq {seq} comes before {expected}")
        raise _Break("gap", f"seq {seq} follows {expected - 1}; {expected} is missing")


def _check_prev_hash(entry: Mapping[str, Any], previous_hash: str | None) -> None:
    declared = entry.get("prevHash")
    if previous_hash is None:
        if declared is not None:
            raise _Break("wrong-prev-hash", "the first entry names a previous entry")
        return
    if not isinstance(declared, str) or not ENTRY_HASH.fullmatch(declared):
        raise _Break("malformed", "prevHash is missing or not sha256:<64 lower-case hex digits>")
    if declared != previous_hash:
        raise _Break("wrong-prev-hash", f"prevHash {declared} is not {previous_hash}")
