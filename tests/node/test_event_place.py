"""Organisers place an event by postcode or town; the event page then shows a map."""

from __future__ import annotations

import re

import pytest

from node.extensions import db
from node.models import Event
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error

FORM = {
    "title": "Canal clean-up",
    "kind": "meeting",
    "starts_at": "2031-06-07T10:00",
    "visibility": "public",
}


@pytest.fixture
def organiser_in(client, organiser):
    log_in(client, organiser)
    return organiser


def test_a_town_typed_for_an_event_sets_its_latitude_and_longitude(client, organiser_in):
    response = post_form(client, "/manage/events/new", {**FORM, "locate": "Hebden Bridge"})

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    event = db.session.scalar(db.select(Event).where(Event.title == "Canal clean-up"))
    assert (event.latitude, event.longitude) == pytest.approx((53.741, -2.013), abs=0.01)

    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "data-map" in page and "See it on OpenStreetMap" in page


def test_a_place_that_cannot_be_found_is_an_error_in_the_form_with_what_was_typed(
    client, organiser_in
):
    response = post_form(client, "/manage/events/new", {**FORM, "locate": "Narnia"})
    html = response.get_data(as_text=True)

    assert response.status_code == 400
    assert field_error(html, "locate") and "We cannot find “Narnia”" in html
    assert re.search(
        r'<input[^>]*name="locate"[^>]*value="Narnia"|value="Narnia"[^>]*name="locate"', html
    )
    assert db.session.scalar(db.select(Event).where(Event.title == "Canal clean-up")) is None


def test_latitude_and_longitude_still_work_without_a_place(client, organiser_in):
    response = post_form(
        client, "/manage/events/new", {**FORM, "latitude": "53.8", "longitude": "-1.55"}
    )

    assert response.status_code == 302
    event = db.session.scalar(db.select(Event).where(Event.title == "Canal clean-up"))
    assert (event.latitude, event.longitude) == (53.8, -1.55)


def test_the_tile_server_is_allowed_for_images_only(app, client, group):
    app.config["MAP_TILES"] = "http://127.0.0.1:8999/tiles/{z}/{x}/{y}.png"

    policy = client.get("/").headers["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert "http://127.0.0.1:8999" in directives["img-src"]
    assert "127.0.0.1:8999" not in policy.replace(directives["img-src"], "")
    assert directives["script-src"] == "'self'"
