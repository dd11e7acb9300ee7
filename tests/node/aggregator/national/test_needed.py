"""Where am I needed: seats ranked by need × proximity, every input shown, the formula stated."""

from __future__ import annotations

import random

import pytest

from node.extensions import db
from node.services import geo
from node.services.aggregator.national import needed, places
from tests.node.federation_support import remote  # noqa: F401
from tests.node.national_support import (
    LEEDS,
    MANCHESTER,
    YORK,
    followed_group,
    query_plan,
    upcoming,
)


@pytest.fixture
def seats(remote):  # noqa: F811
    """Four seats (and a group with none): marginal Leeds, safe Manchester, unknown York, and
    a seat whose group publishes no location."""
    leeds = followed_group(remote, 2, seat="Leeds North West", marginality=2.0, place=LEEDS)
    followed_group(remote, 3, seat="Manchester Central", marginality=30.0, place=MANCHESTER)
    followed_group(remote, 4, seat="York Outer", place=YORK)
    followed_group(remote, 5, seat="Somewhere", marginality=10.0)
    followed_group(remote, 6, area="No seat here", place=LEEDS)
    return leeds


def _seats(found) -> list[str]:
    return [row.seat for row in found.items]


def test_need_and_proximity_follow_the_stated_formula():
    assert needed.need_of(0.0) == 1.0
    assert needed.need_of(5.0) == pytest.approx(0.75)
    assert needed.need_of(needed.NEED_FULL_MARGIN) == 0.0
    assert needed.need_of(45.0) == 0.0
    assert needed.need_of(None) == needed.UNKNOWN_NEED == 0.5
    assert needed.proximity_of(0.0, place_given=True) == 1.0
    assert needed.proximity_of(needed.PROXIMITY_SCALE_KM, place_given=True) == 0.5
    assert needed.proximity_of(None, place_given=False) == 1.0
    assert needed.proximity_of(None, place_given=True) == needed.UNKNOWN_PROXIMITY


def test_without_a_place_seats_rank_by_need_alone(seats):
    found = needed.needed()

    assert _seats(found) == ["Leeds North West", "York Outer", "Somewhere", "Manchester Central"]
    leeds, york, somewhere, manchester = found.items
    assert (leeds.need, leeds.proximity, leeds.score) == (pytest.approx(0.9), 1.0, 0.9)
    assert york.need == 0.5 and not york.need_known and york.marginality is None
    assert somewhere.need == 0.5 and somewhere.need_known
    assert manchester.score == 0.0 and manchester.distance_km is None


def test_with_a_place_distance_lowers_the_score(seats):
    found = needed.needed(places.parse_place("53.7997,-1.5492"))

    assert _seats(found) == ["Leeds North West", "York Outer", "Manchester Central", "Somewhere"]
    leeds, york, manchester, somewhere = found.items
    assert leeds.distance_km == 0.0 and leeds.score == pytest.approx(0.9)
    # The score is worked from the distance as shown (to 10 m), so it can be checked by hand.
    york_km = round(geo.distance_km(*LEEDS, *YORK), 2)
    assert york.distance_km == york_km
    assert york.proximity == pytest.approx(1 / (1 + york_km / 25))
    assert york.score == pytest.approx(0.5 / (1 + york_km / 25))
    assert somewhere.distance_km is None and somewhere.proximity == 0.0
    assert manchester.need == 0.0


def test_the_ranking_can_be_sorted_by_each_input(seats):
    near_leeds = places.parse_place("53.7997,-1.5492")

    by_margin = needed.needed(sort="marginality")
    assert _seats(by_margin) == [
        "Leeds North West",
        "Somewhere",
        "Manchester Central",
        "York Outer",
    ]
    by_distance = needed.needed(near_leeds, sort="distance", dir="desc")
    assert _seats(by_distance)[:3] == ["Manchester Central", "York Outer", "Leeds North West"]
    assert _seats(needed.needed(sort="score", dir="asc"))[0] == "Manchester Central"


def test_each_seat_shows_its_upcoming_events_and_the_next_one(seats):
    group, stored = seats
    group.publish(stored, "Create", group.event_at("later", "Later canvass", starts=upcoming(9)))
    group.publish(stored, "Create", group.event_at("soon", "Soon canvass", starts=upcoming(2)))
    group.publish(stored, "Create", group.event_at("past", "Past", starts=upcoming(-2)))
    group.publish(
        stored, "Create", group.event_at("off", "Off", starts=upcoming(1), status="cancelled")
    )

    leeds = needed.needed().items[0]

    assert leeds.upcoming_events == 2
    assert leeds.next_event.title == "Soon canvass"
    assert leeds.next_event.url == f"{group.base}/events/soon"
    assert needed.needed().items[1].upcoming_events == 0


