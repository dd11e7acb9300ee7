"""The waiting list on the event page, the guest's link page and the organisers' attendance."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from node.extensions import db
from node.models import Event, GuestRsvp, Member, OutboundMail
from node.services.organising import events, guests, waitlist
from tests import factories
from tests.conftest import log_in, post_form

START = datetime(2031, 5, 10, 18, tzinfo=UTC)
LINK = re.compile(r"/rsvp/(glt_[A-Za-z0-9_-]+)")


def _full_event() -> Event:
    event = factories.event(starts_at=START, ends_at=START + timedelta(hours=2), capacity=1)
    events.respond(event, factories.member(email="first@example.org"), "going")
    return event


def _token(address: str) -> str:
    mail = db.session.scalars(
        select(OutboundMail).where(OutboundMail.to_address == address).order_by(OutboundMail.id)
    ).all()
    return LINK.findall(mail[-1].body)[-1]


def test_a_member_joins_from_the_full_event_page_and_sees_their_place(client, member):
    event = _full_event()
    waitlist.join(event, factories.member())
    log_in(client, member)
    page = f"/events/{event.id}"
    shown = client.get(page).get_data(as_text=True)
    assert "Full — join the waiting list" in shown and "1 waiting so far" in shown
    joined = post_form(client, f"{page}/waitlist", {"action": "join"}, page=page)
    assert joined.status_code == 302
    after = client.get(page).get_data(as_text=True)
    assert "number 2</strong> on the waiting list" in after
    post_form(client, f"{page}/waitlist", {"action": "leave"}, page=page)
    assert waitlist.position(event, member=member) is None


def test_joining_an_event_with_room_is_refused_on_the_page(client, member):
    event = factories.event(starts_at=START, capacity=5)
    log_in(client, member)
    page = f"/events/{event.id}"
    refused = post_form(client, f"{page}/waitlist", {"action": "join"}, page=page)
    assert refused.status_code == 409
    assert "There are places left" in refused.get_data(as_text=True)
    odd = post_form(client, f"{page}/waitlist", {"action": "shout"}, page=page)
    assert odd.status_code == 400


def test_a_visitor_joining_is_sent_to_log_in(client):
    event = _full_event()
    answer = client.post(f"/events/{event.id}/waitlist", data={"action": "join"})
    assert answer.status_code in (302, 400)  # no CSRF token: refused before anything
    assert waitlist.length(event) == 0


def test_a_guest_joins_from_their_link_and_sees_their_place(client):
    event = _full_event()
    page = f"/events/{event.id}"
    shown = client.get(page).get_data(as_text=True)
    assert "Full — join the waiting list" in shown and "E-mail me the link" in shown
    post_form(
        client, f"{page}/guest-rsvp", {"name": "Gwen", "email": "gwen@example.net"}, page=page
    )
    token = _token("gwen@example.net")
    link_page = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "Join the waiting list" in link_page and "Confirm my place" not in link_page
    post_form(client, f"/rsvp/{token}", {"action": "waitlist"})
    after = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "number 1 on the waiting list" in after and "Leave the waiting list" in after


def test_the_attendance_page_lists_the_waiting_list(client, organiser):
    event = _full_event()
    waitlist.join(event, factories.member(display_name="Wanda Waiting"))
    guests.ask(event, "Gwen Guest", "gwen@example.net")
    waitlist.join_guest(db.session.scalars(select(GuestRsvp)).one())
    log_in(client, organiser)
    page = client.get(f"/manage/events/{event.id}/attendance").get_data(as_text=True)
    assert "Waiting list" in page
    assert page.index("Wanda Waiting") < page.index("gwen@example.net")


def test_a_member_joins_reads_and_leaves_the_waiting_list_over_the_api(api, member, member_token):
    event = _full_event()
    path = f"/events/{event.id}/waitlist"
    assert api.get(path, member_token).get_json() == {
        "event_id": event.id,
        "full": True,
        "waiting": 0,
        "position": None,
    }
    joined = api.put(path, member_token)
    assert joined.status_code == 200 and joined.get_json()["position"] == 1
    assert api.get(path, member_token).get_json()["waiting"] == 1
    events.withdraw(
        db.session.get(Event, event.id),
        db.session.scalar(select(Member).where(Member.email == "first@example.org")),
    )
    promoted = api.get(f"/events/{event.id}/waitlist", member_token).get_json()
    assert promoted["position"] is None and promoted["full"] is True
    assert api.delete(path, member_token).status_code == 204


def test_joining_the_waiting_list_of_an_event_with_room_is_a_409_over_the_api(api, member_token):
    event = factories.event(starts_at=START, capacity=3)
    refused = api.put(f"/events/{event.id}/waitlist", member_token)
    assert refused.status_code == 409 and "places left" in refused.get_json()["error"]
