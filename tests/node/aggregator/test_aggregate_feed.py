"""The combined feed (/aggregate/feed) and its outbox form (/aggregate/outbox): paging, the
cursor, limits, the exact bytes each group signed, Announce wrapping, and only on an
aggregator."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from federation import feed
from federation.jcs import canonicalize
from node.extensions import db
from node.services.aggregator import combined_feed, directory
from tests.conftest import log_in
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeGroup,
    listing,
    verify_served,
    web,  # noqa: F401 - a fixture
)

JSON = {"Accept": "application/activity+json"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


@pytest.fixture
def groups(client, web):  # noqa: F811
    """Two listed groups, admitted in the order h1 h2 y1 y2 h3."""
    hull, york = FakeGroup(2), FakeGroup(3)
    hull.create("canvass")
    hull.create("stall")
    york.create("hustings")
    york.create("leaflets")
    for found in (hull, york):
        found.serve(web)
    directory.add(hull.actor)
    combined_feed.admit()
    directory.add(york.actor)
    combined_feed.admit()
    # Pushed as a group pushes it: its canonical bytes (kept and served as they came).
    assert hull.post(client, canonicalize(hull.create("rally"))).status_code == 202
    combined_feed.admit()
    return hull, york


def _read_all(client, path: str = "/aggregate/feed", limit: int = 2) -> list[dict]:
    url, items = f"{path}?after=0&limit={limit}", []
    while url:
        page = client.get(url, headers=JSON).get_json()
        assert page["type"] == "OrderedCollectionPage" and page["partOf"].endswith(path)
        items += page["orderedItems"]
        url = page.get("next", "").removeprefix("http://localhost")
    return items


# Only on an aggregator -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/aggregate/feed", "/aggregate/feed?after=0", "/aggregate/outbox", "/aggregate/announce/1"],
)
def test_an_ordinary_node_has_no_combined_feed(app, client, path):
    app.config["ROLE"] = "node"

    response = client.get(path, headers=JSON)

    assert response.status_code == 404
    assert "not an aggregator" in response.get_json()["error"]


def test_an_ordinary_node_has_no_directory_page(app, client, admin):
    app.config["ROLE"] = "node"
    log_in(client, admin)

    assert client.get("/manage/aggregate").status_code == 404
    assert "Aggregator" not in client.get("/manage/").get_data(as_text=True)


# The collection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    ["application/activity+json", "application/ld+json", "application/json", "text/html"],
)
def test_the_collection_describes_the_feed_and_each_group(client, groups, accept):
    hull, york = groups

    response = client.get("/aggregate/feed", headers={"Accept": accept})

    assert response.status_code == 200
    assert response.mimetype == "application/activity+json"
    document = response.get_json()
    assert document["@context"] == feed.entry_context()
    assert document["id"] == "http://localhost/aggregate/feed"
    assert document["type"] == "OrderedCollection"
    assert document["totalItems"] == 5
    assert document["first"] == "http://localhost/aggregate/feed?after=0&limit=100"
    assert document["groups"] == [
        {
            "actor": hull.actor,
            "name": "Group 2",
            "heldSeq": 3,
            "heldHash": feed.entry_hash(hull.entries[-1]),
            "state": "in_step",
            "stateReason": "",
        },
        {
            "actor": york.actor,
            "name": "Group 3",
            "heldSeq": 2,
            "heldHash": feed.entry_hash(york.entries[-1]),
            "state": "in_step",
            "stateReason": "",
        },
    ]


def test_removed_groups_leave_the_collection(client, groups):
    hull, york = groups

    directory.remove(listing(york.actor))

    document = client.get("/aggregate/feed", headers=JSON).get_json()
    assert [group["actor"] for group in document["groups"]] == [hull.actor]
    assert document["totalItems"] == 3
    assert _read_all(client) == hull.entries


# Pages ---------------------------------------------------------------------------------


def test_pages_lead_from_cursor_to_cursor_through_every_entry_once(client, groups):
    hull, york = groups

    items = _read_all(client, limit=2)

    assert items == [*hull.entries[:2], *york.entries, hull.entries[2]]
    for group in (hull, york):
        own = [item for item in items if item["actor"] == group.actor]
        assert [item["seq"] for item in own] == [1, 2, 3][: len(group.entries)]
        assert verify_served(own, group).ok  # with the group's own key, from seq 1


def test_the_last_page_has_no_next_and_names_itself(client, groups):
    first = client.get("/aggregate/feed?after=0&limit=3", headers=JSON).get_json()
    cursor = re.search(r"after=(\d+)&limit=3$", first["next"])[1]

    last = client.get(f"/aggregate/feed?after={cursor}&limit=3", headers=JSON).get_json()

    assert last["id"] == f"http://localhost/aggregate/feed?after={cursor}&limit=3"
    assert len(last["orderedItems"]) == 2 and "next" not in last
    beyond = client.get("/aggregate/feed?after=999999", headers=JSON).get_json()
    assert beyond["orderedItems"] == [] and "next" not in beyond
    assert beyond["id"] == "http://localhost/aggregate/feed?after=999999&limit=100"


def test_entries_are_served_as_the_exact_bytes_their_group_signed(client, groups):
    hull, york = groups

    text = client.get("/aggregate/feed?after=0&limit=10", headers=JSON).get_data(as_text=True)

    for entry in (*hull.entries, *york.entries):
        assert canonicalize(entry).decode() in text


def test_an_entry_admitted_later_comes_after_a_readers_cursor(client, groups):
    hull, _york = groups
    page = client.get("/aggregate/feed?after=0&limit=10", headers=JSON).get_json()
    assert "next" not in page
    cursor = combined_feed.page(0, 10)[0][-1][0]

    hull.post(client, canonicalize(hull.create("phonebank")))
    assert combined_feed.admit() == 1

    later = client.get(f"/aggregate/feed?after={cursor}&limit=10", headers=JSON).get_json()
    assert later["orderedItems"] == [hull.entries[-1]]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("after=-1", "after"),
        ("after=one", "after"),
        ("after=99999999999999999", "after"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("after=0&limit=", "limit"),
    ],
)
def test_bad_page_parameters_are_a_400_naming_the_parameter(client, groups, query, name):
    for path in ("/aggregate/feed", "/aggregate/outbox"):
        response = client.get(f"{path}?{query}", headers=JSON)

        assert response.status_code == 400
        body = response.get_json()
        assert body["error"] and list(body["fields"]) == [name]


def test_limits_run_from_one_to_five_hundred(client, groups):
    one = client.get("/aggregate/feed?limit=1", headers=JSON).get_json()
    most = client.get("/aggregate/feed?limit=500", headers=JSON).get_json()

    assert len(one["orderedItems"]) == 1 and one["next"].endswith("&limit=1")
    assert len(most["orderedItems"]) == 5


def test_a_page_is_one_query(app, groups):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rows, more = combined_feed.page(0, 3)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    assert len(rows) == 3 and more
    assert len(statements) == 1


# The outbox: entries wrapped in Announce -----------------------------------------------


def test_the_outbox_wraps_each_entry_in_an_announce_by_the_aggregator(client, groups):
    hull, york = groups
    root = client.get("/aggregate/outbox", headers=JSON).get_json()
    assert root["id"] == "http://localhost/aggregate/outbox"
    assert root["first"] == "http://localhost/aggregate/outbox?after=0&limit=100"
    assert root["totalItems"] == 5 and len(root["groups"]) == 2

    announces = _read_all(client, "/aggregate/outbox", limit=2)

    cursors = [cursor for cursor, _at, _body in combined_feed.page(0, 10)[0]]
    assert [item["id"] for item in announces] == [
        f"http://localhost/aggregate/announce/{cursor}" for cursor in cursors
    ]
    assert {item["type"] for item in announces} == {"Announce"}
    assert {item["actor"] for item in announces} == {"http://localhost/actor"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["published"]) for a in announces)
    assert [item["object"] for item in announces] == [
        *hull.entries[:2],
        *york.entries,
        hull.entries[2],
    ]
    text = client.get("/aggregate/outbox?after=0&limit=10", headers=JSON).get_data(as_text=True)
    assert f'"object":{canonicalize(york.entries[0]).decode()}}}' in text


def test_each_announce_is_served_at_its_id(client, groups):
    hull, _york = groups
    cursor = combined_feed.page(0, 1)[0][0][0]

    response = client.get(f"/aggregate/announce/{cursor}", headers=JSON)

    assert response.status_code == 200
    document = response.get_json()
    assert document["@context"] == feed.entry_context()
    assert document["id"] == f"http://localhost/aggregate/announce/{cursor}"
    assert document["object"] == hull.entries[0]
    assert client.get("/aggregate/announce/999999", headers=JSON).status_code == 404


def test_the_collection_reports_a_group_behind_or_broken(client, groups):
    hull, york = groups
    peer = listing(york.actor).peer
    peer.state, peer.state_reason = "chain_broken", "entry 3: bad-proof: forged"
    db.session.commit()

    described = {
        group["actor"]: group
        for group in client.get("/aggregate/feed", headers=JSON).get_json()["groups"]
    }

    assert described[york.actor]["state"] == "chain_broken"
    assert described[york.actor]["stateReason"] == "entry 3: bad-proof: forged"
    assert described[york.actor]["heldSeq"] == 2  # what it served before the break stays
    assert described[hull.actor]["state"] == "in_step"
