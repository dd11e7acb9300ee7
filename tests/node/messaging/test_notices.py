"""Notices members opt into (a new event, news, a ballot opening, a ballot closing), queued by
the worker's step once each and sent over real SMTP (aiosmtpd). Every time is explicit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import BallotVoter, MailNotice, OutboundMail
from node.services import mail
from node.services.messaging import notices, preferences
from node.services.voting import votes
from tests import factories
from tests.node.mail_support import delivered, plain, smtp_settings

T0 = datetime(2031, 3, 12, 9, 0, tzinfo=UTC)  # when the node began sending notices
HOUR = timedelta(hours=1)


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


@pytest.fixture
def started(group):
    assert notices.send_due(T0) == 0  # the first pass marks the start
    return T0


def _opted(kind: str, choice: str = "single", **fields):
    member = factories.member(**fields)
    preferences.set_choice(member, kind, choice)
    db.session.commit()
    return member


def test_a_new_event_reaches_only_members_who_opted_in_and_is_queued_once(app, started, mailbox):
    single = _opted("new_event")
    in_digest = _opted("new_event", "digest")
    turned_off = _opted("new_event", "off")
    factories.member()  # never chose: notices are opt-in
    event = factories.event(
        title="Stall on Briggate", created_at=T0 + HOUR, starts_at=T0 + timedelta(days=5)
    )

    assert notices.send_due(T0 + 2 * HOUR) == 1
    assert notices.send_due(T0 + 3 * HOUR) == 0  # the second pass finds it done

    received = delivered(mailbox)
    assert list(received) == [single.email]
    [message] = received[single.email]
    assert message["Subject"] == "New event: Stall on Briggate"
    assert f"/events/{event.id}" in plain(message) and message["List-Unsubscribe"]
    assert in_digest.email not in received and turned_off.email not in received
    row = db.session.scalar(select(OutboundMail))
    assert (row.kind, row.source) == ("new_event", f"new_event:{event.id}")


def test_members_only_events_are_announced_too_but_not_cancelled_or_past_ones(
    app, started, mailbox
):
    member = _opted("new_event")
    factories.event(
        title="AGM", visibility="members", created_at=T0 + HOUR, starts_at=T0 + timedelta(days=9)
    )
    factories.event(status="cancelled", created_at=T0 + HOUR, starts_at=T0 + timedelta(days=2))
    factories.event(created_at=T0 + HOUR, starts_at=T0 + 90 * timedelta(minutes=1))

    assert notices.send_due(T0 + 2 * HOUR) == 1
    [message] = delivered(mailbox)[member.email]
    assert "AGM" in message["Subject"] and "members only" in plain(message)


def test_nothing_from_before_the_start_nor_older_than_the_window_is_announced(
    app, started, mailbox
):
    _opted("new_event")
    _opted("news")
    factories.event(created_at=T0 - HOUR, starts_at=T0 + timedelta(days=3))
    factories.post(published_at=T0 - HOUR)
    late = T0 + timedelta(days=10)
    factories.post(published_at=late - timedelta(hours=49))  # after the start, but stale

    assert notices.send_due(late) == 0
    assert mail.send_due(limit=50).taken == 0


def test_a_scheduled_post_is_announced_when_its_time_comes(app, started, mailbox):
    member = _opted("news")
    post = factories.post(title="We won", created_at=T0, published_at=T0 + 3 * HOUR)

    assert notices.send_due(T0 + HOUR) == 0
    assert notices.send_due(T0 + 4 * HOUR) == 1
    [message] = delivered(mailbox)[member.email]
    assert message["Subject"] == "News: We won" and f"/news/{post.id}" in plain(message)


def test_a_new_ballot_goes_to_the_members_who_may_vote_in_it(app, started, mailbox):
    freeze = T0 - timedelta(days=30)
    voter = _opted("new_ballot", joined_at=freeze - timedelta(days=1))
    too_new = _opted("new_ballot", joined_at=freeze + timedelta(days=1))
    suspended = _opted("new_ballot", joined_at=freeze - timedelta(days=1), status="suspended")
    ballot = factories.ballot(
        question="Back the strike?",
        opens_at=T0 + HOUR,
        closes_at=T0 + timedelta(days=4),
        freeze_at=freeze,
    )

    assert notices.send_due(T0 + 30 * timedelta(minutes=1)) == 0  # not open yet
    assert notices.send_due(T0 + 2 * HOUR) == 1
    assert notices.send_due(T0 + 3 * HOUR) == 0
    received = delivered(mailbox)
    assert list(received) == [voter.email]
    assert too_new.email not in received and suspended.email not in received
    assert f"/ballots/{ballot.id}" in plain(received[voter.email][0])


def test_ballot_closing_goes_a_day_before_to_eligible_members_who_have_not_voted(
    app, started, mailbox
):
    joined = T0 - timedelta(days=40)
    voted = _opted("ballot_closing", joined_at=joined, display_name="Vera Voted")
    waiting = _opted("ballot_closing", joined_at=joined, display_name="Wyn Waiting")
    _opted("ballot_closing", "off", joined_at=joined)
    ballot = factories.ballot(
        question="Affiliate?",
        opens_at=T0 - timedelta(days=2),
        closes_at=T0 + timedelta(hours=30),
        freeze_at=T0 - timedelta(days=3),
    )
    db.session.add(
        BallotVoter(
            ballot_id=ballot.id, voter=votes.voter_hash(ballot.id, voted.email), member_id=None
        )
    )
    db.session.commit()

    assert notices.send_due(T0 + 5 * HOUR) == 0  # closes in 25 hours: not yet
    assert notices.send_due(T0 + 7 * HOUR) == 1
    assert notices.send_due(T0 + 8 * HOUR) == 0
    received = delivered(mailbox)
    assert list(received) == [waiting.email]
    text = plain(received[waiting.email][0])
    assert "you have not voted" in text and "Vera" not in text  # nothing about anyone else


def test_a_notice_another_worker_took_is_skipped_whole(app, started, mailbox):
    _opted("news")
    post = factories.post(created_at=T0, published_at=T0 + HOUR)
    db.session.add(MailNotice(key=f"news:{post.id}", created_at=T0 + HOUR))
    db.session.commit()

    assert notices.send_due(T0 + 2 * HOUR) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_the_clash_of_two_workers_rolls_back_the_second_ones_messages(app, started):
    member = _opted("news")
    db.session.add(MailNotice(key="news:99", created_at=T0))
    db.session.commit()

    def queue_some() -> int:
        db.session.add(
            OutboundMail(to_address=member.email, subject="x", body="x", message_id="<x@y>")
        )
        return 1

    assert notices.once("news:99", T0, queue_some) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_old_marks_are_forgotten_but_the_start_is_kept(app, started):
    db.session.add(MailNotice(key="news:1", created_at=T0 + timedelta(days=1)))
    db.session.add(MailNotice(key="news:2", created_at=T0 + timedelta(days=40)))
    db.session.commit()
    assert notices.forget_old(T0 + timedelta(days=50)) == 1
    assert notices.done(["news:1", "news:2", notices.STARTED]) == {"news:2", notices.STARTED}
