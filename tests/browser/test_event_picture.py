"""An organiser gives an event a picture in a real browser; a visitor sees it on the event page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE

pytestmark = pytest.mark.browser

TITLE = "Stall with a picture"
ALT = "Volunteers behind a table of leaflets"


def test_organiser_uploads_an_event_picture_that_visitors_see(start_node, chromium, tmp_path):
    node = start_node()
    day = date.today() + timedelta(days=10)  # any day ahead: the event must be upcoming
    photo = tmp_path / "stall.jpg"
    Image.new("RGB", (2400, 1200), (30, 120, 200)).save(photo, "JPEG")

    organiser = chromium.new_context(base_url=node.url)
    page = organiser.new_page()
    page.goto("/login")
    page.fill("#f-email", f"admin@{node.handle}.test")
    page.fill("#f-password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/manage/events/new")
    page.fill("#f-title", TITLE)
    page.select_option("#f-kind", "street_stall")
    page.fill("#f-starts_at", f"{day.isoformat()}T10:00")
    page.set_input_files("#f-image", str(photo))
    page.fill("#f-image_alt", ALT)
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created the event “{TITLE}”")
    organiser.close()

    visitor = chromium.new_context(base_url=node.url, viewport=PHONE)
    public = visitor.new_page()
    public.goto("/events")
    public.get_by_role("link", name=TITLE).click()
    picture = public.get_by_role("img", name=ALT)
    expect(picture).to_be_visible()
    # Decoded by the browser, shrunk by the node, and no wider than the phone.
    assert picture.evaluate("img => img.naturalWidth") == 1600
    assert picture.evaluate("img => img.getBoundingClientRect().width") <= PHONE["width"]
    assert public.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    public.screenshot(path=str(tmp_path / "event-picture-phone.png"), full_page=True)
    visitor.close()
