"""The public group page, the lists and detail pages, and what visitors may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.services import profile
from tests import factories
from tests.conftest import log_in
from tests.node.pages_support import text_of

SECRET = "Secret planning meeting"


@pytest.fixture
def content(group):
    """One public and one members-only item of each kind."""
    campaign = factories.campaign(title="Save Chapel Allerton Library")
    hidden_campaign = factories.campaign(title="Secret selection plan", visibility="members")
    return {
        "campaign": campaign,
        "hidden_campaign": hidden_campaign,
        "event": factories.event(
            title="Doorknocking in Moortown",
            campaign_id=campaign.id,
            place_name="Moortown Corner",
            accessibility="Step-free access.",
            capacity=10,
        ),
        "hidden_event": factories.event(title=SECRET, visibility="members"),
        "past_event": factories.event(
            title="Last year's stall", starts_at=factories.soon(-30), kind="street_stall"
        ),
        "candidate": factories.candidate(name="Asha Patel", area="Moortown"),
        "hidden_candidate": factories.candidate(name="Hidden Hopeful", visibility="members"),
        "post": factories.post(title="We saved the library", body="**Great** news"),
        "hidden_post": factories.post(title="Members briefing", visibility="members"),
    }


HIDDEN_TITLES = (SECRET, "Secret selection plan", "Hidden Hopeful", "Members briefing")


def test_home_shows_the_group_profile_and_public_items(client, group, content):
    profile.update(
        group,
        {
            "seat_majority": 1234,
            "seat_marginality": 2.5,
            "contact_email": "hello@example.org",
            "summary": "We *organise*.",
        },
    )
    response = client.get("/")
    html = text_of(response)
    assert response.status_code == 200
    assert "<h1" in html and "Leeds North Momentum" in html
    assert "Leeds North East" in html and "majority 1,234" in html and "2.5% marginality" in html
    assert 'href="mailto:hello@example.org"' in html
    assert "<em>organise</em>" in html
    for title in ("Doorknocking in Moortown", "Save Chapel Allerton Library", "Asha Patel"):
        assert title in html
    assert "We saved the library" in html
    assert "Last year&#39;s stall" not in html  # past events are not "upcoming"


def test_home_hides_members_only_items_from_visitors(client, content):
    html = text_of(client.get("/"))
    for title in HIDDEN_TITLES:
        assert title not in html
    assert "Members only" not in html


def test_home_shows_members_only_items_with_a_badge_to_members(client, member, content):
    log_in(client, member)
    html = text_of(client.get("/"))
    for title in (SECRET, "Secret selection plan", "Members briefing"):
        assert title in html
    assert "Members only" in html


def test_home_shows_the_members_own_rsvp(client, member, content):
    from node.services.organising import events

    events.respond(content["event"], member, "maybe")
    log_in(client, member)
    assert "You: Maybe" in text_of(client.get("/"))


@pytest.mark.parametrize("path", ["/events", "/campaigns", "/candidates", "/news"])
def test_lists_hide_members_only_items_from_visitors(client, content, path):
    response = client.get(path)
    assert response.status_code == 200
    html = text_of(response)
    for title in HIDDEN_TITLES:
        assert title not in html


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("hidden_event", "/events/{}"),
        ("hidden_campaign", "/campaigns/{}"),
        ("hidden_candidate", "/candidates/{}"),
        ("hidden_post", "/news/{}"),
    ],
)
def test_members_only_details_are_a_404_to_visitors_like_missing_ones(client, content, key, path):
    hidden = client.get(path.format(content[key].id))
    missing = client.get(path.format(999_999))
    assert hidden.status_code == missing.status_code == 404
    assert text_of(hidden) == text_of(missing)


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("hidden_event", "/events/{}"),
        ("hidden_campaign", "/campaigns/{}"),
        ("hidden_candidate", "/candidates/{}"),
        ("hidden_post", "/news/{}"),
    ],
)
def test_members_read_members_only_details(client, member, content, key, path):
    log_in(client, member)
    response = client.get(path.format(content[key].id))
    assert response.status_code == 200
    assert "Members only" in text_of(response)


def test_event_page_shows_place_capacity_campaign_and_access(client, content):
    event = content["event"]
    html = text_of(client.get(f"/events/{event.id}"))
    assert "Moortown Corner" in html
    assert "10 in all; 10 left" in html
    assert f'href="/campaigns/{content["campaign"].id}"' in html
    assert "Step-free access." in html
    assert "Log in to RSVP" in html
    assert 'name="response"' not in html


def test_event_time_is_shown_in_the_events_time_zone(client, group):
    event = factories.event(
        title="Tokyo call",
        starts_at=datetime(2031, 7, 1, 9, 0, tzinfo=UTC),
        timezone="Asia/Tokyo",
    )
    html = text_of(client.get(f"/events/{event.id}"))
    assert "Tue 01 Jul 2031, 18:00" in html
    assert "Asia/Tokyo" in html


def test_event_page_says_clearly_when_cancelled_or_postponed(client, group):
    cancelled = factories.event(status="cancelled")
    postponed = factories.event(status="postponed")
    assert "This event is cancelled." in text_of(client.get(f"/events/{cancelled.id}"))
    assert "This event is postponed." in text_of(client.get(f"/events/{postponed.id}"))
    assert "Cancelled" in text_of(client.get("/events"))


def test_online_event_links_to_the_meeting(client, group):
    event = factories.event(online_url="https://meet.example.org/abc")
    assert 'href="https://meet.example.org/abc"' in text_of(client.get(f"/events/{event.id}"))


def test_event_page_does_not_name_a_members_only_campaign_to_visitors(client, content):
    event = factories.event(campaign_id=content["hidden_campaign"].id)
    html = text_of(client.get(f"/events/{event.id}"))
    assert "Secret selection plan" not in html


def test_events_list_has_upcoming_and_past_tabs(client, content):
    upcoming = text_of(client.get("/events"))
    past = text_of(client.get("/events?when=past"))
    assert "Doorknocking in Moortown" in upcoming and "Last year&#39;s stall" not in upcoming
    assert "Last year&#39;s stall" in past and "Doorknocking in Moortown" not in past
    assert 'aria-current="page">Past' in past


def test_events_list_filters_by_kind(client, content):
    factories.event(title="Phonebank night", kind="phonebank")
    html = text_of(client.get("/events?kind=phonebank"))
    assert "Phonebank night" in html and "Doorknocking in Moortown" not in html
    everything = text_of(client.get("/events?kind=not-a-kind"))
    assert "Phonebank night" in everything and "Doorknocking in Moortown" in everything


def test_events_list_is_paged(client, group):
    start = factories.soon(1)
    for n in range(25):
        factories.event(title=f"Stall number {n:02d}", starts_at=start + timedelta(hours=n))
    first = text_of(client.get("/events"))
    second = text_of(client.get("/events?page=2"))
    assert "Stall number 00" in first and "Stall number 24" not in first
    assert "Page 1 of 2" in first and 'rel="next" href="/events?page=2' in first
    assert "Stall number 24" in second and "Stall number 00" not in second


def test_bad_page_numbers_are_harmless(client, content):
    assert client.get("/events?page=abc").status_code == 200
    assert client.get("/news?page=-3").status_code == 200


def test_campaign_page_renders_body_and_its_events(client, content):
    from node.services.organising import campaigns

    campaigns.update(content["campaign"], {"body": "## Why\n\nBecause *books*."})
    html = text_of(client.get(f"/campaigns/{content['campaign'].id}"))
    assert "<h2>Why</h2>" in html and "<em>books</em>" in html
    assert "Doorknocking in Moortown" in html


def test_candidate_and_post_pages_render(client, content):
    candidate = text_of(client.get(f"/candidates/{content['candidate'].id}"))
    assert "Asha Patel" in candidate and "Endorsed by Leeds North Momentum" in candidate
    post = text_of(client.get(f"/news/{content['post'].id}"))
    assert "<strong>Great</strong>" in post


def test_scheduled_posts_are_not_shown_to_members(client, member, group):
    draft = factories.post(title="Embargoed", published_at=factories.soon(2))
    log_in(client, member)
    assert "Embargoed" not in text_of(client.get("/news"))
    assert client.get(f"/news/{draft.id}").status_code == 404


def test_markdown_scripts_and_javascript_links_are_removed(client, group):
    post = factories.post(
        title="Tricky",
        body="<script>alert(1)</script>\n\n[click me](javascript:alert(2)) "
        '<a href="javascript:alert(3)" onclick="x()">raw</a> <img src=x onerror=alert(4)>',
    )
    event = factories.event(description="<script>steal()</script> hello")
    for path in (f"/news/{post.id}", f"/events/{event.id}"):
        html = text_of(client.get(path))
        assert "<script>" not in html
        assert "javascript:" not in html
        assert "onclick" not in html and "onerror" not in html


def test_titles_are_escaped(client, group):
    event = factories.event(title="<b>bold</b> move")
    html = text_of(client.get(f"/events/{event.id}"))
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_pages_send_security_headers(client, group):
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_unknown_page_is_a_friendly_html_404(client, group):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = text_of(response)
    assert "Page not found" in html and 'href="/"' in html


def test_logo_is_served_once_uploaded(client, group):
    assert client.get("/logo").status_code == 404
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    profile.store_logo(group, png)
    response = client.get("/logo")
    assert response.status_code == 200 and response.data == png
    response.close()
    assert 'src="/logo?v=logo-' in text_of(client.get("/"))


def test_every_page_leads_to_setup_before_the_node_is_set_up(app):
    client = app.test_client()
    for path in ("/", "/events", "/login", "/account", "/news/1"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith("/setup")
    assert client.get("/static/style.css").status_code == 200


def test_organisers_see_scheduled_posts_marked_as_such(client, organiser, group):
    draft = factories.post(title="Embargoed", published_at=factories.soon(2))
    log_in(client, organiser)
    assert "Scheduled" in text_of(client.get("/news"))
    assert "Embargoed" in text_of(client.get(f"/news/{draft.id}"))


def test_setup_admin_lands_on_the_group_page(client, admin, content):
    log_in(client, admin)
    response = client.get("/")
    assert response.status_code == 200
    assert SECRET in text_of(response)


@pytest.mark.parametrize(
    "path",
    [
        "/events/99999999999999999999",
        "/events/2147483648",
        "/campaigns/9223372036854775808",
        "/ballots/99999999999999999999",
        "/api/v1/events/99999999999999999999",
    ],
)
def test_ids_too_big_for_the_database_are_a_404(client, path):
    assert client.get(path).status_code == 404
