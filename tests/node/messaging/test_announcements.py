"""Announcements: audiences, drafts, scheduling with an explicit clock, expansion exactly once,
the mail rate limit. Mail goes to a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import (
    Announcement,
    BallotVoter,
    GuestRsvp,
    OutboundMail,
    Rsvp,
    ShiftSignup,
)
from node.services import mail
from node.services.errors import Conflict, Invalid
from node.services.messaging import announcements, audiences, preferences, rate
from node.worker import Worker
from tests import factories
from tests.node.mail_support import smtp_settings

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _going(event, *people, response="going"):
    for person in people:
        db.session.add(Rsvp(event_id=event.id, member_id=person.id, response=response))
    db.session.commit()


def _queued(source: str) -> list[OutboundMail]:
    return list(db.session.scalars(select(OutboundMail).where(OutboundMail.source == source)))


def _addresses(found) -> set[str]:
    return {r.address for r in found}


def test_all_members_means_active_members_only(app, organiser, member):
    gone = factories.member(status="left")
    found = _addresses(audiences.recipients("members", None))
    assert {organiser.email, member.email} <= found and gone.email not in found


def test_event_audiences_going_shift_waitlist_and_guests(app, organiser):
    event = factories.event()
    other = factories.event()
    going, maybe, waiting, on_shift, elsewhere = (factories.member() for _ in range(5))
    _going(event, going, on_shift)
    _going(event, maybe, response="maybe")
    _going(other, elsewhere)
    shift = factories.shift(event.id)
    db.session.add_all(
        [
            ShiftSignup(shift_id=shift.id, member_id=on_shift.id, state="going"),
            ShiftSignup(shift_id=shift.id, member_id=waiting.id, state="waitlisted"),
            GuestRsvp(event_id=event.id, name="Gus", email="gus@example.net", state="going"),
            GuestRsvp(event_id=event.id, name="Pen", email="pen@example.net", state="pending"),
            GuestRsvp(event_id=event.id, name="Walk", email=None, state="going", walk_in=True),
        ]
    )
    db.session.commit()

    assert _addresses(audiences.recipients("event_going", event.id)) == {
        going.email,
        on_shift.email,
    }
    assert _addresses(audiences.recipients("event_shift", shift.id)) == {on_shift.email}
    assert _addresses(audiences.recipients("event_waitlist", event.id)) == {waiting.email}
    guests = audiences.recipients("event_guests", event.id)
    assert [(g.address, g.member_id) for g in guests] == [("gus@example.net", None)]


def test_ballot_not_voted_leaves_out_voters_and_latecomers(app, organiser):
    voter, silent = factories.member(), factories.member()
    ballot = factories.ballot()
    late = factories.member(joined_at=ballot.freeze_at + timedelta(hours=1))
    db.session.add(BallotVoter(ballot_id=ballot.id, voter="a" * 64, member_id=voter.id))
    db.session.commit()

    found = _addresses(audiences.recipients("ballot_not_voted", ballot.id))
    assert silent.email in found and organiser.email in found
    assert voter.email not in found and late.email not in found


def test_draft_refuses_bad_fields_naming_each(app, organiser):
    with pytest.raises(Invalid) as refused:
        announcements.draft(
            organiser, subject=" ", body="", kind="news", audience="event_going", audience_ref=None
        )
    assert set(refused.value.fields) == {"subject", "body", "kind", "audience_ref"}
    with pytest.raises(Invalid) as refused:
        announcements.draft(organiser, subject="Hi", body="x", audience="everyone")
    assert set(refused.value.fields) == {"audience"}
    with pytest.raises(Invalid) as refused:
        announcements.draft(
            organiser, subject="Hi", body="x", audience="event_going", audience_ref=999
        )
    assert set(refused.value.fields) == {"audience_ref"}
    assert db.session.scalar(select(func.count()).select_from(Announcement)) == 0


def test_guests_cannot_be_sent_a_required_message(app, organiser):
    event = factories.event()
    with pytest.raises(Invalid) as refused:
        announcements.draft(
            organiser,
            subject="AGM",
            body="x",
            kind="required",
            audience="event_guests",
            audience_ref=event.id,
        )
    assert set(refused.value.fields) == {"kind"}


def test_an_ask_from_the_network_is_sent_as_a_network_ask(app, organiser):
    found = announcements.draft(organiser, subject="Canvass", body="Sat 10:00", origin="ask:7")
    assert found.kind == "network_ask" and found.status == "draft"


def test_reach_counts_after_choices_and_an_off_member_is_skipped(app, organiser, member, mailbox):
    off = factories.member()
    preferences.set_choice(off, "announcement", "off")
    db.session.commit()
    found = announcements.draft(organiser, subject="Stall", body="**Saturday** at 10")
    assert announcements.reach(found) == 2

    announcements.schedule(found)
    assert found.status == "sent" and found.recipients == 2
    assert mail.send_due(limit=50).sent == 2
    assert {to[0] for _, to, _ in mailbox.received} == {organiser.email, member.email}
    message = mailbox.received[0][2]
    assert message["Subject"] == "Stall" and message["List-Unsubscribe"]


def test_a_required_message_needs_the_box_ticked_and_reaches_those_who_turned_off(
    app, organiser, member
):
    preferences.set_choice(member, "announcement", "off")
    db.session.commit()
    found = announcements.draft(organiser, subject="AGM notice", body="Thursday", kind="required")
    with pytest.raises(Invalid) as refused:
        announcements.schedule(found)
    assert set(refused.value.fields) == {"rules_require"}
    assert found.status == "draft"

    announcements.schedule(found, rules_require=True)
    assert {m.to_address for m in _queued(f"announcement:{found.id}")} == {
        organiser.email,
        member.email,
    }


def test_a_test_send_goes_to_the_author_only_even_with_announcements_off(
    app, organiser, member, mailbox
):
    preferences.set_choice(organiser, "announcement", "off")
    db.session.commit()
    found = announcements.draft(organiser, subject="Stall", body="Saturday")
    announcements.test_send(found, organiser)
    mail.send_due(limit=10)
    [(_, to, message)] = mailbox.received
    assert to == [organiser.email] and message["Subject"] == "[Test] Stall"
    assert found.status == "draft"


def test_scheduling_later_waits_for_its_time_with_an_explicit_clock(app, organiser, member):
    found = announcements.draft(organiser, subject="Later", body="x")
    with pytest.raises(Invalid) as refused:
        announcements.schedule(found, send_at=NOON - timedelta(minutes=5), now=NOON)
    assert set(refused.value.fields) == {"send_at"}

    announcements.schedule(found, send_at=NOON + timedelta(hours=2), now=NOON)
    assert found.status == "scheduled"
    assert announcements.expand_due(now=NOON + timedelta(hours=1)) == 0
    assert _queued(f"announcement:{found.id}") == []
    assert announcements.expand_due(now=NOON + timedelta(hours=2)) == 1
    assert len(_queued(f"announcement:{found.id}")) == 2
    db.session.refresh(found)
    assert found.status == "sent" and found.recipients == 2


def test_expansion_happens_once_when_run_twice(app, organiser, member):
    found = announcements.draft(organiser, subject="Once", body="x")
    announcements.schedule(found, send_at=NOON + timedelta(hours=1), now=NOON)
    later = NOON + timedelta(hours=2)
    assert announcements.expand(found.id, now=later) == 2
    assert announcements.expand(found.id, now=later) is None
    assert announcements.expand_due(now=later) == 0
    assert len(_queued(f"announcement:{found.id}")) == 2


def test_two_workers_at_once_expand_it_once(app, organiser):
    for _ in range(30):
        factories.member()
    found = announcements.draft(organiser, subject="Race", body="x")
    announcements.schedule(found, send_at=NOON + timedelta(hours=1), now=NOON)
    later = NOON + timedelta(hours=2)
    results: list[int | None] = []
    start = threading.Barrier(2)

    def expand_in_own_session():
        with app.app_context():
            start.wait()
            try:
                results.append(announcements.expand(found.id, now=later))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=expand_in_own_session) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results, key=str) == [31, None]
    assert len(_queued(f"announcement:{found.id}")) == 31


def test_a_failed_expansion_leaves_nothing_and_it_stays_scheduled(app, organiser, monkeypatch):
    found = announcements.draft(organiser, subject="Crash", body="x")
    announcements.schedule(found, send_at=NOON + timedelta(hours=1), now=NOON)

    def crash(*args, **kwargs):
        raise RuntimeError("the disk filled")

    monkeypatch.setattr(announcements.outbox, "queue_many", crash)
    with pytest.raises(RuntimeError):
        announcements.expand(found.id, now=NOON + timedelta(hours=2))
    db.session.refresh(found)
    assert found.status == "scheduled" and found.recipients is None
    assert _queued(f"announcement:{found.id}") == []


def test_cancel_withdraws_a_scheduled_one_but_not_a_sent_one(app, organiser):
    found = announcements.draft(organiser, subject="Maybe", body="x")
    announcements.schedule(found, send_at=NOON + timedelta(hours=1), now=NOON)
    announcements.cancel(found)
    assert found.status == "cancelled"
    assert announcements.expand_due(now=NOON + timedelta(hours=2)) == 0
    sent = announcements.draft(organiser, subject="Now", body="x")
    announcements.schedule(sent)
    with pytest.raises(Conflict):
        announcements.cancel(sent)
    with pytest.raises(Conflict):
        announcements.update(sent, subject="Changed")


def test_the_worker_expands_due_announcements_and_sends_them(app, organiser, member, mailbox):
    found = announcements.draft(organiser, subject="Via worker", body="x")
    announcements.schedule(found, send_at=datetime.now(UTC) + timedelta(minutes=2))
    found.send_at = datetime.now(UTC) - timedelta(seconds=1)  # its time has come
    db.session.commit()

    report = Worker(app).run_once()
    assert report.announced == 1 and report.mailed == 2
    assert len(mailbox.received) == 2
    assert Worker(app).run_once().announced == 0
    assert len(mailbox.received) == 2


def test_history_counts_each_announcements_messages_by_status(app, organiser, member, mailbox):
    found = announcements.draft(organiser, subject="Counted", body="x")
    announcements.schedule(found)
    mailbox.rcpt_replies.append("550 no such mailbox")
    mail.send_due(limit=10)
    [line] = announcements.history()
    assert line.counts["sent"] == 1 and line.counts["failed"] == 1 and line.waiting == 0
    assert line.audience == "All members"


def test_rate_allowance_counts_the_last_minute_and_claims_in_flight(app, member):
    now = NOON
    for seconds, status in ((10, "sent"), (30, "sent"), (90, "sent"), (0, "sending")):
        db.session.add(
            OutboundMail(
                to_address="x@example.org",
                subject="s",
                body="",
                message_id=f"<{seconds}{status}@x>",
                status=status,
                sent_at=now - timedelta(seconds=seconds) if status == "sent" else None,
            )
        )
    db.session.commit()
    assert rate.allowance(0, now=now) is None
    assert rate.allowance(10, now=now) == 7  # two sent in the minute, one being sent
    assert rate.allowance(2, now=now) == 0


def test_the_worker_keeps_to_the_rate_limit(app, organiser, mailbox):
    app.config["MAIL_RATE_PER_MINUTE"] = 5
    app.config["MAIL_BATCH_SIZE"] = 3
    for _ in range(11):
        factories.member()
    found = announcements.draft(organiser, subject="Slowly", body="x")
    announcements.schedule(found)
    assert found.recipients == 12

    assert Worker(app).run_once().mailed == 5
    assert Worker(app).run_once().mailed == 0  # the minute is used up
    assert len(mailbox.received) == 5
    # A minute later (the rows' sent times moved back as the clock would) five more go.
    db.session.execute(
        OutboundMail.__table__.update()
        .where(OutboundMail.sent_at.is_not(None))
        .values(sent_at=datetime.now(UTC) - timedelta(minutes=2))
    )
    db.session.commit()
    assert Worker(app).run_once().mailed == 5
    assert len(mailbox.received) == 10
