"""The audit behind `branchline verify`: groups' chains, proofs and heads in a combined feed."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from federation import keys
from federation.audit import Auditor, FeedHead, GroupUnavailable, read_json
from federation.feed import entry_hash, redact
from federation.feed_walk import assertion_keys, declared_head
from federation.jcs import canonicalize
from federation.multibase import multibase_encode
from tests.federation.feed_support import Group, interleave


class Network:
    """The groups' own actor documents, as `branchline verify` fetches them."""

    def __init__(self, *groups: Group) -> None:
        self.groups = {group.actor: group for group in groups}
        self.unreachable: set[str] = set()

    def lookup_key(self, method: str) -> Any:
        actor = method.partition("#")[0]
        if actor in self.unreachable:
            raise GroupUnavailable("connection refused")
        group = self.groups.get(actor)
        return None if group is None else assertion_keys(group.actor_document(), actor).get(method)

    def head_of(self, actor: str) -> FeedHead | None:
        if actor in self.unreachable or actor not in self.groups:
            raise GroupUnavailable("connection refused")
        return declared_head(self.groups[actor].actor_document())


def audit(network: Network, served: list[Any], *, page_size: int = 4, **options: Any):
    auditor = Auditor(lookup_key=network.lookup_key, **options)
    for start in range(0, len(served), page_size):
        auditor.add_page(served[start : start + page_size])
    return auditor.finish(network.head_of)


def by_actor(report) -> dict[str, Any]:
    return {group.actor: group for group in report.groups}


def only_problem(report) -> tuple[str, int | None, str]:
    failed = report.failed
    assert len(failed) == 1, [(g.actor, g.problem) for g in report.groups]
    problem = failed[0].problem
    return failed[0].actor, problem.seq, problem.kind


@pytest.fixture
def three() -> tuple[Group, Group, Group]:
    return Group("leeds.example", 6), Group("hull.example", 5), Group("york.example", 4)


@pytest.fixture
def network(three) -> Network:
    return Network(*three)


