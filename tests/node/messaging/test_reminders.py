"""Reminders the day before an event or shift, and the "Still coming?" links they carry, over
real SMTP (aiosmtpd) with explicit clocks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Event, GuestRsvp, OutboundMail, Rsvp, ShiftSignup
from node.services.messaging import digest, preferences, reminders, still_coming
from node.services.organising import events
from node.worker import Worker
from tests import factories
from tests.conftest import post_form
from tests.node.mail_support import delivered, plain, smtp_settings

# Far enough ahead that the event is still to come when the test answers the link.
NOW = datetime(2031, 5, 20, 18, 0, tzinfo=UTC)
TOMORROW = NOW + timedelta(hours=16)


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _going(event, member):
    return events.respond(event, member, "going")


def _guest(event, email, state="going"):
    guest = GuestRsvp(event_id=event.id, name="Gil", email=email, state=state)
    db.session.add(guest)
    if state == "going":
        assert events.take_places(event.id, 1)
    db.session.commit()
    return guest


def _links(message) -> tuple[str, str]:
    found = re.findall(r"http://localhost(/still-coming/[^\s)>\]]+)", plain(message))
    return found[0], found[1]


def test_an_event_reminder_goes_once_to_members_going_and_confirmed_guests(app, group, mailbox):
    event = factories.event(title="Door knock", starts_at=TOMORROW, capacity=10)
    going = factories.member(display_name="Gwen Going")
    maybe = factories.member()
    turned_off = factories.member()
    preferences.set_choice(turned_off, "reminder", "off")
    _going(event, going), _going(event, turned_off)
    events.respond(event, maybe, "maybe")
    _guest(event, "guest@example.net")
    _guest(event, "pending@example.net", state="pending")
    later = factories.event(starts_at=NOW + timedelta(days=3))
    _going(later, maybe)

    assert reminders.send_due(NOW - timedelta(hours=9)) == 0  # more than a day ahead
    assert reminders.send_due(NOW) == 2
    assert reminders.send_due(NOW + timedelta(hours=1)) == 0

    received = delivered(mailbox)
    assert sorted(received) == sorted([going.email, "guest@example.net"])
    member_text = plain(received[going.email][0])
    assert "Door knock" in member_text and "Still coming?" in member_text
    assert "Gwen Going" in member_text
    guest_text = plain(received["guest@example.net"][0])
    assert "Still coming?" in guest_text and "Stop all mail from this group" in guest_text
    kinds = dict(db.session.execute(select(OutboundMail.to_address, OutboundMail.kind)).all())
    assert kinds == {going.email: "reminder", "guest@example.net": "guest"}


def test_still_coming_no_frees_the_place_and_yes_takes_it_back(app, client, mailbox):
    event = factories.event(title="Phone bank", starts_at=TOMORROW, capacity=1)
    member = factories.member()
    _going(event, member)
    reminders.send_due(NOW)
    yes, no = _links(delivered(mailbox)[member.email][0])

    page = client.get(no)
    assert page.status_code == 200
    assert b"Phone bank" in page.data and b"I can't come after all" in page.data
    db.session.expire_all()
    assert events.rsvp_of(event, member).response == "going"  # a GET changes nothing

    assert post_form(client, no).status_code == 200
    db.session.expire_all()
    assert events.rsvp_of(event, member).response == "not_going"
    assert db.session.get(Event, event.id).going_count == 0  # the place is free

    assert client.get(yes).status_code == 200
    assert post_form(client, yes).status_code == 200
    db.session.expire_all()
    assert events.rsvp_of(event, member).response == "going"
    assert db.session.get(Event, event.id).going_count == 1


def test_still_coming_yes_when_the_place_went_to_someone_else_says_it_is_full(app, client):
    event = factories.event(starts_at=TOMORROW, capacity=1)
    member = factories.member()
    events.respond(event, member, "not_going")
    _going(event, factories.member())
    link = f"/still-coming/{still_coming.token(still_coming.MEMBER, member.id, event.id, 'yes')}"

    answer = post_form(client, link)
    assert answer.status_code == 409 and b"full" in answer.data
    db.session.expire_all()
    assert events.rsvp_of(event, member).response == "not_going"


def test_a_forged_or_altered_still_coming_link_is_refused(app, client, member):
    event = factories.event(starts_at=TOMORROW)
    good = still_coming.token(still_coming.MEMBER, member.id, event.id, "no")
    assert client.get(f"/still-coming/{good[:-2]}xx").status_code == 404
    assert client.get("/still-coming/not-a-token").status_code == 404
    forged = post_form(client, f"/still-coming/{good}x", page=f"/still-coming/{good}")
    assert forged.status_code == 404
    assert events.rsvp_of(event, member) is None


def test_a_guest_answers_still_coming_through_the_guest_rsvp(app, client, mailbox):
    event = factories.event(starts_at=TOMORROW, capacity=5)
    guest = _guest(event, "guest@example.net")
    reminders.send_due(NOW)
    yes, no = _links(delivered(mailbox)["guest@example.net"][0])

    client.get(no)
    assert db.session.get(GuestRsvp, guest.id).state == "going"
    post_form(client, no)
    db.session.expire_all()
    assert db.session.get(GuestRsvp, guest.id).state == "cancelled"
    assert db.session.get(Event, event.id).going_count == 0
    post_form(client, yes)
    db.session.expire_all()
    assert db.session.get(GuestRsvp, guest.id).state == "going"
    assert db.session.get(Event, event.id).going_count == 1


def test_a_guest_who_stopped_all_mail_gets_no_reminder(app, group, mailbox):
    event = factories.event(starts_at=TOMORROW)
    _guest(event, "quiet@example.net")
    _guest(event, "loud@example.net")
    preferences.stop_all("quiet@example.net")
    db.session.commit()

    assert reminders.send_due(NOW) == 1
    assert list(delivered(mailbox)) == ["loud@example.net"]


def test_a_shift_reminder_names_the_shift_and_its_time(app, group, mailbox):
    event = factories.event(title="Polling day", starts_at=NOW + timedelta(days=2))
    shift = factories.shift(
        event.id,
        label="Morning knock-up",
        starts_at=TOMORROW,
        ends_at=TOMORROW + timedelta(hours=3),
    )
    on_it = factories.member()
    waiting = factories.member()
    db.session.add(ShiftSignup(shift_id=shift.id, member_id=on_it.id, state="going"))
    db.session.add(ShiftSignup(shift_id=shift.id, member_id=waiting.id, state="waitlisted"))
    db.session.commit()

    assert reminders.send_due(NOW) == 1
    assert reminders.send_due(NOW) == 0
    received = delivered(mailbox)
    assert list(received) == [on_it.email]
    message = received[on_it.email][0]
    assert message["Subject"] == "Reminder: Morning knock-up at Polling day"
    # 10:00 UTC is 11:00 in London in May; it ends at 14:00 there.
    assert "Morning knock-up" in plain(message) and "11:00" in plain(message)
    assert "to 14:00" in plain(message)


def test_no_reminder_for_an_event_already_started_or_cancelled(app, group, mailbox):
    member = factories.member()
    started = factories.event(starts_at=NOW - timedelta(minutes=5))
    cancelled = factories.event(starts_at=TOMORROW, status="cancelled")
    db.session.add_all(
        [
            Rsvp(event_id=started.id, member_id=member.id, response="going"),
            Rsvp(event_id=cancelled.id, member_id=member.id, response="going"),
        ]
    )
    db.session.commit()
    assert reminders.send_due(NOW) == 0


def test_the_worker_queues_and_sends_reminders_in_one_pass(app, group, mailbox):
    event = factories.event(starts_at=factories.soon(0.5))  # twelve hours from now
    member = factories.member()
    _going(event, member)
    worker = Worker(app)

    report = worker.run_once()
    assert (report.noticed, report.mailed) == (1, 1)
    assert worker.run_once().noticed == 0
    assert [to for _, to, _ in mailbox.received] == [[member.email]]


def test_a_failing_notice_step_does_not_stop_the_others(app, group, mailbox, monkeypatch):
    event = factories.event(starts_at=TOMORROW)
    _going(event, factories.member())

    def broken(now=None):
        raise RuntimeError("digest broke")

    monkeypatch.setattr(digest, "send_due", broken)
    worker = Worker(app)
    assert worker._queue_notices(NOW) == 1
    assert "queueing the weekly digest failed" in worker.failing


def test_an_event_moved_after_its_reminder_is_reminded_again(app, group, mailbox):
    event = factories.event(starts_at=TOMORROW)
    _going(event, factories.member())
    assert reminders.send_due(NOW) == 1
    event.starts_at = TOMORROW + timedelta(days=7)
    db.session.commit()
    assert reminders.send_due(NOW + timedelta(days=7)) == 1
    assert reminders.send_due(NOW + timedelta(days=7)) == 0
