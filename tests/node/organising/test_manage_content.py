"""Organisers manage campaigns, events, candidates and news through the /manage forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Campaign, Candidate, Event, Post
from node.services.organising import events
from tests import factories
from tests.conftest import log_in, post_form


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def organiser_client(client, organiser):
    log_in(client, organiser)
    return client


GOOD_INPUT = {
    "campaigns": (
        Campaign,
        {
            "title": "Save Chapel Allerton Library",
            "kind": "community",
            "status": "active",
            "summary": "Keep it open.",
            "body": "",
            "starts_on": "2031-03-01",
            "ends_on": "",
            "visibility": "public",
        },
    ),
    "events": (
        Event,
        {
            "title": "Saturday canvass",
            "kind": "canvass",
            "starts_at": "2031-07-05T10:00",
            "ends_at": "2031-07-05T12:30",
            "timezone": "Europe/London",
            "description": "Meet at the library.",
            "campaign_id": "",
            "place_name": "Library",
            "address": "",
            "latitude": "",
            "longitude": "",
            "online_url": "",
            "capacity": "20",
            "accessibility": "",
            "visibility": "public",
        },
    ),
    "candidates": (
        Candidate,
        {
            "name": "Asha Patel",
            "office": "council_ward",
            "area": "Chapel Allerton",
            "stage": "selected",
            "endorsement": "endorsed",
            "statement": "",
            "contest_date": "2031-05-01",
            "result": "",
            "visibility": "public",
        },
    ),
    "posts": (
        Post,
        {
            "title": "We won",
            "body": "The library stays open.",
            "published_at": "",
            "visibility": "members",
        },
    ),
}

TITLE_FIELD = {"campaigns": "title", "events": "title", "candidates": "name", "posts": "title"}

MAKE = {
    "campaigns": factories.campaign,
    "events": factories.event,
    "candidates": factories.candidate,
    "posts": factories.post,
}


@pytest.mark.parametrize("kind", list(GOOD_INPUT))
def test_organiser_creates_an_item_and_is_sent_to_the_list(organiser_client, kind):
    model, form = GOOD_INPUT[kind]
    before = count(model)

    response = post_form(organiser_client, f"/manage/{kind}/new", form)

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/manage/{kind}/")
    assert count(model) == before + 1
    listing = organiser_client.get(f"/manage/{kind}/").get_data(as_text=True)
    assert form[TITLE_FIELD[kind]] in listing
    assert "Created the" in listing  # the flash message


@pytest.mark.parametrize("kind", list(GOOD_INPUT))
def test_blank_title_rerenders_the_form_with_errors_and_writes_nothing(organiser_client, kind):
    model, form = GOOD_INPUT[kind]
    bad = {**form, TITLE_FIELD[kind]: "   "}
    if "summary" in bad:
        bad["summary"] = "kept as typed"
    before = count(model)

    response = post_form(organiser_client, f"/manage/{kind}/new", bad)

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert count(model) == before
    assert "There is a problem" in html
    assert "Fill this in." in html
    assert 'aria-invalid="true"' in html
    if "summary" in bad:
        assert 'value="kept as typed"' in html  # what was typed comes back


@pytest.mark.parametrize("kind", list(GOOD_INPUT))
def test_organiser_edits_an_item(organiser_client, kind):
    item = MAKE[kind]()
    _, form = GOOD_INPUT[kind]
    changed = {**form, TITLE_FIELD[kind]: "A new name"}

    page = organiser_client.get(f"/manage/{kind}/{item.id}/edit")
    response = post_form(organiser_client, f"/manage/{kind}/{item.id}/edit", changed)

    assert page.status_code == 200
    assert response.status_code == 302
    db.session.refresh(item)
    assert getattr(item, TITLE_FIELD[kind]) == "A new name"


@pytest.mark.parametrize("kind", list(GOOD_INPUT))
def test_delete_asks_first_then_deletes_on_post(organiser_client, kind):
    model = GOOD_INPUT[kind][0]
    item = MAKE[kind]()
    title = getattr(item, TITLE_FIELD[kind])

    confirm = organiser_client.get(f"/manage/{kind}/{item.id}/delete")
    assert confirm.status_code == 200
    assert title in confirm.get_data(as_text=True)
    assert db.session.get(model, item.id) is not None  # looking at the question deletes nothing

    response = post_form(
        organiser_client,
        f"/manage/{kind}/{item.id}/delete",
        page=f"/manage/{kind}/{item.id}/delete",
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(model, item.id) is None


def test_lists_include_members_only_and_scheduled_items(organiser_client):
    factories.post(title="Secret plan", visibility="members")
    factories.post(title="Next week's news", published_at=datetime.now(UTC) + timedelta(days=7))

    html = organiser_client.get("/manage/posts/").get_data(as_text=True)

    assert "Secret plan" in html
    assert "Next week&#39;s news" in html
    assert "(scheduled)" in html


def test_lists_are_paged(organiser_client):
    for n in range(25):
        factories.candidate(name=f"Candidate {n:02d}")

    first = organiser_client.get("/manage/candidates/").get_data(as_text=True)
    second = organiser_client.get("/manage/candidates/?page=2").get_data(as_text=True)

    assert "Page 1 of 2" in first
    assert "Candidate 24" in second or "Candidate 24" in first
    assert first.count("/edit") - second.count("/edit") == 15  # 20 rows against 5


def test_event_times_are_read_and_shown_in_the_event_time_zone(organiser_client):
    form = {**GOOD_INPUT["events"][1], "timezone": "America/New_York"}

    post_form(organiser_client, "/manage/events/new", form)

    event = db.session.scalar(select(Event).where(Event.title == "Saturday canvass"))
    assert event.timezone == "America/New_York"
    assert event.starts_at == datetime(2031, 7, 5, 14, 0, tzinfo=UTC)  # EDT is UTC-4
    html = organiser_client.get(f"/manage/events/{event.id}/edit").get_data(as_text=True)
    assert 'value="2031-07-05T10:00"' in html


def test_event_times_default_to_the_group_time_zone(organiser_client):
    form = {**GOOD_INPUT["events"][1], "timezone": ""}

    response = post_form(organiser_client, "/manage/events/new", form)

    assert response.status_code == 302
    event = db.session.scalar(select(Event).where(Event.title == "Saturday canvass"))
    assert event.timezone == "Europe/London"
    assert event.starts_at == datetime(2031, 7, 5, 9, 0, tzinfo=UTC)  # BST is UTC+1


def test_event_ending_before_it_starts_is_refused_on_the_end_field(organiser_client):
    form = {**GOOD_INPUT["events"][1], "ends_at": "2031-07-05T09:00"}
    before = count(Event)

    response = post_form(organiser_client, "/manage/events/new", form)

    assert response.status_code == 400
    assert count(Event) == before
    assert "Must be after the start." in response.get_data(as_text=True)


def test_event_form_offers_campaigns_and_links_one(organiser_client):
    campaign = factories.campaign(title="Library fight", visibility="members")
    page = organiser_client.get("/manage/events/new").get_data(as_text=True)
    assert f'<option value="{campaign.id}">Library fight</option>' in page

    form = {**GOOD_INPUT["events"][1], "campaign_id": str(campaign.id)}
    post_form(organiser_client, "/manage/events/new", form)

    event = db.session.scalar(select(Event).where(Event.title == "Saturday canvass"))
    assert event.campaign_id == campaign.id


def test_scheduled_post_is_read_in_the_group_time_zone(organiser_client):
    form = {**GOOD_INPUT["posts"][1], "published_at": "2031-01-10T09:30"}

    post_form(organiser_client, "/manage/posts/new", form)

    found = db.session.scalar(select(Post).where(Post.title == "We won"))
    assert found.published_at == datetime(2031, 1, 10, 9, 30, tzinfo=UTC)  # GMT in January
    assert found.visibility == "members"


def test_organiser_cancels_an_event_after_confirming(organiser_client):
    event = factories.event(title="Stall")

    confirm = organiser_client.get(f"/manage/events/{event.id}/status?status=cancelled")
    assert confirm.status_code == 200
    db.session.refresh(event)
    assert event.status == "scheduled"

    response = post_form(
        organiser_client,
        f"/manage/events/{event.id}/status",
        {"status": "cancelled"},
        page=f"/manage/events/{event.id}/status?status=cancelled",
    )

    assert response.status_code == 302
    db.session.refresh(event)
    assert event.status == "cancelled"


@pytest.mark.parametrize("status", ["postponed", "scheduled"])
def test_organiser_postpones_or_reinstates_an_event(organiser_client, status):
    event = factories.event(status="cancelled" if status == "scheduled" else "scheduled")

    response = post_form(
        organiser_client,
        f"/manage/events/{event.id}/status",
        {"status": status},
        page=f"/manage/events/{event.id}/edit",
    )

    assert response.status_code == 302
    db.session.refresh(event)
    assert event.status == status


def test_unknown_event_status_is_a_400(organiser_client):
    event = factories.event()
    response = post_form(
        organiser_client,
        f"/manage/events/{event.id}/status",
        {"status": "exploded"},
        page=f"/manage/events/{event.id}/edit",
    )
    assert response.status_code == 400
    db.session.refresh(event)
    assert event.status == "scheduled"


def test_attendance_lists_names_for_organisers(organiser_client):
    event = factories.event(capacity=10)
    going = factories.member(display_name="Rosa Going")
    unsure = factories.member(display_name="Sam Maybe")
    events.respond(event, going, "going")
    events.respond(event, unsure, "maybe")

    html = organiser_client.get(f"/manage/events/{event.id}/attendance").get_data(as_text=True)
    only_maybe = organiser_client.get(f"/manage/events/{event.id}/attendance?response=maybe")

    assert "Rosa Going" in html and "Sam Maybe" in html
    assert "of 10 places" in html
    assert "Rosa Going" not in only_maybe.get_data(as_text=True)


def test_dashboard_counts_and_shows_upcoming_events_with_places(organiser_client):
    factories.event(title="Phonebank", capacity=12, going_count=3)
    factories.campaign(status="active")

    html = organiser_client.get("/manage/").get_data(as_text=True)

    assert "Phonebank" in html
    assert "3 / 12" in html
    assert "<strong>1</strong> upcoming events" in html
    assert "<strong>1</strong> active campaigns" in html


def test_missing_item_is_a_404(organiser_client):
    assert organiser_client.get("/manage/events/999/edit").status_code == 404
    assert organiser_client.get("/manage/widgets/").status_code == 404
