"""Bad input on every write route: the right status, the error shape, the field, nothing written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from node.extensions import db
from schemas.content import CampaignIn, CandidateIn, EventIn, PostIn, RsvpIn
from schemas.group import GroupIn
from schemas.members import MemberIn, MemberUpdate
from tests import factories
from tests.node.api_support import ApiClient, assert_error

SKIPPED_TABLES = {"api_token", "login_failure", "alembic_version"}  # tokens record their use


def snapshot() -> dict[str, list]:
    """Every row of every content and member table, to compare before and after."""
    db.session.expire_all()
    return {
        table.name: sorted(map(repr, db.session.execute(select(table)).all()))
        for table in db.metadata.sorted_tables
        if table.name not in SKIPPED_TABLES
    }


# name: (method, path, schema, valid body, (field, wrong-type value), required field or None,
#        (field, oversized value))
ROUTES = {
    "create campaign": (
        "POST",
        "/campaigns",
        CampaignIn,
        {"title": "Save the library", "kind": "community"},
        ("title", 123),
        "kind",
        ("title", "x" * 201),
    ),
    "change campaign": (
        "PATCH",
        "/campaigns/{campaign}",
        CampaignIn,
        {"summary": "New"},
        ("starts_on", "next week"),
        None,
        ("summary", "x" * 501),
    ),
    "create event": (
        "POST",
        "/events",
        EventIn,
        {"title": "Canvass", "kind": "canvass", "starts_at": "2031-05-01T10:00:00Z"},
        ("capacity", "lots"),
        "starts_at",
        ("place_name", "x" * 201),
    ),
    "change event": (
        "PATCH",
        "/events/{event}",
        EventIn,
        {"place_name": "Hall"},
        ("latitude", "north"),
        None,
        ("description", "x" * 50_001),
    ),
    "create candidate": (
        "POST",
        "/candidates",
        CandidateIn,
        {"name": "Asha", "office": "mayor"},
        ("contest_date", 20310501),
        "office",
        ("area", "x" * 121),
    ),
    "change candidate": (
        "PATCH",
        "/candidates/{candidate}",
        CandidateIn,
        {"stage": "selected"},
        ("endorsement", ["endorsed"]),
        None,
        ("result", "x" * 501),
    ),
    "create post": (
        "POST",
        "/posts",
        PostIn,
        {"title": "News", "body": "Hello"},
        ("published_at", 5),
        "title",
        ("body", "x" * 50_001),
    ),
    "change post": (
        "PATCH",
        "/posts/{post}",
        PostIn,
        {"body": "Changed"},
        ("title", {"text": "x"}),
        None,
        ("title", "x" * 201),
    ),
    "change group": (
        "PATCH",
        "/group",
        GroupIn,
        {"summary": "New"},
        ("seat_majority", "big"),
        None,
        ("area", "x" * 121),
    ),
    "add member": (
        "POST",
        "/members",
        MemberIn,
        {"email": "new@example.org", "display_name": "New"},
        ("email", "not-an-address"),
        "display_name",
        ("display_name", "x" * 81),
    ),
    "change member": (
        "PATCH",
        "/members/{target}",
        MemberUpdate,
        {"display_name": "Renamed"},
        ("role", 3),
        None,
        ("display_name", "x" * 81),
    ),
    "answer event": (
        "PUT",
        "/events/{event}/rsvp",
        RsvpIn,
        {"response": "going"},
        ("response", True),
        "response",
        ("response", "going" * 100),
    ),
}


@pytest.fixture
def caller(client, admin, organiser):
    """Call a write route as the organiser (who may call every one of them)."""
    ids = {
        "campaign": factories.campaign().id,
        "event": factories.event().id,
        "candidate": factories.candidate().id,
        "post": factories.post().id,
        "target": factories.member().id,
    }
    token = factories.token(organiser)
    api = ApiClient(client)
    api.get("/me", token)  # the first use of a token records it; do that before snapshots

    def call(name: str, **kwargs):
        method, path, *_ = ROUTES[name]
        return api.call(method, path.format(**ids), token, **kwargs)

    return call


def _bad(name: str) -> list:
    return [pytest.param(name, id=name)]


ALL = [pytest.param(name, id=name) for name in ROUTES]


@pytest.mark.parametrize("name", ALL)
def test_the_valid_body_is_accepted(caller, name):
    assert caller(name, json=ROUTES[name][3]).status_code in (200, 201)


@pytest.mark.parametrize("name", ALL)
def test_a_wrong_type_is_a_400_on_that_field(caller, name):
    valid, (field, value) = ROUTES[name][3], ROUTES[name][4]
    before = snapshot()
    assert_error(caller(name, json={**valid, field: value}), 400, field)
    assert snapshot() == before


@pytest.mark.parametrize("name", ALL)
def test_a_missing_or_null_required_field_is_a_400_on_that_field(caller, name):
    method, _path, schema, valid, _wrong, required, _big = ROUTES[name]
    before = snapshot()
    if required is not None:
        body = {k: v for k, v in valid.items() if k != required}
        assert_error(caller(name, json=body), 400, required)
    required_fields = [n for n, f in schema().load_fields.items() if f.required]
    for field in required_fields:  # PATCH leaves them out, but may not blank them
        assert_error(caller(name, json={**valid, field: None}), 400, field)
    assert snapshot() == before


@pytest.mark.parametrize("name", ALL)
def test_an_oversized_string_is_a_400_on_that_field(caller, name):
    valid, (field, value) = ROUTES[name][3], ROUTES[name][6]
    before = snapshot()
    assert_error(caller(name, json={**valid, field: value}), 400, field)
    assert snapshot() == before


@pytest.mark.parametrize("name", ALL)
def test_an_unknown_field_is_a_400_naming_it(caller, name):
    before = snapshot()
    assert_error(caller(name, json={**ROUTES[name][3], "is_admin": True}), 400, "is_admin")
    assert snapshot() == before


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": ',
        b"{'title': 'single quotes'}",
        b"",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'"just a string"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["cut short", "single quotes", "empty", "not utf-8", "array", "string", "null", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(caller, name, raw):
    before = snapshot()
    assert_error(caller(name, data=raw, content_type="application/json"), 400)
    assert snapshot() == before


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data", None]
)
def test_a_body_that_is_not_json_is_a_415(caller, name, content_type):
    before = snapshot()
    body = json.dumps(ROUTES[name][3])
    kwargs = {"data": body}
    if content_type:
        kwargs["content_type"] = content_type
    assert_error(caller(name, **kwargs), 415)
    assert snapshot() == before


@pytest.mark.parametrize("name", ALL)
def test_a_body_over_one_mebibyte_is_a_413(caller, name):
    before = snapshot()
    field = ROUTES[name][6][0]
    big = json.dumps({**ROUTES[name][3], field: "x" * (1024 * 1024)})
    assert_error(caller(name, data=big, content_type="application/json"), 413)
    assert snapshot() == before


def test_the_token_endpoint_refuses_a_body_over_one_mebibyte(client):
    response = client.post(
        "/api/v1/oauth/token",
        data="grant_type=client_credentials&scope=" + "x" * (1024 * 1024),
        content_type="application/x-www-form-urlencoded",
    )
    assert_error(response, 413)


ODD_VALUES = [None, 0, -1, 10**30, 1e308, True, [], {}, "", " ", "x" * 60_000, "\x00", "é<b>"]


@pytest.mark.parametrize("name", ALL)
def test_no_odd_value_in_any_field_causes_a_server_error(caller, name):
    schema, valid = ROUTES[name][2], ROUTES[name][3]
    for field in schema().load_fields:
        for value in ODD_VALUES:
            response = caller(name, json={**valid, field: value})
            assert response.status_code < 500, (field, value, response.get_data(as_text=True))
            if response.status_code >= 400:
                assert set(response.get_json()) == {"error", "fields"}, (field, value)


def test_unknown_routes_and_methods_answer_in_the_error_shape(client):
    assert_error(client.get("/api/v1/nothing-here"), 404)
    wrong = client.put("/api/v1/campaigns")
    assert_error(wrong, 405)
    assert "POST" in wrong.headers["Allow"]
