"""Events near a place: reading the place, the bounding box and the exact distance, and the
database answering from the latitude/longitude index rather than reading every event."""

from __future__ import annotations

import math
import os
import random
from datetime import UTC, date, datetime

import pytest

from node.extensions import db
from node.services import geo
from node.services.aggregator.national import events, places
from tests.node.federation_support import remote  # noqa: F401
from tests.node.national_support import (
    LEEDS,
    MANCHESTER,
    followed_group,
    point_at,
    query_plan,
    upcoming,
)

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "onspd_sample.csv")


def _load_districts(app) -> None:
    from node.cli.geo import geo_group

    assert app.test_cli_runner().invoke(geo_group, ["load", SAMPLE]).exit_code == 0


# Places ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("53.8,-1.55", (53.8, -1.55)), (" 53.8 , -1.55 ", (53.8, -1.55)), ("-33.9,151.2", None)],
)
def test_a_place_can_be_a_latitude_and_longitude(app, given, expected):
    place = places.parse_place(given)

    assert (place.latitude, place.longitude) == (expected or (-33.9, 151.2))
    assert place.source == "coordinates"


@pytest.mark.parametrize("given", ["91,0", "0,181", "53.8", "53.8;-1.55", "somewhere", "1,2,3"])
def test_a_place_that_cannot_be_read_says_what_to_give(app, given):
    with pytest.raises(places.PlaceError) as caught:
        places.parse_place(given)

    assert set(caught.value.fields) == {"near"}


def test_a_place_can_be_a_followed_group_by_handle_or_actor(remote):  # noqa: F811
    group, _stored = followed_group(remote, 2, area="Leeds", place=LEEDS)
    followed_group(remote, 3, area="Nowhere")  # publishes no location

    for given in ("acct:group2@127.0.0.2", "@group2@127.0.0.2", "group2@127.0.0.2", group.actor):
        place = places.parse_place(given)
        assert (place.latitude, place.longitude, place.source) == (*LEEDS, "group")
    with pytest.raises(places.PlaceError, match="publishes no location"):
        places.parse_place("group3@127.0.0.3")
    with pytest.raises(places.PlaceError, match="not a group this node follows"):
        places.parse_place("group9@127.0.0.9")


def test_a_postcode_district_is_at_its_shipped_centre_until_the_table_is_loaded(app):
    shipped = places.parse_place("LS6")
    assert (shipped.label, shipped.source) == ("LS6", "postcode_district")
    assert (shipped.latitude, shipped.longitude) == pytest.approx((53.820, -1.571), abs=0.005)
    approximate = places.parse_place("BT7")  # no shipped centre: the post town
    assert (approximate.label, approximate.source) == ("BT7 (Belfast area)", "postcode_area")
    assert "approximate" in approximate.note

    _load_districts(app)

    place = places.parse_place("ls6 1aa")
    assert (place.label, place.source) == ("LS6", "postcode_district")
    assert (place.latitude, place.longitude) == pytest.approx((53.82, -1.578))
    with pytest.raises(places.PlaceError, match="We cannot find “ZZ9”"):
        places.parse_place("ZZ9")


def test_dates_are_whole_days_in_the_groups_time_zone():
    start, end = places.day_range(date(2031, 7, 1), date(2031, 7, 1), "Europe/London")

    assert start == datetime(2031, 6, 30, 23, tzinfo=UTC)  # midnight BST
    assert end == datetime(2031, 7, 1, 23, tzinfo=UTC)


# Distance search ---------------------------------------------------------------------------


def _titles(found) -> list[str]:
    return [row.title for row in found.items]


