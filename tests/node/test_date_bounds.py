"""Dates outside 1900–2200: a 400 naming the field on every route and form that takes one,
and a remote entry carrying one is stored without breaking a page.

Year 1 and year 9999 with a negative offset are the edges Python's datetime cannot convert
across zones; before the bound they were stored and then broke /news, or were a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import fields
from sqlalchemy import select

from node.extensions import db
from node.models import EventSeries, Peer, RemoteEntry, RemoteObject
from node.services.organising import series
from schemas.common import OUT_OF_RANGE, AwareMoment, Day, InputSchema, Moment
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.api_support import ApiClient, assert_error
from tests.node.federation_support import FakePeer, body_of, follow_peer, remote  # noqa: F401
from tests.node.organising.test_manage_content import GOOD_INPUT
from tests.node.pages_support import field_error
from tests.node.test_api_input import snapshot

EARLY_MOMENT = "0001-01-01T00:00:00Z"
LATE_MOMENT = "9999-12-31T23:59:59-12:00"
BAD_MOMENTS = [EARLY_MOMENT, LATE_MOMENT, "1899-12-31T23:59:59+00:00", "2201-01-01T00:00:00+00:00"]
BAD_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"]

START = "2031-05-01T10:00:00Z"
END = "2031-05-01T12:00:00Z"
BALLOT = {"question": "Adopt the motion?", "kind": "yes_no", "opens_at": START, "closes_at": END}

# name: (method, path, valid body or None for a query string, the date field)
API_ROUTES = {
    "create event, start": (
        "POST",
        "/events",
        {"title": "Canvass", "kind": "canvass"},
        "starts_at",
    ),
    "create event, end": (
        "POST",
        "/events",
        {"title": "Canvass", "kind": "canvass", "starts_at": START},
        "ends_at",
    ),
    "change event, start": ("PATCH", "/events/{event}", {}, "starts_at"),
    "change event, end": ("PATCH", "/events/{event}", {}, "ends_at"),
    "create campaign, start": (
        "POST",
        "/campaigns",
        {"title": "T", "kind": "community"},
        "starts_on",
    ),
    "create campaign, end": ("POST", "/campaigns", {"title": "T", "kind": "community"}, "ends_on"),
    "change campaign": ("PATCH", "/campaigns/{campaign}", {}, "starts_on"),
    "create candidate": (
        "POST",
        "/candidates",
        {"name": "Asha", "office": "mayor"},
        "contest_date",
    ),
    "change candidate": ("PATCH", "/candidates/{candidate}", {}, "contest_date"),
    "create post": ("POST", "/posts", {"title": "News"}, "published_at"),
    "change post": ("PATCH", "/posts/{post}", {}, "published_at"),
    "create ballot, opening": ("POST", "/ballots", {**BALLOT}, "opens_at"),
    "create ballot, closing": ("POST", "/ballots", {**BALLOT}, "closes_at"),
    "create ballot, freeze": ("POST", "/ballots", {**BALLOT}, "freeze_at"),
    "change ballot, opening": ("PATCH", "/ballots/{ballot}", {}, "opens_at"),
    "change ballot, closing": ("PATCH", "/ballots/{ballot}", {}, "closes_at"),
    "create shift, start": ("POST", "/events/{event}/shifts", {"ends_at": END}, "starts_at"),
    "create shift, end": ("POST", "/events/{event}/shifts", {"starts_at": START}, "ends_at"),
    "change shift": ("PATCH", "/shifts/{shift}", {}, "starts_at"),
    "network events, from": ("GET", "/network/events", None, "from"),
    "network events, to": ("GET", "/network/events", None, "to"),
}
DAY_FIELDS = {"starts_on", "ends_on", "contest_date", "from", "to"}


def _api_cases():
    for name, (_method, _path, _body, field) in API_ROUTES.items():
        values = BAD_DAYS if field in DAY_FIELDS else BAD_MOMENTS
        for value in values:
            yield pytest.param(name, value, id=f"{name}: {value}")


@pytest.fixture
def api_call(client, organiser):
    event = factories.event()
    ids = {
        "event": event.id,
        "campaign": factories.campaign().id,
        "candidate": factories.candidate().id,
        "post": factories.post().id,
        "shift": factories.shift(event.id).id,
        # Still to open, so its times may change.
        "ballot": factories.ballot(
            opens_at=factories.soon(1), closes_at=factories.soon(3), freeze_at=factories.soon(1)
        ).id,
    }
    token = factories.token(organiser)
    api = ApiClient(client)
    api.get("/me", token)  # the first use of a token is recorded: before any snapshot

    def call(name: str, value: str):
        method, path, body, field = API_ROUTES[name]
        if body is None:
            return api.call(method, path.format(**ids), token, query_string={field: value})
        return api.call(method, path.format(**ids), token, json={**body, field: value})

    return call


@pytest.mark.parametrize(("name", "value"), list(_api_cases()))
def test_the_api_refuses_a_date_outside_the_years_it_keeps(api_call, name, value):
    field = API_ROUTES[name][3]
    before = snapshot()

    document = assert_error(api_call(name, value), 400, field)

    assert OUT_OF_RANGE in document["fields"][field]
    assert snapshot() == before


@pytest.mark.parametrize("name", list(API_ROUTES))
def test_the_edges_of_the_range_are_accepted(api_call, name):
    field = API_ROUTES[name][3]
    if field in DAY_FIELDS:
        value = "2200-12-31" if field != "from" else "1900-01-01"
    elif field in ("ends_at", "closes_at") or API_ROUTES[name][0] == "PATCH":
        value = "2200-12-31T23:59:59-12:00"  # after the start, in range where it was written
    else:
        value = "1900-01-01T00:00:00+14:00"
    response = api_call(name, value)
    # In range: whatever else is said about it (an end before its start…) is not a 500.
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code == 400:
        assert OUT_OF_RANGE not in str(response.get_json()["fields"])


# The forms -------------------------------------------------------------------------------


@pytest.fixture
def organiser_client(client, organiser):
    log_in(client, organiser)
    return client


def _new(kind: str):
    return lambda: (f"/manage/{kind}/new", None, GOOD_INPUT[kind][1])


def _edit(kind: str, make):
    return lambda: (f"/manage/{kind}/{make().id}/edit", None, GOOD_INPUT[kind][1])


def _new_ballot():
    form = {
        "question": "Adopt the motion?",
        "kind": "yes_no",
        "opens_at": "2031-05-01T10:00",
        "closes_at": "2031-05-08T10:00",
        "visibility": "public",
    }
    return "/manage/ballots/new", None, form


def _new_shift():
    form = {"label": "Morning", "starts_at": "2031-05-01T10:00", "ends_at": "2031-05-01T12:00"}
    return f"/manage/events/{factories.event().id}/shifts", None, form


def _repeat():
    return f"/manage/events/{factories.event().id}/repeat", None, {"frequency": "weekly"}


def _series(action: str):
    def prepare():
        made = series.repeat(factories.event(), "FREQ=WEEKLY;COUNT=3")
        page = f"/manage/series/{made.id}"
        return f"{page}/{action}", page, {}

    return prepare


# name: (prepare() -> (path, page holding the form or None, a valid form), the date field)
FORMS = {
    "new event, start": (_new("events"), "starts_at"),
    "new event, end": (_new("events"), "ends_at"),
    "edit event": (_edit("events", factories.event), "starts_at"),
    "new campaign": (_new("campaigns"), "starts_on"),
    "edit campaign": (_edit("campaigns", factories.campaign), "ends_on"),
    "new candidate": (_new("candidates"), "contest_date"),
    "edit candidate": (_edit("candidates", factories.candidate), "contest_date"),
    "new post": (_new("posts"), "published_at"),
    "edit post": (_edit("posts", factories.post), "published_at"),
    "new ballot, opening": (_new_ballot, "opens_at"),
    "new ballot, closing": (_new_ballot, "closes_at"),
    "new ballot, freeze": (_new_ballot, "freeze_at"),
    "new shift, start": (_new_shift, "starts_at"),
    "new shift, end": (_new_shift, "ends_at"),
    "repeat until": (_repeat, "until"),
    "stop a series": (_series("stop"), "last"),
    "restore a date": (_series("restore"), "occurrence_at"),
}
FORM_DAYS = {"starts_on", "ends_on", "contest_date", "until", "last"}
# What a browser's datetime-local control sends (no offset), and what a crafted post may.
FORM_MOMENTS = ["0001-01-01T00:00", "9999-12-31T23:59", EARLY_MOMENT, LATE_MOMENT]


def _form_cases():
    for name, (_prepare, field) in FORMS.items():
        values = BAD_DAYS if field in FORM_DAYS else FORM_MOMENTS
        if field == "occurrence_at":  # sent back with its offset, as the page wrote it
            values = [EARLY_MOMENT, LATE_MOMENT]
        for value in values:
            yield pytest.param(name, value, id=f"{name}: {value}")


@pytest.mark.parametrize(("name", "value"), list(_form_cases()))
def test_every_form_refuses_a_date_outside_the_years_it_keeps(organiser_client, name, value):
    prepare, field = FORMS[name]
    path, page, form = prepare()
    before = snapshot()

    response = post_form(organiser_client, path, {**form, field: value}, page=page)

    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:500]
    assert OUT_OF_RANGE in html
    if field != "occurrence_at":  # a hidden field: the message is shown above the list
        assert field_error(html, field), html[:2000]
    assert snapshot() == before


@pytest.mark.parametrize("until", ["00010101", "99991231", "22010101T000000"])
def test_a_custom_repeat_rule_may_not_end_outside_the_years_kept(organiser_client, until):
    event = factories.event()
    form = {"frequency": "custom", "rule": f"FREQ=WEEKLY;UNTIL={until}"}

    response = post_form(organiser_client, f"/manage/events/{event.id}/repeat", form)

    assert response.status_code == 400
    assert field_error(response.get_data(as_text=True), "rule")
    assert db.session.scalar(select(EventSeries.id)) is None


@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-31"])
def test_the_national_event_search_refuses_such_a_day(client, query):
    response = client.get(f"/network/events?{query}")

    assert response.status_code == 400
    assert OUT_OF_RANGE in response.get_data(as_text=True)


# Remote entries -------------------------------------------------------------------------

PAGES = [
    "/",
    "/news",
    "/events",
    "/events?when=past",
    "/news.atom",
    "/events.ics",
    "/network/groups",
    "/network/events",
    "/network/events?from=2000-01-01",
    "/network/campaigns",
    "/network/candidates",
    "/network/needed",
    "/api/v1/network/groups",
    "/api/v1/network/events?from=2000-01-01",
    "/api/v1/network/campaigns",
]


def _pages_answer(client, *, member: bool = False) -> None:
    for page in [*PAGES, "/network/"] if member else PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, response.get_data(as_text=True)[:300])


def test_a_followed_group_s_entries_with_impossible_dates_are_kept_and_break_no_page(
    client,
    member,
    remote,  # noqa: F811
):
    peer = FakePeer(2)
    follow_peer(peer, remote)
    early_post = {
        "id": f"{peer.base}/posts/1",
        "type": "Note",
        "content": "From the beginning of time",
        "attributedTo": peer.actor,
        "published": EARLY_MOMENT,
        "updated": EARLY_MOMENT,
    }
    late_event = peer.event(
        "never", "The last rally", startTime=LATE_MOMENT, endTime=LATE_MOMENT, published=None
    )
    late_event.pop("published")
    campaign = {
        "id": f"{peer.base}/campaigns/1",
        "type": "Campaign",
        "name": "Forever",
        "attributedTo": peer.actor,
        "published": LATE_MOMENT,
        "startTime": EARLY_MOMENT,
    }
    entries = [
        peer.entry("Create", early_post),
        peer.entry("Create", late_event),
        peer.entry("Create", campaign),
    ]
    for entry in entries:
        body = body_of(entry)
        response = client.post("/inbox", data=body, headers=peer.signed_headers(body))
        assert response.status_code == 202, response.get_json()

    held = db.session.scalars(select(RemoteEntry).order_by(RemoteEntry.seq)).all()
    assert [e.body for e in held] == [body_of(e).decode() for e in entries]  # kept as sent
    objects = {o.object_id: o for o in db.session.scalars(select(RemoteObject))}
    assert objects[late_event["id"]].starts_at is None  # the impossible date is not a column
    assert objects[early_post["id"]].published_at.year >= 1900
    _pages_answer(client)
    log_in(client, member)
    _pages_answer(client, member=True)


def test_a_fediverse_post_dated_year_one_is_kept_and_breaks_no_page(client, member, remote):  # noqa: F811
    person = FakePeer(4, actor_type="Person", branchline=False)
    follow_peer(person, remote)
    note = {
        "id": f"{person.base}/notes/1",
        "type": "Note",
        "content": "<p>Old news</p>",
        "attributedTo": person.actor,
        "published": EARLY_MOMENT,
    }
    activity = {**person.activity("Create", note), "published": EARLY_MOMENT}

    assert person.post(client, activity).status_code == 202

    stored = db.session.scalar(select(RemoteObject))
    assert stored is not None and stored.published_at.year >= 1900
    assert db.session.scalar(select(Peer.last_activity_at)).year >= 1900
    log_in(client, member)
    _pages_answer(client, member=True)


def _input_schemas(base=InputSchema):
    for schema in base.__subclasses__():
        yield schema
        yield from _input_schemas(schema)


def test_every_date_an_input_schema_reads_is_bounded(app):
    # Every form and API body is read by an InputSchema (the app has imported them all):
    # a date field added later without the bound fails here.
    unbounded = [
        f"{schema.__name__}.{name}"
        for schema in _input_schemas()
        for name, field in schema().load_fields.items()
        if isinstance(field, fields.Date | fields.DateTime | fields.TimeDelta | fields.Time)
        and not isinstance(field, Day | Moment | AwareMoment)
    ]
    assert len(list(_input_schemas())) > 20
    assert unbounded == []


def test_a_date_stored_before_the_bound_does_not_break_the_pages(client, member):
    # Written straight to the database, as a node that took it before the bound holds it.
    post = factories.post(published_at=datetime(1, 1, 1, tzinfo=UTC))
    event = factories.event(starts_at=datetime(1, 1, 1, tzinfo=UTC), timezone="America/New_York")

    for page in ("/news", f"/news/{post.id}", "/", f"/events/{event.id}", "/events?when=past"):
        assert client.get(page).status_code == 200, page
