"""How many came to an event: recorded by organisers, federated as a number only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from node.extensions import db
from node.models import Event, FeedEntry, RemoteObject
from node.services.organising import events
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.federation_support import FakePeer, follow_peer, remote  # noqa: F401
from tests.node.pages_support import field_error, text_of
from tests.node.twinning_support import our_entries, push

ACTIVITY_JSON = "application/activity+json"


def _past_event(**fields) -> Event:
    """A public event that took place yesterday, published on the feed."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    return events.create(
        {"title": "Saturday canvass", "kind": "canvass", "starts_at": start, **fields}
    )


def _entries() -> int:
    return db.session.scalar(select(func.count()).select_from(FeedEntry))


def _record(client, event: Event, value: str):
    return post_form(
        client,
        f"/manage/events/{event.id}/attended",
        {"attended_count": value},
        page=f"/manage/events/{event.id}/attendance",
    )


def test_organiser_records_how_many_came_and_the_number_is_federated(client, organiser):
    event = _past_event()
    log_in(client, organiser)
    page = text_of(client.get(f"/manage/events/{event.id}/attendance"))
    assert 'name="attended_count"' in page

    answer = _record(client, event, "23")

    assert answer.status_code == 302
    db.session.refresh(event)
    assert event.attended_count == 23
    create, update = our_entries()
    assert (create["type"], update["type"]) == ("Create", "Update")
    assert "attendedCount" not in create["object"]
    assert update["object"]["attendedCount"] == 23 and update["object"]["id"].endswith(
        f"/events/{event.id}"
    )
    served = client.get(f"/events/{event.id}", headers={"Accept": ACTIVITY_JSON}).get_json()
    assert served["attendedCount"] == 23
    # A number only: no names anywhere in what was published.
    assert organiser.display_name not in json.dumps(update)
    assert "23" in text_of(client.get(f"/manage/events/{event.id}/attendance"))


def test_bad_attendance_numbers_are_a_400_on_the_field_and_publish_nothing(client, organiser):
    event = _past_event()
    before = _entries()
    log_in(client, organiser)
    for value in ("", "-1", "many", "2.5", "1000001"):
        answer = _record(client, event, value)
        assert answer.status_code == 400, value
        assert field_error(text_of(answer), "attended_count"), value
    db.session.refresh(event)
    assert event.attended_count is None and _entries() == before


def test_attendance_waits_until_the_event_has_begun(client, organiser):
    event = factories.event(starts_at=factories.soon(3))
    log_in(client, organiser)

    answer = _record(client, event, "5")

    assert answer.status_code == 409 and field_error(text_of(answer), "attended_count")
    assert "Once the event has begun" in text_of(
        client.get(f"/manage/events/{event.id}/attendance")
    )
    db.session.refresh(event)
    assert event.attended_count is None


def test_members_may_not_record_attendance(client, member):
    event = _past_event()
    log_in(client, member)
    answer = post_form(
        client, f"/manage/events/{event.id}/attended", {"attended_count": "4"}, page="/account"
    )
    assert answer.status_code == 403
    db.session.refresh(event)
    assert event.attended_count is None


def test_a_followed_group_s_attendance_count_is_held_with_its_event(client, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    event = peer.event("canvass", "Canvass", startTime="2030-01-01T10:00:00Z")
    push(client, peer, peer.entry("Create", event))

    updated = {**event, "attendedCount": 31, "updated": "2030-01-02T10:00:00Z"}
    assert push(client, peer, peer.entry("Update", updated)).status_code == 202

    stored = db.session.scalar(select(RemoteObject))
    assert json.loads(stored.data)["attendedCount"] == 31
