"""The messaging core: compose, check choices, queue, send both parts, one-click unsubscribe,
bounces. Mail goes to a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import MailAddress, OutboundMail
from node.services import mail
from node.services.messaging import deliverability, outbox, preferences, unsubscribe
from node.services.messaging.outbox import Recipient
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.mail_support import smtp_settings


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


def _send(
    app, recipients, kind="announcement", subject="Stall on Saturday", body="**Be there** at 10."
):
    with app.app_context():
        queued = outbox.queue_many(recipients, kind, outbox.compose(subject, body), source="test:1")
        db.session.commit()
        return queued


def _deliver(app) -> mail.MailReport:
    with app.app_context():
        return mail.send_due(limit=100)


def _link(message) -> str:
    return re.search(r"<(http[^>]+)>", message["List-Unsubscribe"]).group(1)


def test_a_message_has_both_parts_its_ids_and_the_rfc_8058_headers(app, member, mailbox):
    assert _send(app, [Recipient(member.email, member.display_name, member.id)]) == 1
    assert _deliver(app).sent == 1

    [(_, to, message)] = mailbox.received
    assert to == [member.email]
    assert message["Message-ID"].startswith("<") and message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/mail/unsubscribe/" in _link(message)
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Be there at 10." in plain and "**" not in plain and "Stop these with one click" in plain
    assert "<strong>Be there</strong>" in html and _link(message) in html


def test_the_html_part_is_sanitised(app, member, mailbox):
    _send(app, [Recipient(member.email, "<b>x</b>", member.id)], body="<script>alert(1)</script>hi")
    _deliver(app)
    html = mailbox.received[0][2].get_body(("html",)).get_content()
    assert "<script" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_one_click_post_turns_off_only_that_kind_and_needs_no_log_in(app, client, member, mailbox):
    _send(app, [Recipient(member.email, "", member.id)])
    _deliver(app)
    link = _link(mailbox.received[0][2]).replace("http://localhost", "")

    page = client.get(link)
    assert page.status_code == 200 and b"Unsubscribe" in page.data
    with app.app_context():
        assert preferences.choice(member.id, "announcement") == "single"  # a GET changes nothing

    answer = client.post(link, data={"List-Unsubscribe": "One-Click"})  # no CSRF token, no log-in
    assert answer.status_code == 204
    with app.app_context():
        assert preferences.choice(member.id, "announcement") == "off"
        assert preferences.choice(member.id, "reminder") == "single"

    assert _send(app, [Recipient(member.email, "", member.id)]) == 0
    assert _send(app, [Recipient(member.email, "", member.id)], kind="reminder") == 1


def test_a_choice_made_while_a_message_waits_holds_at_send_time(app, member, mailbox):
    _send(app, [Recipient(member.email, "", member.id)])
    with app.app_context():
        preferences.set_choice(db.session.get(type(member), member.id), "announcement", "off")
        db.session.commit()
    report = _deliver(app)
    assert (report.sent, report.skipped) == (0, 1)
    assert mailbox.received == []
    with app.app_context():
        row = db.session.scalar(select(OutboundMail))
        assert row.status == "skipped" and row.body == ""


def test_a_forged_or_altered_link_is_refused(app, client, member):
    with app.app_context():
        good = unsubscribe.token(member.email, "announcement")
    assert client.get(f"/mail/unsubscribe/{good[:-2]}xx").status_code == 404
    assert client.post(f"/mail/unsubscribe/{good}x").status_code == 404


def test_account_mail_cannot_be_turned_off(app, member):
    with app.app_context(), pytest.raises(ValueError):
        unsubscribe.token(member.email, "account")


def test_a_guest_link_stops_all_mail_but_account_mail(app, client, mailbox):
    _send(app, [Recipient("guest@example.net", "Gil")], kind="guest")
    _deliver(app)
    message = mailbox.received[0][2]
    assert "Stop all mail from this group" in message.get_body(("plain",)).get_content()
    client.post(
        _link(message).replace("http://localhost", ""), data={"List-Unsubscribe": "One-Click"}
    )
    assert _send(app, [Recipient("guest@example.net", "Gil")], kind="guest") == 0
    assert _send(app, [Recipient("guest@example.net", "Gil")], kind="account") == 1


def test_the_undo_button_turns_it_back_on(app, client, member):
    with app.app_context():
        link = f"/mail/unsubscribe/{unsubscribe.token(member.email, 'news')}"
        preferences.set_choice(db.session.get(type(member), member.id), "news", "single")
        db.session.commit()
    client.post(link)
    with app.app_context():
        assert preferences.choice(member.id, "news") == "off"
    client.post(link, data={"undo": "1"})
    with app.app_context():
        assert preferences.choice(member.id, "news") == "single"


def test_an_address_that_keeps_bouncing_stops_getting_mail(app, member, mailbox):
    for _ in range(3):
        mailbox.rcpt_replies.append("550 5.1.1 No such mailbox")
        _send(app, [Recipient(member.email, "", member.id)])
        _deliver(app)
    with app.app_context():
        record = db.session.scalar(select(MailAddress))
        assert (record.bounces, record.suppressed_at is not None) == (3, True)
        assert "550" in record.last_error
    assert _send(app, [Recipient(member.email, "", member.id)]) == 0
    assert _send(app, [Recipient(member.email, "", member.id)], kind="account") == 1
    with app.app_context():
        assert deliverability.clear(member.email)
        db.session.commit()
    assert _send(app, [Recipient(member.email, "", member.id)]) == 1


def test_an_accepted_message_resets_the_bounces_in_a_row(app, member, mailbox):
    mailbox.rcpt_replies.append("550 5.1.1 No such mailbox")
    _send(app, [Recipient(member.email, "", member.id)])
    _deliver(app)
    _send(app, [Recipient(member.email, "", member.id)])
    _deliver(app)
    with app.app_context():
        record = db.session.scalar(select(MailAddress))
        assert (record.bounces, record.total_bounces) == (0, 1)


def test_the_preferences_page_saves_choices(app, client, member):
    log_in(client, member)
    page = client.get("/account/mail")
    assert page.status_code == 200 and b"weekly digest" in page.data
    answer = post_form(
        client, "/account/mail", {"news": "digest", "announcement": "off"}, page="/account/mail"
    )
    assert answer.status_code == 302
    with app.app_context():
        assert preferences.choice(member.id, "news") == "digest"
        assert preferences.choice(member.id, "announcement") == "off"
    bad = post_form(client, "/account/mail", {"announcement": "digest"}, page="/account/mail")
    assert bad.status_code == 400
    with app.app_context():
        assert preferences.choice(member.id, "announcement") == "off"  # nothing half-written


def test_each_address_is_queued_once(app, member):
    twice = [Recipient(member.email, "", member.id), Recipient(member.email.upper(), "", member.id)]
    assert _send(app, twice) == 1
    other = factories.member()
    assert _send(app, [Recipient(other.email, "", other.id)]) == 1


def test_only_account_mail_reaches_a_suppressed_or_stopped_address(app, member, mailbox):
    with app.app_context():
        deliverability.bounced(member.email, "550 no such user")
        deliverability.bounced(member.email, "550 no such user")
        deliverability.bounced(member.email, "550 no such user")
        preferences.stop_all("guest@example.org")
        db.session.commit()
    for kind in ("required", "announcement"):
        assert _send(app, [Recipient(member.email, "", member.id)], kind=kind) == 0
        assert _send(app, [Recipient("guest@example.org", "")], kind=kind) == 0
    assert _send(app, [Recipient(member.email, "", member.id)], kind="account") == 1
    assert _send(app, [Recipient("guest@example.org", "")], kind="account") == 1
    assert _deliver(app).sent == 2


def test_a_required_notice_ignores_choices_and_says_why_it_came(app, member, mailbox):
    with app.app_context():
        preferences.save(member, {"announcement": "off"})
    assert _send(app, [Recipient(member.email, "", member.id)], kind="required") == 1
    _deliver(app)
    [(_, _, message)] = mailbox.received
    plain = message.get_body(("plain",)).get_content()
    assert "You are sent this because: Notices the group's rules require" in plain
    assert message["List-Unsubscribe"] is None


def test_text_outside_ascii_arrives_intact_in_subject_both_parts_and_sender(app, member, mailbox):
    _send(
        app,
        [Recipient(member.email, "Zoë", member.id)],
        subject="Stall — £5 raffle for Zoë",
        body="Café at 10 — **don’t** be late.",
    )
    _deliver(app)
    [(_, _, message)] = mailbox.received
    assert message["Subject"] == "Stall — £5 raffle for Zoë"
    assert "Café at 10 — don’t be late." in message.get_body(("plain",)).get_content()
    assert "<strong>don’t</strong>" in message.get_body(("html",)).get_content()
    assert "Hello Zoë" in message.get_body(("plain",)).get_content()


def test_an_address_outside_ascii_fails_for_good_rather_than_crash_the_batch(app, member, mailbox):
    _send(app, [Recipient("zoë@example.org", ""), Recipient(member.email, "", member.id)])
    report = _deliver(app)
    assert (report.sent, report.failed) == (1, 1)
    with app.app_context():
        failed = db.session.scalar(select(OutboundMail).where(OutboundMail.status == "failed"))
        assert "SMTPUTF8" in failed.last_error and failed.html == "" and failed.body == ""
