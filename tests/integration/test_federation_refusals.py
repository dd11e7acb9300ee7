"""A real node refuses forged, replayed, re-ordered and tampered entries, and says so.

The peer here is a test double (tests/integration/doubles.py): a group on its own
127.0.0.1 port that the node follows, which signs its feed and its requests with the
``federation`` library as a real group would, and can be made to lie.
"""

from __future__ import annotations

import copy

import pytest

from .doubles import FakeGroup
from .support import (
    following_state,
    held_seq,
    log_in,
    network_items,
    peer_state,
    peers_line,
    remote_entries,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def fake_groups():
    """Make test-double groups on free 127.0.0.1 ports; stop them when the test ends."""
    made: list[FakeGroup] = []

    def make(username: str = "depotworkers", name: str = "Depot Workers Branch") -> FakeGroup:
        made.append(FakeGroup(username, name))
        return made[-1]

    yield make
    for group in made:
        group.stop()


def _handle(group: FakeGroup) -> str:
    return f"{group.username}@127.0.0.1:{group.server.port}"


def _followed_by(node, group: FakeGroup) -> str:
    """Have ``node`` follow ``group`` (which accepts) and hold its first entry; return the
    node's inbox address."""
    first = group.build("Create", group.event("picket", "Picket at the depot"))
    group.publish(first)
    node.cli("follow", group.actor)
    follow = wait_until(lambda: group.received("Follow"), f"{node.name} sends its Follow")[0]
    assert follow["object"] == group.actor
    inbox = f"{node.url}/inbox"
    assert group.post(inbox, group.activity("Accept", follow)).status_code == 202
    wait_until(
        lambda: following_state(node, group.actor) == "accepted",
        f"{node.name} records the Accept",
    )
    wait_until(
        lambda: held_seq(node, group.actor) == 1,
        f"{node.name} back-fills the group's first entry",
        explain=lambda: node.cli("peers").stdout + node.output()[-3000:],
    )
    return inbox


def _seqs(node, group: FakeGroup) -> list[int | None]:
    return [seq for seq, _id, _body in remote_entries(node, group.actor)]


def test_tampered_entry_is_refused_and_the_broken_chain_reported(start_node, fake_groups):
    leeds = start_node()
    depot = fake_groups()
    inbox = _followed_by(leeds, depot)
    honest = depot.build("Update", {**depot.event("picket", "Picket at the depot, 6am")})
    tampered = copy.deepcopy(honest)
    tampered["object"]["name"] = "Picket called off"
    depot.publish(tampered)  # served from its outbox too: neither push nor pull gets it in

    answer = depot.push(inbox, tampered)

    assert answer.status_code == 400
    assert "bad-proof" in answer.json()["error"]
    assert _seqs(leeds, depot) == [1]
    assert "chain broken: entry 2: bad-proof" in peers_line(leeds, _handle(depot))
    events = network_items(log_in(leeds), leeds, "events")
    assert len(events) == 1
    assert "Picket at the depot" in events[0] and "called off" not in events[0]
    assert "Chain broken" in events[0]


def test_entry_signed_with_a_key_that_is_not_the_groups_is_refused(start_node, fake_groups):
    leeds = start_node()
    depot = fake_groups()
    mallory = fake_groups("mallory", "Not The Depot")
    inbox = _followed_by(leeds, depot)
    forged = depot.build(
        "Update",
        depot.event("picket", "Picket called off"),
        signing_key=mallory.proof_key,
        verification_method=mallory.proof_key_id,
    )

    answer = depot.push(inbox, forged)

    assert answer.status_code == 400
    assert "wrong-key" in answer.json()["error"]
    assert _seqs(leeds, depot) == [1]
    assert "chain broken: entry 2: wrong-key" in peers_line(leeds, _handle(depot))


def test_replayed_entry_is_stored_once_and_a_rewritten_one_refused(start_node, fake_groups):
    leeds = start_node()
    depot = fake_groups()
    inbox = _followed_by(leeds, depot)
    second = depot.build("Create", depot.event("rally", "Rally at the town hall"))
    depot.publish(second)
    assert depot.push(inbox, second).status_code == 202
    wait_until(lambda: held_seq(leeds, depot.actor) == 2, "Leeds holds entry 2")

    replays = [depot.push(inbox, entry) for entry in (depot.chain[0], second, second)]

    assert [answer.status_code for answer in replays] == [202, 202, 202]
    assert {answer.json()["status"] for answer in replays} == {"duplicate"}
    assert _seqs(leeds, depot) == [1, 2]
    assert peer_state(leeds, depot.actor)["state"] == "in_step"

    # The same seq with other content, though signed by the group itself: a forked feed.
    rewritten = depot.build("Create", depot.event("rally", "Rally cancelled"), seq=2, keep=False)
    answer = depot.push(inbox, rewritten)

    assert answer.status_code == 400
    assert "a different entry with a seq we already hold" in answer.json()["error"]
    assert _seqs(leeds, depot) == [1, 2]
    assert "chain broken: entry 2: a different entry" in peers_line(leeds, _handle(depot))
    events = network_items(log_in(leeds), leeds, "events")
    assert any("Rally at the town hall" in item for item in events)
    assert not any("Rally cancelled" in item for item in events)


def test_entry_pushed_out_of_order_waits_until_pull_fills_the_gap(start_node, fake_groups):
    leeds = start_node()
    depot = fake_groups()
    inbox = _followed_by(leeds, depot)
    second = depot.build("Create", depot.event("rally", "Rally at the town hall"))
    third = depot.build("Update", depot.event("rally", "Rally at the town hall, 7pm"))

    early = depot.push(inbox, third)  # entry 2 was lost on the way (not even published yet)

    assert early.status_code == 202
    # Kept aside (not applied, not thrown away) and the group is pulled at once.
    assert early.json()["status"] == "kept until the entries before it arrive"
    assert _seqs(leeds, depot) == [1]

    depot.publish(second, third)
    wait_until(
        lambda: held_seq(leeds, depot.actor) == 3,
        "Leeds pulls entries 2 and 3 from the group's outbox",
        explain=lambda: leeds.cli("peers").stdout,
    )
    assert _seqs(leeds, depot) == [1, 2, 3]
    assert "in step" in peers_line(leeds, _handle(depot))
    events = network_items(log_in(leeds), leeds, "events")
    assert sum("Rally at the town hall, 7pm" in item for item in events) == 1


def test_activity_signed_by_someone_else_or_about_their_objects_is_refused(start_node, fake_groups):
    leeds = start_node()
    depot = fake_groups()
    mallory = fake_groups("mallory", "Not The Depot")
    inbox = _followed_by(leeds, depot)
    second = depot.build("Create", depot.event("rally", "Rally at the town hall"))

    # Mallory signs, with her own key, the depot's genuine next entry.
    as_someone_else = mallory.push(inbox, second)
    # Mallory, as herself, "updates" the depot's event.
    overwrite = mallory.activity("Update", depot.event("picket", "Picket called off"))
    about_others = mallory.post(inbox, overwrite)
    # A key said to live on a private address that is not loopback: never fetched.
    private_key_id = depot.post(inbox, second, key_id="http://10.0.0.1/actor#main-key")

    assert as_someone_else.status_code == 401
    assert "not the actor's" in as_someone_else.json()["error"]
    assert about_others.status_code == 403
    assert "not on the actor's server" in about_others.json()["error"]
    assert private_key_id.status_code == 401
    assert _seqs(leeds, depot) == [1]
    assert peer_state(leeds, depot.actor)["state"] == "in_step"
    assert peer_state(leeds, "http://10.0.0.1/actor") is None
    refused = leeds.cli("follow", "http://10.0.0.1/actor", check=False)
    assert refused.returncode != 0
    assert "10.0.0.1" in refused.stderr
