"""Key rotation with continuity: a group's new keys are accepted only through a proof.

A group that rotates its keys publishes a feed entry (an Update of its actor) carrying a
``keyRotation`` statement: "new key K replaces old key J from time T" (and, for a
compromised key, "J is not to be trusted from time C"). The statement is signed by the
NEW Ed25519 key (so whoever announces K holds it) and the entry around it, like every
entry, by the OLD one (so only the holder of J could announce a successor). The RSA key
that signs HTTP requests cannot make a Data Integrity proof: the statement names the new
RSA key too, and the Ed25519 proofs vouch for it.

``KeyContinuity`` follows one actor's feed entry by entry and says which key may sign the
next one: the first entry's key comes from the actor document (as before rotations
existed), every later key only from a rotation entry signed by the key it replaces. A key
the actor document publishes that no rotation introduced is refused; so is a retired key,
and a key signing after the time it was declared compromised. ``prove_rotations`` checks
the rotation entries an actor document embeds (``keyRotations``), for a receiver that must
trust a new RSA key before it holds the group's feed. No I/O: keys and clocks come in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation.errors import KeyFormatError, ProofError
from federation.keys import (
    PublicKey,
    ed25519_public_key_from_multikey,
    ed25519_public_key_to_multikey,
    load_public_key_pem,
)
from federation.proofs import format_created, sign_object, verify_object

ROTATION_MEMBER = "keyRotation"  # on the rotation entry
ROTATIONS_MEMBER = "keyRotations"  # on the actor document: every rotation entry, in order
ROTATION_TYPE = "KeyRotation"

ContinuityReason = Literal[
    "unknown-key",  # no key the actor publishes
    "unproven-key",  # published, but no rotation entry introduces it
    "retired-key",  # replaced by a rotation earlier in the feed
    "compromised-key",  # signed after the time its group declared it compromised
    "bad-rotation",  # a rotation entry that does not prove what it claims
]


class ContinuityError(Exception):
    """An entry is signed by a key its feed has not proven, or a rotation does not hold."""

    def __init__(self, reason: ContinuityReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Rotation:
    """What a rotation entry proves: K (and its RSA twin) replace J from ``valid_from``."""

    actor: str
    previous_key: str
    new_key: str
    new_key_value: ed25519.Ed25519PublicKey
    previous_http_key: str
    new_http_key: str
    new_http_pem: str
    valid_from: datetime
    compromised_since: datetime | None


def rotation_statement(
    *,
    actor: str,
    previous_key: str,
    new_key: str,
    new_key_value: ed25519.Ed25519PublicKey,
    previous_http_key: str,
    new_http_key: str,
    new_http_pem: str,
    valid_from: datetime,
    compromised_since: datetime | None = None,
) -> dict[str, Any]:
    """Return the unsigned statement "``new_key`` replaces ``previous_key`` from ``valid_from``"."""
    statement: dict[str, Any] = {
        "type": ROTATION_TYPE,
        "actor": actor,
        "previousKey": previous_key,
        "newKey": {
            "id": new_key,
            "type": "Multikey",
            "controller": actor,
            "publicKeyMultibase": ed25519_public_key_to_multikey(new_key_value),
        },
        "previousHttpKey": previous_http_key,
        "newHttpKey": {"id": new_http_key, "owner": actor, "publicKeyPem": new_http_pem},
        "validFrom": format_created(valid_from),
    }
    if compromised_since is not None:
        statement["compromisedSince"] = format_created(compromised_since)
    return statement


def sign_statement(
    statement: Mapping[str, Any], new_private_key: ed25519.Ed25519PrivateKey, created: datetime
) -> dict[str, Any]:
    """Sign a rotation statement with the NEW key it introduces (its proof of possession)."""
    return sign_object(statement, new_private_key, statement["newKey"]["id"], created)


def _moment(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ContinuityError("bad-rotation", f"the rotation's {what} is not a date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ContinuityError("bad-rotation", f"the rotation's {what} is not a date") from None
    if moment.tzinfo is None:
        raise ContinuityError("bad-rotation", f"the rotation's {what} has no timezone")
    return moment.astimezone(UTC)


def _own_key_id(value: Any, actor: str, what: str) -> str:
    if not isinstance(value, str) or value.partition("#")[0] != actor or value == actor:
        raise ContinuityError("bad-rotation", f"the rotation's {what} is not a key of {actor}")
    return value


def signer_of(entry: Mapping[str, Any]) -> str | None:
    """Return the verificationMethod of ``entry``'s proof, or None when it names none."""
    proof = entry.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, Mapping) else None
    return method if isinstance(method, str) and method else None


