"""Guests on shifts: a confirmed guest takes a shift by their e-mailed link, and gives it up."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Event, GuestRsvp, OutboundMail, Shift, ShiftSignup
from node.services.errors import Conflict
from node.services.organising import guests, shifts
from tests import factories
from tests.conftest import log_in, post_form

START = datetime(2031, 5, 10, 9, tzinfo=UTC)
LINK = re.compile(r"/rsvp/(glt_[A-Za-z0-9_-]+)")


def _shift(capacity: int | None = 1) -> Shift:
    event = factories.event(starts_at=START, ends_at=START + timedelta(hours=8))
    return factories.shift(event.id, capacity=capacity, label="Leafleting")


def _mail_to(address: str) -> list[OutboundMail]:
    return list(
        db.session.scalars(
            select(OutboundMail).where(OutboundMail.to_address == address).order_by(OutboundMail.id)
        )
    )


def _confirmed_guest(event_id: int, email: str) -> tuple[GuestRsvp, str]:
    event = db.session.get(Event, event_id)
    guests.ask(event, "Gwen Guest", email)
    token = LINK.findall(_mail_to(email)[-1].body)[-1]
    guest = guests.confirm(guests.by_token(token))
    return guest, token


def test_a_confirmed_guest_takes_a_shift_and_a_full_one_puts_them_on_its_waitlist(group):
    shift = _shift(capacity=1)
    guest, _ = _confirmed_guest(shift.event_id, "gwen@example.net")
    other, _ = _confirmed_guest(shift.event_id, "olly@example.net")
    assert shifts.sign_up_guest(shift, guest).state == "going"
    waiting = shifts.sign_up_guest(shift, other)
    assert waiting.state == "waitlisted" and shifts.waitlist_position(waiting) == 1
    assert shifts.sign_up_guest(shift, guest).state == "going"  # again: changes nothing
    assert [(s.state, p.email) for s, p in shifts.roster(shift)] == [
        ("going", "gwen@example.net"),
        ("waitlisted", "olly@example.net"),
    ]


def test_a_guest_must_confirm_their_place_before_taking_a_shift(group):
    shift = _shift()
    event = db.session.get(Event, shift.event_id)
    guests.ask(event, "Gwen", "gwen@example.net")
    pending = db.session.scalars(select(GuestRsvp)).one()
    with pytest.raises(Conflict, match="Confirm your place"):
        shifts.sign_up_guest(shift, pending)


def test_a_guest_giving_up_a_shift_promotes_the_next_who_is_emailed(group):
    shift = _shift(capacity=1)
    guest, _ = _confirmed_guest(shift.event_id, "gwen@example.net")
    member = factories.member()
    shifts.sign_up_guest(shift, guest)
    shifts.sign_up(shift, member)
    shifts.withdraw_guest(shift, guest)
    assert [(s.state, p.email) for s, p in shifts.roster(shift)] == [("going", member.email)]
    assert _mail_to(member.email)[-1].subject.startswith("You have a place:")


def test_a_waitlisted_guest_promoted_on_a_shift_is_emailed_as_a_guest(group):
    shift = _shift(capacity=1)
    member = factories.member()
    guest, _ = _confirmed_guest(shift.event_id, "gwen@example.net")
    shifts.sign_up(shift, member)
    shifts.sign_up_guest(shift, guest)
    shifts.withdraw(shift, member)
    mail = _mail_to("gwen@example.net")[-1]
    assert mail.subject == "You have a place: Leafleting at " + shift_title(shift)
    assert mail.kind == "guest"


def shift_title(shift: Shift) -> str:
    return db.session.get(Event, shift.event_id).title


def test_cancelling_the_rsvp_gives_up_the_guests_shifts(group):
    shift = _shift(capacity=1)
    guest, token = _confirmed_guest(shift.event_id, "gwen@example.net")
    shifts.sign_up_guest(shift, guest)
    guests.cancel(guests.by_token(token))
    assert db.session.scalars(select(ShiftSignup)).all() == []
    assert db.session.get(Shift, shift.id).going_count == 0


def test_forgetting_guests_keeps_the_shift_count_but_nothing_personal(app, group):
    event = factories.event(starts_at=datetime(2020, 1, 1, 9, tzinfo=UTC))
    shift = factories.shift(event.id, going_count=1)
    guest = GuestRsvp(event_id=event.id, name="Gwen", email="gwen@example.net", state="going")
    db.session.add(guest)
    db.session.commit()
    db.session.add(ShiftSignup(shift_id=shift.id, guest_id=guest.id, state="going"))
    db.session.commit()
    guests.forget_past()
    [(signup, kept)] = shifts.roster(shift)
    assert signup.state == "going" and kept.email is None and kept.name == ""


def test_a_guest_takes_and_gives_up_a_shift_from_the_link_page(client):
    shift = _shift(capacity=2)
    _, token = _confirmed_guest(shift.event_id, "gwen@example.net")
    page = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "Leafleting" in page and "Take this shift" in page
    taken = post_form(
        client, f"/rsvp/{token}/shifts/{shift.id}", {"action": "take"}, page=f"/rsvp/{token}"
    )
    assert taken.status_code == 302
    after = client.get(f"/rsvp/{token}").get_data(as_text=True)
    assert "You are on this shift." in after
    post_form(
        client, f"/rsvp/{token}/shifts/{shift.id}", {"action": "leave"}, page=f"/rsvp/{token}"
    )
    assert db.session.scalars(select(ShiftSignup)).all() == []


def test_a_shift_of_another_event_is_refused_on_the_link_page(client):
    shift = _shift()
    other = _shift()
    _, token = _confirmed_guest(shift.event_id, "gwen@example.net")
    refused = post_form(
        client, f"/rsvp/{token}/shifts/{other.id}", {"action": "take"}, page=f"/rsvp/{token}"
    )
    assert refused.status_code == 404
    bad = post_form(
        client, f"/rsvp/{token}/shifts/{shift.id}", {"action": "grab"}, page=f"/rsvp/{token}"
    )
    assert bad.status_code == 400
    assert db.session.scalars(select(ShiftSignup)).all() == []


def test_the_organisers_shift_page_names_guests(client, organiser):
    shift = _shift()
    guest, _ = _confirmed_guest(shift.event_id, "gwen@example.net")
    shifts.sign_up_guest(shift, guest)
    log_in(client, organiser)
    page = client.get(f"/manage/events/{shift.event_id}/shifts").get_data(as_text=True)
    assert "Gwen Guest" in page and "(guest)" in page
