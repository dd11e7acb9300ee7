"""The iCalendar and Atom feeds: what they carry, what they leave out, who may read them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from icalendar import Calendar
from itsdangerous import URLSafeSerializer

from node.services.membership import members, resets
from node.services.organising import calendar_feeds, events
from tests import factories
from tests.conftest import log_in
from tests.node.pages_support import text_of

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "http://localhost"


def _calendar(response) -> Calendar:
    assert response.status_code == 200, text_of(response)[:300]
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.data)


def _vevents(response) -> dict[str, object]:
    """Map each VEVENT's UID to the VEVENT."""
    return {str(entry["uid"]): entry for entry in _calendar(response).walk("VEVENT")}


def _uid(event) -> str:
    return f"{BASE}/events/{event.id}"


def _atom(response) -> ET.Element:
    assert response.status_code == 200, text_of(response)[:300]
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(response.data)  # noqa: S314 - the node's own feed, built by lxml


def _address_on_account_page(client) -> str:
    html = text_of(client.get("/account"))
    found = re.search(r'id="calendar-address"[^>]*value="([^"]+)"', html)
    assert found, "no calendar address on the account page"
    return found.group(1)


def _path(address: str) -> str:
    assert address.startswith(BASE + "/calendar/") and address.endswith(".ics"), address
    return address.removeprefix(BASE)


# The group's events ---------------------------------------------------------------


def test_events_calendar_describes_each_public_event(client):
    starts = factories.soon(10)
    event = factories.event(
        title="Doorknocking in Moortown",
        description="**Bring** <b>leaflets</b> & [water](https://example.org/water).\n\n- boots",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        place_name="Moortown Corner",
        address="1 Harrogate Road, Leeds LS17",
        latitude=53.8393,
        longitude=-1.5302,
        online_url="https://meet.example.org/moortown",
        accessibility="Step-free *access*.",
    )
    response = client.get("/events.ics")
    document = _calendar(response)
    assert str(document["version"]) == "2.0" and "Branchline" in str(document["prodid"])
    assert str(document["x-wr-calname"]) == "Leeds North Momentum: events"
    assert "X-PUBLISHED-TTL:PT1H" in response.get_data(as_text=True)

    entry = _vevents(response)[_uid(event)]
    assert str(entry["summary"]) == "Doorknocking in Moortown"
    assert entry.decoded("dtstart") == starts
    assert entry.decoded("dtend") == starts + timedelta(hours=2)
    assert entry.decoded("dtstamp") == event.updated_at.replace(microsecond=0)
    assert entry.decoded("last-modified") == event.updated_at.replace(microsecond=0)
    assert str(entry["url"]) == _uid(event)
    assert str(entry["location"]) == "Moortown Corner, 1 Harrogate Road, Leeds LS17"
    assert (entry["geo"].latitude, entry["geo"].longitude) == (53.8393, -1.5302)
    assert str(entry["status"]) == "CONFIRMED"
    assert str(entry["class"]) == "PUBLIC"


def test_events_calendar_description_is_plain_text(client):
    event = factories.event(
        description="**Bring** <b>leaflets</b> & <script>alert(1)</script>[water](https://example.org/w).",
        online_url="https://meet.example.org/moortown",
    )
    description = str(_vevents(client.get("/events.ics"))[_uid(event)]["description"])
    assert description.startswith("Bring leaflets & water (https://example.org/w).")
    assert "Online: https://meet.example.org/moortown" in description
    for markup in ("<", ">", "**", "&amp;", "alert"):
        assert markup not in description


def test_events_calendar_gives_times_in_utc_from_the_events_own_zone(client):
    year = datetime.now(UTC).year + 1
    summer = events.create(
        {
            "title": "Summer fair",
            "kind": "social",
            "starts_at": datetime(year, 7, 4, 10, 0),  # 10:00 in London is 09:00 UTC (BST)
            "ends_at": datetime(year, 7, 4, 12, 30),
            "timezone": "Europe/London",
        }
    )
    winter = events.create(
        {
            "title": "Winter AGM",
            "kind": "meeting",
            "starts_at": datetime(year, 1, 20, 19, 0),  # GMT: the same in UTC
            "timezone": "Europe/London",
        }
    )
    response = client.get("/events.ics")
    found = _vevents(response)
    assert found[_uid(summer)].decoded("dtstart") == datetime(year, 7, 4, 9, 0, tzinfo=UTC)
    assert found[_uid(summer)].decoded("dtend") == datetime(year, 7, 4, 11, 30, tzinfo=UTC)
    assert found[_uid(winter)].decoded("dtstart") == datetime(year, 1, 20, 19, 0, tzinfo=UTC)
    assert "dtend" not in found[_uid(winter)]  # no end given: none invented
    assert f"DTSTART:{year}0704T090000Z" in response.get_data(as_text=True)


