"""The weekly digest: next week's events, open ballots and the week's news, one mail per member
per week and none when there is nothing to say. Real SMTP (aiosmtpd), explicit clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from node.extensions import db
from node.services.messaging import digest, notices, preferences
from node.worker import Worker
from tests import factories
from tests.node.mail_support import delivered, plain, smtp_settings

NOW = datetime(2031, 9, 17, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _choosing(**choices):
    member = factories.member(joined_at=NOW - 100 * DAY)
    for kind, value in choices.items():
        preferences.set_choice(member, kind, value)
    db.session.commit()
    return member


def test_the_digest_gathers_next_weeks_events_open_ballots_and_news(app, group, mailbox):
    reader = _choosing(digest="single")
    _choosing()  # the digest is off unless chosen
    factories.event(title="Stall on Saturday", starts_at=NOW + 3 * DAY)
    factories.event(title="Far off", starts_at=NOW + 10 * DAY)
    factories.event(title="Called off", starts_at=NOW + 2 * DAY, status="cancelled")
    factories.post(title="We won the vote", published_at=NOW - 2 * DAY)
    factories.post(title="Old news", published_at=NOW - 9 * DAY)
    factories.ballot(
        question="Back the strike?",
        opens_at=NOW - DAY,
        closes_at=NOW + 2 * DAY,
        freeze_at=NOW - 2 * DAY,
    )

    assert digest.send_due(NOW) == 1
    received = delivered(mailbox)
    assert list(received) == [reader.email]
    [message] = received[reader.email]
    text = plain(message)
    assert message["Subject"] == "This week at Leeds North Momentum"
    assert "Stall on Saturday" in text and "We won the vote" in text and "Back the strike?" in text
    assert "Far off" not in text and "Old news" not in text and "Called off" not in text
    assert message["List-Unsubscribe"]


def test_one_digest_per_member_per_week(app, group, mailbox):
    _choosing(digest="single")
    factories.event(starts_at=NOW + 20 * DAY)
    factories.post(published_at=NOW - DAY)
    week = digest.period(NOW)
    start = digest.period_start(week)

    assert digest.send_due(NOW) == 1
    assert digest.send_due(NOW + timedelta(hours=1)) == 0
    assert digest.send_due(start + 7 * DAY - timedelta(seconds=1)) == 0  # the week's last second
    factories.post(published_at=start + 7 * DAY)
    assert digest.send_due(start + 7 * DAY) == 1  # the next week
    assert len(delivered(mailbox)) == 1 and len(mailbox.received) == 2


def test_the_week_number_does_not_depend_on_the_day_it_is_asked(app):
    week = digest.period(NOW)
    start = digest.period_start(week)
    assert start <= NOW < start + 7 * DAY
    assert {digest.period(start + n * timedelta(hours=13)) for n in range(13)} == {week}
    assert digest.period(start - timedelta(seconds=1)) == week - 1
    assert digest.key(5, week) == f"digest:5:{week}"


def test_no_digest_when_there_is_nothing_to_say(app, group, mailbox):
    _choosing(digest="single")
    factories.event(starts_at=NOW + 10 * DAY)
    assert digest.send_due(NOW) == 0
    factories.post(published_at=NOW)  # something turns up later in the week
    assert digest.send_due(NOW + DAY) == 1


def test_in_the_digest_for_a_notice_brings_the_digest_instead_of_the_notice(app, group, mailbox):
    assert notices.send_due(NOW - DAY) == 0  # notices start
    member = _choosing(new_event="digest")
    turned_off = _choosing(new_event="digest", digest="off")
    factories.event(title="Canvass", created_at=NOW - timedelta(hours=2), starts_at=NOW + 2 * DAY)

    assert notices.send_due(NOW) == 0  # nobody wants the single notice
    assert preferences.choice(member.id, "digest") == "single"
    assert preferences.choice(turned_off.id, "digest") == "off"
    assert digest.send_due(NOW) == 1
    received = delivered(mailbox)
    assert list(received) == [member.email] and "Canvass" in plain(received[member.email][0])


def test_a_ballot_is_listed_only_to_members_who_may_vote_in_it(app, group, mailbox):
    old = _choosing(digest="single")
    new = factories.member(joined_at=NOW - DAY)
    preferences.set_choice(new, "digest", "single")
    db.session.commit()
    factories.post(title="Hello", published_at=NOW - DAY)
    factories.ballot(
        question="Affiliate?", opens_at=NOW - DAY, closes_at=NOW + DAY, freeze_at=NOW - 2 * DAY
    )

    assert digest.send_due(NOW) == 2
    received = delivered(mailbox)
    assert "Affiliate?" in plain(received[old.email][0])
    assert "Affiliate?" not in plain(received[new.email][0])


def test_the_worker_looks_for_due_digests_every_digest_check_seconds(app, group, mailbox):
    _choosing(digest="single")
    factories.post(published_at=NOW - DAY)
    worker = Worker(app)

    assert worker._queue_notices(NOW) == 1
    _choosing(digest="single")  # turns it on mid-week
    assert worker._queue_notices(NOW + timedelta(minutes=1)) == 0  # not looked for yet
    assert worker._queue_notices(NOW + timedelta(minutes=11)) == 1
