"""FEP-8b32 object integrity proofs with the ``eddsa-jcs-2022`` cryptosuite (W3C vc-di-eddsa).

A proof signs SHA-256(JCS(proof configuration)) followed by SHA-256(JCS(document)), where
the proof configuration is the proof without ``proofValue`` and with the document's
``@context``. Branchline's proofs carry no ``@context`` of their own (see DESIGN.md); proofs
from others that do carry one are verified as the specification says.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation.errors import ProofError
from federation.jcs import canonical_members, join_members
from federation.keys import PublicKey
from federation.multibase import multibase_decode, multibase_encode

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_SIGNATURE_LENGTH = 64
_NOT_COVERED = frozenset({"proof", "signature"})


@dataclass(frozen=True)
class VerifiedProof:
    """An object whose integrity proof checked out."""

    verification_method: str
    cryptosuite: str
    created: datetime | None


def format_created(moment: datetime) -> str:
    """Format a proof timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, UTC)."""
    if moment.tzinfo is None:
        raise ValueError("proof timestamps need a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_object(
    document: Mapping[str, Any],
    private_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an eddsa-jcs-2022 ``proof`` added."""
    if "proof" in document:
        raise ValueError("document already carries a proof")
    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method,
        "proofPurpose": PROOF_PURPOSE,
        "created": format_created(created),
    }
    unsecured = dict(document)
    signature = private_key.sign(_hash_data(options, unsecured))
    return {**unsecured, "proof": {**options, "proofValue": multibase_encode(signature)}}


def verify_object(
    document: Mapping[str, Any],
    lookup_key: Callable[[str], PublicKey | None],
    *,
    now: datetime | None = None,
    members: Mapping[str, bytes] | None = None,
) -> VerifiedProof:
    """Check the eddsa-jcs-2022 proof on ``document``; raise ProofError saying why it fails.

    ``lookup_key`` maps the proof's verificationMethod to its Ed25519 key (or None). When
    ``now`` is given, a proof whose ``expires`` has passed is refused. A caller that needs
    the document's canonical form for something else too (a feed hashes the whole entry)
    passes ``jcs.canonical_members(document)`` as ``members``, so it is made only once.
    """
    proof = document.get("proof")
    if proof is None:
        raise ProofError("missing-proof", "document carries no proof")
    if not isinstance(proof, Mapping):
        raise ProofError("malformed-proof", "proof must be a single object")
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(
            "unsupported-proof-type", f"proof type {proof.get('type')!r} is not {PROOF_TYPE}"
        )
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(
            "unsupported-cryptosuite",
            f"cryptosuite {proof.get('cryptosuite')!r} is not {CRYPTOSUITE}",
        )
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        raise ProofError(
            "wrong-proof-purpose",
            f"proofPurpose {proof.get('proofPurpose')!r} is not {PROOF_PURPOSE}",
        )
    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise ProofError("malformed-proof", "proof has no verificationMethod")
    created = _timestamp(proof, "created")
    expires = _timestamp(proof, "expires")
    if expires is not None and now is not None and expires < now:
        raise ProofError("expired-proof", "proof has expired")
    signature = _proof_signature(proof.get("proofValue"))

    options = {key: value for key, value in proof.items() if key != "proofValue"}
    if "@context" in options:
        _check_context(options.pop("@context"), document.get("@context"))

    key = lookup_key(method)
    if key is None:
        raise ProofError("unknown-key", f"no key known for verificationMethod {method!r}")
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ProofError("wrong-key-type", f"verificationMethod {method!r} is not an Ed25519 key")
    # FEP-8b32: a linked-data signature beside the proof is not part of what the proof covers.
    if members is None:
        unsecured: Mapping[str, Any] = {
            name: value for name, value in document.items() if name not in _NOT_COVERED
        }
    else:
        unsecured = {}  # not read: _hash_data leaves the uncovered members out itself
    try:
        key.verify(signature, _hash_data(options, unsecured, members))
    except InvalidSignature:
        raise ProofError("bad-signature", "proof signature does not match the document") from None
    return VerifiedProof(verification_method=method, cryptosuite=CRYPTOSUITE, created=created)


def _hash_data(
    options: Mapping[str, Any],
    unsecured: Mapping[str, Any],
    unsecured_members: Mapping[str, bytes] | None = None,
) -> bytes:
    # The proof configuration is the proof's options plus the document's @context; both
    # are put together from canonical members, so the @context is canonicalised once.
    # ``unsecured_members`` are the whole document's (a feed entry's, which its hash covers
    # too): the proof and any linked-data signature among them are left out here.
    left_out: frozenset[str] = _NOT_COVERED
    try:
        if unsecured_members is None:
            unsecured_members = canonical_members(unsecured)
            left_out = frozenset()
        config_members = canonical_members(options)
        if "@context" in unsecured_members:
            config_members["@context"] = unsecured_members["@context"]
        config_bytes = join_members(config_members)
        document_bytes = join_members(unsecured_members, without=left_out)
    except (TypeError, ValueError) as error:
        raise ProofError(
            "malformed-document", f"document is not canonical JSON: {error}"
        ) from error
    return hashlib.sha256(config_bytes).digest() + hashlib.sha256(document_bytes).digest()


def _check_context(proof_context: object, document_context: object) -> None:
    # vc-di-eddsa only asks the document's @context to *start with* the proof's and then
    # hashes the proof's, which leaves appended contexts (that can redefine terms) unsigned.
    # We require them to be equal: Branchline never needs the difference.
    if proof_context != document_context:
        raise ProofError("context-mismatch", "proof @context differs from the document's")


def _timestamp(proof: Mapping[str, Any], name: str) -> datetime | None:
    value = proof.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProofError("malformed-proof", f"proof {name} is not an XML Schema dateTime")
    if type(value) is not str:  # a subclass could hash or compare as it likes
        return _parse_timestamp.__wrapped__(value, name)
    return _parse_timestamp(value, name)


# A feed's entries are mostly signed within the same few seconds, so their timestamps repeat.
@functools.lru_cache(maxsize=256)
def _parse_timestamp(value: str, name: str) -> datetime:
    if not _DATETIME.fullmatch(value):
        raise ProofError("malformed-proof", f"proof {name} is not an XML Schema dateTime")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise ProofError("malformed-proof", f"proof {name} is not a valid date: {error}") from error


def _proof_signature(value: object) -> bytes:
    if not isinstance(value, str):
        raise ProofError("malformed-proof", "proof has no proofValue")
    try:
        signature = multibase_decode(value)
    except ValueError as error:
        raise ProofError(
            "malformed-proof", f"proofValue is not multibase base58btc: {error}"
        ) from error
    if len(signature) != _SIGNATURE_LENGTH:
        raise ProofError("malformed-proof", f"proofValue holds {len(signature)} bytes, not 64")
    return signature
