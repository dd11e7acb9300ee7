"""Outbound mail: queued by the request, sent by the worker to a real SMTP server, retried."""

from __future__ import annotations

import logging
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import OutboundMail
from node.services import mail
from node.worker import Worker
from tests.conftest import post_form
from tests.federation.local_http import LocalServer, Reply
from tests.node import sync_support as support
from tests.node.mail_support import MAIL_FROM, smtp_settings


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


class Clock:
    def __init__(self) -> None:
        # Rows are queued "now": start just after them.
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def _queue(to: str = "rosa@example.org", subject: str = "Canvassing on Saturday", **kwargs):
    mail.send(to, subject, kwargs.pop("body", "Meet at the library at ten."), **kwargs)
    db.session.commit()
    return db.session.scalars(select(OutboundMail).order_by(OutboundMail.id.desc())).first().id


def _row(mail_id: int) -> OutboundMail:
    db.session.expire_all()
    return db.session.get(OutboundMail, mail_id)


def _rows() -> list[OutboundMail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboundMail).order_by(OutboundMail.id)))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Queued by the request, sent by the worker -----------------------------------------


def test_reset_request_queues_the_message_and_sends_nothing_during_the_request(
    client, member, mailbox
):
    response = post_form(client, "/reset", {"email": member.email})

    assert response.status_code == 302
    assert mailbox.received == [] and mailbox.sessions == 0
    [queued] = _rows()
    assert (queued.to_address, queued.status, queued.attempts) == (member.email, "queued", 0)
    assert queued.subject == "Reset your Branchline password"
    assert "http://localhost/reset/" in queued.body


def test_a_worker_pass_sends_the_reset_message_and_its_link_works(client, member, mailbox):
    post_form(client, "/reset", {"email": member.email})
    [queued] = _rows()

    report = Worker(client.application).run_once()

    assert (report.mailed, report.busy) == (1, True)
    [(envelope_from, recipients, message)] = mailbox.received
    assert (envelope_from, recipients) == ("branchline@leeds.example", [member.email])
    assert message["To"] == member.email
    assert message["From"] == MAIL_FROM
    assert message["Subject"] == "Reset your Branchline password"
    assert message["Message-ID"] == queued.message_id
    assert message["Message-ID"].endswith("@leeds.example>")
    assert abs(parsedate_to_datetime(message["Date"]) - queued.created_at) < timedelta(seconds=1)
    body = message.get_content()
    assert "Someone asked to reset the password for this address." in body
    link = re.search(r"http://localhost(/reset/\S+)", body).group(1)
    assert client.get(link).status_code == 200

    sent = _row(queued.id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, "")
    assert sent.sent_at is not None
    assert sent.body == ""  # the link's token is otherwise stored only hashed


def test_queued_mail_is_part_of_the_callers_unit_of_work(app, group):
    mail.send("rosa@example.org", "Canvassing", "Meet at ten.")
    db.session.rollback()  # the caller's work failed: its message goes with it

    assert db.session.scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_a_header_that_could_not_be_sent_is_refused_when_queued(app, group):
    with pytest.raises(ValueError):
        mail.send("rosa@example.org", "Canvassing\nBcc: everyone@example.org", "Meet at ten.")
    with pytest.raises(ValueError):
        mail.send("rosa@example.org", "Canvassing", "Meet at ten.", headers={"To": "x@y.z"})


def test_extra_headers_are_sent(app, group, mailbox):
    unsubscribe = "<https://leeds.example/unsubscribe/1>"
    _queue(headers={"List-Unsubscribe": unsubscribe})

    mail.send_due(clock=Clock())

    [(_from, _to, message)] = mailbox.received
    assert message["List-Unsubscribe"] == unsubscribe


def test_one_connection_carries_a_whole_batch(app, group, mailbox):
    for n in range(3):
        _queue(f"member{n}@example.org")

    report = mail.send_due(clock=Clock())

    assert (report.taken, report.sent) == (3, 3)
    assert [to for _from, to, _message in mailbox.received] == [
        [f"member{n}@example.org"] for n in range(3)
    ]
    assert mailbox.sessions == 1


# Retries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "replies",
    ["rcpt_replies", "data_replies"],
    ids=["451-to-the-recipient", "451-to-the-message"],
)
def test_temporary_refusal_is_retried_later_and_then_sent(app, group, mailbox, replies):
    getattr(mailbox, replies).append("451 4.7.1 Greylisted, try again later")
    mail_id = _queue()
    clock = Clock()

    first = mail.send_due(clock=clock)

    row = _row(mail_id)
    assert (first.retrying, row.status, row.attempts) == (1, "queued", 1)
    assert "451" in row.last_error and "Greylisted" in row.last_error
    # The first wait is between half and all of MAIL_BACKOFF_BASE_SECONDS (60).
    wait = (row.next_attempt_at - clock.now).total_seconds()
    assert 30 <= wait <= 60, wait
    assert row.body  # kept for the next try
    assert mailbox.received == []

    assert mail.send_due(clock=clock).taken == 0  # not due yet
    clock.now = row.next_attempt_at
    second = mail.send_due(clock=clock)

    row = _row(mail_id)
    assert (second.sent, row.status, row.attempts) == (1, "sent", 2)
    [(_from, _to, message)] = mailbox.received
    assert message["Message-ID"] == row.message_id  # the same message, tried again


def test_the_wait_doubles_with_each_failure_up_to_the_cap():
    import random

    policy = mail.MailPolicy(base=60, cap=30 * 60)
    rng = random.Random(7)
    for attempts, ceiling in [(1, 60), (2, 120), (3, 240), (6, 1800), (12, 1800)]:
        for _ in range(50):
            assert ceiling / 2 <= policy.delay(attempts, rng) <= ceiling


