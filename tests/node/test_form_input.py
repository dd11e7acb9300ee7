"""Bad input through every organiser and member form: a 400 naming the field, nothing written.

The JSON API has its own sweep in test_api_input.py; this is the same promise for the HTML
forms: wrong types, unknown choices, oversized and control-character text, and HTML or
script in text (stored as typed, shown escaped).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Group, Member
from tests.conftest import log_in, post_form
from tests.node.organising.test_manage_content import GOOD_INPUT, MAKE, TITLE_FIELD

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'

# (kind, field, bad value)
BAD_CONTENT = [
    *((kind, TITLE_FIELD[kind], "x" * 201) for kind in GOOD_INPUT if kind != "candidates"),
    ("candidates", "name", "x" * 121),
    *((kind, TITLE_FIELD[kind], "tab\x07bell") for kind in GOOD_INPUT),
    *((kind, "visibility", "everyone") for kind in GOOD_INPUT),
    ("campaigns", "kind", "party"),
    ("campaigns", "status", "paused"),
    ("campaigns", "starts_on", "next tuesday"),
    ("campaigns", "ends_on", "2031-02-30"),
    ("events", "kind", "rave"),
    ("events", "starts_at", "tomorrow morning"),
    ("events", "ends_at", "2031-13-01T10:00"),
    ("events", "timezone", "Mars/Olympus_Mons"),
    ("events", "capacity", "lots"),
    ("events", "capacity", "0"),
    ("events", "capacity", "99999999999999999999"),
    ("events", "latitude", "north"),
    ("events", "latitude", "91"),
    ("events", "campaign_id", "abc"),
    ("events", "online_url", "javascript:alert(1)"),
    ("events", "description", "x" * 50_001),
    ("candidates", "office", "king"),
    ("candidates", "stage", "crowned"),
    ("candidates", "contest_date", "soon"),
    ("posts", "published_at", "yesterday-ish"),
]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def marked_invalid(html: str, name: str) -> bool:
    control = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', html)
    return bool(control) and 'aria-invalid="true"' in control.group(0)


@pytest.fixture
def organiser_client(client, organiser):
    log_in(client, organiser)
    return client


@pytest.mark.parametrize(("kind", "field", "value"), BAD_CONTENT)
def test_bad_content_input_is_refused_on_its_field(organiser_client, kind, field, value):
    model, form = GOOD_INPUT[kind]
    existing = MAKE[kind]()
    before = count(model)

    created = post_form(organiser_client, f"/manage/{kind}/new", {**form, field: value})
    edit_url = f"/manage/{kind}/{existing.id}/edit"
    edited = post_form(organiser_client, edit_url, {**form, field: value})

    for response in (created, edited):
        html = response.get_data(as_text=True)
        assert response.status_code == 400, (field, value)
        assert marked_invalid(html, field), (field, value)
    assert count(model) == before
    db.session.expire_all()
    assert getattr(db.session.get(model, existing.id), field) != value


@pytest.mark.parametrize("kind", list(GOOD_INPUT))
def test_html_in_text_is_stored_as_typed_and_shown_escaped(organiser_client, kind):
    model, form = GOOD_INPUT[kind]
    field = TITLE_FIELD[kind]
    response = post_form(
        organiser_client, f"/manage/{kind}/new", {**form, field: SCRIPT, "visibility": "public"}
    )
    assert response.status_code == 302
    stored = db.session.scalars(select(model)).one()
    assert getattr(stored, field) == SCRIPT
    for page in (f"/manage/{kind}/", "/"):
        html = organiser_client.get(page).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in organiser_client.get(f"/manage/{kind}/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "x" * 121),
        ("seat_majority", "big"),
        ("seat_majority", "-5"),
        ("seat_marginality", "101"),
        ("longitude", None),  # a latitude without a longitude: the missing half is at fault
        ("contact_email", "not an address"),
        ("website", "ftp://example.org"),
        ("timezone", "Europe/Atlantis"),
    ],
)
def test_bad_group_profile_input_changes_nothing(organiser_client, group, field, value):
    form = {"name": group.name, "summary": "", "timezone": "Europe/London", field: value}
    if value is None:
        form.update(latitude="53.8", longitude="")
    response = post_form(organiser_client, "/manage/group", form)
    assert response.status_code == 400
    assert marked_invalid(response.get_data(as_text=True), field)
    db.session.expire_all()
    assert db.session.get(Group, group.id).name == "Leeds North Momentum"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-address"),
        ("email", "x" * 250 + "@e.org"),
        ("display_name", "x" * 81),
        ("role", "overlord"),
    ],
)
def test_bad_new_member_input_adds_nobody(organiser_client, field, value):
    before = count(Member)
    form = {"email": "new@example.org", "display_name": "New", "role": "member", field: value}
    response = post_form(organiser_client, "/manage/members/new", form)
    assert response.status_code == 400
    assert marked_invalid(response.get_data(as_text=True), field)
    assert count(Member) == before


def test_bad_profile_name_is_refused_and_kept(client, member):
    log_in(client, member)
    response = post_form(client, "/account/profile", {"display_name": "x" * 81}, page="/account")
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Member, member.id).display_name.startswith("Person")
