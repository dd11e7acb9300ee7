"""Places: the ONS postcode directory loader and `branchline geo`, distances and boxes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import select

from node.cli.geo import geo_group
from node.extensions import db
from node.models import PostcodeDistrict
from node.services import geo
from tests.node.national_support import point_at

SAMPLE = Path(__file__).parent.parent / "data" / "onspd_sample.csv"


def _load(app, path: Path):
    return app.test_cli_runner().invoke(geo_group, ["load", str(path)])


def _districts() -> dict[str, PostcodeDistrict]:
    return {d.district: d for d in db.session.scalars(select(PostcodeDistrict))}


# The loader --------------------------------------------------------------------------------


def test_reading_the_sample_directory_counts_what_it_used_and_skipped():
    with SAMPLE.open(encoding="utf-8") as handle:
        report = geo.read_postcode_directory(handle)

    assert report.rows == 11
    assert report.used == 9
    assert report.terminated == 1  # LS6 9ZZ
    assert report.no_coordinates == 1  # BT1 1ZZ: 99.999999, 0.000000
    assert report.bad_postcode == 0
    assert report.districts == 5


def test_load_command_stores_the_mean_position_of_each_districts_live_postcodes(app):
    result = _load(app, SAMPLE)

    assert result.exit_code == 0, result.output
    assert "Read 11 postcode(s): 9 used, 2 skipped" in result.output
    assert "1 terminated, 1 without coordinates" in result.output
    assert "Stored 5 postcode district(s)." in result.output
    found = _districts()
    assert set(found) == {"LS6", "LS7", "M14", "EH1", "SW1A"}
    leeds6 = found["LS6"]  # three live postcodes; the terminated one at 53.9 is left out
    assert leeds6.postcodes == 3
    assert leeds6.latitude == pytest.approx(53.820) and leeds6.longitude == pytest.approx(-1.578)
    assert (found["LS7"].latitude, found["LS7"].longitude) == pytest.approx((53.826, -1.541))
    assert (found["M14"].latitude, found["M14"].longitude) == pytest.approx((53.449, -2.224))
    assert found["SW1A"].postcodes == 1  # "SW1A 2AA": a four-character outward code
    assert "BT1" not in found


def test_loading_again_replaces_the_table(app, tmp_path):
    assert _load(app, SAMPLE).exit_code == 0
    smaller = tmp_path / "smaller.csv"
    smaller.write_text("pcds,doterm,lat,long\nYO1 7HH,,53.9620,-1.0819\n", encoding="utf-8")

    result = _load(app, smaller)

    assert result.exit_code == 0, result.output
    assert set(_districts()) == {"YO1"}


def test_a_file_without_the_directory_columns_is_refused_and_nothing_changes(app, tmp_path):
    assert _load(app, SAMPLE).exit_code == 0
    wrong = tmp_path / "members.csv"
    wrong.write_text("name,email,postcode\nKim,kim@example.org,LS6 1AA\n", encoding="utf-8")

    result = _load(app, wrong)

    assert result.exit_code == 1
    assert "not an ONS Postcode Directory CSV" in result.output
    assert "pcds, lat, long, doterm" in result.output
    assert len(_districts()) == 5


def test_an_empty_file_or_one_with_no_usable_rows_changes_nothing(app, tmp_path):
    assert _load(app, SAMPLE).exit_code == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    all_terminated = tmp_path / "old.csv"
    all_terminated.write_text("pcds,doterm,lat,long\nLS6 1AA,200012,53.8,-1.5\n", encoding="utf-8")

    for path in (empty, all_terminated):
        result = _load(app, path)
        assert result.exit_code == 1, result.output
    assert len(_districts()) == 5


def test_rows_with_broken_postcodes_or_coordinates_are_skipped_and_counted(tmp_path):
    lines = [
        "pcds,doterm,lat,long",
        "NOT A POSTCODE,,53.8,-1.5",
        "LS6 1AA,,north,-1.5",
        "LS6 1AB,,,",
        "LS6 1AC,,nan,-1.5",
        "LS6 1AD",
        "ls6 1ae,,53.8,-1.5",
    ]
    report = geo.read_postcode_directory(lines)

    assert report.bad_postcode == 2 and report.no_coordinates == 3 and report.used == 1
    assert set(report.sums) == {"LS6"}


def test_lookup_prints_the_centroid_of_a_district_or_a_postcodes_district(app):
    runner = app.test_cli_runner()
    assert runner.invoke(geo_group, ["lookup", "LS6"]).exit_code == 1  # nothing loaded yet
    _load(app, SAMPLE)

    for asked in ("LS6", "ls6", "LS6 1AA", "ls61aa"):
        result = runner.invoke(geo_group, ["lookup", asked])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("LS6\t53.820000,-1.578000")
    unknown = runner.invoke(geo_group, ["lookup", "ZZ9"])
    assert unknown.exit_code == 1 and "No postcode district ZZ9" in unknown.output


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("LS6", "LS6"),
        ("ls6 1an", "LS6"),
        ("SW1A 2AA", "SW1A"),
        ("SW1A2AA", "SW1A"),
        ("M1", "M1"),
        ("EC1A 1BB", "EC1A"),
        ("hello", None),
        ("LS6 1A", None),
        ("", None),
        ("53.8,-1.5", None),
    ],
)
def test_outward_code_of_postcodes_and_districts(text, district):
    assert geo.outward_code(text) == district


# Distances and boxes -----------------------------------------------------------------------


def test_haversine_distance_matches_known_values():
    one_degree = 2 * math.pi * geo.EARTH_RADIUS_KM / 360
    assert geo.distance_km(0, 0, 1, 0) == pytest.approx(one_degree)
    assert geo.distance_km(0, 0, 0, 1) == pytest.approx(one_degree)
    assert geo.distance_km(53.7997, -1.5492, 53.7997, -1.5492) == 0
    # Leeds to Manchester city centres: about 58 km as the crow flies.
    assert geo.distance_km(53.7997, -1.5492, 53.4808, -2.2426) == pytest.approx(57.9, abs=0.3)
    assert geo.distance_km(0, 179.9, 0, -179.9) == pytest.approx(0.2 * one_degree)


@pytest.mark.parametrize(
    "origin", [(53.8, -1.55), (0.0, 0.0), (-33.9, 151.2), (0.0, 179.95), (89.9, 10.0)]
)
def test_the_box_holds_every_point_of_the_circle(origin):
    radius = 25.0
    box = geo.bounding_box(*origin, radius)

    for bearing in range(0, 360, 5):
        point = point_at(origin, radius, bearing)
        assert geo.within(geo.distance_km(*origin, *point), radius)
        assert box.contains(*point), (bearing, point, box)


def test_the_box_is_the_smallest_one_around_the_circle():
    origin = (53.8, -1.55)
    box = geo.bounding_box(*origin, 25.0)

    north = point_at(origin, 25.0, 0)
    assert box.north == pytest.approx(north[0])
    assert not box.contains(*point_at(origin, 25.1, 0))
    assert not box.contains(*point_at(origin, 25.1, 180))
    # Its east edge is the circle's widest longitude, reached a little north of the centre.
    widest = max(point_at(origin, 25.0, b / 10)[1] for b in range(600, 1200))
    assert box.east == pytest.approx(widest, abs=1e-5)


def test_a_box_across_the_antimeridian_wraps():
    box = geo.bounding_box(0.0, 179.95, 25.0)

    assert box.west > box.east
    assert box.longitude_ranges() == [(box.west, 180.0), (-180.0, box.east)]
    assert box.contains(0.0, -179.9) and box.contains(0.0, 179.9)
    assert not box.contains(0.0, 0.0)


def test_a_circle_around_a_pole_spans_every_longitude():
    box = geo.bounding_box(89.95, 0.0, 25.0)

    assert (box.west, box.east, box.north) == (-180.0, 180.0, 90.0)
    assert box.contains(89.95, 180.0)


def test_distances_from_one_place_are_the_floats_distance_km_gives():
    places = [(53.7997, -1.5492), (53.4808, -2.2426), (-33.9, 151.2), (0.0, 179.9), (89.9, -179.9)]
    for origin in places:
        distance_to = geo.distances_from(*origin)
        for other in places:
            assert distance_to(*other) == geo.distance_km(*origin, *other)
