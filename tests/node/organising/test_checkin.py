"""Check-in at the door: the phone page, walk-ins, the count and its publication."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from node.extensions import db
from node.models import Event, FeedEntry, GuestRsvp, Rsvp, utcnow
from node.services.errors import Conflict, NotFound
from node.services.organising import checkin, events, guests
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error


def _today(**fields) -> Event:
    """An event that began an hour ago: check-in is open and attendance can be published."""
    now = utcnow()
    return factories.event(
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=2), **fields
    )


def _rsvp(event: Event, who, response: str = "going") -> Rsvp:
    db.session.add(Rsvp(event_id=event.id, member_id=who.id, response=response))
    db.session.commit()
    return db.session.scalars(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.member_id == who.id)
    ).one()


def _confirmed_guest(event: Event, name: str = "Sam Visitor") -> GuestRsvp:
    guest = GuestRsvp(event_id=event.id, name=name, email=f"{name.split()[0].lower()}@example.org")
    db.session.add(guest)
    db.session.commit()
    guest.state = "pending"
    db.session.commit()
    return guests.confirm(guest)


def test_the_list_holds_members_going_or_maybe_and_confirmed_guests(group):
    event = factories.event(starts_at=utcnow() + timedelta(hours=2))
    ann, bob, cat = (factories.member(display_name=n) for n in ("Ann", "bob", "Cat"))
    _rsvp(event, ann)
    _rsvp(event, bob, "maybe")
    _rsvp(event, cat, "not_going")
    _confirmed_guest(event, "Zed Guest")
    names = [a.name for a in checkin.attendees(event)]
    assert names == ["Ann", "bob", "Zed Guest"]  # by name, whatever the case
    assert [a.name for a in checkin.attendees(event, "ZE")] == ["Zed Guest"]


def test_an_organiser_checks_people_in_and_out_and_the_count_follows(client, organiser):
    event = _today()
    ann = factories.member(display_name="Ann")
    rsvp = _rsvp(event, ann)
    guest = _confirmed_guest(event)
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/checkin"
    shown = client.get(page).get_data(as_text=True)
    assert "Ann" in shown and "Sam Visitor" in shown and "<strong>0</strong> here" in shown
    marked = post_form(client, f"{page}/member/{rsvp.id}", {"present": "1", "q": "an"})
    assert marked.status_code == 302
    assert marked.headers["Location"].endswith(f"{page}?q=an#member-{rsvp.id}")
    post_form(client, f"{page}/guest/{guest.id}", {"present": "1"})
    assert checkin.here_count(event) == 2
    assert "<strong>2</strong> here" in client.get(page).get_data(as_text=True)
    post_form(client, f"{page}/member/{rsvp.id}", {"present": "0"})
    db.session.expire_all()
    assert db.session.get(Rsvp, rsvp.id).checked_in_at is None
    assert checkin.here_count(event) == 1


def test_walk_ins_are_checked_in_at_once_and_take_no_place(client, organiser):
    event = _today(capacity=1)
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/checkin"
    added = post_form(client, f"/manage/events/{event.id}/walk-in", {"name": "Pat"}, page=page)
    assert added.status_code == 302
    post_form(client, f"/manage/events/{event.id}/walk-in", {"name": "Lee", "email": ""}, page=page)
    assert checkin.here_count(event) == 2
    db.session.expire_all()
    assert db.session.get(Event, event.id).going_count == 0
    assert guests.counts(event)["walk_in"] == 2
    refused = post_form(
        client, f"/manage/events/{event.id}/walk-in", {"name": "", "email": "bad"}, page=page
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert field_error(html, "name") and field_error(html, "email")
    assert guests.counts(event)["walk_in"] == 2


def test_a_walk_in_with_an_address_that_asked_checks_that_rsvp_in(group):
    event = _today()
    guests.ask(factories.event(), "Other", "sam@example.org")  # another event's ask: untouched
    db.session.add(GuestRsvp(event_id=event.id, name="Sam", email="sam@example.org"))
    db.session.commit()
    found = checkin.walk_in(event, "Sam V", "SAM@example.org")
    assert found.state == "going" and found.walk_in and found.checked_in_at is not None
    assert found.name == "Sam"
    assert db.session.scalar(select(db.func.count()).select_from(GuestRsvp)) == 2


def test_publishing_records_the_count_as_a_number_on_the_feed(client, organiser):
    event = _today()
    ann = factories.member(display_name="Ann Secret")
    checkin.check_in(event, "member", _rsvp(event, ann).id)
    checkin.walk_in(event, "Pat Private", "pat@example.org")
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/checkin"
    published = post_form(client, f"{page}/publish", page=page)
    assert published.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).attended_count == 2
    entry = db.session.scalars(select(FeedEntry).order_by(FeedEntry.id.desc())).first()
    body = entry.body
    assert json.loads(body)["object"]["attendedCount"] == 2
    for secret in ("Ann Secret", "Pat Private", "pat@example.org"):
        assert secret not in body


def test_check_in_waits_for_the_day_and_refuses_cancelled_events(group, member):
    later = factories.event(starts_at=utcnow() + timedelta(days=3))
    rsvp = _rsvp(later, member)
    try:
        checkin.check_in(later, "member", rsvp.id)
    except Conflict as exc:
        assert "12 hours" in exc.message
    else:
        raise AssertionError("checked in three days early")
    cancelled = _today(status="cancelled")
    for attempt in (
        lambda: checkin.check_in(cancelled, "member", 1),
        lambda: checkin.walk_in(cancelled, "Pat", None),
    ):
        try:
            attempt()
        except Conflict:
            pass
        else:
            raise AssertionError("checked in at a cancelled event")
    assert checkin.here_count(cancelled) == 0


def test_someone_from_another_event_or_not_coming_cannot_be_checked_in(group, member):
    event, other = _today(), _today()
    elsewhere = _rsvp(other, member)
    declined = _rsvp(event, factories.member(), "not_going")
    for kind, attendee_id in (("member", elsewhere.id), ("member", declined.id), ("guest", 999)):
        try:
            checkin.check_in(event, kind, attendee_id)
        except NotFound:
            pass
        else:
            raise AssertionError(f"checked in {kind} {attendee_id}")
    assert checkin.here_count(event) == 0 and checkin.here_count(other) == 0


def test_the_door_is_for_organisers_only(client, member):
    event = _today()
    rsvp = _rsvp(event, member)
    assert client.get(f"/manage/events/{event.id}/checkin").status_code in (302, 401)
    log_in(client, member)
    assert client.get(f"/manage/events/{event.id}/checkin").status_code == 403
    refused = post_form(
        client, f"/manage/events/{event.id}/checkin/member/{rsvp.id}", page=f"/events/{event.id}"
    )
    assert refused.status_code == 403
    assert checkin.here_count(event) == 0


def test_the_attendance_page_lists_guests_and_check_ins(client, organiser):
    event = _today()
    guest = _confirmed_guest(event, "Sam Visitor")
    checkin.check_in(event, "guest", guest.id)
    db.session.add(GuestRsvp(event_id=event.id, name="Pending Person", email="p@example.org"))
    db.session.commit()
    log_in(client, organiser)
    html = client.get(f"/manage/events/{event.id}/attendance").get_data(as_text=True)
    assert "Sam Visitor" in html and "sam@example.org" in html
    assert "Pending Person" not in html and "<strong>1</strong> asked but not confirmed" in html
    assert f"/manage/events/{event.id}/checkin" in html
    assert events.attendance(event)["going"] == 0  # members' answers only
