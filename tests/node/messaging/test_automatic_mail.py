"""The node's automatic mails (carpools, a waitlist place, a guest's own link) go through the
messaging core: members' choices hold, each carries its footer, a guest's asked-for link
always goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from node.extensions import db
from node.models import OutboundMail
from node.services.messaging import preferences
from node.services.organising import carpools, guests, shifts
from tests import factories

START = datetime(2031, 5, 10, 9, tzinfo=UTC)


def _event(**fields):
    return factories.event(starts_at=START, ends_at=START + timedelta(hours=8), **fields)


def _mail_to(address: str) -> list[OutboundMail]:
    return list(db.session.scalars(select(OutboundMail).where(OutboundMail.to_address == address)))


def test_a_carpool_match_is_event_changes_mail_and_respects_the_members_choice(group):
    event = _event(title="Climate *march*")
    driver = factories.member(display_name="Dana Driver", email="dana@example.org")
    rider = factories.member(display_name="Robin Rider", email="robin@example.org")
    preferences.save(driver, {"event_changes": "off"})
    offer = carpools.offer(event, driver, "Leeds station", 2, "")
    carpools.match(carpools.ask(event, rider, "Headingley", ""), offer)

    assert _mail_to("dana@example.org") == []
    [to_rider] = _mail_to("robin@example.org")
    assert (to_rider.kind, to_rider.member_id) == ("event_changes", rider.id)
    assert to_rider.source == f"carpool:{event.id}"
    assert to_rider.subject == "You have a ride: Climate *march*"
    assert "Climate *march*" in to_rider.body  # the title as typed, not read as Markdown
    assert "<em>" not in to_rider.html and "Stop these with one click" in to_rider.body
    assert "List-Unsubscribe" in to_rider.headers


def test_a_waitlist_place_is_told_unless_the_member_turned_event_changes_off(group):
    shift = factories.shift(_event().id, capacity=1)
    first, second, third, fourth = (factories.member() for _ in range(4))
    for person in (first, second, third, fourth):
        shifts.sign_up(shift, person)
    preferences.save(third, {"event_changes": "off"})

    shifts.withdraw(shift, first)  # second gets the place and is told
    [told] = _mail_to(second.email)
    assert (told.kind, told.member_id, told.source) == (
        "event_changes",
        second.id,
        f"waitlist:{shift.event_id}",
    )
    shifts.withdraw(shift, second)  # third gets the place, and is not told
    assert _mail_to(third.email) == []
    assert [s.state for s in db.session.scalars(select(shifts.ShiftSignup))].count("going") == 1


def test_a_guests_own_link_is_account_mail_and_goes_even_after_stop_all(group):
    event = _event(title="Stall")
    preferences.stop_all("guest@example.org")
    db.session.commit()
    assert guests.ask(event, "Guest", "guest@example.org")
    [sent] = _mail_to("guest@example.org")
    assert sent.kind == "account" and sent.member_id is None
    assert "unsubscribe" not in sent.body.lower() and sent.headers == "{}"
