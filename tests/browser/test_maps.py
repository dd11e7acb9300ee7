"""Maps in a real browser: an event placed by town name shows a map with its marker, and
"events near a place" takes a town. Tile requests go to a local stub, never the internet."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

# A 1×1 transparent PNG served for every tile.
TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _stub_tiles(context) -> list[str]:
    asked: list[str] = []

    def tile(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=TILE)

    context.route("https://tile.openstreetmap.org/**", tile)
    return asked


def test_an_event_placed_by_town_shows_a_map_and_events_are_found_near_a_town(start_node, chromium):
    node = start_node()
    context = chromium.new_context(base_url=node.url)
    tiles = _stub_tiles(context)
    page = context.new_page()
    page.goto("/login")
    page.fill("#f-email", f"admin@{node.handle}.test")
    page.fill("#f-password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Manage")).to_be_visible()

    page.goto("/manage/events/new")
    page.fill("#f-title", "Canal clean-up")
    page.select_option("#f-kind", "meeting")
    page.fill("#f-starts_at", "2031-06-07T10:00")
    page.fill("#f-place_name", "Hebden Bridge marina")
    page.fill("#f-locate", "Hebden Bridge")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("Created the event")).to_be_visible()

    page.goto("/events")  # the list maps its events too
    expect(page.locator(".map.leaflet-container")).to_be_visible()
    page.get_by_role("link", name="Canal clean-up").first.click()

    expect(page.locator(".map.leaflet-container")).to_be_visible()
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(page.get_by_role("link", name="See it on OpenStreetMap")).to_be_visible()
    page.wait_for_timeout(200)  # tiles are asked for once the map has a size
    assert tiles, "the map asked for no tiles"

    page.goto("/network/events")
    page.fill("#filter-near", "Leeds")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("Leeds, England").first).to_be_visible()

    page.fill("#filter-near", "Narnia")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#filter-near-error")).to_contain_text("We cannot find “Narnia”")
    expect(page.locator("#filter-near")).to_have_value("Narnia")
