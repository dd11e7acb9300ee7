"""The shipped gazetteer: towns and postcodes found on a fresh node, with nothing loaded."""

from __future__ import annotations

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


def test_a_district_or_postcode_is_placed_at_its_post_town_when_no_table_is_loaded(app):
    district = geo.find_place("LS7")
    postcode = geo.find_place("ls7 3hb")

    assert (district.label, district.source) == ("LS7 (Leeds area)", "postcode_area")
    assert postcode.label == "LS7 3HB (Leeds area)"
    assert (postcode.latitude, postcode.longitude) == pytest.approx((53.796, -1.548), abs=0.01)
    assert "approximate" in postcode.note


def test_a_loaded_postcode_table_takes_over_for_its_districts(app):
    _load_districts(app)

    full = geo.find_place("LS6 1AA")
    assert (full.label, full.source) == ("LS6", "postcode_district")
    assert (full.latitude, full.longitude) == pytest.approx((53.82, -1.578))
    # A district the table lacks still falls back to its post town.
    assert geo.find_place("HX7").label == "HX7 (Halifax area)"


@pytest.mark.parametrize("typed", ["Narnia", "ZZ9", "", "12345"])
def test_a_place_that_is_not_in_the_gazetteer_is_not_found(app, typed):
    assert geo.find_place(typed) is None


def test_the_shipped_file_is_small_and_has_every_postcode_area(app):
    found = geo.gazetteer()

    assert geo.GAZETTEER.stat().st_size < 400_000
    assert len(found.areas) == 121 and {"LS", "HX", "EC", "ZE"} <= set(found.areas)
    assert len(found.towns) > 4000
