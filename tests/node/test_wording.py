"""User-facing words: one wording a problem, plurals and labels right, all errors at once."""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import render_template_string
from sqlalchemy import func, select

from node import create_app
from node.extensions import db
from node.models import Ballot, Event
from node.services import groups
from node.services.errors import Invalid
from node.services.organising import events, shifts
from schemas.content import CandidateIn, EventIn
from tests import factories
from tests.conftest import log_in, post_form

FILL = "Fill this in."


def _field_errors(html: str) -> dict[str, str]:
    """Read each field's message from a form page: {control id: message}."""
    found = re.findall(
        r'<p class="field-error" id="f-([\w-]+)-error"><span class="visually-hidden">Error:'
        r"</span> ([^<]*)</p>",
        html,
    )
    return dict(found)


@pytest.fixture
def organiser_client(client, organiser):
    log_in(client, organiser)
    return client


# Every error at once (defect 11) ------------------------------------------------------


def test_an_empty_event_form_reports_every_error_at_once(organiser_client):
    answer = post_form(
        organiser_client,
        "/manage/events/new",
        {"title": "", "kind": "", "starts_at": "", "capacity": "many", "latitude": "95"},
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    errors = _field_errors(html)
    assert errors["title"] == FILL and errors["kind"] == FILL and errors["starts_at"] == FILL
    assert errors["capacity"] == "Give a whole number."
    assert errors["latitude"] == "Give a number from -90 to 90."
    assert "Missing data for required field" not in html and "Not a valid" not in html
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_an_end_before_the_start_is_reported_beside_the_blank_title(organiser_client):
    answer = post_form(
        organiser_client,
        "/manage/events/new",
        {
            "title": "",
            "kind": "canvass",
            "starts_at": "2031-07-05T12:00",
            "ends_at": "2031-07-05T10:00",
            "timezone": "Europe/London",
            "visibility": "public",
        },
    )

    errors = _field_errors(answer.get_data(as_text=True))
    assert answer.status_code == 400
    assert errors["title"] == FILL and errors["ends_at"] == "Must be after the start."


def test_an_empty_ballot_form_reports_every_error_at_once(organiser_client):
    answer = post_form(
        organiser_client,
        "/manage/ballots/new",
        {"question": "", "kind": "choose_one", "options": "Only one", "opens_at": ""},
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    for message in (FILL, "Give at least two options.", "Pick at least one teller."):
        assert message in html
    assert html.count(FILL) >= 3  # question, opening and closing time
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_a_ballot_closing_before_it_opens_is_reported_with_the_blank_question(
    organiser_client, organiser
):
    answer = post_form(
        organiser_client,
        "/manage/ballots/new",
        {
            "question": "",
            "kind": "yes_no",
            "opens_at": "2030-01-08T18:00",
            "closes_at": "2030-01-01T18:00",
            "tellers": [str(organiser.id)],
        },
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert FILL in html and "Must be after the opening time." in html


def test_the_setup_form_reports_a_short_password_with_the_other_errors(app):
    client = app.test_client()
    code = groups.setup_code()
    answer = post_form(
        client,
        "/setup",
        {
            "name": "",
            "handle": "Bad Handle",
            "base_url": "http://localhost/",
            "admin_email": "ada@example.org",
            "admin_name": "Ada",
            "password": "short",
            "password_confirm": "other",
            "code": code,
        },
        page=f"/setup?code={code}",
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    for message in (
        FILL,
        "Use 1-30 lowercase letters, digits or _.",
        "The two passwords do not match.",
        "Use at least 10 characters.",
    ):
        assert message in html


# One wording for each problem (defect 15) ---------------------------------------------


def test_an_empty_name_says_fill_this_in_not_a_length():
    with pytest.raises(Exception) as refused:
        CandidateIn().load({"name": "", "office": "mayor"})
    assert refused.value.messages["name"] == [FILL]


def test_the_schemas_speak_one_wording_for_missing_and_wrong_types():
    with pytest.raises(Exception) as refused:
        EventIn().load({"capacity": "", "starts_at": "soon", "online_url": "ftp://x"})
    messages = refused.value.messages
    assert messages["title"] == [FILL] and messages["kind"] == [FILL]
    assert messages["capacity"] == ["Give a whole number."]
    assert messages["starts_at"] == ["Give a date and time, for example 2026-05-01 18:30."]
    assert messages["online_url"] == ["Give a web address starting with https://."]


def test_the_api_names_the_field_with_the_same_wording(api, organiser_token):
    answer = api.post(
        "/api/v1/events",
        json={"title": "", "kind": "canvass", "starts_at": "2031-07-05T10:00:00Z"},
        headers={"Authorization": f"Bearer {organiser_token}"},
    )
    assert answer.status_code == 400
    assert answer.get_json()["fields"] == {"title": [FILL]}


def test_a_blank_number_of_seats_says_fill_this_in(client, member):
    event = factories.event()
    log_in(client, member)
    answer = post_form(
        client,
        f"/events/{event.id}/carpool/offer",
        {"from_place": "", "seats": "", "note": ""},
        page=f"/events/{event.id}",
    )
    html = answer.get_data(as_text=True)
    assert "Not a valid integer" not in html
    assert f"Setting off from: {FILL}" in html and f"Seats for riders: {FILL}" in html
    assert "From:" not in html


def test_an_organiser_added_is_now_an_organiser(client, admin):
    log_in(client, admin)
    answer = post_form(
        client,
        "/manage/members/new",
        {"display_name": "Olu New", "email": "olu@example.org", "role": "organiser"},
    )
    html = answer.get_data(as_text=True)
    assert "is now an organiser." in html and "a organiser" not in html


def test_the_yes_no_badge_reads_yes_slash_no(client, member):
    ballot = factories.ballot(kind="yes_no")
    log_in(client, member)
    html = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert '<span class="badge">Yes/No</span>' in html and "Yes no" not in html


def test_a_full_shift_of_one_place_says_one_place(client):
    shift = factories.shift(capacity=1)
    shifts.sign_up(shift, factories.member())
    html = client.get(f"/events/{shift.event_id}").get_data(as_text=True)
    assert "(1 place)" in html and "1 places" not in html


@pytest.mark.parametrize(
    ("going", "words"), [(1, "1</strong> member going"), (2, "2</strong> members going")]
)
def test_the_attendance_page_counts_members_going_in_the_right_number(
    client, organiser, going, words
):
    event = factories.event()
    for _ in range(going):
        events.respond(event, factories.member(), "going")
    log_in(client, organiser)
    html = client.get(f"/manage/events/{event.id}/attendance").get_data(as_text=True)
    assert words in html


@pytest.mark.parametrize(("count", "words"), [(1, "1 member going"), (2, "2 members going")])
def test_ngettext_renders_singular_and_plural(app, count, words):
    with app.test_request_context():
        shown = render_template_string(
            '{{ ngettext("%(num)d member going", "%(num)d members going", n) }}', n=count
        )
    assert shown == words


def test_a_welsh_catalogue_translates_plurals_and_form_messages(app_config, tmp_path):
    catalogue = Catalog(locale="cy")
    going = ("%(num)d member going", "%(num)d members going")
    welsh = ("%(num)d yn mynd",) * 6  # Welsh has six plural forms; one wording will do here
    catalogue.add(going, welsh)
    catalogue.add(FILL, "Llenwch hwn.")
    folder = tmp_path / "cy" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as out:
        write_mo(out, catalogue)
    app = create_app(
        {
            **app_config,
            "BABEL_DEFAULT_LOCALE": "cy",
            "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path),
        }
    )

    with app.app_context():
        shown = app.jinja_env.from_string(
            '{{ ngettext("%(num)d member going", "%(num)d members going", 3) }}'
            '{% import "_forms.html" as forms %}'
            '{{ forms.field("title", "Title", "", {"title": ["Fill this in."]}) }}'
        ).render()

    assert "3 yn mynd" in shown and "Llenwch hwn." in shown and FILL not in shown


def test_a_service_message_counts_one_person_in_the_singular(group):
    event = factories.event()
    events.respond(event, factories.member(), "going")
    with pytest.raises(Invalid) as refused:
        events.update(event, {"capacity": 0})
    assert refused.value.fields["capacity"] == [
        "1 person is already going; capacity cannot be lower."
    ]
