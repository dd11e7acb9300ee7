"""Delivery status notifications (RFC 3464) piped to `branchline mail bounce`, the mail
problems page with its Clear button, and `branchline mail problems`."""

from __future__ import annotations

from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select

from node.cli import mail as mail_cli
from node.extensions import db
from node.models import MailAddress
from node.services.messaging import bounces, deliverability
from tests.conftest import log_in, post_form


def dsn(*recipients: tuple[str, str, str], diagnostic: str = "smtp; 550 5.1.1 User unknown"):
    """Build a real multipart/report; report-type=delivery-status, one block a recipient."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["To"] = "branchline@leeds.example"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(
        MIMEText("I'm sorry to have to inform you that your message could not be delivered.")
    )
    status = MIMEBase("message", "delivery-status")
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.example.net"
    per_message["Arrival-Date"] = "Sun, 6 Dec 2026 10:00:00 +0000"
    blocks = [per_message]
    for address, action, code in recipients:
        block = Message()
        block["Final-Recipient"] = f"rfc822; {address}"
        block["Original-Recipient"] = f"rfc822;{address}"
        block["Action"] = action
        block["Status"] = code
        block["Diagnostic-Code"] = diagnostic
        blocks.append(block)
    status.set_payload(blocks)
    report.attach(status)
    original = EmailMessage()
    original["Subject"] = "Stall on Saturday"
    original.set_content("hello")
    headers = MIMEBase("text", "rfc822-headers")
    headers.set_payload(str(original).split("\n\n", 1)[0])
    report.attach(headers)
    return report.as_bytes()


def _run(app, *args, stdin: bytes = b""):
    return CliRunner().invoke(
        mail_cli.mail, list(args), input=stdin, obj=ScriptInfo(create_app=lambda: app)
    )


def test_a_failed_5xx_recipient_is_a_bounce_and_a_delay_is_not():
    raw = dsn(
        ("Gone@Example.org", "failed", "5.1.1"),
        ("slow@example.org", "delayed", "4.4.1"),
        ("later@example.org", "failed", "4.2.2"),  # a 4.x.x is never a permanent failure
        ("fine@example.org", "delivered", "2.0.0"),
    )
    [failure] = bounces.permanent_failures(raw)
    assert failure.address == "gone@example.org" and failure.status == "5.1.1"
    assert "User unknown" in failure.error


def test_a_message_that_is_not_a_report_is_refused():
    plain = EmailMessage()
    plain.set_content("out of office")
    with pytest.raises(bounces.NotAReport):
        bounces.permanent_failures(plain.as_bytes())


def test_the_bounce_command_records_each_permanent_failure(app, group):
    raw = dsn(("a@example.org", "failed", "5.1.1"), ("b@example.org", "failed", "5.2.2"))
    result = _run(app, "bounce", stdin=raw)
    assert result.exit_code == 0, result.output
    assert "bounced\ta@example.org\t5.1.1" in result.output
    db.session.expire_all()
    rows = {row.address: row for row in db.session.scalars(select(MailAddress))}
    assert rows["a@example.org"].bounces == 1 and rows["b@example.org"].total_bounces == 1
    assert rows["a@example.org"].last_error.startswith("5.1.1")


def test_three_reports_suppress_the_address(app, group):
    for _ in range(3):
        assert _run(app, "bounce", stdin=dsn(("c@example.org", "failed", "5.1.1"))).exit_code == 0
    db.session.expire_all()
    row = db.session.scalar(select(MailAddress).where(MailAddress.address == "c@example.org"))
    assert row.suppressed_at is not None


def test_a_delay_report_records_nothing(app, group):
    result = _run(app, "bounce", stdin=dsn(("d@example.org", "delayed", "4.4.7")))
    assert result.exit_code == 0 and "0 permanent failure(s)" in result.output
    assert db.session.scalar(select(MailAddress)) is None


def test_the_bounce_command_refuses_mail_that_is_not_a_report(app, group):
    result = _run(app, "bounce", stdin=b"Subject: hi\n\nhello\n")
    assert result.exit_code == 1 and "delivery status" in result.output


def test_the_problems_command_lists_troubled_addresses(app, group):
    for _ in range(3):
        deliverability.bounced("e@example.org", "550 5.1.1 no such user")
    deliverability.bounced("f@example.org", "550 5.7.1 refused")
    db.session.commit()
    result = _run(app, "problems")
    assert result.exit_code == 0
    assert "e@example.org\tsuppressed\t3 in a row\t3 in all" in result.output
    assert "f@example.org\tbounced\t1 in a row" in result.output


def test_the_mail_problems_page_lists_and_clears(client, organiser):
    for _ in range(3):
        deliverability.bounced("g@example.org", "550 5.1.1 no such user")
    db.session.commit()
    log_in(client, organiser)
    html = client.get("/manage/members/mail-problems").get_data(as_text=True)
    assert "g@example.org" in html and "550 5.1.1 no such user" in html and "Suppressed" in html

    answer = post_form(
        client,
        "/manage/members/mail-problems/clear",
        {"address": "g@example.org"},
        page="/manage/members/mail-problems",
    )
    assert answer.status_code == 302
    db.session.expire_all()
    row = db.session.scalar(select(MailAddress).where(MailAddress.address == "g@example.org"))
    assert row.suppressed_at is None and row.bounces == 0 and row.total_bounces == 3


def test_clear_needs_csrf_and_an_address(client, organiser):
    for _ in range(3):
        deliverability.bounced("h@example.org", "550")
    db.session.commit()
    log_in(client, organiser)
    assert (
        client.post(
            "/manage/members/mail-problems/clear", data={"address": "h@example.org"}
        ).status_code
        == 400
    )
    missing = post_form(
        client, "/manage/members/mail-problems/clear", {}, page="/manage/members/mail-problems"
    )
    assert missing.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(select(MailAddress)).suppressed_at is not None


def test_members_cannot_see_or_clear_mail_problems(client, member):
    log_in(client, member)
    assert client.get("/manage/members/mail-problems").status_code == 403
