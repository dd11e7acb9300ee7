"""The shipped gazetteer: towns and postcodes found on a fresh node, with nothing loaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from node.cli.geo import geo_group
from node.services import geo
from tests.node.test_geo import SAMPLE


def _load_districts(app) -> None:
    assert app.test_cli_runner().invoke(geo_group, ["load", str(SAMPLE)]).exit_code == 0


def test_a_town_is_found_by_name_whatever_the_case_and_spacing(app):
    leeds = geo.find_place("Leeds")
    hebden = geo.find_place("  hebden   bridge ")

    assert (leeds.label, leeds.source) == ("Leeds, England", "town")
    assert (leeds.latitude, leeds.longitude) == pytest.approx((53.796, -1.548), abs=0.01)
    assert hebden.label == "Hebden Bridge, England"
    assert (hebden.latitude, hebden.longitude) == pytest.approx((53.741, -2.013), abs=0.01)
    assert geo.find_place("Hebden-Bridge").label == "Hebden Bridge, England"


def test_an_ambiguous_name_picks_the_most_populous_and_says_so(app):
    newport = geo.find_place("Newport")

    assert newport.label == "Newport, Wales"  # the city, not the villages of the same name
    assert "places called Newport" in newport.note and "largest" in newport.note
    assert "Newport, England" in newport.others


@pytest.mark.parametrize(
    ("typed", "district", "centre", "town"),
    [
        ("LS7", "LS7", (53.821, -1.540), "Leeds"),  # Chapeltown, 2.8 km north of Leeds
        ("ls6 1an", "LS6", (53.820, -1.571), "Leeds"),  # Headingley
        ("HX7 8AD", "HX7", (53.739, -2.009), "Halifax"),  # Hebden Bridge, 12 km from Halifax
    ],
)
def test_a_district_or_postcode_is_placed_at_its_shipped_district_centre(
    app, typed, district, centre, town
):
    found = geo.find_place(typed)

    assert (found.label, found.source, found.note) == (district, "postcode_district", "")
    assert (found.latitude, found.longitude) == pytest.approx(centre, abs=0.005)
    post_town = geo.find_town(town)[0]
    assert (
        geo.distance_km(found.latitude, found.longitude, post_town.latitude, post_town.longitude)
        > 2
    )


def test_a_district_without_a_shipped_centre_is_placed_at_its_post_town(app):
    district = geo.find_place("BT7")  # Code-Point Open gives Northern Ireland no positions
    postcode = geo.find_place("bt7 1nn")

    assert (district.label, district.source) == ("BT7 (Belfast area)", "postcode_area")
    assert postcode.label == "BT7 1NN (Belfast area)"
    assert (postcode.latitude, postcode.longitude) == pytest.approx((54.597, -5.925), abs=0.01)
    assert "approximate" in postcode.note


def test_a_loaded_postcode_table_takes_over_for_its_districts(app):
    _load_districts(app)

    full = geo.find_place("LS6 1AA")
    assert (full.label, full.source) == ("LS6", "postcode_district")
    assert (full.latitude, full.longitude) == pytest.approx((53.82, -1.578))
    # A district the table lacks still has its shipped centre.
    hebden = geo.find_place("HX7")
    assert (hebden.label, hebden.latitude) == ("HX7", pytest.approx(53.739, abs=0.005))


@pytest.mark.parametrize("typed", ["Narnia", "ZZ9", "", "12345"])
def test_a_place_that_is_not_in_the_gazetteer_is_not_found(app, typed):
    assert geo.find_place(typed) is None


def test_the_shipped_file_is_small_and_has_every_postcode_area(app):
    found = geo.gazetteer()

    assert geo.GAZETTEER.stat().st_size < 400_000
    assert len(found.areas) == 121 and {"LS", "HX", "EC", "ZE"} <= set(found.areas)
    assert len(found.districts) > 2800 and {"LS7", "EC1A", "ZE3"} <= set(found.districts)
    assert len(found.towns) > 4000


def _build_script():
    path = Path(__file__).resolve().parents[2] / "deploy" / "build_gazetteer.py"
    spec = importlib.util.spec_from_file_location("build_gazetteer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_averages_a_districts_grid_positions_into_latitude_and_longitude(tmp_path):
    build = _build_script()
    # Buckingham Palace (SW1A 1AA) on the National Grid, and where it is.
    assert build.grid_to_wgs84(529090, 179645) == pytest.approx((51.50101, -0.14159), abs=1e-4)
    (tmp_path / "sw.csv").write_text(
        "SW1A 1AA,10,529000,179600\nSW1A 2AA,10,529180,179690\n"
        "SW1A 9ZZ,90,0,0\nSW2  1AA,10,530900,174900\n",
        encoding="utf-8",
    )

    centres = build.district_centres(tmp_path)

    assert set(centres) == {"SW1A", "SW2"}  # the unplaced postcode is skipped
    assert centres["SW1A"] == pytest.approx(build.grid_to_wgs84(529090, 179645))
    assert sorted(["LS10", "LS2", "EC1M", "EC1A", "E1"], key=build._district_key) == [
        "E1",
        "EC1A",
        "EC1M",
        "LS2",
        "LS10",
    ]
