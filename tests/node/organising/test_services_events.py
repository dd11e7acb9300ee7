"""The events service: times, capacity and RSVPs."""

from datetime import datetime

import pytest

from node.services.errors import Conflict, Invalid
from node.services.organising import events
from tests import factories


def test_naive_start_is_read_in_the_event_time_zone(group):
    event = events.create(
        {"title": "Stall", "kind": "street_stall", "starts_at": datetime(2031, 7, 1, 10, 0)}
    )
    assert event.starts_at.isoformat() == "2031-07-01T09:00:00+00:00"  # BST is UTC+1
    assert event.timezone == "Europe/London"


def test_end_before_start_is_refused_on_the_end_field(group):
    with pytest.raises(Invalid) as caught:
        events.create(
            {
                "title": "x",
                "kind": "other",
                "starts_at": datetime(2031, 1, 1, 10),
                "ends_at": datetime(2031, 1, 1, 9),
            }
        )
    assert "ends_at" in caught.value.fields


def test_capacity_is_enforced_and_a_place_is_freed_by_changing_answer(group):
    event = factories.event(capacity=1)
    first, second = factories.member(), factories.member()
    events.respond(event, first, "going")
    with pytest.raises(Conflict):
        events.respond(event, second, "going")
    events.respond(event, second, "maybe")
    events.respond(event, first, "not_going")
    events.respond(event, second, "going")
    assert event.going_count == 1
    assert events.attendance(event) == {"going": 1, "maybe": 0, "not_going": 1}


def test_withdrawing_frees_the_place(group):
    event = factories.event(capacity=1)
    person = factories.member()
    events.respond(event, person, "going")
    events.withdraw(event, person)
    assert event.going_count == 0


def test_cannot_answer_for_a_cancelled_event(group):
    event = factories.event(status="cancelled")
    with pytest.raises(Conflict):
        events.respond(event, factories.member(), "going")


def test_racing_for_the_last_place_only_one_person_gets_it(app, group):
    import threading

    from node.extensions import db
    from node.models import Event, Member, Rsvp

    event_id = factories.event(capacity=1).id
    people = [factories.member().id for _ in range(6)]
    start = threading.Barrier(len(people))
    outcomes: list[str] = []

    def claim(member_id: int) -> None:
        with app.app_context():
            event = db.session.get(Event, event_id)
            who = db.session.get(Member, member_id)
            start.wait()
            try:
                events.respond(event, who, "going")
                outcomes.append("going")
            except Conflict:
                outcomes.append("full")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claim, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    assert sorted(outcomes) == ["full"] * 5 + ["going"]
    assert db.session.get(Event, event_id).going_count == 1
    assert db.session.query(Rsvp).filter_by(event_id=event_id, response="going").count() == 1
