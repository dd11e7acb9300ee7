"""Answering events through the API, capacity, and the organisers' list of answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from node.extensions import db
from node.models import Event, Rsvp
from tests import factories
from tests.node.api_support import assert_error, count


def _going(event_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Event, event_id).going_count


def test_member_answers_changes_and_withdraws(api, member, member_token):
    event = factories.event(capacity=5)
    said = api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "going"})
    assert said.status_code == 200
    assert said.get_json()["response"] == "going"
    assert said.get_json()["member_id"] == member.id
    assert _going(event.id) == 1

    again = api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "going"})
    assert again.status_code == 200 and _going(event.id) == 1  # idempotent
    assert count(Rsvp) == 1

    maybe = api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "maybe"})
    assert maybe.get_json()["response"] == "maybe" and _going(event.id) == 0

    api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "going"})
    gone = api.delete(f"/events/{event.id}/rsvp", member_token)
    assert gone.status_code == 204 and _going(event.id) == 0 and count(Rsvp) == 0
    assert api.delete(f"/events/{event.id}/rsvp", member_token).status_code == 204


def test_a_full_event_answers_409_and_nothing_changes(api, member_token):
    event = factories.event(capacity=1)
    first = factories.member()
    api.put(f"/events/{event.id}/rsvp", factories.token(first), json={"response": "going"})
    refused = api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "going"})
    assert_error(refused, 409, "response")
    assert _going(event.id) == 1 and count(Rsvp) == 1
    # Maybe needs no place.
    assert (
        api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "maybe"}).status_code
        == 200
    )


def test_a_cancelled_or_finished_event_cannot_be_answered(api, member_token):
    cancelled = factories.event(status="cancelled")
    over = factories.event(starts_at=datetime.now(UTC) - timedelta(days=1))
    for event in (cancelled, over):
        refused = api.put(f"/events/{event.id}/rsvp", member_token, json={"response": "going"})
        assert_error(refused, 409)
    assert count(Rsvp) == 0


def test_answering_needs_the_rsvp_scope(api, member):
    event = factories.event()
    reader = factories.token(member, "read")
    refused = api.put(f"/events/{event.id}/rsvp", reader, json={"response": "going"})
    assert_error(refused, 403)
    assert "insufficient_scope" in refused.headers["WWW-Authenticate"]
    assert_error(api.put(f"/events/{event.id}/rsvp", json={"response": "going"}), 401)
    assert count(Rsvp) == 0


def test_members_only_events_can_be_answered_by_members(api, member):
    event = factories.event(visibility="members")
    rsvp_only = factories.token(member, "rsvp")
    said = api.put(f"/events/{event.id}/rsvp", rsvp_only, json={"response": "going"})
    assert said.status_code == 200


def test_answering_a_missing_event_is_404(api, member_token):
    assert_error(api.put("/events/999/rsvp", member_token, json={"response": "going"}), 404)
    assert_error(api.delete("/events/999/rsvp", member_token), 404)


def test_organisers_list_who_answered_with_the_members_scope(api, organiser, member):
    event = factories.event()
    other = factories.member(display_name="Sam")
    api.put(f"/events/{event.id}/rsvp", factories.token(member), json={"response": "going"})
    api.put(f"/events/{event.id}/rsvp", factories.token(other), json={"response": "maybe"})

    manager = factories.token(organiser, "members")
    listed = api.get(f"/events/{event.id}/rsvps", manager)
    assert listed.status_code == 200
    page = listed.get_json()
    assert page["total"] == 2
    assert {(i["member"]["display_name"], i["response"]) for i in page["items"]} == {
        (member.display_name, "going"),
        ("Sam", "maybe"),
    }
    going = api.get(f"/events/{event.id}/rsvps?response=going", manager).get_json()
    assert [i["member_id"] for i in going["items"]] == [member.id]
    assert_error(api.get(f"/events/{event.id}/rsvps?response=yes", manager), 400, "response")

    writer_only = factories.token(organiser, "write", "read")
    assert_error(api.get(f"/events/{event.id}/rsvps", writer_only), 403)
    assert_error(api.get(f"/events/{event.id}/rsvps", factories.token(member)), 403)
