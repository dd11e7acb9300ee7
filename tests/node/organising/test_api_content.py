"""The JSON API's content: CRUD for campaigns, events, candidates and posts; paging; filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.extensions import db
from node.models import Campaign, Candidate, Event, Post
from tests import factories
from tests.node.api_support import API, assert_error, count

RESOURCES = {
    "campaigns": (
        Campaign,
        factories.campaign,
        {"title": "Save the library", "kind": "community", "summary": "Keep it open"},
        {"status": "active", "summary": "Still open"},
        "/campaigns/",
    ),
    "events": (
        Event,
        factories.event,
        {"title": "Canvass", "kind": "canvass", "starts_at": "2031-05-01T10:00:00+01:00"},
        {"capacity": 12, "place_name": "Library steps"},
        "/events/",
    ),
    "candidates": (
        Candidate,
        factories.candidate,
        {"name": "Asha Patel", "office": "council_ward", "area": "Chapel Allerton"},
        {"endorsement": "proposed", "stage": "shortlisted"},
        "/candidates/",
    ),
    "posts": (
        Post,
        factories.post,
        {"title": "We won", "body": "The library stays open."},
        {"body": "Open for good."},
        "/news/",
    ),
}


@pytest.mark.parametrize("plural", RESOURCES)
def test_organiser_creates_reads_changes_and_deletes_each_kind(api, organiser_token, plural):
    model, _factory, payload, change, page = RESOURCES[plural]
    made = api.post(f"/{plural}", organiser_token, json=payload)
    assert made.status_code == 201, made.get_json()
    document = made.get_json()
    assert made.headers["Location"] == f"http://localhost{API}/{plural}/{document['id']}"
    assert document["url"] == f"http://localhost{page}{document['id']}"
    for key, value in payload.items():
        if key != "starts_at":
            assert document[key] == value
    assert count(model) == 1

    fetched = api.get(made.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.get_json() == document

    changed = api.patch(f"/{plural}/{document['id']}", organiser_token, json=change)
    assert changed.status_code == 200, changed.get_json()
    for key, value in change.items():
        assert changed.get_json()[key] == value
    untouched = next(iter(payload))
    assert changed.get_json()[untouched] == document[untouched]  # PATCH is partial

    gone = api.delete(f"/{plural}/{document['id']}", organiser_token)
    assert gone.status_code == 204
    assert gone.get_data() == b""
    assert count(model) == 0
    assert_error(api.get(f"/{plural}/{document['id']}"), 404)


def test_event_start_without_offset_is_read_in_its_time_zone(api, organiser_token):
    made = api.post(
        "/events",
        organiser_token,
        json={"title": "Stall", "kind": "street_stall", "starts_at": "2031-07-01T10:00:00"},
    )
    assert made.status_code == 201
    assert made.get_json()["starts_at"] == "2031-07-01T09:00:00+00:00"


@pytest.mark.parametrize("plural", RESOURCES)
def test_missing_items_answer_404_in_the_error_shape(api, organiser_token, plural):
    assert_error(api.get(f"/{plural}/999"), 404)
    assert_error(api.patch(f"/{plural}/999", organiser_token, json={}), 404)
    assert_error(api.delete(f"/{plural}/999", organiser_token), 404)


# Visibility ------------------------------------------------------------------------


@pytest.mark.parametrize("plural", RESOURCES)
def test_members_only_items_are_invisible_without_a_read_token(api, member, plural):
    _model, factory, *_ = RESOURCES[plural]
    public = factory(visibility="public")
    hidden = factory(visibility="members")
    rsvp_only = factories.token(member, "rsvp")

    for token in (None, rsvp_only):
        listed = api.get(f"/{plural}", token)
        assert listed.status_code == 200
        assert [i["id"] for i in listed.get_json()["items"]] == [public.id]
        assert listed.get_json()["total"] == 1
        assert_error(api.get(f"/{plural}/{hidden.id}", token), 404)

    reader = factories.token(member, "read")
    listed = api.get(f"/{plural}", reader).get_json()
    assert {i["id"] for i in listed["items"]} == {public.id, hidden.id}
    assert api.get(f"/{plural}/{hidden.id}", reader).status_code == 200


def test_a_hidden_item_and_a_missing_one_answer_alike(api):
    hidden = factories.campaign(visibility="members")
    assert api.get(f"/campaigns/{hidden.id}").get_json() == api.get("/campaigns/999").get_json()


def test_scheduled_posts_are_shown_to_organisers_only(api, member, organiser):
    later = factories.post(published_at=datetime.now(UTC) + timedelta(days=2))
    factories.post()
    reader = factories.token(member, "read")
    organiser_reader = factories.token(organiser, "read")

    for token in (None, reader):
        assert api.get("/posts", token).get_json()["total"] == 1
        assert_error(api.get(f"/posts/{later.id}", token), 404)
    assert api.get("/posts", organiser_reader).get_json()["total"] == 2
    assert api.get(f"/posts/{later.id}", organiser_reader).status_code == 200


def test_a_sent_token_that_is_invalid_is_refused_even_on_public_routes(api):
    factories.campaign()
    response = api.get("/campaigns", "blt_not-a-token")
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# Paging ------------------------------------------------------------------------


def test_pages_follow_next_until_every_item_is_seen_once(api):
    for _ in range(25):
        factories.campaign()
    seen, url, pages = [], "/campaigns?per_page=10", 0
    while url:
        page = api.get(url).get_json()
        pages += 1
        assert page["per_page"] == 10 and page["total"] == 25 and page["page"] == pages
        seen += [i["id"] for i in page["items"]]
        url = page["next"]
    assert pages == 3
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 25


def test_next_keeps_the_filters(api):
    for _ in range(3):
        factories.campaign(kind="election")
    factories.campaign(kind="policy")
    page = api.get("/campaigns?kind=election&per_page=2").get_json()
    assert "kind=election" in page["next"] and "page=2" in page["next"]
    second = api.get(page["next"]).get_json()
    assert second["total"] == 3 and len(second["items"]) == 1 and second["next"] is None


def test_defaults_are_page_one_of_twenty(api):
    page = api.get("/candidates").get_json()
    assert (page["page"], page["per_page"], page["total"], page["next"]) == (1, 20, 0, None)
    assert page["items"] == []


def test_a_page_past_the_end_is_empty(api):
    factories.campaign()
    page = api.get("/campaigns?page=5").get_json()
    assert page["items"] == [] and page["total"] == 1 and page["next"] is None


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("page=1.5", "page"),
        ("colour=red", "colour"),
        ("page=1&page=2", "page"),
        ("when=tomorrow", "when"),
        ("kind=rally", "kind"),
        ("campaign_id=x", "campaign_id"),
        ("campaign_id=0", "campaign_id"),
    ],
)
def test_bad_query_arguments_are_a_400_naming_the_argument(api, query, field):
    assert_error(api.get(f"/events?{query}"), 400, field)


@pytest.mark.parametrize(
    "path", ["/group?x=1", "/me?x=1", "/openapi.json?x=1", "/posts?kind=x", "/members?x=1"]
)
def test_routes_without_filters_refuse_unknown_arguments(api, admin_token, path):
    response = api.get(path, admin_token)
    assert_error(response, 400)


# Filters ------------------------------------------------------------------------


def _ids(api, path, token=None):
    return {i["id"] for i in api.get(path, token).get_json()["items"]}


def test_event_filters(api):
    now = datetime.now(UTC)
    campaign = factories.campaign()
    past = factories.event(starts_at=now - timedelta(days=3), kind="meeting")
    ongoing = factories.event(
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1), kind="picket"
    )
    soon = factories.event(starts_at=now + timedelta(days=1), campaign_id=campaign.id)
    later = factories.event(starts_at=now + timedelta(days=9), status="postponed")

    upcoming = api.get("/events?when=upcoming").get_json()["items"]
    assert [i["id"] for i in upcoming] == [ongoing.id, soon.id, later.id]  # soonest first
    assert _ids(api, "/events?when=past") == {past.id}
    assert _ids(api, "/events?kind=picket") == {ongoing.id}
    assert _ids(api, "/events?status=postponed") == {later.id}
    assert _ids(api, f"/events?campaign_id={campaign.id}") == {soon.id}
    assert _ids(api, "/events?when=upcoming&kind=meeting") == set()


def test_campaign_filters(api):
    won = factories.campaign(status="won", kind="election")
    active = factories.campaign(status="active", kind="community")
    assert _ids(api, "/campaigns?status=won") == {won.id}
    assert _ids(api, "/campaigns?kind=community") == {active.id}
    assert _ids(api, "/campaigns?status=won&kind=community") == set()


def test_candidate_filters(api):
    endorsed = factories.candidate(endorsement="endorsed", stage="selected", office="mayor")
    proposed = factories.candidate(endorsement="proposed", stage="nominated")
    assert _ids(api, "/candidates?endorsement=proposed") == {proposed.id}
    assert _ids(api, "/candidates?stage=selected") == {endorsed.id}
    assert _ids(api, "/candidates?office=mayor") == {endorsed.id}
    assert _ids(api, "/candidates?office=nec") == set()


# Markup is text ---------------------------------------------------------------------

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)> & co'


@pytest.mark.parametrize(
    "plural, field, payload",
    [
        ("campaigns", "title", {"kind": "community"}),
        ("events", "title", {"kind": "canvass", "starts_at": "2031-01-01T10:00:00Z"}),
        ("candidates", "statement", {"name": "A", "office": "mayor"}),
        ("posts", "body", {"title": "News"}),
    ],
)
def test_markup_is_stored_as_text_and_returned_json_escaped(
    api, organiser_token, plural, field, payload
):
    made = api.post(f"/{plural}", organiser_token, json={**payload, field: SCRIPT})
    assert made.status_code == 201
    raw = made.get_data()
    assert b"<script" not in raw and b"<img" not in raw and b"\\u003cscript\\u003e" in raw
    assert made.get_json()[field] == SCRIPT  # any JSON parser reads back the very text sent
    assert made.mimetype == "application/json"
    assert made.headers["X-Content-Type-Options"] == "nosniff"
    model = RESOURCES[plural][0]
    db.session.expire_all()
    assert getattr(db.session.get(model, made.get_json()["id"]), field) == SCRIPT

    listed = api.get(f"/{plural}", organiser_token)
    assert b"<script" not in listed.get_data()
    assert listed.get_json()["items"][0][field] == SCRIPT