def created_of(entry: Mapping[str, Any]) -> datetime | None:
    """Return when ``entry``'s proof says it was made, or None when it cannot be read."""
    proof = entry.get("proof")
    value = proof.get("created") if isinstance(proof, Mapping) else None
    try:
        return _moment(value, "created")
    except ContinuityError:
        return None


def read_rotation(entry: Mapping[str, Any], actor: str) -> Rotation | None:
    """Return the rotation ``entry`` carries (its new key's proof checked), None if it has none.

    The entry's own proof, by the old key, is the caller's to check (a feed checks every
    entry's proof); here it must at least be made with the key the statement retires.
    """
    statement = entry.get(ROTATION_MEMBER)
    if statement is None:
        return None
    if not isinstance(statement, Mapping) or statement.get("type") != ROTATION_TYPE:
        raise ContinuityError("bad-rotation", f"{ROTATION_MEMBER} is not a {ROTATION_TYPE}")
    if statement.get("actor") != actor or entry.get("actor") != actor:
        raise ContinuityError("bad-rotation", f"the rotation is not {actor}'s own")
    previous = _own_key_id(statement.get("previousKey"), actor, "previousKey")
    if signer_of(entry) != previous:
        raise ContinuityError(
            "bad-rotation",
            f"the rotation entry is signed by {signer_of(entry)!r}, not by the key it "
            f"retires ({previous})",
        )
    new = statement.get("newKey")
    if not isinstance(new, Mapping) or new.get("controller") != actor:
        raise ContinuityError("bad-rotation", "the rotation's newKey is not a key of its actor")
    new_key = _own_key_id(new.get("id"), actor, "newKey")
    if new_key == previous:
        raise ContinuityError("bad-rotation", "the rotation replaces a key with itself")
    try:
        value = ed25519_public_key_from_multikey(str(new.get("publicKeyMultibase")))
    except (KeyFormatError, ValueError):
        detail = "the rotation's newKey is not an Ed25519 key"
        raise ContinuityError("bad-rotation", detail) from None
    http = statement.get("newHttpKey")
    if not isinstance(http, Mapping) or http.get("owner") != actor:
        raise ContinuityError("bad-rotation", "the rotation's newHttpKey is not its actor's")
    new_http = _own_key_id(http.get("id"), actor, "newHttpKey")
    pem = http.get("publicKeyPem")
    try:
        if not isinstance(pem, str) or not isinstance(load_public_key_pem(pem), rsa.RSAPublicKey):
            raise KeyFormatError("not RSA")
    except KeyFormatError:
        detail = "the rotation's newHttpKey is not an RSA key"
        raise ContinuityError("bad-rotation", detail) from None
    try:
        verify_object(statement, lambda method: value if method == new_key else None)
    except ProofError as error:
        raise ContinuityError(
            "bad-rotation", f"the new key's proof on the rotation does not hold: {error}"
        ) from None
    compromised = statement.get("compromisedSince")
    return Rotation(
        actor=actor,
        previous_key=previous,
        new_key=new_key,
        new_key_value=value,
        previous_http_key=_own_key_id(statement.get("previousHttpKey"), actor, "previousHttpKey"),
        new_http_key=new_http,
        new_http_pem=pem,
        valid_from=_moment(statement.get("validFrom"), "validFrom"),
        compromised_since=None if compromised is None else _moment(compromised, "compromisedSince"),
    )


@dataclass
class _Retired:
    seq: int | None
    successor: str


