"""The outbox and object addresses: pages oldest first, entries byte for byte, negotiation."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import FeedEntry
from node.services.organising import campaigns, candidates, events, posts
from tests import factories
from tests.conftest import log_in
from tests.node.activitypub_support import (
    AS_JSON,
    BASE,
    BROWSER,
    LD_JSON,
    event_data,
    verify,
)


def _get(client, url: str, accept: str = AS_JSON):
    return client.get(url, headers={"Accept": accept})


def _publish(count: int) -> None:
    for n in range(count):
        campaigns.create({"title": f"Campaign {n}", "kind": "community"})


def _bodies() -> list[str]:
    return list(db.session.scalars(select(FeedEntry.body).order_by(FeedEntry.seq)))


def _ordered_items_text(page: str) -> str:
    """Cut the orderedItems array out of a page's text, as raw bytes."""
    start = page.index('"orderedItems":[') + len('"orderedItems":[')
    return page[start : page.rindex("]")]


def test_outbox_is_an_ordered_collection_pointing_at_its_pages(client, group):
    _publish(3)
    response = _get(client, "/outbox")
    assert response.status_code == 200
    assert response.mimetype == AS_JSON
    assert response.get_json() == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{BASE}/outbox",
        "type": "OrderedCollection",
        "totalItems": 3,
        "first": f"{BASE}/outbox?after=0",
        "last": f"{BASE}/outbox?after=0",
    }


def test_outbox_pages_run_oldest_first_and_resume_after_a_seq(client, group):
    _publish(5)
    first = _get(client, "/outbox?after=0&limit=2").get_json()
    assert first["type"] == "OrderedCollectionPage"
    assert first["partOf"] == f"{BASE}/outbox"
    assert [e["seq"] for e in first["orderedItems"]] == [1, 2]
    assert first["next"] == f"{BASE}/outbox?after=2&limit=2"
    seqs, url = [], first["next"]
    while url:
        page = _get(client, url.removeprefix(BASE)).get_json()
        seqs += [e["seq"] for e in page["orderedItems"]]
        url = page.get("next")
    assert seqs == [3, 4, 5]
    assert _get(client, "/outbox?after=5").get_json()["orderedItems"] == []


def test_outbox_page_defaults_to_fifty_entries(client, group):
    _publish(52)
    page = _get(client, "/outbox?after=0").get_json()
    assert len(page["orderedItems"]) == 50
    assert page["next"] == f"{BASE}/outbox?after=50"


def test_outbox_page_serves_entries_byte_for_byte_as_stored(client, group):
    events.create(event_data(title="Quoted “title” — with ünïcode", description='a\\b "c"'))
    posts.create({"title": "1.0e2 and 100", "body": "<b>raw</b> & stuff"})
    text = _get(client, "/outbox?after=0").get_data(as_text=True)
    assert _ordered_items_text(text) == ",".join(_bodies())
    json.loads(text)  # and the spliced page is still one valid JSON document


def test_each_entry_is_served_at_its_activity_id_byte_for_byte(client, group):
    _publish(2)
    for seq, body in enumerate(_bodies(), start=1):
        response = _get(client, f"/outbox/{seq}")
        assert response.status_code == 200
        assert response.mimetype == AS_JSON
        assert response.get_data(as_text=True) == body
        assert json.loads(body)["id"] == f"{BASE}/outbox/{seq}"
    missing = _get(client, "/outbox/99")
    assert missing.status_code == 404
    assert missing.get_json()["error"]


def test_a_peer_verifies_a_fetched_outbox_with_the_actors_multikey(client, group):
    event = events.create(event_data())
    candidates.create({"name": "Sam Jones", "office": "mayor"})
    events.cancel(event)
    posts.create({"title": "News", "body": "x"})
    actor = _get(client, "/actor").get_json()
    first = _get(client, "/outbox?after=0&limit=2").get_json()["orderedItems"]
    report = verify(first, actor)
    assert report.ok and report.verified == 2
    rest = _get(client, "/outbox?after=2").get_json()["orderedItems"]
    report = verify(rest, actor, start_after=report.head)
    assert report.ok and report.verified == 2
    assert report.head == (actor["feedHead"]["seq"], actor["feedHead"]["hash"])


def test_a_tampered_outbox_entry_does_not_verify(client, group):
    _publish(2)
    actor = _get(client, "/actor").get_json()
    entries = _get(client, "/outbox?after=0").get_json()["orderedItems"]
    entries[1]["object"]["name"] = "Something else"
    report = verify(entries, actor)
    assert report.bad_seq == 2 and report.reason == "bad-proof"


