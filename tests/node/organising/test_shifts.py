"""Shifts inside an event: places, the waitlist and its promotion, pages and the API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Member, OutboundMail, Shift, ShiftSignup
from node.services.errors import Conflict, Invalid
from node.services.membership import members
from node.services.organising import events, shifts
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error

START = datetime(2031, 5, 10, 9, tzinfo=UTC)


def _event(**fields):
    return factories.event(starts_at=START, ends_at=START + timedelta(hours=8), **fields)


def _full_shift(capacity: int = 1):
    return factories.shift(_event().id, capacity=capacity)


def _state(shift: Shift) -> list[tuple[str, str]]:
    """Who is on the shift as (email, state), going first, then the waitlist in order."""
    db.session.expire_all()
    return [(m.email, s.state) for s, m in shifts.roster(db.session.get(Shift, shift.id))]


def _mail_to(address: str) -> list[OutboundMail]:
    return list(db.session.scalars(select(OutboundMail).where(OutboundMail.to_address == address)))


# Places and the waitlist -------------------------------------------------------------


def test_signing_up_takes_a_place_and_a_full_shift_puts_people_on_its_waitlist(group):
    shift = _full_shift(capacity=1)
    first, second, third = (factories.member() for _ in range(3))
    assert shifts.sign_up(shift, first).state == "going"
    waiting = shifts.sign_up(shift, second)
    assert waiting.state == "waitlisted" and shifts.waitlist_position(waiting) == 1
    assert shifts.waitlist_position(shifts.sign_up(shift, third)) == 2
    assert shift.going_count == 1 and shifts.places_left(shift) == 0


def test_signing_up_again_changes_nothing_and_keeps_the_waitlist_place(group):
    shift = _full_shift(capacity=1)
    first, second = factories.member(), factories.member()
    shifts.sign_up(shift, first)
    shifts.sign_up(shift, second)
    again = shifts.sign_up(shift, second)
    assert again.state == "waitlisted" and shifts.waitlist_position(again) == 1
    assert db.session.scalar(select(func.count()).select_from(ShiftSignup)) == 2


def test_a_cancelled_place_goes_to_the_first_waiting_who_is_emailed(group):
    shift = _full_shift(capacity=1)
    first, second, third = (factories.member() for _ in range(3))
    for person in (first, second, third):
        shifts.sign_up(shift, person)
    shifts.withdraw(shift, first)
    assert _state(shift) == [(second.email, "going"), (third.email, "waitlisted")]
    assert db.session.get(Shift, shift.id).going_count == 1
    [sent] = _mail_to(second.email)
    assert sent.subject.startswith("You have a place:")
    assert f"/events/{shift.event_id}" in sent.body
    assert _mail_to(third.email) == []


def test_leaving_the_waitlist_moves_those_behind_up_and_promotes_no_one(group):
    shift = _full_shift(capacity=1)
    first, second, third = (factories.member() for _ in range(3))
    for person in (first, second, third):
        shifts.sign_up(shift, person)
    shifts.withdraw(shift, second)
    assert _state(shift) == [(first.email, "going"), (third.email, "waitlisted")]
    assert shifts.waitlist_position(shifts.signup_of(shift, third)) == 1
    assert _mail_to(third.email) == []


def test_more_places_promote_the_waitlist_in_order(group):
    shift = _full_shift(capacity=1)
    people = [factories.member() for _ in range(4)]
    for person in people:
        shifts.sign_up(shift, person)
    shifts.update(shift, {"capacity": 3})
    assert [state for _, state in _state(shift)] == ["going", "going", "going", "waitlisted"]
    assert _state(shift)[3][0] == people[3].email
    assert len(_mail_to(people[1].email)) == 1 and len(_mail_to(people[2].email)) == 1


def test_a_capacity_below_those_going_is_refused_and_changes_nothing(group):
    shift = _full_shift(capacity=3)
    for _ in range(2):
        shifts.sign_up(shift, factories.member())
    with pytest.raises(Invalid) as refused:
        shifts.update(shift, {"capacity": 1})
    assert "capacity" in refused.value.fields
    db.session.expire_all()
    assert db.session.get(Shift, shift.id).capacity == 3


def test_a_cancelled_event_or_a_shift_that_is_over_refuses_sign_ups(group):
    shift = _full_shift(capacity=5)
    events.cancel(shifts.event_of(shift))
    with pytest.raises(Conflict, match="cancelled"):
        shifts.sign_up(shift, factories.member())
    past = factories.event(starts_at=datetime.now(UTC) - timedelta(days=1))
    over = factories.shift(past.id)
    with pytest.raises(Conflict, match="over"):
        shifts.sign_up(over, factories.member())
    assert db.session.scalar(select(func.count()).select_from(ShiftSignup)) == 0


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [
        (START - timedelta(hours=1), START + timedelta(hours=1), "starts_at"),  # before
        (START + timedelta(hours=7), START + timedelta(hours=9), "ends_at"),  # after its end
        (START + timedelta(hours=2), START + timedelta(hours=1), "ends_at"),  # backwards
    ],
)
def test_a_shift_must_lie_inside_its_event(group, starts, ends, field):
    event = _event()
    with pytest.raises(Invalid) as refused:
        shifts.create(event, {"starts_at": starts, "ends_at": ends})
    assert field in refused.value.fields
    assert db.session.scalar(select(func.count()).select_from(Shift)) == 0


def test_a_shift_time_without_an_offset_is_read_in_the_events_zone(group):
    event = _event()  # Europe/London: 10:00 in May is 09:00 UTC
    made = shifts.create(
        event, {"starts_at": datetime(2031, 5, 10, 10), "ends_at": datetime(2031, 5, 10, 12)}
    )
    assert made.starts_at == START


def test_people_racing_for_the_last_place_get_it_once_and_the_rest_wait(app, group):
    shift = _full_shift(capacity=1)
    people = [factories.member().id for _ in range(4)]
    start = threading.Barrier(len(people))
    errors: list[BaseException] = []

    def sign_up(member_id: int) -> None:
        with app.app_context():
            try:
                found = db.session.get(Shift, shift.id)
                who = db.session.get(Member, member_id)
                start.wait()
                shifts.sign_up(found, who)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sign_up, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    states = [state for _, state in _state(shift)]
    assert states == ["going", "waitlisted", "waitlisted", "waitlisted"]
    assert db.session.get(Shift, shift.id).going_count == 1


def test_removing_a_member_gives_their_place_to_the_next_waiting(group, admin):
    shift = _full_shift(capacity=1)
    going, waiting = factories.member(), factories.member()
    shifts.sign_up(shift, going)
    shifts.sign_up(shift, waiting)
    members.remove(going, admin)
    assert _state(shift) == [(waiting.email, "going")]
    assert db.session.get(Shift, shift.id).going_count == 1


# Pages -------------------------------------------------------------------------------


def test_a_member_signs_up_on_the_event_page_and_joins_the_waitlist_when_full(client, member):
    shift = _full_shift(capacity=1)
    shifts.sign_up(shift, factories.member())
    log_in(client, member)
    page = f"/events/{shift.event_id}"
    assert "Join the waitlist" in client.get(page).get_data(as_text=True)
    answer = post_form(client, f"/shifts/{shift.id}/signup", page=page, follow_redirects=True)
    html = answer.get_data(as_text=True)
    assert "number 1 on its waitlist" in html
    assert "You are number 1 on the waitlist." in html
    post_form(client, f"/shifts/{shift.id}/signup", {"action": "withdraw"}, page=page)
    assert shifts.signup_of(shift, member) is None


def test_visitors_see_places_but_no_names_and_are_asked_to_log_in(client):
    shift = _full_shift(capacity=2)
    shifts.sign_up(shift, factories.member(display_name="Ada Volunteer"))
    html = client.get(f"/events/{shift.event_id}").get_data(as_text=True)
    assert "1 of 2 places left" in html and "Log in to sign up" in html
    assert "Ada Volunteer" not in html


def test_organisers_add_shifts_and_see_who_is_on_each(client, organiser):
    event = _event()
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/shifts"
    added = post_form(
        client,
        page,
        {
            "label": "Morning",
            "starts_at": "2031-05-10T10:00",
            "ends_at": "2031-05-10T12:00",
            "capacity": "4",
        },
    )
    assert added.status_code == 302
    [made] = shifts.of_event(event)
    assert (made.label, made.capacity, made.starts_at) == ("Morning", 4, START)
    shifts.sign_up(made, factories.member(display_name="Bea Canvasser"))
    assert "Bea Canvasser" in client.get(page).get_data(as_text=True)


def test_the_shift_form_names_the_field_at_fault_and_stores_nothing(client, organiser):
    event = _event()
    log_in(client, organiser)
    page = f"/manage/events/{event.id}/shifts"
    refused = post_form(
        client, page, {"starts_at": "2031-05-10T10:00", "ends_at": "later", "capacity": "0"}
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert field_error(html, "ends_at") and field_error(html, "capacity")
    assert not field_error(html, "starts_at")
    assert db.session.scalar(select(func.count()).select_from(Shift)) == 0


def test_organisers_raise_places_from_the_page_and_the_waitlist_moves_up(client, organiser):
    shift = _full_shift(capacity=1)
    going, waiting = factories.member(), factories.member()
    shifts.sign_up(shift, going)
    shifts.sign_up(shift, waiting)
    log_in(client, organiser)
    page = f"/manage/events/{shift.event_id}/shifts"
    raised = post_form(client, f"/manage/shifts/{shift.id}/capacity", {"capacity": "2"}, page=page)
    assert raised.status_code == 302, raised.get_data(as_text=True)[:2000]
    assert _state(shift) == [(going.email, "going"), (waiting.email, "going")]
    lower = post_form(client, f"/manage/shifts/{shift.id}/capacity", {"capacity": "1"}, page=page)
    assert lower.status_code == 400
    assert db.session.get(Shift, shift.id).capacity == 2


# API ---------------------------------------------------------------------------------


def test_api_sign_up_answers_the_waitlist_position_and_cancel_promotes(api, member, member_token):
    shift = _full_shift(capacity=1)
    other = factories.member()
    other_token = factories.token(other)
    assert api.put(f"/shifts/{shift.id}/signup", other_token).get_json()["state"] == "going"
    mine = api.put(f"/shifts/{shift.id}/signup", member_token).get_json()
    assert (mine["state"], mine["position"]) == ("waitlisted", 1)
    listed = api.get(f"/events/{shift.event_id}/shifts").get_json()["items"]
    assert listed[0]["places_left"] == 0 and listed[0]["going_count"] == 1
    assert api.delete(f"/shifts/{shift.id}/signup", other_token).status_code == 204
    assert shifts.signup_of(db.session.get(Shift, shift.id), member).state == "going"


def test_api_creates_a_shift_and_names_the_field_at_fault(api, organiser_token):
    event = _event()
    made = api.post(
        f"/events/{event.id}/shifts",
        organiser_token,
        json={"starts_at": "2031-05-10T11:00:00Z", "ends_at": "2031-05-10T13:00:00Z"},
    )
    assert made.status_code == 201 and made.headers["Location"].endswith(
        f"/shifts/{made.get_json()['id']}"
    )
    refused = api.post(
        f"/events/{event.id}/shifts",
        organiser_token,
        json={"starts_at": "2031-05-10T08:00:00Z", "ends_at": "2031-05-10T10:00:00Z"},
    )
    assert refused.status_code == 400 and "starts_at" in refused.get_json()["fields"]


def test_a_members_only_events_shifts_are_hidden_from_visitors(api, member_token):
    shift = factories.shift(_event(visibility="members").id)
    assert api.get(f"/shifts/{shift.id}").status_code == 404
    assert api.get(f"/events/{shift.event_id}/shifts").status_code == 404
    assert api.get(f"/shifts/{shift.id}", member_token).status_code == 200
