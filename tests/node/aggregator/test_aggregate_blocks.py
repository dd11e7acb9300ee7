"""An aggregator that blocks a group stops listing it: its entries leave the combined feed,
the directory and the national pages, and its entries are not taken from other sources."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Following
from node.services.aggregator import combined_feed, directory, sources
from node.services.aggregator.national import events
from node.services.errors import Forbidden
from node.services.peering import blocking
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeAggregator,
    FakeGroup,
    held_seqs,
    listing,
    web,  # noqa: F401 - a fixture
)


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


def _served_actors() -> set[str]:
    combined_feed.admit()
    rows, _more = combined_feed.page(0, 500)
    return {json.loads(body)["actor"] for _cursor, _at, body in rows}


@pytest.fixture
def listed(group, web):  # noqa: F811
    hull, york = FakeGroup(2), FakeGroup(3)
    hull.create("canvass")
    york.create("hustings")
    for found in (hull, york):
        found.serve(web)
        directory.add(found.actor)
    assert _served_actors() == {hull.actor, york.actor}
    return hull, york


def test_blocking_a_listed_group_removes_it_everywhere(listed):
    hull, york = listed
    before = events.event_search({}, None)[0]
    assert {item.group for item in before.items} == {hull.actor, york.actor}

    severed = blocking.block("127.0.0.2", public_comment="spam")

    assert severed.listings_removed == 1
    found = listing(hull.actor)
    assert found.state == "removed" and found.reason.startswith("Blocked. spam")
    assert _served_actors() == {york.actor}
    assert [row.listing.peer.actor_id for row in directory.rows(("listed",))] == [york.actor]
    assert [g["actor"] for g in combined_feed.groups()] == [york.actor]
    shown = events.event_search({}, None)[0]
    assert {item.group for item in shown.items} == {york.actor}
    followed = {f.peer.actor_id for f in db.session.scalars(select(Following))}
    assert followed == {york.actor}


def test_a_blocked_group_cannot_be_listed_again(listed):
    hull, _york = listed
    blocking.block(hull.actor)
    with pytest.raises(Forbidden):
        directory.approve(listing(hull.actor))
    db.session.rollback()
    with pytest.raises(Forbidden):
        directory.add(hull.actor)


def test_a_blocked_groups_entries_are_not_taken_from_another_aggregator(group, web):  # noqa: F811
    hull, york = FakeGroup(2), FakeGroup(3)
    hull.create("canvass")
    york.create("hustings")
    regional = FakeAggregator(4)
    regional.served = [hull.entries[0], york.entries[0]]
    for found in (hull, york, regional):
        found.serve(web)
    directory.add(regional.actor)
    blocking.block("127.0.0.2")
    web.calls.reset()

    report = sources.pull(listing(regional.actor))

    assert report.skipped == 1 and report.applied == 1
    assert held_seqs(hull.actor) == [] and held_seqs(york.actor) == [1]
    assert hull.actor not in {call.request.url for call in web.calls}  # never fetched
    assert _served_actors() == {york.actor}


def test_blocking_a_source_aggregator_stops_its_pulls(group, web):  # noqa: F811
    regional = FakeAggregator(4)
    regional.serve(web)
    directory.add(regional.actor)

    severed = blocking.block(regional.actor)

    assert severed.listings_removed == 1
    assert listing(regional.actor).state == "removed"
    regional.feed_requests.clear()
    assert sources.pull_due() == []
    assert regional.feed_requests == []
