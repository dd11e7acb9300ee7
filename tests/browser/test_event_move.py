"""An organiser moves an event with a shift: the form says first whom it e-mails, and the
shift moves with the event."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import form_time

pytestmark = pytest.mark.browser

LONDON = ZoneInfo("Europe/London")
TITLE = "Doorstep day in Harehills"


def test_moving_an_event_warns_whom_it_emails_and_moves_its_shift(start_node, chromium):
    node = start_node()
    context = chromium.new_context(base_url=node.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/login")
    page.fill("#f-email", f"admin@{node.handle}.test")
    page.fill("#f-password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Times relative to now, on whole hours in London, ten days ahead.
    start = (datetime.now(LONDON) + timedelta(days=10)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    page.goto("/manage/events/new")
    page.fill("#f-title", TITLE)
    page.select_option("#f-kind", "canvass")
    page.fill("#f-starts_at", form_time(start))
    page.fill("#f-ends_at", form_time(start + timedelta(hours=6)))
    page.fill("#f-timezone", "Europe/London")
    page.get_by_role("button", name="Create event").click()
    page.get_by_role("link", name=TITLE).click()
    event_id = re.search(r"/manage/events/(\d+)/edit", page.url).group(1)

    page.goto(f"/manage/events/{event_id}/shifts")
    page.fill("#f-label", "Morning")
    page.fill("#f-starts_at", form_time(start + timedelta(hours=1)))
    page.fill("#f-ends_at", form_time(start + timedelta(hours=3)))
    page.get_by_role("button", name="Add the shift").click()
    page.goto(f"/events/{event_id}")
    page.locator("#shifts").get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("You are signed up for that shift.")).to_be_visible()

    page.goto(f"/manage/events/{event_id}/edit")
    expect(page.locator("#save-note")).to_contain_text("e-mails 1 person on shifts")
    later = start + timedelta(days=1)
    page.fill("#f-starts_at", form_time(later))
    page.fill("#f-ends_at", form_time(later + timedelta(hours=6)))
    page.get_by_role("button", name="Save changes").click()
    warning = page.locator("#save-warning")
    expect(warning).to_contain_text("Saving will e-mail 1 person on shifts")
    expect(warning).to_contain_text("1 shift moves with the event")
    moved = later + timedelta(hours=1)
    expect(warning).to_contain_text(f"Morning: {moved:%a %d %b %Y, %H:%M}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="Save and e-mail them").click()
    expect(page.get_by_text(f"Saved the event “{TITLE}”.")).to_be_visible()

    page.goto(f"/manage/events/{event_id}/shifts")
    expect(page.get_by_role("heading", name=re.compile("^Morning: "))).to_contain_text(
        f"{moved:%a %d %b %Y, %H:%M}"
    )
    context.close()