def test_the_page_shows_the_formula_and_every_rows_inputs(client, seats):
    html = client.get("/network/needed?near=53.7997,-1.5492").get_data(as_text=True)

    assert "score = need × proximity" in html
    assert "need = max(0, 1 − marginality ÷ 20)" in html
    assert "proximity = 1 ÷ (1 + distance_km ÷ 25)" in html
    assert html.index("Leeds North West") < html.index("York Outer") < html.index("Somewhere")
    assert "0.900" in html  # Leeds: need, and its score
    assert "(unknown)" in html  # York's need
    assert "no location" in html  # Somewhere's distance
    assert "No seat here" not in html


def test_the_api_gives_the_same_ranking_with_its_inputs(client, seats):
    body = client.get("/api/v1/network/needed?near=53.7997,-1.5492&per_page=2").get_json()

    assert body["total"] == 4 and len(body["items"]) == 2 and body["next"]
    first = body["items"][0]
    assert first["seat"] == "Leeds North West" and first["score"] == pytest.approx(0.9)
    assert {"need", "need_known", "distance_km", "proximity", "marginality"} <= set(first)
    assert first["group"]["seat_marginality"] == 2.0
    assert (
        body["formula"]["need_full_margin"] == 20 and "need × proximity" in body["formula"]["text"]
    )
    assert body["place"]["source"] == "coordinates"


def _ranked_in_python(rows, sort: str, direction: str) -> list[str]:
    """The ranking as worked in Python from every seat's inputs: the reference the database's
    order is checked against (ties by group name, unknown values last either way)."""
    rows = sorted(rows, key=lambda row: (row.group.name.lower(), row.group.id))
    value = {
        "score": lambda row: row.score,
        "marginality": lambda row: row.marginality,
        "distance": lambda row: row.distance_km,
        "name": lambda row: row.seat.lower(),
    }[sort]
    known = sorted(
        (row for row in rows if value(row) is not None),
        key=value,
        reverse=direction == "desc",
    )
    return [row.seat for row in known + [row for row in rows if value(row) is None]]


def test_the_databases_ranking_and_pages_match_the_ranking_worked_in_python(remote):  # noqa: F811
    rng = random.Random(19)
    for n in range(2, 24):
        marginality = rng.choice([None, 0.0, 2.5, 2.5, 19.0, 20.0, 35.0, rng.uniform(0, 30)])
        spot = rng.choice([None, LEEDS, YORK, (rng.uniform(50, 57), rng.uniform(-4, 1))])
        seat = f"Seat {rng.choice('ABCDEFG')}{n:02d}"
        followed_group(remote, n, seat=seat, marginality=marginality, place=spot)
    near = places.parse_place("53.9,-1.3")

    for place in (None, near):
        every = needed.needed(place, per_page=100).items
        assert len(every) == 22
        for sort in ("score", "marginality", "distance", "name"):
            for direction in ("asc", "desc"):
                pages = [
                    needed.needed(place, sort=sort, dir=direction, page=p, per_page=5)
                    for p in (1, 2, 3, 4, 5, 6)
                ]
                assert {page.total for page in pages} == {22}
                shown = [row.seat for page in pages for row in page.items]
                assert shown == _ranked_in_python(every, sort, direction), (place, sort, direction)


def test_a_pages_upcoming_events_are_read_from_the_group_and_time_index(seats):
    """SQLite plans by rule, so the plan here is the plan at any size. PostgreSQL plans from
    statistics: with thirty events any index will do, so its plan is read at a million
    entries instead (bench/aggregate.py, docs/benchmarks.md)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's plan depends on the table's size")
    group, stored = seats
    for n in range(30):
        group.publish(stored, "Create", group.event_at(f"e{n}", f"E{n}", starts=upcoming(n + 1)))

    plan = query_plan(needed.upcoming_events([stored.id, stored.id + 1]))

    assert "ix_remote_object_peer_id_object_type_starts_at" in plan, plan
    assert "SCAN remote_object" not in plan, plan
