"""An aggregator following another (regional → national): the regional's combined feed is
pulled from a stored cursor, and every entry is verified to the group that signed it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from federation.proofs import sign_object
from node.extensions import db
from node.models import Delivery, Following
from node.services.aggregator import combined_feed, directory, listings, sources
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeAggregator,
    FakeGroup,
    held_seqs,
    listing,
    quarantined,
    verify_served,
    web,  # noqa: F401 - a fixture
)


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


@pytest.fixture
def network(group, web):  # noqa: F811
    """Two groups (on their own addresses) and a regional aggregator serving their entries."""
    hull, york = FakeGroup(2), FakeGroup(3)
    hull.create("canvass")
    hull.create("stall")
    for slug in ("hustings", "leaflets", "rally"):
        york.create(slug)
    regional = FakeAggregator(4)
    h1, h2 = hull.entries
    y1, y2, y3 = york.entries
    regional.served = [h1, y1, h2, y2, y3]
    for found in (hull, york, regional):
        found.serve(web)
    return hull, york, regional


def _source(regional: FakeAggregator):
    directory.add(regional.actor)
    return listing(regional.actor)


def _served(actor: str | None = None) -> list[dict]:
    combined_feed.admit()
    rows, _more = combined_feed.page(0, 500)
    entries = [json.loads(body) for _cursor, _at, body in rows]
    return [entry for entry in entries if actor is None or entry["actor"] == actor]


def test_adding_an_aggregator_makes_it_a_source_not_a_follow(network):
    _hull, _york, regional = network

    added = directory.add(regional.actor)

    found = listing(regional.actor)
    assert added.created and (found.kind, found.state) == ("aggregator", "listed")
    assert found.feed_url == regional.feed_url and found.cursor == ""
    assert db.session.scalar(select(Following)) is None
    assert db.session.scalar(select(Delivery)) is None


def test_a_pull_verifies_each_entry_to_its_group_and_serves_it_again(network, web):  # noqa: F811
    hull, york, regional = network
    source = _source(regional)

    report = sources.pull(source)

    assert report.ok and report.applied == 5 and report.quarantined == 0
    assert report.groups == {hull.actor, york.actor}
    assert held_seqs(hull.actor) == [1, 2] and held_seqs(york.actor) == [1, 2, 3]
    # The groups' keys were fetched from the groups themselves.
    fetched = {call.request.url for call in web.calls}
    assert {hull.actor, york.actor} <= fetched
    for found in (hull, york):
        learned = listing(found.actor)
        assert (learned.state, learned.source, learned.via_id) == (
            "listed",
            "aggregator",
            source.id,
        )
        served = _served(found.actor)
        assert served == found.entries and verify_served(served, found).ok
    # Three to a page: the second page has no next, so the pull resumes at its cursor.
    assert listing(regional.actor).cursor == "c3"
    assert listing(regional.actor).last_pulled_at is not None


def test_the_next_pull_starts_at_the_stored_cursor(network):
    hull, _york, regional = network
    source = _source(regional)
    sources.pull(source)
    regional.served.append(hull.create("rally"))
    regional.feed_requests.clear()

    report = sources.pull(listing(regional.actor))

    assert report.applied == 1
    pages = [url for url in regional.feed_requests if "after=" in url]
    assert "after=c3" in pages[0]
    assert held_seqs(hull.actor) == [1, 2, 3]
    assert [entry["seq"] for entry in _served(hull.actor)] == [1, 2, 3]


def test_an_altered_entry_is_quarantined_and_the_group_itself_is_asked(network):
    hull, york, regional = network
    altered = copy.deepcopy(york.entries[1])
    altered["object"]["name"] = "Hustings (cancelled)"
    regional.served[3] = altered
    source = _source(regional)

    report = sources.pull(source)

    (kept,) = quarantined()
    assert (kept.peer.actor_id, kept.seq, kept.via_peer.actor_id) == (york.actor, 2, regional.actor)
    assert json.loads(kept.body) == altered and "bad-proof" in kept.reason
    # The group's own outbox had the real entry: nothing is broken, nothing is missing.
    assert held_seqs(york.actor) == [1, 2, 3]
    assert listing(york.actor).peer.state == "in_step"
    assert _served(york.actor) == york.entries
    assert any(york.actor in problem for problem in report.problems)
    assert "does not verify" in listing(regional.actor).reason
    assert held_seqs(hull.actor) == [1, 2]


def test_an_entry_the_source_signed_for_a_group_is_refused(network):
    hull, _york, regional = network
    unsigned = {key: value for key, value in hull.entries[1].items() if key != "proof"}
    # Signed by the regional's own key, naming the group's key: keys come from the group.
    forged = sign_object(
        unsigned, regional.proof_key, hull.proof_key_id, datetime(2030, 1, 1, tzinfo=UTC)
    )
    regional.served[2] = forged
    source = _source(regional)

    sources.pull(source)

    (kept,) = quarantined()
    assert kept.peer.actor_id == hull.actor and kept.seq == 2
    assert held_seqs(hull.actor) == [1, 2]
    assert _served(hull.actor) == hull.entries


def test_a_gap_is_filled_from_the_groups_own_outbox(network):
    hull, _york, regional = network
    hull.create("rally")
    h1, _h2, h3 = hull.entries
    regional.served = [h1, h3]  # the regional dropped one

    report = sources.pull(_source(regional))

    assert report.waiting == 0
    assert held_seqs(hull.actor) == [1, 2, 3]
    assert any("after=1" in url for url in hull.outbox_requests)
    assert _served(hull.actor) == hull.entries


def test_a_gap_waits_while_the_group_cannot_be_reached(network):
    hull, york, regional = network
    hull.create("rally")
    h1, _h2, h3 = hull.entries
    y1, y2, y3 = york.entries
    regional.served = [h1, y1, h3, y2, y3]
    regional.page_size = 2
    hull.down = True

    first = sources.pull(_source(regional))

    assert first.waiting == 1
    assert held_seqs(hull.actor) == [1]
    assert held_seqs(york.actor) == [1, 2, 3]  # other groups are not held up
    assert listing(regional.actor).cursor == "c2"  # the page holding the waiting entry

    hull.down = False
    regional.feed_requests.clear()
    second = sources.pull(listing(regional.actor))

    assert "after=c2" in [url for url in regional.feed_requests if "after=" in url][0]
    assert second.waiting == 0
    assert held_seqs(hull.actor) == [1, 2, 3]
    assert listing(regional.actor).cursor == "c4"
    assert _served(hull.actor) == hull.entries


def test_groups_an_admin_removed_are_not_taken_from_a_source(network):
    hull, york, regional = network
    source = _source(regional)
    sources.pull(source)
    directory.remove(listing(hull.actor))
    regional.served.append(hull.create("rally"))

    report = sources.pull(listing(regional.actor))

    assert report.skipped >= 1
    assert held_seqs(hull.actor) == [1, 2]
    assert _served(hull.actor) == [] and len(_served(york.actor)) == 3


def test_removing_a_source_removes_the_groups_learned_through_it(network):
    hull, york, regional = network
    sources.pull(_source(regional))
    assert len(_served()) == 5

    directory.remove(listing(regional.actor))

    assert [listing(found.actor).state for found in (hull, york)] == ["removed", "removed"]
    assert _served() == [] and combined_feed.total() == 0


def test_the_sources_own_holdings_show_how_far_behind_we_are(network):
    hull, york, regional = network
    sources.pull(_source(regional))

    sources._note_heads({"groups": [{"actor": york.actor, "heldSeq": 5}, "junk"]})

    assert listings.sync_state(listing(york.actor)).label == "behind 2"
    assert listings.sync_state(listing(hull.actor)).label == "in step"


def test_the_worker_step_pulls_due_sources_and_admits_what_came(network):
    _hull, _york, regional = network
    _source(regional)

    assert sources.run_due() == 10  # five applied, five admitted
    assert combined_feed.total() == 5
    assert sources.run_due() == 0  # not due again until the poll interval


def test_an_unreachable_source_is_reported_and_its_cursor_kept(network):
    _hull, _york, regional = network
    source = _source(regional)
    regional.down = True

    report = sources.pull(source)

    assert report.error and "503" in report.error
    assert listing(regional.actor).cursor == ""
    assert "503" in listing(regional.actor).reason


def test_a_page_that_is_not_a_page_is_an_error(network, web):  # noqa: F811
    _hull, _york, regional = network
    source = _source(regional)
    web.replace("GET", regional.feed_url, body="[1, 2]", content_type="application/activity+json")

    report = sources.pull(source)

    assert not report.ok
    assert held_seqs(regional.actor) == []


def test_actors_that_publish_no_signed_feed_are_not_taken_from_a_source(network, web):  # noqa: F811
    from tests.node.federation_support import FakePeer

    _hull, _york, regional = network
    account = FakePeer(5, actor_type="Person", branchline=False)
    account.serve(web)
    regional.served = [{"id": f"{account.base}/notes/1", "type": "Create", "actor": account.actor}]

    report = sources.pull(_source(regional))

    assert report.skipped == 1 and any("no signed feed" in p for p in report.problems)
    assert listing(account.actor) is None
