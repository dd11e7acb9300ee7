"""An organiser writes an announcement to everyone going to an event, previews and sends it;
the node's worker mails it to a real SMTP server; the member unsubscribes with one click from
the mail, and the next announcement to the same audience skips them."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import form_time, smtp_settings, wait_for_mail

pytestmark = pytest.mark.browser

TITLE = "Saturday stall on Briggate"
MEMBER_PASSWORD = "a long member passphrase"
STOP = re.compile(r"Stop these with one click: (\S+)")


def _mail_to(mailbox, to: str, subject: str) -> list:
    return [
        message
        for _sender, recipients, message in list(mailbox.received)
        if to in recipients and message["Subject"] == subject
    ]


def _announce(page, attendance_url: str, subject: str, body: str, reach: int) -> None:
    page.goto(attendance_url)
    page.get_by_role("link", name="people going").click()
    page.fill("#f-subject", subject)
    page.fill("#f-body", body)
    page.get_by_role("button", name="Save the draft").click()
    expect(page.locator("#preview .preview-html strong")).to_have_text("Bring leaflets")
    page.get_by_role("link", name="Send or schedule…").click()
    expect(page.locator("#confirm-reach")).to_contain_text(
        f"This will go to {reach} {'person' if reach == 1 else 'people'}"
    )
    page.get_by_role("button", name="Send").click()
    messages = "message" if reach == 1 else "messages"
    expect(page.get_by_role("status")).to_contain_text(f"Sent: {reach} {messages} queued")


def test_an_announcement_reaches_the_member_who_then_unsubscribes(start_node, chromium, mailbox):
    node = start_node(settings=smtp_settings(mailbox))
    admin_email = f"admin@{node.handle}.test"
    added = node.cli("member", "add", "ria@example.org", "--name", "Ria").stdout
    invite = re.search(r"https?://\S+", added).group(0)
    member = chromium.new_context(base_url=node.url)
    ria = member.new_page()
    ria.goto(invite)
    ria.fill("#f-display_name", "Ria")
    ria.fill("#f-password", MEMBER_PASSWORD)
    ria.fill("#f-password_confirm", MEMBER_PASSWORD)
    ria.get_by_role("button", name="Join the group").click()

    organiser = chromium.new_context(base_url=node.url)
    page = organiser.new_page()
    page.goto("/login")
    page.fill("#f-email", admin_email)
    page.fill("#f-password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    now = datetime.now(ZoneInfo("UTC"))
    page.goto("/manage/events/new")
    page.fill("#f-title", TITLE)
    page.select_option("#f-kind", "street_stall")
    page.fill("#f-starts_at", form_time(now + timedelta(days=2)))
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created the event “{TITLE}”")

    ria.goto("/events")
    ria.get_by_role("link", name=TITLE).click()
    event_url = ria.url
    ria.get_by_label("Going", exact=True).check()
    ria.get_by_role("button", name="Send my answer").click()
    expect(ria.get_by_role("status")).to_contain_text("you answered “Going”")
    member.close()

    attendance = event_url.replace("/events/", "/manage/events/") + "/attendance"
    _announce(page, attendance, "Meet at 10", "**Bring leaflets** to the market.", 1)

    message = wait_for_mail(mailbox, "ria@example.org", "Meet at 10")  # the node's worker
    plain = message.get_body(("plain",)).get_content()
    assert "Bring leaflets to the market." in plain
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = STOP.search(plain).group(1)

    # Opened from the mail, in a browser that is not logged in: one click, no log-in.
    reader = chromium.new_context()
    opened = reader.new_page()
    opened.goto(link)
    opened.get_by_role("button", name="Unsubscribe").click()
    expect(opened.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    reader.close()

    # The organiser goes too, so the next announcement has someone to reach.
    page.goto(event_url)
    page.get_by_label("Going", exact=True).check()
    page.get_by_role("button", name="Send my answer").click()
    _announce(page, attendance, "Change of plan", "**Bring leaflets** and a table.", 1)
    wait_for_mail(mailbox, admin_email, "Change of plan")
    time.sleep(1)  # the worker sends a batch in one go: anything for Ria would be here too
    assert _mail_to(mailbox, "ria@example.org", "Change of plan") == []
    assert len(_mail_to(mailbox, "ria@example.org", "Meet at 10")) == 1
    page.goto("/manage/messages/")
    expect(page.get_by_role("link", name="Change of plan")).to_be_visible()
    organiser.close()
