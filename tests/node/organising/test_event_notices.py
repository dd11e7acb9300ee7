"""Postponement, cancellation, reinstatement and new times are e-mailed to everyone who answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Event, GuestRsvp, Member, OutboundMail, Rsvp, ShiftSignup
from node.services.errors import Invalid
from node.services.messaging import preferences
from node.services.organising import events, guests
from node.worker import Worker
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import smtp_settings


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _answer(event: Event, response: str, **fields):
    who = factories.member(**fields)
    db.session.add(Rsvp(event_id=event.id, member_id=who.id, response=response))
    db.session.commit()
    return who


def _guest(event: Event, email: str, state: str = "going", walk_in: bool = False) -> None:
    db.session.add(
        GuestRsvp(event_id=event.id, name="Guest", email=email, state=state, walk_in=walk_in)
    )
    db.session.commit()


def _queued() -> list[tuple[str, str]]:
    return sorted(
        (row.to_address, row.subject)
        for row in db.session.scalars(select(OutboundMail).order_by(OutboundMail.id))
    )


@pytest.fixture
def answered(group):
    """An event with one of everyone who might or might not be told."""
    event = factories.event(title="Stall on Briggate")
    _answer(event, "going", email="going@example.org")
    _answer(event, "maybe", email="maybe@example.org")
    _answer(event, "not_going", email="declined@example.org")
    suspended = _answer(event, "going", email="suspended@example.org")
    suspended.status = "suspended"
    db.session.commit()
    shift = factories.shift(event.id)
    on_shift = factories.member(email="shift@example.org")
    db.session.add(ShiftSignup(shift_id=shift.id, member_id=on_shift.id, state="waitlisted"))
    db.session.commit()
    _guest(event, "guest@example.org")
    _guest(event, "Pending@example.org", state="pending")
    _guest(event, "cancelled@example.org", state="cancelled")
    _guest(event, "walkin@example.org", walk_in=True)
    return event


TOLD = ["going@example.org", "guest@example.org", "maybe@example.org", "shift@example.org"]


def test_a_cancellation_from_the_manage_page_tells_each_person_once(client, organiser, answered):
    log_in(client, organiser)
    page = f"/manage/events/{answered.id}/status?status=cancelled"
    assert "are e-mailed" in client.get(page).get_data(as_text=True)
    done = post_form(
        client, f"/manage/events/{answered.id}/status", {"status": "cancelled"}, page=page
    )
    assert done.status_code == 302
    assert _queued() == [(to, "Cancelled: Stall on Briggate") for to in TOLD]


@pytest.mark.parametrize(
    ("change", "subject"),
    [
        ({"status": "postponed"}, "Postponed: Stall on Briggate"),
        ({"starts_at": factories.soon(9)}, "New time: Stall on Briggate"),
    ],
)
def test_postponing_or_moving_the_event_tells_them(answered, change, subject):
    events.update(answered, change)
    assert _queued() == [(to, subject) for to in TOLD]


def test_back_on_after_a_postponement_is_news_too(answered):
    events.update(answered, {"status": "postponed"})
    db.session.execute(db.delete(OutboundMail))
    db.session.commit()
    events.update(answered, {"status": "scheduled", "starts_at": factories.soon(20)})
    assert _queued() == [(to, "Back on: Stall on Briggate") for to in TOLD]


def test_other_edits_and_refused_changes_send_nothing(answered):
    events.update(answered, {"title": "Stall on Briggate"})
    events.update(answered, {"description": "Bring leaflets."})
    with pytest.raises(Invalid):
        events.update(
            answered, {"status": "postponed", "ends_at": answered.starts_at - timedelta(hours=1)}
        )
    db.session.rollback()
    assert _queued() == []
    assert db.session.get(Event, answered.id).status == "scheduled"


def test_the_worker_delivers_the_notice_through_smtp(app, answered, mailbox):
    guests.ask(factories.event(), "Other", "other@example.org")  # unrelated mail goes too
    events.cancel(answered)
    Worker(app).run_once()
    got = {tuple(rcpt): message for _, rcpt, message in mailbox.received}
    notice = got[("guest@example.org",)]
    assert notice["Subject"] == "Cancelled: Stall on Briggate"
    body = notice.get_body(("plain",)).get_content()
    assert "is cancelled" in body and "cancel with the link" in body
    assert f"/events/{answered.id}" in body
    assert "Stop all mail from this group with one click" in body  # a guest's footer
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    member_notice = got[("going@example.org",)].get_body(("plain",)).get_content()
    assert "cancel with the link" not in member_notice
    assert "Stop these with one click" in member_notice  # a member's footer: this kind only
    assert ("declined@example.org",) not in got and ("walkin@example.org",) not in got


def test_a_member_who_turned_event_changes_off_and_a_guest_who_stopped_all_are_not_told(
    answered,
):
    going = db.session.scalar(select(Member).where(Member.email == "going@example.org"))
    preferences.save(going, {"event_changes": "off"})
    preferences.stop_all("guest@example.org")
    db.session.commit()

    events.cancel(answered)

    assert [to for to, _ in _queued()] == ["maybe@example.org", "shift@example.org"]
    rows = db.session.scalars(select(OutboundMail)).all()
    assert {row.kind for row in rows} == {"event_changes"}
    assert all(row.member_id is not None for row in rows)
    assert {row.source for row in rows} == {f"event-change:{answered.id}"}


def test_a_choice_made_while_the_notice_waited_holds_at_send_time(app, answered, mailbox):
    events.cancel(answered)
    going = db.session.scalar(select(Member).where(Member.email == "going@example.org"))
    preferences.save(going, {"event_changes": "off"})
    preferences.stop_all("guest@example.org")
    db.session.commit()

    Worker(app).run_once()

    told = sorted(rcpt[0] for _, rcpt, _ in mailbox.received)
    assert told == ["maybe@example.org", "shift@example.org"]
    skipped = db.session.scalars(
        select(OutboundMail.to_address).where(OutboundMail.status == "skipped")
    ).all()
    assert sorted(skipped) == ["going@example.org", "guest@example.org"]
