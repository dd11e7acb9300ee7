"""A full event: a visitor joins its waiting list from the e-mailed link on a phone; when the
one person going cancels, the visitor is given the place and e-mailed, by a real node."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD
from tests.node.mail_support import plain

from .support import PHONE, fits_phone, form_time, smtp_settings, wait_for_mail

pytestmark = pytest.mark.browser

TITLE = "Tenants' union open meeting"
LINK = re.compile(r"https?://\S+/rsvp/glt_[A-Za-z0-9_-]+")


def test_a_guest_waits_for_a_full_event_and_is_promoted_and_mailed(start_node, chromium, mailbox):
    node = start_node(settings=smtp_settings(mailbox))
    now = datetime.now(ZoneInfo("UTC"))

    organiser = chromium.new_context(base_url=node.url, viewport=PHONE)
    admin = organiser.new_page()
    admin.goto("/login")
    admin.fill("#f-email", f"admin@{node.handle}.test")
    admin.fill("#f-password", ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("link", name="Manage")).to_be_visible()
    admin.goto("/manage/events/new")
    admin.fill("#f-title", TITLE)
    admin.select_option("#f-kind", "meeting")
    admin.fill("#f-starts_at", form_time(now + timedelta(days=2)))
    admin.fill("#f-ends_at", form_time(now + timedelta(days=2, hours=2)))
    admin.fill("#f-capacity", "1")
    admin.get_by_role("button", name="Create event").click()
    expect(admin.get_by_role("status")).to_contain_text(f"Created the event “{TITLE}”")
    admin.goto("/events")
    admin.get_by_role("link", name=TITLE).click()
    event_url = admin.url
    admin.get_by_label("Going", exact=True).check()
    admin.get_by_role("button", name="Send my answer").click()
    expect(admin.get_by_text("1 in all; full")).to_be_visible()

    visitor = chromium.new_context(base_url=node.url, viewport=PHONE)
    page = visitor.new_page()
    page.goto(event_url)
    expect(page.get_by_text("Full — join the waiting list.")).to_be_visible()
    fits_phone(page)
    page.fill("#f-name", "Sam Visitor")
    page.fill("#f-email", "sam@example.org")
    page.get_by_role("button", name="E-mail me the link").click()
    expect(page.get_by_role("status")).to_contain_text("we have e-mailed sam@example.org")
    first = wait_for_mail(mailbox, "sam@example.org", "Confirm you are coming")
    page.goto(LINK.search(plain(first)).group(0))
    page.get_by_role("button", name="Join the waiting list").click()
    expect(page.get_by_text("you are number 1 on the waiting list")).to_be_visible()
    fits_phone(page)

    admin.goto(event_url.replace("/events/", "/manage/events/") + "/attendance")
    expect(admin.get_by_role("heading", name="Waiting list")).to_be_visible()
    expect(admin.get_by_text("sam@example.org")).to_be_visible()
    admin.goto(event_url)
    admin.get_by_role("button", name="Withdraw my answer").click()

    promoted = wait_for_mail(mailbox, "sam@example.org", "You have a place")
    assert TITLE in promoted["Subject"]
    page.goto(LINK.search(plain(promoted)).group(0))
    expect(page.get_by_text("you are going", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel my place")).to_be_visible()
    visitor.close()
    organiser.close()
