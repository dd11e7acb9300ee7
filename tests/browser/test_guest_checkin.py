"""A visitor RSVPs without an account on a phone, confirms from the e-mailed link, and an
organiser checks them in at the door on a phone; the node sends mail to a real SMTP server."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE, fits_phone, form_time, smtp_settings, wait_for_mail

pytestmark = pytest.mark.browser

TITLE = "Saturday stall on Briggate"
LINK = re.compile(r"https?://\S+/rsvp/glt_[A-Za-z0-9_-]+")


def test_a_guest_rsvps_confirms_and_is_checked_in_on_phones(start_node, chromium, mailbox):
    node = start_node(settings=smtp_settings(mailbox))
    now = datetime.now(ZoneInfo("UTC"))

    organiser = chromium.new_context(base_url=node.url, viewport=PHONE)
    door = organiser.new_page()
    door.goto("/login")
    door.fill("#f-email", f"admin@{node.handle}.test")
    door.fill("#f-password", ADMIN_PASSWORD)
    door.get_by_role("button", name="Log in").click()
    expect(door.get_by_role("link", name="Manage")).to_be_visible()
    door.goto("/manage/events/new")
    door.fill("#f-title", TITLE)
    door.select_option("#f-kind", "street_stall")
    door.fill("#f-starts_at", form_time(now + timedelta(minutes=30)))
    door.fill("#f-ends_at", form_time(now + timedelta(hours=3)))
    door.fill("#f-capacity", "20")
    door.get_by_role("button", name="Create event").click()
    expect(door.get_by_role("status")).to_contain_text(f"Created the event “{TITLE}”")

    visitor = chromium.new_context(base_url=node.url, viewport=PHONE)
    page = visitor.new_page()
    page.goto("/events")
    page.get_by_role("link", name=TITLE).click()
    event_url = page.url
    page.fill("#f-name", "Sam Visitor")
    page.fill("#f-email", "sam@example.org")
    page.get_by_role("button", name="E-mail me the link").click()
    expect(page.get_by_role("status")).to_contain_text("we have e-mailed sam@example.org")

    message = wait_for_mail(mailbox, "sam@example.org")  # sent by the node's worker
    assert message["Subject"] == f"Confirm you are coming: {TITLE}"
    link = LINK.search(message.get_content()).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm my place").click()
    expect(page.get_by_text("you are going", exact=True)).to_be_visible()
    page.goto(event_url)
    expect(page.get_by_text("20 in all; 19 left")).to_be_visible()
    visitor.close()

    door.goto(event_url.replace("/events/", "/manage/events/") + "/checkin")
    expect(door.get_by_role("status").filter(has_text="here")).to_contain_text("0 here")
    fits_phone(door)
    door.get_by_role("button", name="Check in Sam Visitor").click()
    expect(door.get_by_role("button", name="Undo check-in for Sam Visitor")).to_be_visible()
    door.fill("#f-name", "Pat Walk-in")
    door.get_by_role("button", name="Check in the walk-in").click()
    expect(door.get_by_role("status").filter(has_text="here")).to_contain_text("2 here")
    door.fill("#q", "pat")
    door.get_by_role("button", name="Find").click()
    expect(door.get_by_text("Sam Visitor")).to_have_count(0)
    expect(door.get_by_role("button", name="Undo check-in for Pat Walk-in")).to_be_visible()
    fits_phone(door)
    organiser.close()
