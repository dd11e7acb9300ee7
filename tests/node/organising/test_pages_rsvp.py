"""Answering an event from its page: going, maybe, not going, withdrawing, a full event."""

from __future__ import annotations

from node.extensions import db
from node.models import Rsvp
from node.services.organising import events
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error, text_of


def _answer(client, event, response):
    path = f"/events/{event.id}/rsvp"
    return post_form(client, path, {"response": response}, page=f"/events/{event.id}")


def _stored(event, member):
    db.session.expire_all()
    found = db.session.scalar(
        db.select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.member_id == member.id)
    )
    return found.response if found else None


def test_member_sees_the_rsvp_form(client, member, group):
    event = factories.event()
    log_in(client, member)
    html = text_of(client.get(f"/events/{event.id}"))
    assert 'name="response"' in html and 'value="not_going"' in html
    assert "Log in to RSVP" not in html


def test_member_answers_going_and_sees_the_answer(client, member, group):
    event = factories.event(capacity=3)
    log_in(client, member)
    response = _answer(client, event, "going")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/events/{event.id}")
    assert _stored(event, member) == "going"
    html = text_of(client.get(f"/events/{event.id}"))
    assert "You answered <strong>Going</strong>" in html
    assert "3 in all; 2 left" in html
    assert "Thanks: you answered" in html


def test_member_changes_answer_and_withdraws(client, member, group):
    event = factories.event(capacity=1)
    log_in(client, member)
    _answer(client, event, "going")
    _answer(client, event, "maybe")
    assert _stored(event, member) == "maybe"
    db.session.refresh(event)
    assert event.going_count == 0
    response = post_form(
        client, f"/events/{event.id}/rsvp", {"action": "withdraw"}, page=f"/events/{event.id}"
    )
    assert response.status_code == 302
    assert _stored(event, member) is None


def test_full_event_refuses_going_with_a_clear_message_and_changes_nothing(client, member, group):
    event = factories.event(capacity=1)
    events.respond(event, factories.member(), "going")
    events.respond(event, member, "maybe")
    log_in(client, member)
    response = _answer(client, event, "going")
    assert response.status_code == 409
    assert "This event is full." in text_of(response)
    assert _stored(event, member) == "maybe"
    db.session.refresh(event)
    assert event.going_count == 1


def test_invalid_answer_is_a_400_with_the_field_marked(client, member, group):
    event = factories.event()
    log_in(client, member)
    response = _answer(client, event, "perhaps")
    assert response.status_code == 400
    assert field_error(text_of(response), "response")
    assert _stored(event, member) is None


def test_rsvp_without_csrf_token_is_refused(client, member, group):
    event = factories.event()
    log_in(client, member)
    response = client.post(f"/events/{event.id}/rsvp", data={"response": "going"})
    assert response.status_code == 400
    assert _stored(event, member) is None


def test_visitor_cannot_rsvp(client, group):
    event = factories.event()
    response = post_form(client, f"/events/{event.id}/rsvp", {"response": "going"}, page="/login")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/events/{event.id}"
    db.session.refresh(event)
    assert event.going_count == 0


def test_cancelled_event_takes_no_answers(client, member, group):
    event = factories.event(status="cancelled")
    log_in(client, member)
    html = text_of(client.get(f"/events/{event.id}"))
    assert "RSVPs are closed" in html and 'name="response"' not in html
    response = _answer(client, event, "going")
    assert response.status_code == 409
    assert _stored(event, member) is None
