"""Moving an event moves its shifts, says beforehand whom it e-mails, and tells volunteers
their new shift times; removing a shift or deleting an event asks first and tells people."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Event, OutboundMail, Rsvp, Shift, ShiftSignup
from node.services.errors import Invalid
from node.services.organising import event_notices, events, shifts
from tests import factories
from tests.conftest import log_in, post_form

LONDON = ZoneInfo("Europe/London")


def _mails() -> list[OutboundMail]:
    return list(db.session.scalars(select(OutboundMail).order_by(OutboundMail.to_address)))


@pytest.fixture
def canvass(group):
    """An eight-hour canvass with a morning shift (one volunteer) and one person going."""
    start = factories.soon(10).replace(minute=0, second=0)
    event = factories.event(title="Canvass", starts_at=start, ends_at=start + timedelta(hours=8))
    shift = factories.shift(
        event.id,
        label="Morning",
        starts_at=start + timedelta(hours=1),
        ends_at=start + timedelta(hours=3),
    )
    volunteer = factories.member(email="volunteer@example.org", display_name="Vera Volunteer")
    db.session.add(ShiftSignup(shift_id=shift.id, member_id=volunteer.id, state="going"))
    going = factories.member(email="going@example.org")
    db.session.add(Rsvp(event_id=event.id, member_id=going.id, response="going"))
    db.session.commit()
    return event


def _shift(event: Event) -> Shift:
    return db.session.scalar(select(Shift).where(Shift.event_id == event.id))


def test_moving_the_start_moves_shifts_by_the_same_offset(canvass):
    later = timedelta(days=1, hours=2)
    before = _shift(canvass).starts_at
    events.update(
        canvass,
        {"starts_at": canvass.starts_at + later, "ends_at": canvass.ends_at + later},
    )
    assert _shift(canvass).starts_at == before + later
    assert _shift(canvass).ends_at - _shift(canvass).starts_at == timedelta(hours=2)


def test_volunteers_are_told_their_new_shift_time_and_others_the_new_event_time(canvass):
    later = timedelta(hours=2)
    events.update(
        canvass, {"starts_at": canvass.starts_at + later, "ends_at": canvass.ends_at + later}
    )
    mails = {m.to_address: m for m in _mails()}
    assert set(mails) == {"going@example.org", "volunteer@example.org"}
    new_shift = (_shift(canvass).starts_at).astimezone(LONDON)
    volunteer = mails["volunteer@example.org"].body
    assert "Your new shift times" in volunteer
    assert f"Morning: {new_shift:%a %d %b %Y, %H:%M}" in volunteer
    assert "Your new shift times" not in mails["going@example.org"].body


def test_an_end_that_leaves_a_shift_outside_is_refused_with_a_choice(canvass):
    too_early = canvass.starts_at + timedelta(hours=2)
    with pytest.raises(Invalid) as refused:
        events.update(canvass, {"ends_at": too_early})
    message = refused.value.fields["ends_at"][0]
    assert "1 shift would fall outside the event: Morning" in message
    assert "or change or remove that shift" in message
    db.session.rollback()
    assert db.session.get(Event, canvass.id).ends_at == canvass.ends_at
    assert _mails() == []


def test_the_audience_counts_people_going_and_people_on_shifts(canvass):
    told = event_notices.audience(canvass)
    assert (told.going, told.on_shifts) == (1, 1)
    assert event_notices.describe(told) == "1 person going and 1 on shifts"


def _form(event: Event, **changes) -> dict[str, str]:
    local = {
        "starts_at": event.starts_at.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": event.ends_at.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M"),
    }
    return {
        "title": event.title,
        "kind": event.kind,
        "timezone": "Europe/London",
        "visibility": "public",
        **local,
        **changes,
    }


def test_the_edit_form_says_whom_a_move_emails_and_saves_on_the_second_press(
    client, organiser, canvass
):
    log_in(client, organiser)
    page = f"/manage/events/{canvass.id}/edit"
    assert "e-mails 1 person going and 1 on shifts" in client.get(page).get_data(as_text=True)
    new_start = (canvass.starts_at + timedelta(hours=1)).astimezone(LONDON)
    moved = _form(canvass, starts_at=f"{new_start:%Y-%m-%dT%H:%M}")
    asked = post_form(client, page, moved, page=page)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Saving will e-mail 1 person going and 1 on shifts" in html
    assert "1 shift moves with the event" in html
    assert f'value="{new_start:%Y-%m-%dT%H:%M}"' in html  # what was typed is kept
    assert db.session.get(Event, canvass.id).starts_at == canvass.starts_at
    assert _mails() == []

    saved = post_form(client, page, {**moved, "confirm_notice": "yes"}, page=page)
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, canvass.id).starts_at == new_start
    assert len(_mails()) == 2


def test_the_edit_form_refuses_an_end_before_a_shift_inside_the_form(client, organiser, canvass):
    log_in(client, organiser)
    page = f"/manage/events/{canvass.id}/edit"
    short = (canvass.starts_at + timedelta(hours=2)).astimezone(LONDON)
    refused = post_form(client, page, _form(canvass, ends_at=f"{short:%Y-%m-%dT%H:%M}"), page=page)
    assert refused.status_code == 400
    assert "would fall outside the event" in refused.get_data(as_text=True)


def test_removing_a_shift_asks_first_naming_who_is_told_then_tells_them(client, organiser, canvass):
    log_in(client, organiser)
    shift = _shift(canvass)
    page = f"/manage/shifts/{shift.id}/delete"
    asked = client.get(page).get_data(as_text=True)
    assert "Vera Volunteer is signed up" in asked and "will be e-mailed" in asked
    assert db.session.get(Shift, shift.id) is not None  # the GET changed nothing

    done = post_form(client, page, {}, page=page)
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Shift, shift.id) is None
    (mail,) = _mails()
    assert mail.to_address == "volunteer@example.org"
    assert mail.subject == "Shift removed: Morning at Canvass"


def test_the_shifts_page_links_to_the_question_instead_of_removing_at_once(
    client, organiser, canvass
):
    log_in(client, organiser)
    html = client.get(f"/manage/events/{canvass.id}/shifts").get_data(as_text=True)
    assert f'href="/manage/shifts/{_shift(canvass).id}/delete"' in html


def test_deleting_an_event_with_answers_says_how_many_are_told_and_tells_them(
    client, organiser, canvass
):
    log_in(client, organiser)
    page = f"/manage/events/{canvass.id}/delete"
    asked = client.get(page).get_data(as_text=True)
    assert "1 person going and 1 on shifts will be e-mailed that it is cancelled" in asked
    post_form(client, page, {}, page=page)
    assert sorted((m.to_address, m.subject) for m in _mails()) == [
        ("going@example.org", "Cancelled: Canvass"),
        ("volunteer@example.org", "Cancelled: Canvass"),
    ]
    assert db.session.get(Event, canvass.id) is None


def test_shift_service_delete_returns_how_many_were_told(canvass):
    assert shifts.delete(_shift(canvass)) == 1