class KeyContinuity:
    """Which proof key may sign the next entry of ``actor``'s feed, followed entry by entry.

    ``published`` looks a key up on the actor's own document: it is trusted for the key of
    the first entry only (and for the value of the key current at ``current``, when the
    state is picked up after entries already held). ``revoked`` maps keys to the time from
    which their signatures are not trusted (a document's ``revoked``, a rotation's
    ``compromisedSince``): taking it from an unproven document is safe, since it only
    ever refuses more.
    """

    def __init__(
        self,
        actor: str,
        published: Callable[[str], PublicKey | None],
        *,
        revoked: Mapping[str, datetime] | None = None,
        current: str | None = None,
        current_value: PublicKey | None = None,
    ) -> None:
        self.actor = actor
        self._published = published
        self.revoked: dict[str, datetime] = dict(revoked or {})
        self.current = current
        self._current_value = current_value
        self.retired: dict[str, _Retired] = {}
        self.rotations: list[Rotation] = []
        self.swapped = False  # the document changed the current key's value: trust nothing

    def copy(self, published: Callable[[str], PublicKey | None]) -> KeyContinuity:
        """Return a copy to follow further entries with (``published`` looks keys up)."""
        twin = KeyContinuity(
            self.actor,
            published,
            revoked=self.revoked,
            current=self.current,
            current_value=self._current_value,
        )
        twin.retired = dict(self.retired)
        twin.rotations = list(self.rotations)
        twin.swapped = self.swapped
        return twin

    def key_for(self, entry: Mapping[str, Any]) -> PublicKey:
        """Return the key that must verify ``entry``'s proof; raise ContinuityError if none."""
        method = signer_of(entry)
        if method is None:
            raise ContinuityError("unknown-key", "the entry's proof names no key")
        if method in self.retired:
            retired = self.retired[method]
            at = f" at seq {retired.seq}" if retired.seq is not None else ""
            raise ContinuityError(
                "retired-key",
                f"{method} was replaced by {retired.successor}{at}: it signs nothing after",
            )
        if self.current is not None and method != self.current:
            if self._published(method) is not None:
                raise ContinuityError(
                    "unproven-key",
                    f"{method} is published but the feed has not proven it: entries here "
                    f"must be signed by {self.current}, and a key changes only through a "
                    "rotation entry signed by the key it replaces",
                )
            raise ContinuityError("unknown-key", f"{method} is not a key of {self.actor}")
        if self.swapped:
            raise ContinuityError(
                "unproven-key",
                f"the actor document gives {method} a value that did not sign the entries "
                "held: a changed key needs a rotation entry",
            )
        key = self._current_value if self.current is not None else None
        key = key or self._published(method)
        if key is None:
            raise ContinuityError(
                "unknown-key", f"{method} is not a key the actor's own document publishes"
            )
        self._check_cut(entry, method)
        if self.current is None:
            self.current, self._current_value = method, key  # the first key: the document's
        return key

    def _check_cut(self, entry: Mapping[str, Any], method: str) -> None:
        cut = self.revoked.get(method)
        if cut is None:
            return
        statement = entry.get(ROTATION_MEMBER)
        if isinstance(statement, Mapping) and statement.get("previousKey") == method:
            return  # the rotation that retires the key is the one thing it still signs
        created = created_of(entry)
        if created is None or created >= cut:
            when = "at an unknown time" if created is None else f"at {format_created(created)}"
            raise ContinuityError(
                "compromised-key",
                f"signed by {method} {when}, after its group declared that key compromised "
                f"(not trusted since {format_created(cut)})",
            )

    def advance(self, entry: Mapping[str, Any], seq: int | None = None) -> Rotation | None:
        """Take in ``entry`` (its proof verified by ``key_for``'s key); return its rotation."""
        rotation = read_rotation(entry, self.actor)
        if rotation is None:
            return None
        if rotation.previous_key != self.current:
            raise ContinuityError(
                "bad-rotation", f"the rotation retires {rotation.previous_key}, not {self.current}"
            )
        if rotation.new_key in self.retired:
            raise ContinuityError("bad-rotation", f"{rotation.new_key} was already retired")
        self.retired[rotation.previous_key] = _Retired(seq, rotation.new_key)
        if rotation.compromised_since is not None:
            held = self.revoked.get(rotation.previous_key)
            cut = rotation.compromised_since
            self.revoked[rotation.previous_key] = cut if held is None else min(held, cut)
        self.current, self._current_value = rotation.new_key, rotation.new_key_value
        self.rotations.append(rotation)
        return rotation

    @classmethod
    def after(
        cls,
        actor: str,
        published: Callable[[str], PublicKey | None],
        held: Mapping[str, Any],
        *,
        revoked: Mapping[str, datetime] | None = None,
    ) -> KeyContinuity:
        """Pick the state up after ``held``, the last entry already accepted from this feed.

        After a rotation entry the next key is the one it introduced (its value from the
        entry); otherwise it is the key that signed ``held``, with the value the document
        publishes for it, which must verify ``held`` (a document cannot swap a key's value).
        """
        rotation = read_rotation(held, actor)
        if rotation is not None:
            state = cls(
                actor,
                published,
                revoked=revoked,
                current=rotation.new_key,
                current_value=rotation.new_key_value,
            )
            state.retired[rotation.previous_key] = _Retired(held.get("seq"), rotation.new_key)
            return state
        method = signer_of(held)
        value = published(method) if method is not None else None
        if method is None or value is None:
            state = cls(actor, published, revoked=revoked, current=method or "")
            state.swapped = True
            return state
        state = cls(actor, published, revoked=revoked, current=method, current_value=value)
        try:
            verify_object(held, lambda _method: value)
        except ProofError:
            state.swapped = True  # the document's value is not the key that signed what we hold
        return state