def test_events_calendar_marks_cancelled_and_postponed_events(client):
    cancelled = events.cancel(factories.event(title="Rally"))
    postponed = events.update(factories.event(title="Stall"), {"status": "postponed"})
    found = _vevents(client.get("/events.ics"))
    assert str(found[_uid(cancelled)]["status"]) == "CANCELLED"
    assert str(found[_uid(cancelled)]["summary"]) == "Cancelled: Rally"
    assert str(found[_uid(postponed)]["status"]) == "TENTATIVE"
    assert str(found[_uid(postponed)]["summary"]) == "Postponed: Stall"


def test_events_calendar_leaves_out_members_only_events_even_for_members(client, member):
    public = factories.event(title="Open meeting")
    hidden = factories.event(title="Secret planning meeting", visibility="members")
    log_in(client, member)
    response = client.get("/events.ics")
    assert set(_vevents(response)) == {_uid(public)}
    assert "Secret planning" not in response.get_data(as_text=True)
    assert _uid(hidden) not in response.get_data(as_text=True)


def test_events_calendar_keeps_the_last_month_and_everything_ahead(client):
    recent = factories.event(starts_at=factories.soon(-10))
    ahead = factories.event(starts_at=factories.soon(200))
    still_on = factories.event(starts_at=factories.soon(-40), ends_at=factories.soon(-20))
    factories.event(starts_at=factories.soon(-40))
    factories.event(starts_at=factories.soon(-45), ends_at=factories.soon(-31))
    found = _vevents(client.get("/events.ics"))
    assert set(found) == {_uid(recent), _uid(ahead), _uid(still_on)}


