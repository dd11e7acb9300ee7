"""The waiting list of a full event without shifts: joining, promotion, mail and races."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Event, EventWaitlist, GuestRsvp, Member, OutboundMail, Rsvp
from node.services.errors import Conflict
from node.services.membership import members
from node.services.messaging import unsubscribe
from node.services.organising import events, guests, waitlist
from tests import factories

START = datetime(2031, 5, 10, 18, tzinfo=UTC)
LINK = re.compile(r"/rsvp/(glt_[A-Za-z0-9_-]+)")


def _event(capacity: int | None = 1) -> Event:
    return factories.event(starts_at=START, ends_at=START + timedelta(hours=2), capacity=capacity)


def _mail_to(address: str) -> list[OutboundMail]:
    return list(
        db.session.scalars(
            select(OutboundMail).where(OutboundMail.to_address == address).order_by(OutboundMail.id)
        )
    )


def _guest(event: Event, email: str) -> tuple[GuestRsvp, str]:
    """A guest who asked and holds their link (not confirmed yet)."""
    guests.ask(event, "Gwen Guest", email)
    token = LINK.findall(_mail_to(email)[-1].body)[-1]
    return guests.by_token(token), token


def _answer(event: Event, member: Member) -> str | None:
    return db.session.scalar(
        select(Rsvp.response).where(Rsvp.event_id == event.id, Rsvp.member_id == member.id)
    )


def _going_count(event: Event) -> int:
    db.session.expire_all()
    return db.session.get(Event, event.id).going_count


def test_a_member_joins_the_waiting_list_only_when_the_event_is_full(group):
    event = _event(capacity=1)
    first, second, third = (factories.member() for _ in range(3))
    with pytest.raises(Conflict, match="places left"):
        waitlist.join(event, first)
    events.respond(event, first, "going")
    with pytest.raises(Conflict, match="already going"):
        waitlist.join(event, first)
    waitlist.join(event, second)
    waitlist.join(event, third)
    waitlist.join(event, second)  # again: keeps the first place
    assert waitlist.position(event, member=second) == 1
    assert waitlist.position(event, member=third) == 2
    assert waitlist.position(event, member=first) is None
    assert waitlist.length(event) == 2


def test_a_cancellation_promotes_the_first_waiting_member_who_is_emailed(group):
    event = _event(capacity=1)
    first, second, third = (factories.member() for _ in range(3))
    events.respond(event, first, "going")
    waitlist.join(event, second)
    waitlist.join(event, third)
    events.withdraw(event, first)
    assert _answer(event, second) == "going"
    assert _going_count(event) == 1
    assert waitlist.position(event, member=third) == 1
    [sent] = _mail_to(second.email)
    assert sent.subject.startswith("You have a place:") and sent.kind == "event_changes"
    assert f"/events/{event.id}" in sent.body
    assert _mail_to(third.email) == []


def test_the_promotion_mail_reads_word_for_word_as_before_it_was_translatable(group):
    # The whole message, greeting and footer included: marking the words for translation
    # (docs/translating.md) must not change a character of the English.
    event = factories.event(
        title="Door knock", starts_at=START, timezone="Europe/London", capacity=1
    )
    first, second = factories.member(), factories.member(display_name="Mo")
    events.respond(event, first, "going")
    waitlist.join(event, second)
    events.withdraw(event, first)

    [sent] = _mail_to(second.email)
    stop = unsubscribe.url(second.email, "event_changes")
    assert sent.subject == "You have a place: Door knock"
    assert sent.body == (
        "Hello Mo,\n\n"
        "A place came free and you were first on the waiting list: you are now going to Door "
        "knock, Sat 10 May 2031, 19:00 (Europe/London time).\n\n"
        "If you cannot come after all, cancel here so the next person gets the place: "
        f"http://localhost/events/{event.id}\n\n"
        "-- \n"
        "You are sent this because you get: Changes to events you are going to: cancelled, "
        "moved, places, lifts.\n"
        f"Stop these with one click: {stop}\n"
        "Choose what you get: http://localhost/account/mail\n"
    )
    assert (
        "<p>Hello Mo,</p>\n<p>A place came free and you were first on the waiting list" in sent.html
    )
    assert (
        f'<br><a href="{stop}">Stop these with one click</a> · '
        '<a href="http://localhost/account/mail">Choose what you get</a></p>'
    ) in sent.html


def test_changing_going_to_maybe_frees_the_place_for_the_next_waiting(group):
    event = _event(capacity=1)
    first, second = factories.member(), factories.member()
    events.respond(event, first, "going")
    events.respond(event, second, "maybe")
    waitlist.join(event, second)
    events.respond(event, first, "maybe")
    assert (_answer(event, first), _answer(event, second)) == ("maybe", "going")
    assert waitlist.length(event) == 0


def test_raising_the_capacity_promotes_as_many_as_fit(group):
    event = _event(capacity=1)
    events.respond(event, factories.member(), "going")
    waiting = [factories.member() for _ in range(3)]
    for person in waiting:
        waitlist.join(event, person)
    events.update(db.session.get(Event, event.id), {"capacity": 3})
    assert [_answer(event, p) for p in waiting] == ["going", "going", None]
    assert _going_count(event) == 3
    assert waitlist.position(event, member=waiting[2]) == 1


def test_a_waiting_guest_is_promoted_and_mailed_a_new_link(group):
    event = _event(capacity=1)
    going = factories.member()
    events.respond(event, going, "going")
    guest, old_token = _guest(event, "gwen@example.net")
    with pytest.raises(Conflict, match="full"):
        guests.confirm(guest)
    waitlist.join_guest(guests.by_token(old_token))
    assert waitlist.position(event, guest=guest) == 1
    events.withdraw(event, going)
    db.session.expire_all()
    promoted = db.session.get(GuestRsvp, guest.id)
    assert promoted.state == "going" and promoted.confirmed_at is not None
    mail = _mail_to("gwen@example.net")[-1]
    assert mail.subject.startswith("You have a place:") and mail.kind == "guest"
    new_token = LINK.findall(mail.body)[-1]
    assert guests.by_token(new_token).id == guest.id
    guests.cancel(guests.by_token(new_token))  # the new link cancels, as any guest link does
    assert _going_count(event) == 0


def test_a_guest_who_cancels_leaves_the_waiting_list(group):
    event = _event(capacity=1)
    events.respond(event, factories.member(), "going")
    guest, token = _guest(event, "gwen@example.net")
    waitlist.join_guest(guest)
    guests.cancel(guests.by_token(token))
    assert waitlist.length(event) == 0


def test_no_one_is_promoted_into_a_cancelled_event(group):
    event = _event(capacity=1)
    first, second = factories.member(), factories.member()
    events.respond(event, first, "going")
    waitlist.join(event, second)
    events.cancel(db.session.get(Event, event.id))
    waitlist.promote(event.id)
    db.session.commit()
    assert _answer(event, second) is None


def test_the_organisers_queue_lists_members_and_guests_in_order(group):
    event = _event(capacity=1)
    events.respond(event, factories.member(), "going")
    member = factories.member(display_name="Wanda Waiting")
    waitlist.join(event, member)
    guest, _ = _guest(event, "gwen@example.net")
    waitlist.join_guest(guest)
    queue = waitlist.queue(event)
    assert [(n, m and m.display_name, g and g.email) for n, m, g in queue] == [
        (1, "Wanda Waiting", None),
        (2, None, "gwen@example.net"),
    ]


def test_forgetting_a_guest_leaves_nothing_personal_on_the_waiting_list(app, group):
    event = factories.event(starts_at=datetime(2020, 1, 1, tzinfo=UTC), capacity=1, going_count=1)
    guest = GuestRsvp(event_id=event.id, name="Gwen", email="gwen@example.net", state="pending")
    db.session.add(guest)
    db.session.commit()
    db.session.add(EventWaitlist(event_id=event.id, guest_id=guest.id))
    db.session.commit()
    assert guests.forget_past() == 1
    [(_, member, kept)] = waitlist.queue(event)
    assert member is None and kept.email is None and kept.name == ""


def test_simultaneous_cancellations_promote_each_waiting_person_exactly_once(app, group):
    event = _event(capacity=3)
    going = [factories.member() for _ in range(3)]
    waiting = [factories.member() for _ in range(4)]
    for person in going:
        events.respond(event, person, "going")
    for person in waiting:
        waitlist.join(event, person)
    start = threading.Barrier(len(going))
    errors: list[BaseException] = []

    def cancel(member_id: int) -> None:
        with app.app_context():
            try:
                found = db.session.get(Event, event.id)
                who = db.session.get(Member, member_id)
                start.wait()
                events.withdraw(found, who)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=cancel, args=(p.id,)) for p in going]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [_answer(event, p) for p in waiting] == ["going", "going", "going", None]
    assert _going_count(event) == 3
    going_rows = db.session.scalar(
        select(func.count()).select_from(Rsvp).where(Rsvp.event_id == event.id)
    )
    assert going_rows == 3
    assert waitlist.position(event, member=waiting[3]) == 1
    assert [len(_mail_to(p.email)) for p in waiting] == [1, 1, 1, 0]


def test_removing_a_member_gives_their_place_to_the_first_waiting(group, admin):
    event = _event(capacity=1)
    going, waiting, leaving = (factories.member() for _ in range(3))
    events.respond(event, going, "going")
    waitlist.join(event, leaving)
    waitlist.join(event, waiting)
    members.remove(leaving, admin)  # off the list: no place is given to a removed member
    members.remove(going, admin)
    assert _answer(event, waiting) == "going"
    assert _going_count(event) == 1 and waitlist.length(event) == 0
