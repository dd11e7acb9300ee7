"""An organiser plans an event in a real browser; a visitor then finds it on the group page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE

pytestmark = pytest.mark.browser

TITLE = "Library street stall"


def test_organiser_creates_an_event_that_visitors_see(start_node, chromium, tmp_path):
    node = start_node()
    day = date.today() + timedelta(days=10)

    organiser = chromium.new_context(base_url=node.url)
    page = organiser.new_page()
    page.goto("/login")
    page.fill("#f-email", f"admin@{node.handle}.test")
    page.fill("#f-password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Manage")).to_be_visible()

    page.get_by_role("link", name="Manage").click()
    page.get_by_role("link", name="New event").click()
    page.fill("#f-title", TITLE)
    page.select_option("#f-kind", "street_stall")
    page.fill("#f-starts_at", f"{day.isoformat()}T10:00")
    page.fill("#f-ends_at", f"{day.isoformat()}T12:00")
    page.fill("#f-place_name", "Chapel Allerton Library")
    page.fill("#f-capacity", "12")
    page.get_by_role("button", name="Create event").click()

    expect(page.get_by_role("status")).to_contain_text(f"Created the event “{TITLE}”")
    expect(page.get_by_role("cell", name=TITLE)).to_be_visible()
    organiser.close()

    visitor = chromium.new_context(base_url=node.url, viewport=PHONE)
    public = visitor.new_page()
    public.goto("/")
    expect(public.get_by_text(TITLE)).to_be_visible()
    expect(public.get_by_role("link", name="Manage")).to_have_count(0)
    public.screenshot(path=str(tmp_path / "public-page-phone.png"), full_page=True)
    visitor.close()
