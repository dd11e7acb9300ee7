"""Implausible event dates are refused or need confirming, with a reason, on the form and the
API: a start beyond five years ahead, an event over 14 days, a new event already begun.

Every test runs at a fixed moment (time-machine), so none depends on today's date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from node.extensions import db
from node.models import Event
from node.services.errors import Invalid
from node.services.organising import events
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error

NOW = datetime(2030, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fixed_now():
    with time_machine.travel(NOW, tick=False):
        yield


def _event(**fields) -> dict:
    return {"title": "Stall", "kind": "street_stall", "timezone": "UTC", **fields}


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Event))


@pytest.mark.parametrize(
    ("starts", "ends", "field", "words"),
    [
        (NOW + timedelta(days=6 * 365), None, "starts_at", "within five years"),
        (NOW + timedelta(days=1), NOW + timedelta(days=6 * 365), "ends_at", "within five years"),
        (NOW + timedelta(days=1), NOW + timedelta(days=16), "ends_at", "at most 14 days"),
        (NOW + timedelta(days=1), NOW + timedelta(days=3 * 365), "ends_at", "at most 14 days"),
    ],
)
def test_the_service_refuses_far_future_and_very_long_events(group, starts, ends, field, words):
    with pytest.raises(Invalid) as refused:
        events.create(_event(starts_at=starts, ends_at=ends))
    assert words in " ".join(refused.value.fields[field])
    db.session.rollback()
    assert _count() == 0


def test_fourteen_days_and_five_years_ahead_are_still_allowed(group):
    starts = NOW + timedelta(days=5 * 365 - 20)
    made = events.create(_event(starts_at=starts, ends_at=starts + timedelta(days=14)))
    assert made.id


def test_moving_an_event_to_year_9999_is_refused(group):
    event = factories.event(starts_at=NOW + timedelta(days=3))
    with pytest.raises(Invalid) as refused:
        events.update(event, {"starts_at": datetime(2199, 1, 1, tzinfo=UTC)})
    assert "starts_at" in refused.value.fields


def test_a_new_event_in_the_past_needs_confirming(group):
    past = _event(starts_at=NOW - timedelta(days=1), confirm_dates=False)
    with pytest.raises(Invalid) as refused:
        events.create(past)
    assert set(refused.value.fields) == {"starts_at", "confirm_dates"}
    db.session.rollback()
    made = events.create({**past, "confirm_dates": True})
    assert made.starts_at == NOW - timedelta(days=1)


def test_the_api_answers_400_naming_the_field_and_takes_a_confirmation(api, organiser_token):
    far = api.post("/events", organiser_token, json=_event(starts_at="2099-01-01T10:00:00Z"))
    assert far.status_code == 400 and "starts_at" in far.get_json()["fields"]
    long = api.post(
        "/events",
        organiser_token,
        json=_event(starts_at="2030-04-01T10:00:00Z", ends_at="2033-04-01T10:00:00Z"),
    )
    assert long.status_code == 400 and "ends_at" in long.get_json()["fields"]
    past = _event(starts_at="2030-03-01T10:00:00Z")
    refused = api.post("/events", organiser_token, json=past)
    assert refused.status_code == 400
    assert {"starts_at", "confirm_dates"} <= set(refused.get_json()["fields"])
    made = api.post("/events", organiser_token, json={**past, "confirm_dates": True})
    assert made.status_code == 201, made.get_json()
    assert "confirm_dates" not in made.get_json()


def _form(**fields) -> dict[str, str]:
    return {
        "title": "Stall",
        "kind": "street_stall",
        "timezone": "UTC",
        "visibility": "public",
        **fields,
    }


def test_the_new_event_form_asks_to_confirm_a_past_start_keeping_what_was_typed(client, organiser):
    log_in(client, organiser)
    page = "/manage/events/new"
    typed = _form(starts_at="2030-03-01T10:00")
    asked = post_form(client, page, typed, page=page)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 400
    assert field_error(html, "starts_at") and "This start is in the past" in html
    assert 'name="confirm_dates"' in html and 'value="2030-03-01T10:00"' in html
    assert _count() == 0
    made = post_form(client, page, {**typed, "confirm_dates": "yes"}, page=page)
    assert made.status_code == 302
    assert _count() == 1


def test_the_new_event_form_refuses_a_three_year_event_with_the_reason(client, organiser):
    log_in(client, organiser)
    page = "/manage/events/new"
    refused = post_form(
        client, page, _form(starts_at="2030-04-01T10:00", ends_at="2033-04-01T10:00"), page=page
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert field_error(html, "ends_at") and "An event lasts at most 14 days" in html
