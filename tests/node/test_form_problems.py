"""Every error at once (issue 18, defect 11): what only the clock or the database can refuse
(a ballot closing in the past, an unknown campaign, capacity below those going, a start five
years ahead or already past) comes in the same answer as a blank required field.

Every test runs at a fixed moment (time-machine), so none depends on today's date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from node.extensions import db
from node.models import Ballot, Event
from node.services import groups
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error

NOW = datetime(2030, 3, 2, 12, 0, tzinfo=UTC)
FILL = "Fill this in."


@pytest.fixture(autouse=True)
def _fixed_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def organiser_client(client, organiser):
    log_in(client, organiser)
    return client


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _new_event(client, **fields):
    posted = {"title": "", "kind": "canvass", "timezone": "UTC", "visibility": "public"}
    return post_form(client, "/manage/events/new", {**posted, **fields})


def test_a_new_event_reports_a_blank_title_with_a_far_start_and_an_unknown_campaign(
    organiser_client,
):
    answer = _new_event(organiser_client, starts_at="2036-06-01T10:00", campaign_id="999999")

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert FILL in html and field_error(html, "title")
    assert "Must be within five years from now. Check the year." in html
    assert field_error(html, "starts_at")
    assert "No campaign has that id." in html
    assert _count(Event) == 0


def test_a_new_event_reports_a_blank_title_with_a_start_in_the_past(organiser_client):
    answer = _new_event(organiser_client, starts_at="2030-03-01T10:00")

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert field_error(html, "title") and FILL in html
    assert "This start is in the past. Check the date." in html
    assert "Confirm to create an event that has already started." in html
    assert _count(Event) == 0


def test_a_new_event_with_a_bad_start_reports_the_campaign_but_no_date_guess(organiser_client):
    answer = _new_event(organiser_client, starts_at="soon", campaign_id="999999")

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "No campaign has that id." in html and FILL in html
    assert "in the past" not in html and "five years" not in html


def test_an_edited_event_reports_a_blank_title_with_capacity_below_those_going(
    organiser_client,
):
    event = factories.event(
        title="Door knock", starts_at=NOW + timedelta(days=3), timezone="UTC", going_count=3
    )
    db.session.commit()

    answer = post_form(
        organiser_client,
        f"/manage/events/{event.id}/edit",
        {
            "title": "",
            "kind": "canvass",
            "starts_at": "2030-03-05T12:00",
            "timezone": "UTC",
            "visibility": "public",
            "capacity": "2",
        },
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert field_error(html, "title") and FILL in html
    assert "3 people are already going; capacity cannot be lower." in html
    assert field_error(html, "capacity")
    db.session.expire_all()
    assert (db.session.get(Event, event.id).title, event.capacity) == ("Door knock", None)


def test_an_edited_event_reports_a_blank_title_with_a_shift_left_outside(organiser_client):
    event = factories.event(
        title="Canvass",
        starts_at=NOW + timedelta(days=3),
        ends_at=NOW + timedelta(days=3, hours=8),
        timezone="UTC",
    )
    factories.shift(
        event.id,
        label="Afternoon",
        starts_at=NOW + timedelta(days=3, hours=5),
        ends_at=NOW + timedelta(days=3, hours=7),
    )
    db.session.commit()

    answer = post_form(
        organiser_client,
        f"/manage/events/{event.id}/edit",
        {
            "title": "",
            "kind": "canvass",
            "starts_at": "2030-03-05T12:00",
            "ends_at": "2030-03-05T14:00",  # before the afternoon shift
            "timezone": "UTC",
            "visibility": "public",
        },
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert field_error(html, "title") and FILL in html
    assert "1 shift would fall outside the event: Afternoon" in html
    db.session.expire_all()
    assert db.session.get(Event, event.id).ends_at == NOW + timedelta(days=3, hours=8)


def test_the_api_still_refuses_what_the_form_checks_first_naming_every_field(api, organiser_token):
    answer = api.post(
        "/api/v1/events",
        json={
            "title": "Stall",
            "kind": "street_stall",
            "starts_at": "2036-06-01T10:00:00Z",
            "campaign_id": 999999,
        },
        headers={"Authorization": f"Bearer {organiser_token}"},
    )

    assert answer.status_code == 400
    assert set(answer.get_json()["fields"]) == {"starts_at", "campaign_id"}


def test_a_new_ballot_reports_a_blank_question_with_a_past_closing_and_an_unknown_candidate(
    organiser_client, organiser
):
    answer = post_form(
        organiser_client,
        "/manage/ballots/new",
        {
            "question": "",
            "kind": "yes_no",
            "opens_at": "2030-02-20T18:00",
            "closes_at": "2030-03-01T18:00",  # the day before NOW
            "candidate_id": "999999",
            "tellers": [str(organiser.id)],
        },
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert FILL in html
    assert "Must be in the future." in html
    assert "No candidate has that id." in html
    assert _count(Ballot) == 0


def test_a_new_ballot_reports_a_teller_who_is_not_a_member_with_the_blank_question(
    organiser_client,
):
    answer = post_form(
        organiser_client,
        "/manage/ballots/new",
        {
            "question": "",
            "kind": "yes_no",
            "opens_at": "2030-03-10T18:00",
            "closes_at": "2030-03-17T18:00",
            "tellers": ["999999"],
        },
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert FILL in html and "No active member has the id 999999." in html


def test_the_setup_form_reports_the_password_policy_with_a_blank_name(app):
    client = app.test_client()
    code = groups.setup_code()
    answer = post_form(
        client,
        "/setup",
        {
            "name": "",
            "handle": "leeds",
            "base_url": "http://localhost/",
            "admin_email": "ada.lovelace@example.org",
            "admin_name": "Ada",
            "password": "ada.lovelace@example.org",
            "password_confirm": "ada.lovelace@example.org",
            "code": code,
        },
        page=f"/setup?code={code}",
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert FILL in html
    assert "Do not use your e-mail address as your password." in html
    assert not groups.is_set_up()