def test_events_near_a_place_keep_the_circle_not_the_box(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    when = upcoming(5)
    spots = {
        "north inside": point_at(LEEDS, 24.9, 0),
        "north outside": point_at(LEEDS, 25.1, 0),
        "east inside": point_at(LEEDS, 24.8, 90),
        "west outside": point_at(LEEDS, 25.1, 270),
        "south inside": point_at(LEEDS, 24.7, 180),
        # In the box's north-east corner: within both ranges, 35 km away.
        "corner outside": point_at(LEEDS, 35.0, 45),
        "centre": LEEDS,
        "manchester": MANCHESTER,
    }
    for n, (title, spot) in enumerate(spots.items()):
        group.publish(stored, "Create", group.event_at(f"e{n}", title, starts=when, place=spot))
    group.publish(stored, "Create", group.event_at("online", "online", starts=when))
    box = geo.bounding_box(*LEEDS, 25.0)
    assert box.contains(*spots["corner outside"])

    found = events.events(place=places.parse_place("53.7997,-1.5492"), sort="distance")

    assert _titles(found) == ["centre", "south inside", "east inside", "north inside"]
    assert [row.distance_km for row in found.items] == [
        0.0,
        pytest.approx(24.7, abs=0.01),
        pytest.approx(24.8, abs=0.01),
        pytest.approx(24.9, abs=0.01),
    ]
    wider = events.events(place=places.parse_place("53.7997,-1.5492"), within=60)
    assert "manchester" in _titles(wider) and "online" not in _titles(wider)


def test_events_filter_by_kind_status_and_dates_and_hide_past_and_deleted(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    group.publish(stored, "Create", group.event_at("a", "canvass", starts=upcoming(2)))
    group.publish(
        stored, "Create", group.event_at("b", "phonebank", starts=upcoming(9), kind="phonebank")
    )
    group.publish(
        stored, "Create", group.event_at("c", "cancelled", starts=upcoming(3), status="cancelled")
    )
    group.publish(stored, "Create", group.event_at("d", "past", starts=upcoming(-2)))
    gone = group.event_at("e", "deleted", starts=upcoming(4))
    group.publish(stored, "Create", gone)
    group.publish(stored, "Delete", gone["id"])

    assert _titles(events.events()) == ["canvass", "cancelled", "phonebank"]
    assert _titles(events.events(kind="phonebank")) == ["phonebank"]
    assert _titles(events.events(status="cancelled")) == ["cancelled"]
    start, end = places.day_range(upcoming(1).date(), upcoming(5).date(), "UTC")
    assert _titles(events.events(start=start, end=end)) == ["canvass", "cancelled"]
    assert _titles(events.events(sort="title", dir="desc")) == [
        "phonebank",
        "canvass",
        "cancelled",
    ]


def test_unfollowed_groups_events_are_not_shown(remote):  # noqa: F811
    from node.models import Following

    group, stored = followed_group(remote, 2, place=LEEDS)
    group.publish(stored, "Create", group.event_at("a", "A", starts=upcoming(2), place=LEEDS))
    assert _titles(events.events(place=places.parse_place("53.8,-1.55"))) == ["A"]

    db.session.query(Following).delete()
    db.session.commit()
    assert _titles(events.events(place=places.Place("x", *LEEDS, "coordinates"))) == []
    assert _titles(events.events()) == []


def test_the_distance_search_reads_the_latitude_longitude_index(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    for n in range(30):
        spot = (50.0 + n * 0.2, -3.0 + n * 0.1)
        group.publish(
            stored, "Create", group.event_at(f"e{n}", f"E{n}", starts=upcoming(2), place=spot)
        )

    place = places.Place("x", *LEEDS, "coordinates")
    query = events.box_query(place, 25.0)
    # The query run is the box's rows sorted and cut to a page: in every order, the box's
    # index must still be what finds them (not an index walked in the sort's order).
    for plan in [query_plan(query)] + [
        query_plan(events.near_page(query, place, sort, "asc").limit(20))
        for sort in ("when", "distance", "title", "group")
    ]:
        assert "ix_remote_object_latitude_longitude" in plan, plan
        if db.engine.dialect.name == "sqlite":
            assert "SCAN remote_object" not in plan, plan
    db.session.rollback()


def test_events_near_are_sorted_and_paged_by_the_database_with_the_whole_count(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    # 25 events inside 20 km (one a day, the farther the later), 5 outside the circle.
    for n in range(25):
        spot = point_at(LEEDS, 0.5 + n * 0.8, (n * 37) % 360)
        event = group.event_at(f"in{n}", f"In {n:02d}", starts=upcoming(n + 1), place=spot)
        group.publish(stored, "Create", event)
    for n in range(5):
        spot = point_at(LEEDS, 30 + n, 0)
        event = group.event_at(f"out{n}", f"Out {n}", starts=upcoming(1), place=spot)
        group.publish(stored, "Create", event)
    place = places.Place("x", *LEEDS, "coordinates")

    first = events.events(place=place, per_page=10)
    third = events.events(place=place, per_page=10, page=3)
    beyond = events.events(place=place, per_page=10, page=4)
    farthest = events.events(place=place, sort="distance", dir="desc", per_page=3)
    titles = events.events(place=place, sort="title", dir="desc", per_page=2)

    assert (first.total, third.total, beyond.total) == (25, 25, 25)
    assert _titles(first) == [f"In {n:02d}" for n in range(10)]
    assert _titles(third) == [f"In {n:02d}" for n in range(20, 25)]
    assert _titles(beyond) == []
    assert _titles(farthest) == ["In 24", "In 23", "In 22"]
    assert [row.distance_km for row in farthest.items] == [
        pytest.approx(19.7, abs=0.01),
        pytest.approx(18.9, abs=0.01),
        pytest.approx(18.1, abs=0.01),
    ]
    assert _titles(titles) == ["In 24", "In 23"]


@pytest.mark.parametrize("radius", [0.4, 3.0, 25.0, 160.0, 800.0])
def test_the_database_keeps_the_points_python_measures_within_the_radius(remote, radius):  # noqa: F811
    group, stored = followed_group(remote, 2)
    rng = random.Random(radius)
    spots = [point_at(LEEDS, rng.uniform(0, radius * 1.5), rng.uniform(0, 360)) for _ in range(60)]
    # and points right on the edge, either side of it by a metre
    spots += [
        point_at(LEEDS, radius + edge, bearing)
        for edge in (-0.001, 0.001)
        for bearing in (0, 90, 200)
    ]
    for n, spot in enumerate(spots):
        event = group.event_at(f"e{n}", f"E{n}", starts=upcoming(2), place=spot)
        group.publish(stored, "Create", event)
    place = places.Place("x", *LEEDS, "coordinates")

    kept = {row.title for row in db.session.execute(events.box_query(place, radius))}

    measured = {
        f"E{n}"
        for n, spot in enumerate(spots)
        if geo.within(geo.distance_km(*LEEDS, *spot), radius)
    }
    assert kept == measured
    assert 0 < len(kept) < len(spots)


def test_the_circle_needs_no_limit_when_it_covers_the_earth():
    assert geo.haversine_limit(25.0) == pytest.approx(
        math.sin(25.000001 / (2 * geo.EARTH_RADIUS_KM)) ** 2
    )
    assert geo.haversine_limit(30_000.0) is None


def test_the_box_query_finds_what_the_search_keeps(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    group.publish(stored, "Create", group.event_at("a", "A", starts=upcoming(2), place=LEEDS))

    rows = db.session.execute(events.box_query(places.Place("x", *LEEDS, "coordinates"), 1.0)).all()

    assert [row.title for row in rows] == ["A"]
