"""Key rotation with continuity: a feed verifies across a rotation, and only through its proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import keys
from federation.audit import Auditor, FeedHead
from federation.feed import build_entry, entry_hash, verify_run
from federation.feed_walk import assertion_keys, declared_head
from federation.rotation import (
    ContinuityError,
    KeyContinuity,
    prove_rotations,
    read_rotation,
    revocations,
    rotation_statement,
    sign_statement,
)

START = datetime(2030, 1, 1, tzinfo=UTC)


@cache
def _rsa_pem(n: int) -> str:
    return keys.public_key_to_pem(keys.generate_rsa_key().public_key())


def _multikey(key: ed25519.Ed25519PrivateKey) -> str:
    return keys.ed25519_public_key_to_multikey(key.public_key())


class RotatingGroup:
    """A group with a signed feed that can rotate its keys."""

    def __init__(self, host: str = "a.example") -> None:
        self.actor = f"https://{host}/actor"
        self.generation = 1
        self.key = keys.generate_ed25519_key()
        self.entries: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []  # retired (and stray) keys on the document

    def key_id(self, generation: int | None = None) -> str:
        generation = generation or self.generation
        return f"{self.actor}#ed25519-key" + ("" if generation == 1 else f"-{generation}")

    def add(
        self,
        created: datetime = START,
        *,
        key: ed25519.Ed25519PrivateKey | None = None,
        method: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        seq = len(self.entries) + 1
        activity = {
            "id": f"{self.actor.rsplit('/', 1)[0]}/outbox/{seq}",
            "type": "Create" if extra is None else "Update",
            "actor": self.actor,
            "object": {"id": f"{self.actor}/notes/{seq}", "type": "Note", "content": f"n{seq}"},
            **(extra or {}),
        }
        entry = build_entry(
            activity,
            seq=seq,
            previous=self.entries[-1] if self.entries else None,
            signing_key=key or self.key,
            verification_method=method or self.key_id(),
            created=created,
        )
        self.entries.append(entry)
        return entry

    def statement(
        self, new: ed25519.Ed25519PrivateKey, created: datetime, **options: Any
    ) -> dict[str, Any]:
        return rotation_statement(
            actor=self.actor,
            previous_key=self.key_id(),
            new_key=self.key_id(self.generation + 1),
            new_key_value=new.public_key(),
            previous_http_key=f"{self.actor}#main-key",
            new_http_key=f"{self.actor}#main-key-{self.generation + 1}",
            new_http_pem=_rsa_pem(self.generation + 1),
            valid_from=created,
            **options,
        )

    def rotate(
        self,
        created: datetime,
        *,
        compromised_since: datetime | None = None,
        sign_with: ed25519.Ed25519PrivateKey | None = None,
        prove_with: ed25519.Ed25519PrivateKey | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        new = keys.generate_ed25519_key()
        statement = self.statement(new, created, compromised_since=compromised_since)
        signed = sign_statement(statement, prove_with or new, created)
        entry = self.add(created, key=sign_with, method=method, extra={"keyRotation": signed})
        retired = {
            "id": self.key_id(),
            "type": "Multikey",
            "controller": self.actor,
            "publicKeyMultibase": _multikey(self.key),
            "expires": "2030-06-01T00:00:00Z",
        }
        if compromised_since is not None:
            retired["revoked"] = signed["compromisedSince"]
        self.published.append(retired)
        self.generation += 1
        self.key = new
        return entry

    def document(self) -> dict[str, Any]:
        head = self.entries[-1] if self.entries else None
        current = {
            "id": self.key_id(),
            "type": "Multikey",
            "controller": self.actor,
            "publicKeyMultibase": _multikey(self.key),
        }
        return {
            "id": self.actor,
            "type": "Group",
            "assertionMethod": [current, *self.published],
            "feedHead": {"seq": 0}
            if head is None
            else {"seq": head["seq"], "hash": entry_hash(head)},
        }

    def lookup(self, method: str) -> Any:
        return assertion_keys(self.document(), self.actor).get(method)

    def verify(self, entries: list[dict[str, Any]] | None = None, **options: Any):
        continuity = KeyContinuity(
            self.actor, self.lookup, revoked=revocations(self.document(), self.actor)
        )
        return verify_run(
            self.entries if entries is None else entries,
            actor=self.actor,
            lookup_key=self.lookup,
            continuity=continuity,
            **options,
        )

    def audit(self):
        auditor = Auditor(
            lookup_key=self.lookup,
            outbox_of=self.actor,
            revoked=lambda actor: revocations(self.document(), actor),
        )
        auditor.add_page(self.entries)
        return auditor.finish(lambda _actor: declared_head(self.document()))


def _rotated_group() -> RotatingGroup:
    group = RotatingGroup()
    group.add()
    group.add()
    group.rotate(START + timedelta(days=1))
    group.add(START + timedelta(days=2))
    group.add(START + timedelta(days=3))
    return group


def test_rotation_entry_proves_the_new_key_with_the_old_ones_signature():
    group = RotatingGroup()
    group.add()
    old_id = group.key_id()
    entry = group.rotate(START + timedelta(days=1))

    rotation = read_rotation(entry, group.actor)

    assert rotation is not None
    assert (rotation.previous_key, rotation.new_key) == (old_id, group.key_id())
    assert rotation.new_http_key == f"{group.actor}#main-key-2"
    assert entry["proof"]["verificationMethod"] == old_id
    assert entry["keyRotation"]["proof"]["verificationMethod"] == group.key_id()


def test_feed_signed_across_a_rotation_verifies_end_to_end():
    group = _rotated_group()

    report = group.verify()

    assert report.ok, report.problem
    assert report.verified == 5
    signers = [entry["proof"]["verificationMethod"] for entry in group.entries]
    assert signers == [group.key_id(1)] * 3 + [group.key_id(2)] * 2


def test_audit_of_a_feed_across_a_rotation_reaches_the_groups_head():
    group = _rotated_group()

    (report,) = group.audit().groups

    assert report.ok, report.problem
    assert report.head == FeedHead(5, entry_hash(group.entries[-1]))


def test_a_run_picked_up_after_the_rotation_entry_expects_the_new_key():
    group = _rotated_group()
    held = group.entries[2]  # the rotation entry
    continuity = KeyContinuity.after(group.actor, group.lookup, held)

    report = verify_run(
        group.entries[3:],
        actor=group.actor,
        lookup_key=group.lookup,
        start_after=(3, entry_hash(held)),
        continuity=continuity,
    )

    assert report.ok, report.problem


def test_old_key_signing_after_the_rotation_is_refused():
    group = RotatingGroup()
    group.add()
    old_key, old_id = group.key, group.key_id()
    group.rotate(START + timedelta(days=1))
    group.add(START + timedelta(days=2), key=old_key, method=old_id)

    report = group.verify()

    assert report.reason == "retired-key" and report.bad_seq == 3
    assert "replaced by" in report.problem.detail
    (audited,) = group.audit().groups
    assert audited.problem.kind == "retired-key" and audited.problem.seq == 3


def test_key_in_the_actor_document_without_a_continuity_proof_is_refused():
    group = RotatingGroup()
    group.add()
    stray = keys.generate_ed25519_key()
    stray_id = f"{group.actor}#ed25519-key-7"
    group.published.append(
        {
            "id": stray_id,
            "type": "Multikey",
            "controller": group.actor,
            "publicKeyMultibase": _multikey(stray),
        }
    )
    group.add(key=stray, method=stray_id)

    report = group.verify()

    assert report.reason == "unproven-key" and report.bad_seq == 2
    (audited,) = group.audit().groups
    assert audited.problem.kind == "unproven-key"


def test_rotation_signed_only_by_the_new_key_is_refused():
    group = RotatingGroup()
    group.add()
    new = keys.generate_ed25519_key()
    # The would-be successor signs the entry itself and proves itself: the old key never
    # agreed, so nothing links the new key to the feed.
    statement = sign_statement(group.statement(new, START), new, START)
    group.add(key=new, method=group.key_id(2), extra={"keyRotation": statement})
    group.published.append(
        {
            "id": group.key_id(2),
            "type": "Multikey",
            "controller": group.actor,
            "publicKeyMultibase": _multikey(new),
        }
    )

    report = group.verify()

    assert report.reason == "unproven-key" and report.bad_seq == 2


def test_forged_rotation_whose_new_key_proof_does_not_hold_is_refused():
    group = RotatingGroup()
    group.add()
    group.rotate(START, prove_with=keys.generate_ed25519_key())  # not the key it names

    report = group.verify()

    assert report.reason == "bad-rotation" and report.bad_seq == 2
    assert "new key's proof" in report.problem.detail


def test_rotation_whose_statement_was_altered_after_signing_is_refused():
    group = RotatingGroup()
    group.add()
    entry = group.rotate(START)
    entry["keyRotation"]["newHttpKey"]["publicKeyPem"] = _rsa_pem(99)
    with pytest.raises(ContinuityError, match="new key's proof"):
        read_rotation(entry, group.actor)


def test_rotation_signed_by_a_stranger_cannot_retire_the_groups_key():
    group = RotatingGroup()
    group.add()
    stranger = keys.generate_ed25519_key()
    group.rotate(START, sign_with=stranger)  # names the group's key, signed by another

    report = group.verify()

    assert report.reason == "bad-proof" and report.bad_seq == 2


def test_compromised_since_cut_refuses_old_key_signatures_after_it():
    group = RotatingGroup()
    cut = START + timedelta(days=10)
    group.add(START)  # before the compromise: still trusted
    group.add(cut + timedelta(hours=1))  # signed by the old key after it was compromised
    group.rotate(cut + timedelta(days=1), compromised_since=cut)
    group.add(cut + timedelta(days=2))

    report = group.verify()

    assert report.reason == "compromised-key" and report.bad_seq == 2
    assert (
        "compromised" in report.problem.detail and "2030-01-11T00:00:00Z" in report.problem.detail
    )
    (audited,) = group.audit().groups
    assert audited.problem.kind == "compromised-key" and audited.problem.seq == 2
    assert audited.verified == 1


def test_compromised_rotation_itself_and_entries_before_the_cut_verify():
    group = RotatingGroup()
    cut = START + timedelta(days=10)
    group.add(START)
    group.add(cut - timedelta(hours=1))
    group.rotate(cut + timedelta(days=1), compromised_since=cut)  # the old key's last word
    group.add(cut + timedelta(days=2))

    assert group.verify().ok
    (audited,) = group.audit().groups
    assert audited.ok, audited.problem


def test_old_key_forging_after_a_compromised_rotation_is_refused_and_says_why():
    group = RotatingGroup()
    cut = START + timedelta(days=10)
    group.add(START)
    old_key, old_id = group.key, group.key_id()
    group.rotate(cut + timedelta(days=1), compromised_since=cut)
    group.add(cut + timedelta(days=2), key=old_key, method=old_id)

    report = group.verify()

    assert report.reason == "retired-key" and report.bad_seq == 3


def test_prove_rotations_leads_from_a_trusted_key_to_the_current_keys():
    group = RotatingGroup()
    group.add()
    first_key = group.key
    first = group.rotate(START + timedelta(days=1))
    second = group.rotate(START + timedelta(days=2))
    trusted = {group.key_id(1): first_key.public_key()}

    proven = prove_rotations([first, second], group.actor, trusted)

    assert proven is not None
    assert proven.proof_key == group.key_id(3)
    assert proven.http_key == f"{group.actor}#main-key-3"
    assert proven.http_pem == _rsa_pem(3)


def test_prove_rotations_refuses_a_chain_from_a_key_never_trusted():
    group = RotatingGroup()
    group.add()
    first = group.rotate(START)
    stranger = keys.generate_ed25519_key()

    assert prove_rotations([first], group.actor, {group.key_id(1): stranger.public_key()}) is None
    assert prove_rotations([first], group.actor, {}) is None