def combined(three, **changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The combined feed of the three groups; ``changes`` replaces a group's served entries."""
    names = ("leeds", "hull", "york")
    return interleave(
        *(changes.get(name, group.entries) for name, group in zip(names, three, strict=True))
    )


# An honest aggregator ---------------------------------------------------------------------


def test_honest_combined_feed_verifies_every_group_to_its_own_head(three, network):
    report = audit(network, combined(three))

    assert report.ok
    assert report.entries == 15
    groups = by_actor(report)
    for group in three:
        found = groups[group.actor]
        assert (found.entries, found.verified, found.problem) == (group.size, group.size, None)
        assert found.head == FeedHead(group.size, entry_hash(group.entries[-1]))
        assert found.declared_head == found.head


def test_pages_of_any_size_give_the_same_report(three, network):
    whole = audit(network, combined(three), page_size=100)
    single = audit(network, combined(three), page_size=1)

    assert whole == single


def test_group_with_no_entries_yet_verifies_with_an_empty_head():
    empty = Group("new.example")
    auditor = Auditor(lookup_key=Network(empty).lookup_key)
    auditor.expect_group(empty.actor)

    report = auditor.finish(Network(empty).head_of)

    assert report.ok
    assert report.groups[0].head is None
    assert report.groups[0].declared_head == FeedHead(0, None)


# An aggregator that drops, alters, reorders or invents --------------------------------


def test_dropped_middle_entry_is_a_gap_at_its_seq(three, network):
    leeds = three[0]
    served = leeds.entries[:2] + leeds.entries[3:]

    report = audit(network, combined(three, leeds=served))

    assert only_problem(report) == (leeds.actor, 3, "gap")
    problem = by_actor(report)[leeds.actor].problem
    assert "seq 3 is missing: seq 2 is followed by seq 4" in problem.detail
    assert by_actor(report)[leeds.actor].head == FeedHead(2, entry_hash(leeds.entries[1]))


def test_dropped_first_entry_is_a_gap_at_seq_one(three, network):
    hull = three[1]

    report = audit(network, combined(three, hull=hull.entries[1:]))

    assert only_problem(report) == (hull.actor, 1, "gap")
    assert "the feed starts at seq 2" in by_actor(report)[hull.actor].problem.detail


def test_entry_altered_after_signing_fails_its_proof(three, network):
    hull = three[1]
    served = copy.deepcopy(hull.entries)
    served[2]["object"]["name"] = "Canvass cancelled"

    report = audit(network, combined(three, hull=served))

    assert only_problem(report) == (hull.actor, 3, "bad-proof")


def test_two_swapped_entries_are_reported_as_reordered(three, network):
    york = three[2]
    served = [york.entries[0], york.entries[2], york.entries[1], york.entries[3]]

    report = audit(network, combined(three, york=served))

    assert only_problem(report) == (york.actor, 2, "reordered")
    assert "seq 2 was served after seq 3" in by_actor(report)[york.actor].problem.detail


def test_entry_invented_with_another_key_under_the_groups_key_id_fails_its_proof(three, network):
    leeds = three[0]
    invented = leeds.sign(
        leeds.activity(7, "Meeting that never was"), 7, key=keys.generate_ed25519_key()
    )

    report = audit(network, combined(three, leeds=[*leeds.entries, invented]))

    assert only_problem(report) == (leeds.actor, 7, "bad-proof")


def test_entry_invented_in_the_middle_is_caught_where_it_stands(three, network):
    leeds = three[0]
    invented = leeds.sign(leeds.activity(4, "Fake"), 4, key=keys.generate_ed25519_key())
    served = [*leeds.entries[:3], invented, *leeds.entries[4:]]

    report = audit(network, combined(three, leeds=served))

    assert only_problem(report) == (leeds.actor, 4, "bad-proof")


def test_entry_signed_with_the_aggregators_own_key_is_the_wrong_actor(three, network):
    hull = three[1]
    invented = hull.sign(
        hull.activity(6),
        6,
        key=keys.generate_ed25519_key(),
        method="https://national.example/actor#ed25519-key",
    )

    report = audit(network, combined(three, hull=[*hull.entries, invented]))

    assert only_problem(report) == (hull.actor, 6, "wrong-actor")


def test_entry_signed_with_a_key_the_group_does_not_publish_is_an_unknown_key(three, network):
    york = three[2]
    invented = york.sign(
        york.activity(5), 5, key=keys.generate_ed25519_key(), method=f"{york.actor}#other-key"
    )

    report = audit(network, combined(three, york=[*york.entries, invented]))

    assert only_problem(report) == (york.actor, 5, "unknown-key")


def test_forged_proof_value_fails(three, network):
    york = three[2]
    served = copy.deepcopy(york.entries)
    served[1]["proof"]["proofValue"] = multibase_encode(bytes(64))

    report = audit(network, combined(three, york=served))

    assert only_problem(report) == (york.actor, 2, "bad-proof")


def test_entry_without_a_proof_fails(three, network):
    york = three[2]
    served = copy.deepcopy(york.entries)
    del served[3]["proof"]

    report = audit(network, combined(three, york=served))

    assert only_problem(report) == (york.actor, 4, "bad-proof")


def test_dropped_tail_is_caught_by_the_groups_own_head(three, network):
    leeds = three[0]

    report = audit(network, combined(three, leeds=leeds.entries[:4]))

    assert only_problem(report) == (leeds.actor, 5, "tail-dropped")
    found = by_actor(report)[leeds.actor]
    assert found.verified == 4
    assert found.declared_head == FeedHead(6, entry_hash(leeds.entries[-1]))
    assert "the group's head is seq 6 but the feed stops at seq 4" in found.problem.detail


def test_listed_group_whose_entries_are_all_dropped_is_a_dropped_tail(three, network):
    hull = three[1]
    auditor = Auditor(lookup_key=network.lookup_key)
    auditor.expect_group(hull.actor)
    auditor.add_page(combined(three, hull=[]))

    report = auditor.finish(network.head_of)

    assert only_problem(report) == (hull.actor, 1, "tail-dropped")


def test_duplicate_entry_is_reported_at_the_repeated_seq(three, network):
    hull = three[1]
    served = [*hull.entries[:3], hull.entries[2], *hull.entries[3:]]

    report = audit(network, combined(three, hull=served))

    assert only_problem(report) == (hull.actor, 3, "duplicate")
    assert "again, unchanged" in by_actor(report)[hull.actor].problem.detail


def test_a_second_signed_entry_for_a_seq_already_served_is_a_duplicate(three, network):
    hull = three[1]
    fork = hull.sign(hull.activity(3, "A different third entry"), 3)
    served = [*hull.entries[:3], fork, *hull.entries[3:]]

    report = audit(network, combined(three, hull=served))

    assert only_problem(report) == (hull.actor, 3, "duplicate")
    assert "with different content" in by_actor(report)[hull.actor].problem.detail


def test_prev_hash_naming_another_entry_is_wrong_prev(three, network):
    york = three[2]
    other = york.sign(york.activity(2, "Not the one served"), 2)
    relinked = york.sign(york.activity(3), 3, previous=other)
    served = [*york.entries[:2], relinked]

    report = audit(network, combined(three, york=served))

    assert only_problem(report) == (york.actor, 3, "wrong-prev")


def test_entry_with_an_id_on_another_origin_is_wrong_origin():
    group = Group("leeds.example")
    activity = group.activity(1)
    activity["id"] = "https://elsewhere.example/outbox/1"
    group.entries.append(group.sign(activity, 1))
    network = Network(group)

    report = audit(network, group.entries)

    assert only_problem(report) == (group.actor, 1, "wrong-origin")


def test_redacted_entry_holds_by_its_hash_with_a_note(three, network):
    leeds = three[0]
    served = [*leeds.entries[:2], redact(leeds.entries[2]), *leeds.entries[3:]]

    report = audit(network, combined(three, leeds=served))

    assert report.ok
    found = by_actor(report)[leeds.actor]
    assert (found.entries, found.verified, found.redacted) == (6, 5, (3,))
    assert any("seq 3 is redacted" in note for note in found.notes)


def test_redacted_head_is_compared_by_its_declared_hash(three, network):
    york = three[2]
    served = [*york.entries[:3], redact(york.entries[3])]

    report = audit(network, combined(three, york=served))

    assert report.ok
    assert by_actor(report)[york.actor].head == FeedHead(4, entry_hash(york.entries[3]))


def test_redaction_stub_with_a_made_up_hash_breaks_the_next_link(three, network):
    leeds = three[0]
    stub = redact(leeds.entries[1])
    stub["redactedHash"] = "sha256:" + "0" * 64
    served = [leeds.entries[0], stub, *leeds.entries[2:]]

    report = audit(network, combined(three, leeds=served))

    assert only_problem(report) == (leeds.actor, 3, "wrong-prev")


def test_only_the_first_problem_of_a_group_is_reported(three, network):
    leeds = three[0]
    altered = copy.deepcopy(leeds.entries[4])
    altered["object"]["name"] = "changed"
    served = [*leeds.entries[:2], *leeds.entries[3:4], altered]

    report = audit(network, combined(three, leeds=served))

    assert only_problem(report) == (leeds.actor, 3, "gap")
    assert by_actor(report)[leeds.actor].entries == 4


# The group's own head ------------------------------------------------------------------


def test_entries_beyond_the_groups_own_head_are_a_head_mismatch(three, network):
    york = three[2]
    extra = york.sign(york.activity(5), 5)  # signed by the group, yet not in its feed

    report = audit(network, combined(three, york=[*york.entries, extra]))

    assert only_problem(report) == (york.actor, 5, "head-mismatch")


def test_head_with_another_hash_at_the_same_seq_is_a_head_mismatch(three, network):
    york = three[2]
    fork = york.sign(york.activity(4, "Another fourth"), 4)
    served = [*york.entries[:3], fork]

    report = audit(network, combined(three, york=served))

    assert only_problem(report) == (york.actor, 4, "head-mismatch")


def test_group_whose_actor_cannot_be_fetched_has_no_confirmed_head(three, network):
    hull = three[1]
    auditor = Auditor(lookup_key=network.lookup_key)
    auditor.add_page(combined(three))
    network.unreachable.add(hull.actor)

    report = auditor.finish(network.head_of)

    assert only_problem(report) == (hull.actor, None, "head-not-confirmed")
    assert "connection refused" in by_actor(report)[hull.actor].problem.detail


def test_group_that_declares_no_head_has_no_confirmed_head():
    group = Group("leeds.example", 2)
    network = Network(group)
    auditor = Auditor(lookup_key=network.lookup_key)
    auditor.add_page(group.entries)

    report = auditor.finish(lambda _actor: None)

    assert only_problem(report) == (group.actor, None, "head-not-confirmed")


def test_unreachable_group_cannot_vouch_for_its_entries(three, network):
    york = three[2]
    network.unreachable.add(york.actor)

    report = audit(network, combined(three))

    assert only_problem(report) == (york.actor, 1, "unknown-key")


# What is not an entry ---------------------------------------------------------------------


def test_item_naming_no_actor_is_reported_on_its_own(three, network):
    served = combined(three)
    served.insert(3, {"type": "Note", "content": "who am I"})

    report = audit(network, served)

    assert not report.ok
    assert report.failed == ()
    assert [(s.index, s.problem.kind) for s in report.stray] == [(3, "malformed")]


def test_entry_repeating_a_member_name_is_refused():
    group = Group("leeds.example", 2)
    text = canonicalize(group.entries[1]).decode()
    # The signed name last, so a parser keeping the last member would verify it.
    tampered = text.replace('"name":', '"name":"Free beer","name":', 1)
    served = [group.entries[0], read_json(tampered)]

    report = audit(Network(group), served)

    assert only_problem(report) == (group.actor, 2, "malformed")
    assert "names name more than once" in report.failed[0].problem.detail


def test_read_json_reads_ordinary_json_as_plain_dicts():
    document = read_json(json.dumps({"a": {"b": [1, {"c": 2}]}}))

    assert document == {"a": {"b": [1, {"c": 2}]}}
    assert type(document["a"]["b"][1]) is dict


def test_outbox_of_one_group_must_not_serve_another_groups_entries(three, network):
    leeds, hull, _york = three
    served = [*leeds.entries[:2], hull.entries[0], *leeds.entries[2:]]

    report = audit(network, served, outbox_of=leeds.actor)

    assert only_problem(report) == (leeds.actor, 1, "wrong-actor")
    assert [group.actor for group in report.groups] == [leeds.actor]


def test_redaction_stub_without_an_actor_belongs_to_the_group_on_its_origin(three, network):
    leeds = three[0]
    stub = redact(leeds.entries[0])
    served = [stub, *leeds.entries[1:]]
    auditor = Auditor(lookup_key=network.lookup_key)
    auditor.expect_group(leeds.actor)
    auditor.add_page(served)

    report = auditor.finish(network.head_of)

    assert report.ok
    assert report.groups[0].redacted == (1,)