def test_a_message_that_keeps_failing_is_failed_after_the_last_attempt(app, group, mailbox):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    mailbox.rcpt_replies.extend(["452 4.2.2 Mailbox full"] * 5)
    mail_id = _queue()
    clock = Clock()

    for attempt in (1, 2):
        assert mail.send_due(clock=clock).retrying == 1
        row = _row(mail_id)
        assert (row.status, row.attempts) == ("queued", attempt)
        clock.now = row.next_attempt_at
    last = mail.send_due(clock=clock)

    row = _row(mail_id)
    assert (last.failed, row.status, row.attempts) == (1, "failed", 3)
    assert "452" in row.last_error
    clock.now += timedelta(days=1)
    assert mail.send_due(clock=clock).taken == 0


@pytest.mark.parametrize(
    ("replies", "reply"),
    [
        ("rcpt_replies", "550 5.1.1 No such user here"),
        ("data_replies", "554 5.7.1 Message refused"),
    ],
    ids=["550-to-the-recipient", "554-to-the-message"],
)
def test_permanent_refusal_fails_at_once(app, group, mailbox, replies, reply):
    getattr(mailbox, replies).append(reply)
    mail_id = _queue()
    clock = Clock()

    report = mail.send_due(clock=clock)

    row = _row(mail_id)
    assert (report.failed, row.status, row.attempts) == (1, "failed", 1)
    assert reply.split()[0] in row.last_error
    assert row.body == ""
    clock.now += timedelta(days=1)
    assert mail.send_due(clock=clock).taken == 0
    assert mailbox.received == []


def test_a_refusal_leaves_the_connection_to_the_rest_of_the_batch(app, group, mailbox):
    mailbox.rcpt_replies.append("550 5.1.1 No such user here")
    refused, accepted = _queue("nobody@example.org"), _queue("rosa@example.org")

    mail.send_due(clock=Clock())

    assert (_row(refused).status, _row(accepted).status) == ("failed", "sent")
    assert mailbox.sessions == 1


def test_a_refused_connection_is_retried(app, group, mailbox):
    app.config["SMTP_PORT"] = _closed_port()
    ids = [_queue(f"member{n}@example.org") for n in range(2)]

    report = mail.send_due(clock=Clock())

    assert (report.taken, report.retrying) == (2, 2)
    for row in map(_row, ids):
        assert (row.status, row.attempts) == ("queued", 1)
        assert "ConnectionRefused" in row.last_error


def test_starttls_when_on_is_required_so_nothing_goes_in_clear(app, group, mailbox):
    app.config["SMTP_STARTTLS"] = True
    mail_id = _queue()

    report = mail.send_due(clock=Clock())

    row = _row(mail_id)
    assert (report.retrying, row.status) == (1, "queued")
    assert "STARTTLS" in row.last_error
    assert mailbox.received == []


def test_a_claim_left_by_a_dead_worker_is_taken_again_when_it_runs_out(app, group):
    mail_id = _queue()
    now = datetime.now(UTC) + timedelta(seconds=1)
    lease = timedelta(minutes=15)
    [claimed] = mail.QUEUE.claim_due(10, now=now, lease=lease)
    assert claimed.id == mail_id and _row(mail_id).status == "sending"
    assert mail.QUEUE.claim_due(10, now=now + timedelta(minutes=1), lease=lease) == []

    assert mail.QUEUE.release_expired(now + timedelta(minutes=14)) == 0
    assert mail.QUEUE.release_expired(now + lease) == 1

    [again] = mail.QUEUE.claim_due(10, now=now + lease, lease=lease)
    assert again.id == mail_id


# Without an SMTP server ------------------------------------------------------------


def test_without_an_smtp_host_the_worker_logs_the_message_and_marks_it(app, group, mailbox, caplog):
    app.config["SMTP_HOST"] = None
    mail_id = _queue(body="Meet at the library at ten.")

    with caplog.at_level(logging.WARNING):
        report = Worker(app).run_once()

    assert report.mailed == 1
    assert "No SMTP server configured; mail to rosa@example.org" in caplog.text
    assert "Meet at the library at ten." in caplog.text
    row = _row(mail_id)
    assert (row.status, row.attempts) == ("logged", 1)
    assert row.sent_at is not None
    assert mailbox.received == [] and mailbox.sessions == 0
    assert Worker(app).run_once().mailed == 0


# In the worker ---------------------------------------------------------------------


def test_nothing_is_sent_twice_when_passes_run_at_once_or_one_after_another(app, group, mailbox):
    ids = [_queue(f"member{n}@example.org") for n in range(12)]
    app.config["MAIL_BATCH_SIZE"] = 3
    start = threading.Barrier(3)
    reports, errors = [], []

    def one_pass() -> None:
        try:
            start.wait()
            reports.append(Worker(app).run_once())
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=one_pass) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert sum(report.mailed for report in reports) == 12
    assert Worker(app).run_once().mailed == 0
    sent_to = sorted(to[0] for _from, to, _message in mailbox.received)
    assert sent_to == sorted(f"member{n}@example.org" for n in range(12))
    assert {row.status for row in map(_row, ids)} == {"sent"}


def test_a_failing_mail_step_does_not_stop_deliveries(app, group, monkeypatch):
    server = LocalServer()
    try:
        server.routes["/inbox"] = Reply(202)
        support.queue(server.url("/inbox"))

        def broken(**kwargs):
            raise RuntimeError("the outbox table is missing")

        monkeypatch.setattr(mail, "send_due", broken)
        report = Worker(app).run_once()
    finally:
        server.stop()

    assert (report.mailed, report.deliveries.done) == (0, 1)
