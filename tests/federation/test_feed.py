"""The signed feed: building, hashing, verifying and redacting hash-chained entries."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation.feed import (
    NAMESPACE,
    build_entry,
    context_document,
    entry_context,
    entry_hash,
    extension_terms,
    is_redacted,
    redact,
    redaction_matches,
    serialize_entry,
    verify_run,
)
from federation.jcs import canonicalize
from federation.keys import generate_rsa_key
from federation.proofs import sign_object, verify_object

GROUP = "https://leeds.branch.example/groups/leeds"
GROUP_KEY_ID = f"{GROUP}#ed25519-key"
OTHER = "https://mallory.example/groups/mallory"
OTHER_KEY_ID = f"{OTHER}#ed25519-key"
START = datetime(2025, 5, 1, 9, 30, 0, tzinfo=UTC)
RUN_LENGTH = 50

# Fixed seeds, so every run of the suite signs the same bytes.
GROUP_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
KEYS = {GROUP_KEY_ID: GROUP_KEY.public_key(), OTHER_KEY_ID: OTHER_KEY.public_key()}


def activity(seq: int) -> dict:
    return {
        "id": f"{GROUP}/feed/{seq}",
        "type": "Create",
        "actor": GROUP,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{GROUP}/events/{seq}",
            "type": "Event",
            "name": f"Canvass {seq}: Chapeltown Café ✊",
            "startTime": "2025-05-10T10:00:00Z",
            "location": {"type": "Place", "latitude": 53.8175, "longitude": -1.5344},
            "capacity": 20,
        },
    }


def chain(length: int = RUN_LENGTH, *, key=GROUP_KEY, key_id=GROUP_KEY_ID) -> list[dict]:
    entries: list[dict] = []
    for seq in range(1, length + 1):
        previous = entries[-1] if entries else None
        entries.append(
            build_entry(
                activity(seq),
                seq=seq,
                previous=previous,
                signing_key=key,
                verification_method=key_id,
                created=START + timedelta(minutes=seq),
            )
        )
    return entries


@pytest.fixture(scope="module")
def published() -> list[dict]:
    return chain()


@pytest.fixture
def entries(published) -> list[dict]:
    return copy.deepcopy(published)


def verify(entries, **kwargs):
    return verify_run(entries, actor=GROUP, lookup_key=KEYS.get, **kwargs)


# --- building ----------------------------------------------------------------------------


def test_entry_carries_seq_prev_hash_context_and_a_proof(published):
    second = published[1]
    assert second["seq"] == 2
    assert second["prevHash"] == "sha256:" + hashlib.sha256(canonicalize(published[0])).hexdigest()
    context = second["@context"]
    assert context[:2] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/data-integrity/v1",
    ]
    assert len(context) == 3
    assert context[2] == extension_terms()
    assert {
        "branchline": NAMESPACE,
        "seq": "branchline:seq",
        "prevHash": "branchline:prevHash",
        "redactedHash": "branchline:redactedHash",
        "Campaign": "branchline:Campaign",
        "Candidate": "branchline:Candidate",
    }.items() <= context[2].items()
    assert set(second["proof"]) == {
        "type",
        "cryptosuite",
        "verificationMethod",
        "proofPurpose",
        "created",
        "proofValue",
    }
    assert second["proof"]["created"] == "2025-05-01T09:32:00Z"
    assert verify_object(second, KEYS.get).verification_method == GROUP_KEY_ID


def test_first_entry_has_no_prev_hash(published):
    assert published[0]["seq"] == 1
    assert "prevHash" not in published[0]


def test_prev_hash_covers_the_previous_proof(published):
    stripped = {key: value for key, value in published[0].items() if key != "proof"}
    assert entry_hash(stripped) != published[1]["prevHash"]
    assert entry_hash(published[0]) == published[1]["prevHash"]


def test_context_document_defines_the_same_terms_entries_embed():
    document = context_document()
    assert document == {"@context": entry_context()[2]}
    for term in ("seq", "prevHash", "Campaign", "Candidate"):
        assert document["@context"][term].startswith("branchline:")
    assert document["@context"]["branchline"] == NAMESPACE


def test_context_document_is_a_fresh_copy_each_time():
    context_document()["@context"]["seq"] = "changed"
    assert context_document()["@context"]["seq"] == "branchline:seq"


def test_activity_is_not_changed_by_building():
    original = activity(1)
    before = copy.deepcopy(original)
    build_entry(
        original,
        seq=1,
        previous=None,
        signing_key=GROUP_KEY,
        verification_method=GROUP_KEY_ID,
        created=START,
    )
    assert original == before


@pytest.mark.parametrize(
    ("seq", "previous_seq", "message"),
    [
        (0, None, "positive integer"),
        (True, None, "positive integer"),
        (1, 0, "first entry has no previous"),
        (2, None, "needs the previous"),
        (3, 1, "not 2"),
    ],
)
def test_building_refuses_a_broken_chain(seq, previous_seq, message):
    previous = None if previous_seq is None else {"seq": previous_seq}
    with pytest.raises(ValueError, match=message):
        build_entry(
            activity(1),
            seq=seq,
            previous=previous,
            signing_key=GROUP_KEY,
            verification_method=GROUP_KEY_ID,
            created=START,
        )


@pytest.mark.parametrize(
    "extra",
    [{"seq": 4}, {"prevHash": "sha256:00"}, {"proof": {}}, {"redactedHash": "x"}, {"@context": []}],
)
def test_building_refuses_activities_that_set_chain_fields(extra):
    with pytest.raises(ValueError):
        build_entry(
            {**activity(1), **extra},
            seq=1,
            previous=None,
            signing_key=GROUP_KEY,
            verification_method=GROUP_KEY_ID,
            created=START,
        )


def test_activity_with_the_feed_context_already_is_accepted():
    entry = build_entry(
        {"@context": entry_context(), **activity(1)},
        seq=1,
        previous=None,
        signing_key=GROUP_KEY,
        verification_method=GROUP_KEY_ID,
        created=START,
    )
    assert entry["@context"] == entry_context()


# --- serving -----------------------------------------------------------------------------


def test_entries_round_trip_through_json_byte_for_byte(published):
    for entry in published:
        served = serialize_entry(entry)
        received = json.loads(served)
        assert received == entry
        assert serialize_entry(received) == served
        assert json.dumps(json.loads(json.dumps(entry))) == json.dumps(entry)
        assert "sha256:" + hashlib.sha256(served).hexdigest() == entry_hash(received)
    served_run = [json.loads(json.dumps(entry, ensure_ascii=False)) for entry in published]
    assert verify(served_run).ok


# --- verifying ---------------------------------------------------------------------------


def test_chain_of_fifty_entries_verifies(published):
    report = verify(published)
    assert report.ok
    assert report.problem is None and report.reason is None and report.bad_seq is None
    assert report.verified == RUN_LENGTH
    assert report.redacted == ()
    assert report.head == (RUN_LENGTH, entry_hash(published[-1]))


def test_run_continues_from_what_the_follower_holds(published):
    held = published[19]
    report = verify(published[20:], start_after=(20, entry_hash(held)))
    assert report.ok
    assert report.verified == 30
    assert report.head == (RUN_LENGTH, entry_hash(published[-1]))


def test_empty_run_keeps_the_head_it_started_from(published):
    start = (RUN_LENGTH, entry_hash(published[-1]))
    report = verify([], start_after=start)
    assert report.ok and report.verified == 0 and report.head == start
    assert verify([]).head is None


def test_run_continuing_from_the_wrong_hash_is_refused(published):
    report = verify(published[20:], start_after=(20, entry_hash(published[18])))
    assert (report.reason, report.bad_seq, report.verified) == ("wrong-prev-hash", 21, 0)
    assert report.head == (20, entry_hash(published[18]))


def test_run_repeating_what_the_follower_holds_is_a_duplicate(published):
    report = verify(published[19:], start_after=(20, entry_hash(published[19])))
    assert report.reason == "duplicate"
    assert report.problem.seq == 20 and report.problem.expected_seq == 21


TAMPERS = {
    "object content": lambda e: e["object"].__setitem__("name", "Canvass cancelled"),
    "nested number": lambda e: e["object"]["location"].__setitem__("latitude", 53.8176),
    "integer": lambda e: e["object"].__setitem__("capacity", 21),
    "actor": lambda e: e.__setitem__("actor", OTHER),
    "type": lambda e: e.__setitem__("type", "Update"),
    "id": lambda e: e.__setitem__("id", f"{GROUP}/feed/999"),
    "audience": lambda e: e.__setitem__("to", []),
    "added field": lambda e: e.__setitem__("summary", "extra"),
    "removed field": lambda e: e.pop("to"),
    "context": lambda e: e["@context"][2].__setitem__("seq", "https://evil.example/seq"),
    "proof created": lambda e: e["proof"].__setitem__("created", "2025-05-01T10:00:00Z"),
    "proof value": lambda e: e["proof"].__setitem__(
        "proofValue", e["proof"]["proofValue"][:-2] + "11"
    ),
}


@pytest.mark.parametrize("field", list(TAMPERS))
@pytest.mark.parametrize("seq", [1, 17, RUN_LENGTH])
def test_tampering_with_any_field_is_a_bad_proof_at_that_seq(entries, field, seq):
    TAMPERS[field](entries[seq - 1])
    report = verify(entries)
    assert (report.reason, report.bad_seq) == ("bad-proof", seq)
    assert report.verified == seq - 1
    assert report.head == (None if seq == 1 else (seq - 1, entry_hash(entries[seq - 2])))


@pytest.mark.parametrize("value", [18, 16, 7])
def test_tampering_with_seq_is_a_bad_proof(entries, value):
    entries[16]["seq"] = value
    report = verify(entries)
    assert (report.reason, report.bad_seq) == ("bad-proof", 17)


def test_tampering_with_prev_hash_is_a_bad_proof(entries):
    entries[16]["prevHash"] = entries[15]["prevHash"]
    assert (verify(entries).reason, verify(entries).bad_seq) == ("bad-proof", 17)


def test_removed_entry_is_a_gap(entries):
    del entries[24]
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("gap", 25, 24)
    assert report.problem.seq == 26
    assert report.head == (24, entry_hash(entries[23]))


def test_removed_head_entries_go_unnoticed_until_compared_with_the_published_head(entries):
    report = verify(entries[:-1])
    assert report.ok
    assert report.head != (RUN_LENGTH, entry_hash(entries[-1]))


def test_swapped_entries_are_out_of_order(entries):
    entries[9], entries[10] = entries[10], entries[9]
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("out-of-order", 10, 9)
    assert report.problem.seq == 11 and report.problem.index == 9


def test_reversed_run_is_out_of_order(entries):
    report = verify(list(reversed(entries)))
    assert (report.reason, report.bad_seq, report.verified) == ("out-of-order", 1, 0)


def test_repeated_entry_is_a_duplicate(entries):
    entries.insert(12, copy.deepcopy(entries[11]))
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("duplicate", 13, 12)
    assert report.problem.seq == 12


def test_entry_signed_by_another_actors_key_is_wrong_key(entries):
    forged = build_entry(
        activity(30),
        seq=30,
        previous=entries[28],
        signing_key=OTHER_KEY,
        verification_method=OTHER_KEY_ID,
        created=START,
    )
    entries[29] = forged
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("wrong-key", 30, 29)


def test_entry_signed_by_another_key_under_the_groups_key_id_is_a_bad_proof(entries):
    entries[29] = build_entry(
        activity(30),
        seq=30,
        previous=entries[28],
        signing_key=OTHER_KEY,
        verification_method=GROUP_KEY_ID,
        created=START,
    )
    assert (verify(entries).reason, verify(entries).bad_seq) == ("bad-proof", 30)


def test_key_on_the_actor_that_the_lookup_does_not_know_is_wrong_key(entries):
    entries[29] = build_entry(
        activity(30),
        seq=30,
        previous=entries[28],
        signing_key=OTHER_KEY,
        verification_method=f"{GROUP}#retired-key",
        created=START,
    )
    assert (verify(entries).reason, verify(entries).bad_seq) == ("wrong-key", 30)


def test_rsa_key_for_the_verification_method_is_wrong_key(published):
    report = verify_run(
        published, actor=GROUP, lookup_key={GROUP_KEY_ID: generate_rsa_key().public_key()}.get
    )
    assert (report.reason, report.bad_seq) == ("wrong-key", 1)


def test_run_verified_for_another_actor_is_wrong_key(published):
    report = verify_run(published, actor=OTHER, lookup_key=KEYS.get)
    assert (report.reason, report.bad_seq) == ("wrong-key", 1)


def test_forged_prev_hash_signed_by_the_group_is_wrong_prev_hash(entries):
    # The group's own key signs an entry that does not follow entry 32: a fork.
    fork = build_entry(
        activity(33),
        seq=33,
        previous=entries[30] | {"seq": 32},
        signing_key=GROUP_KEY,
        verification_method=GROUP_KEY_ID,
        created=START,
    )
    entries[32] = fork
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("wrong-prev-hash", 33, 32)


def test_first_entry_that_names_a_predecessor_is_refused(published):
    unsigned = {key: value for key, value in published[0].items() if key != "proof"}
    unsigned["prevHash"] = entry_hash(published[1])
    first = sign_object(unsigned, GROUP_KEY, GROUP_KEY_ID, START)
    report = verify([first])
    assert (report.reason, report.bad_seq, report.verified) == ("wrong-prev-hash", 1, 0)


def test_run_that_does_not_start_at_one_is_a_gap(published):
    report = verify(published[1:])
    assert (report.reason, report.bad_seq) == ("gap", 1)


def test_missing_proof_is_reported(entries):
    del entries[4]["proof"]
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("missing-proof", 5, 4)


@pytest.mark.parametrize(
    "bad",
    [
        "not an object",
        ["a", "list"],
        None,
        {"type": "Create"},
        {"type": "Create", "seq": "5"},
        {"type": "Create", "seq": True},
        {"type": "Tombstone", "seq": 5, "redactedHash": "sha256:short"},
    ],
)
def test_malformed_entries_are_reported_not_raised(entries, bad):
    entries[4] = bad
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("malformed", 5, 4)


def test_entry_whose_prev_hash_is_not_a_hash_is_malformed(entries):
    unsigned = {key: value for key, value in entries[4].items() if key != "proof"}
    unsigned["prevHash"] = "md5:abc"
    entries[4] = sign_object(unsigned, GROUP_KEY, GROUP_KEY_ID, START)
    assert (verify(entries).reason, verify(entries).bad_seq) == ("malformed", 5)


def test_entry_that_is_not_canonical_json_is_reported_not_raised(entries):
    entries[4]["object"]["capacity"] = float("nan")
    report = verify(entries)
    assert (report.reason, report.bad_seq) == ("malformed", 5)


def test_malformed_proof_is_a_bad_proof(entries):
    entries[4]["proof"] = "not an object"
    assert (verify(entries).reason, verify(entries).bad_seq) == ("bad-proof", 5)


# --- redaction ---------------------------------------------------------------------------


def test_redaction_stub_keeps_only_the_chain(published):
    entry = published[9]
    stub = redact(entry)
    assert stub == {
        "@context": entry_context(),
        "id": entry["id"],
        "type": "Tombstone",
        "formerType": "Create",
        "seq": 10,
        "prevHash": entry["prevHash"],
        "redactedHash": entry_hash(entry),
    }
    assert "Chapeltown" not in json.dumps(stub, ensure_ascii=False)
    assert is_redacted(stub) and not is_redacted(entry)
    assert entry_hash(stub) == entry_hash(entry) == published[10]["prevHash"]
    assert redact(stub) == stub
    assert redaction_matches(stub, entry)
    assert not redaction_matches(stub, published[8])


def test_redacted_entries_keep_the_chain_verifying_and_are_reported(entries):
    for index in (0, 9, 10, 49):
        entries[index] = redact(entries[index])
    report = verify(entries)
    assert report.ok
    assert report.redacted == (1, 10, 11, 50)
    assert report.verified == RUN_LENGTH - 4
    assert report.head == (RUN_LENGTH, entries[-1]["redactedHash"])


def test_redacted_entries_survive_serving(entries):
    entries[9] = redact(entries[9])
    served = [json.loads(serialize_entry(entry)) for entry in entries]
    assert served == entries
    assert verify(served).redacted == (10,)


def test_stub_that_declares_the_wrong_hash_breaks_the_chain_at_the_next_entry(entries):
    stub = redact(entries[9])
    stub["redactedHash"] = entry_hash(entries[8])
    entries[9] = stub
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.verified) == ("wrong-prev-hash", 11, 9)
    assert report.redacted == (10,)


def test_stub_with_a_wrong_prev_hash_is_refused(entries):
    stub = redact(entries[9])
    stub["prevHash"] = entries[8]["prevHash"]
    entries[9] = stub
    assert (verify(entries).reason, verify(entries).bad_seq) == ("wrong-prev-hash", 10)


def test_stub_in_the_wrong_place_is_a_gap(entries):
    entries[9] = redact(entries[10])
    report = verify(entries)
    assert (report.reason, report.bad_seq, report.problem.seq) == ("gap", 10, 11)


def test_only_entries_with_a_seq_can_be_redacted():
    with pytest.raises(ValueError, match="integer seq"):
        redact(activity(1))