def test_events_calendar_answers_not_modified_while_nothing_changed(client):
    factories.event()
    first = client.get("/events.ics")
    assert first.headers["ETag"]
    again = client.get("/events.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    factories.event(title="Another one")
    changed = client.get("/events.ics", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200


def test_events_page_links_to_the_calendar(client):
    html = text_of(client.get("/events"))
    assert '<link rel="alternate" type="text/calendar"' in html
    assert 'href="/events.ics"' in html


# A member's own calendar ---------------------------------------------------------


@pytest.fixture
def answered(member):
    """Events the member answered going, maybe and not going to, and one they did not."""
    going = factories.event(title="Public canvass", capacity=5)
    maybe = factories.event(title="Members-only briefing", visibility="members")
    declined = factories.event(title="Quiz night")
    other = factories.event(title="Someone else's street stall")
    events.respond(going, member, "going")
    events.respond(maybe, member, "maybe")
    events.respond(declined, member, "not_going")
    events.respond(other, factories.member(), "going")
    return {"going": going, "maybe": maybe, "declined": declined, "other": other}


def test_member_calendar_lists_what_they_said_going_or_maybe_to(app, client, member, answered):
    log_in(client, member)
    address = _address_on_account_page(client)
    stranger = app.test_client()  # a calendar app: no session, no log-in
    response = stranger.get(_path(address))
    found = _vevents(response)
    assert set(found) == {_uid(answered["going"]), _uid(answered["maybe"])}
    assert str(found[_uid(answered["maybe"])]["class"]) == "PRIVATE"
    assert response.headers["Cache-Control"] == "private, no-cache"
    # The members-only event is in the member's own calendar, never in the public one.
    assert _uid(answered["maybe"]) not in set(_vevents(stranger.get("/events.ics")))


def test_account_page_offers_the_address_to_copy_and_to_subscribe(client, member):
    log_in(client, member)
    html = text_of(client.get("/account"))
    address = _address_on_account_page(client)
    assert "readonly" in re.search(r'<input id="calendar-address"[^>]*>', html).group(0)
    assert f'href="webcal://{address.removeprefix("http://")}"' in html


def test_member_calendar_refuses_a_tampered_or_foreign_token(app, client, member, answered):
    token = calendar_feeds.token_for(member)
    assert client.get(f"/calendar/{token}.ics").status_code == 200
    someone = factories.member()
    payload, signature = token.rsplit(".", 1)
    forged_payload = URLSafeSerializer("x").dump_payload([someone.id, 1]).decode()
    wrong_secret = URLSafeSerializer("not-the-key", salt=calendar_feeds.TOKEN_SALT)
    wrong_salt = URLSafeSerializer(app.secret_key, salt="something-else")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    for bad in (
        f"{forged_payload}.{signature}",  # someone else's id under this member's signature
        f"{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}",
        wrong_secret.dumps([member.id, member.session_version]),
        wrong_salt.dumps([member.id, member.session_version]),
        "not-a-token",
    ):
        response = client.get(f"/calendar/{bad}.ics")
        assert response.status_code == 404, bad
        assert "BEGIN:VCALENDAR" not in response.get_data(as_text=True)


def test_member_calendar_address_is_revoked_by_a_password_change(client, member, answered):
    log_in(client, member)
    old = _address_on_account_page(client)
    resets.change_password(member, factories.PASSWORD, "a brand new long password")
    assert client.get(_path(old)).status_code == 404
    new = calendar_feeds.token_for(member)
    assert _path(old) != f"/calendar/{new}.ics"
    assert client.get(f"/calendar/{new}.ics").status_code == 200


@pytest.mark.parametrize("status", ["suspended", "left"])
def test_member_calendar_stops_when_the_member_is_no_longer_active(
    client, admin, member, answered, status
):
    token = calendar_feeds.token_for(member)
    members.change(member, {"status": status}, actor=admin)
    assert client.get(f"/calendar/{token}.ics").status_code == 404
    # Even a token made with the bumped version does not work while they are not active.
    assert client.get(f"/calendar/{calendar_feeds.token_for(member)}.ics").status_code == 404


def test_member_calendar_is_gone_once_the_member_is_removed(client, admin, member, answered):
    token = calendar_feeds.token_for(member)
    members.remove(member, actor=admin)
    assert client.get(f"/calendar/{token}.ics").status_code == 404


# News --------------------------------------------------------------------------


def test_news_feed_carries_published_public_posts(client, group):
    older = factories.post(title="First post", published_at=factories.soon(-3))
    newer = factories.post(
        title="We saved the library",
        body="**Great** news <script>alert(1)</script>",
        published_at=factories.soon(-1),
    )
    feed = _atom(client.get("/news.atom"))
    assert feed.findtext(f"{ATOM}id") == f"{BASE}/news"
    assert feed.findtext(f"{ATOM}title") == "Leeds North Momentum"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links == {"self": f"{BASE}/news.atom", "alternate": f"{BASE}/news"}
    assert datetime.fromisoformat(feed.findtext(f"{ATOM}updated")) >= newer.published_at

    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == [
        "We saved the library",
        "First post",
    ]
    first = entries[0]
    assert first.findtext(f"{ATOM}id") == f"{BASE}/news/{newer.id}"
    assert first.find(f"{ATOM}link").get("href") == f"{BASE}/news/{newer.id}"
    published = datetime.fromisoformat(first.findtext(f"{ATOM}published"))
    assert published == newer.published_at
    assert datetime.fromisoformat(first.findtext(f"{ATOM}updated")) >= published
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert "<strong>Great</strong> news" in content.text  # the page's own sanitised HTML
    assert "<script" not in content.text and "alert" not in content.text
    assert entries[1].findtext(f"{ATOM}id") == f"{BASE}/news/{older.id}"


def test_news_feed_leaves_out_scheduled_and_members_only_posts(client, organiser):
    factories.post(title="Out now")
    factories.post(title="Coming next week", published_at=factories.soon(7))
    factories.post(title="Members briefing", visibility="members")
    log_in(client, organiser)  # organisers see scheduled posts on the pages; not in the feed
    feed = _atom(client.get("/news.atom"))
    assert [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")] == ["Out now"]
    text = unescape(client.get("/news.atom").get_data(as_text=True))
    assert "Coming next week" not in text and "Members briefing" not in text


def test_news_feed_without_posts_is_still_a_valid_feed(client, group):
    feed = _atom(client.get("/news.atom"))
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated")


def test_pages_announce_the_news_feed(client):
    html = text_of(client.get("/"))
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert 'href="/news.atom"' in html
