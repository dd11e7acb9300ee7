"""The first hour of a new organiser, in a real browser, as issue 18 walked it.

A node started as `make run` starts one (migrated, not set up) prints its setup link; the
organiser sets it up on a desktop, follows the "what next" checklist (profile, first event
placed by town name with a map, an invitation by e-mail), and the invited member joins and
RSVPs on a phone. Every phone page's full-page screenshot must be exactly the phone's width:
a wider one means the page scrolls sideways.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.integration.conftest import (
    BRANCHLINE,
    RunningNode,
    _launch,
    _stop,
    free_port,
    node_environment,
)

from .support import PHONE, smtp_settings, wait_for
from .test_maps import _stub_tiles

pytestmark = pytest.mark.browser

ORGANISER_PASSWORD = "a long organiser passphrase"
MEMBER_PASSWORD = "a long member passphrase"
TITLE = "Canal clean-up"
INVITATION = re.compile(r"https?://\S+/invite/\S+")


@pytest.fixture
def fresh_node(tmp_path, mailbox):
    """A node as `make run` leaves it: migrated and running, with no group yet."""
    instance, log, port = tmp_path / "instance", tmp_path / "node.log", free_port()
    settings = smtp_settings(mailbox, sender="Branchline <branchline@example.org>")
    upgrade = subprocess.run(
        [str(BRANCHLINE), "db", "upgrade"],
        env=node_environment(instance, settings),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    process = _launch(instance, port, log, settings)
    node = RunningNode("", "", port, instance, process, log, settings)
    try:
        yield node
    finally:
        _stop(process)
        shutil.rmtree(instance, ignore_errors=True)


def _fits_the_phone(page, name: str, folder) -> None:
    """Take a full-page screenshot and check it is no wider than the phone."""
    shot = page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    width = Image.open(io.BytesIO(shot)).width
    assert width == PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def test_the_first_hour_from_setup_to_a_member_rsvp_on_a_phone(
    fresh_node, chromium, mailbox, tmp_path
):
    # `branchline run` ends its start with the address and, on a fresh node, the setup link.
    setup_link = wait_for(
        "the setup link", lambda: re.search(r"http://\S+/setup\?code=\S+", fresh_node.output())
    ).group(0)

    desk = chromium.new_context(base_url=fresh_node.url)
    tiles = _stub_tiles(desk)
    page = desk.new_page()
    page.goto(setup_link)
    page.fill("#f-name", "Calder Valley Momentum")
    page.fill("#f-handle", "caldervalley")
    page.fill("#f-admin_email", "sam@example.org")
    page.fill("#f-admin_name", "Sam")
    page.fill("#f-password", ORGANISER_PASSWORD)
    page.fill("#f-password_confirm", ORGANISER_PASSWORD)
    page.get_by_role("button", name="Set up the node").click()

    # The first page after setup is the checklist, nothing done yet.
    expect(page.get_by_role("heading", name="What next")).to_be_visible()
    expect(page.get_by_text("0 of 4 done")).to_be_visible()

    page.get_by_role("link", name="Fill in the group's profile").click()
    page.fill("#f-summary", "Momentum in Hebden Bridge, Todmorden and the valley.")
    page.get_by_role("button", name="Save profile").click()
    page.goto("/manage/")
    expect(page.locator("#step-profile")).to_have_class(re.compile(r"\bdone\b"))

    page.get_by_role("link", name="Plan your first event").click()
    page.fill("#f-title", TITLE)
    page.select_option("#f-kind", "meeting")
    page.fill("#f-starts_at", "2031-06-07T10:00")
    page.fill("#f-ends_at", "2031-06-07T12:00")
    page.fill("#f-place_name", "Hebden Bridge marina")
    page.fill("#f-locate", "Hebden Bridge")  # a town, not latitude and longitude
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_text("Created the event")).to_be_visible()
    page.goto("/events")
    page.get_by_role("link", name=TITLE).first.click()
    expect(page.locator(".map.leaflet-container")).to_be_visible()
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    event_path = re.sub(r"^https?://[^/]+", "", page.url)

    page.goto("/manage/")
    expect(page.locator("#step-event")).to_have_class(re.compile(r"\bdone\b"))
    page.get_by_role("link", name="Invite members").click()
    page.fill("#f-email", "ria@example.org")
    page.fill("#f-display_name", "Ria")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_text("ria@example.org").first).to_be_visible()
    page.goto("/manage/")
    expect(page.locator("#step-invite")).to_have_class(re.compile(r"\bdone\b"))
    expect(page.get_by_text("3 of 4 done")).to_be_visible()
    assert tiles, "the event's map asked for no tiles"
    desk.close()

    # The invitation arrives by e-mail; Ria opens it on her phone.
    def invitation():
        for _sender, recipients, message in list(mailbox.received):
            if "ria@example.org" in recipients:
                body = message.get_body(preferencelist=("plain",)).get_content()
                return INVITATION.search(body)
        return None

    link = wait_for("the invitation mail", invitation).group(0)
    phone_context = chromium.new_context(
        base_url=fresh_node.url, viewport=PHONE, is_mobile=True, has_touch=True
    )
    _stub_tiles(phone_context)
    phone = phone_context.new_page()
    phone.goto(link)
    expect(phone.locator("#f-display_name")).to_have_value("Ria")  # the name the organiser gave
    _fits_the_phone(phone, "1-invitation", tmp_path)
    phone.fill("#f-password", MEMBER_PASSWORD)
    phone.fill("#f-password_confirm", MEMBER_PASSWORD)
    phone.get_by_role("button", name="Join the group").click()
    expect(phone.get_by_text("Welcome to Calder Valley Momentum!")).to_be_visible()
    _fits_the_phone(phone, "2-joined", tmp_path)

    phone.goto(event_path)
    expect(phone.get_by_role("heading", name=TITLE)).to_be_visible()
    _fits_the_phone(phone, "3-event", tmp_path)
    phone.get_by_label("Going", exact=True).check()
    phone.get_by_role("button", name="Send my answer").click()
    expect(phone.get_by_text("You answered").first).to_contain_text("Going")
    _fits_the_phone(phone, "4-going", tmp_path)
    phone_context.close()