def revocations(document: Mapping[str, Any], actor: str) -> dict[str, datetime]:
    """Return the ``revoked`` times ``actor``'s document gives its assertion keys."""
    if document.get("id") != actor:
        return {}
    methods = document.get("assertionMethod")
    found: dict[str, datetime] = {}
    for method in methods if isinstance(methods, list) else [methods]:
        if not isinstance(method, Mapping) or "revoked" not in method:
            continue
        key_id = method.get("id")
        if not isinstance(key_id, str) or key_id.partition("#")[0] != actor:
            continue
        try:
            found[key_id] = _moment(method.get("revoked"), "revoked")
        except ContinuityError:
            continue
    return found


@dataclass(frozen=True)
class ProvenKeys:
    """The keys a chain of rotations proves: the last Ed25519 key and RSA key it names."""

    proof_key: str
    proof_key_value: ed25519.Ed25519PublicKey
    http_key: str
    http_pem: str


def prove_rotations(
    entries: Sequence[Any], actor: str, trusted: Mapping[str, PublicKey]
) -> ProvenKeys | None:
    """Follow the rotation entries an actor document embeds from a key already ``trusted``.

    Each entry must be signed by the key the one before introduced (the first by a key in
    ``trusted``) and carry a rotation whose new key's proof holds; returns the keys the
    last one introduces, or None when the chain does not start from a trusted key or
    breaks. Raises nothing.
    """
    current: tuple[str, PublicKey] | None = None
    proven: ProvenKeys | None = None
    for entry in entries:
        if not isinstance(entry, Mapping):
            return None
        method = signer_of(entry)
        if current is None:
            if method not in trusted:
                continue  # a rotation from before the keys we hold: nothing to prove from
            current = (method, trusted[method])
        if method != current[0]:
            return None
        key = current[1]
        try:
            verify_object(entry, lambda _method, key=key: key)
            rotation = read_rotation(entry, actor)
        except (ProofError, ContinuityError):
            return None
        if rotation is None:
            return None
        current = (rotation.new_key, rotation.new_key_value)
        proven = ProvenKeys(
            rotation.new_key, rotation.new_key_value, rotation.new_http_key, rotation.new_http_pem
        )
    return proven