@pytest.mark.parametrize(
    "query",
    [
        "after=-1",
        "after=x",
        "after=1.5",
        "after=",
        "limit=0",
        "limit=201",
        "limit=ten",
        "after=0&limit=-5",
        "after=99999999999999999999",
    ],
)
def test_bad_page_parameters_are_a_400_with_fields(client, group, query):
    response = _get(client, f"/outbox?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] and body["fields"]


def test_limit_up_to_two_hundred_is_allowed(client, group):
    _publish(3)
    page = _get(client, "/outbox?limit=200").get_json()
    assert [e["seq"] for e in page["orderedItems"]] == [1, 2, 3]
    assert "next" not in page


# --- content negotiation ----------------------------------------------------------------


@pytest.mark.parametrize("accept", [AS_JSON, LD_JSON])
def test_group_page_serves_the_actor_to_activitypub_clients(client, group, accept):
    response = _get(client, "/", accept)
    assert response.status_code == 200
    assert response.mimetype == AS_JSON
    assert response.get_json()["id"] == f"{BASE}/actor"
    assert "Accept" in response.headers["Vary"]


def test_group_page_still_serves_browsers_html_from_the_cache(client, group):
    for _ in range(2):
        response = _get(client, "/", BROWSER)
        assert response.status_code == 200
        assert response.mimetype == "text/html"
    assert _get(client, "/", AS_JSON).mimetype == AS_JSON  # the cached page does not win
    assert _get(client, "/", BROWSER).mimetype == "text/html"


def _public_items() -> dict[str, object]:
    return {
        "events": events.create(event_data()),
        "campaigns": campaigns.create({"title": "Save it", "kind": "community"}),
        "candidates": candidates.create({"name": "Sam Jones", "office": "mayor"}),
        "news": posts.create({"title": "News", "body": "Hello *all*"}),
    }


def test_item_pages_serve_activitystreams_objects_or_html(client, group):
    types = {"events": "Event", "campaigns": "Campaign", "candidates": "Candidate", "news": "Note"}
    for segment, item in _public_items().items():
        url = f"/{segment}/{item.id}"
        document = _get(client, url).get_json()
        assert document["id"] == f"{BASE}{url}"
        assert document["type"] == types[segment]
        assert document["@context"][0] == "https://www.w3.org/ns/activitystreams"
        page = _get(client, url, BROWSER)
        assert page.status_code == 200 and page.mimetype == "text/html"


def test_served_object_matches_what_the_feed_published(client, group):
    event = events.create(event_data(capacity=30, online_url="https://meet.example/x"))
    published = json.loads(_bodies()[0])["object"]
    served = _get(client, f"/events/{event.id}").get_json()
    served.pop("@context")
    assert served == published
    assert served["maximumAttendeeCapacity"] == 30
    assert served["goingCount"] == 0
    assert served["location"] == {
        "type": "Place",
        "name": "Online",
        "url": "https://meet.example/x",
    }


def test_members_only_items_are_not_found_over_activitystreams_even_for_members(client, member):
    hidden = factories.event(visibility="members")
    assert _get(client, f"/events/{hidden.id}").status_code == 404
    log_in(client, member)
    assert _get(client, f"/events/{hidden.id}").status_code == 404
    assert _get(client, f"/events/{hidden.id}", BROWSER).status_code == 200


def test_scheduled_post_is_not_found_over_activitystreams(client, group):
    from tests.node.activitypub_support import later

    draft = factories.post(published_at=later(1))
    assert _get(client, f"/news/{draft.id}").status_code == 404


def test_event_of_a_members_only_campaign_does_not_name_it(client, group):
    inner = factories.campaign(visibility="members")
    event = events.create(event_data(campaign_id=inner.id))
    assert "campaign" not in _get(client, f"/events/{event.id}").get_json()
    assert "campaign" not in json.loads(_bodies()[0])["object"]
    public = factories.campaign()
    events.update(event, {"campaign_id": public.id})
    assert _get(client, f"/events/{event.id}").get_json()["campaign"] == (
        f"{BASE}/campaigns/{public.id}"
    )


def test_feed_carries_counts_never_names(client, group, member):
    event = events.create(event_data(capacity=10))
    events.respond(event, member, "going")
    events.update(event, {"title": "Renamed"})
    text = "".join(_bodies())
    assert re.search(r'"goingCount":1\b', text)
    assert member.email not in text and member.display_name not in text
