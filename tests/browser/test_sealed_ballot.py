"""A sealed ballot in a real browser: tellers keep codes, members vote on phones, two count."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE, form_time

pytestmark = pytest.mark.browser

QUESTION = "Should we back the library campaign?"
PASSWORD = "a long member passphrase"
TELLERS = ("Ann", "Bob", "Cai")
VOTERS = (("Dee", "Yes"), ("Eve", "Yes"), ("Fay", "No"))
DEADLINE_MS = 30_000  # generous: two cores are shared by several test runs


def _join(chromium, node, name: str):
    """Add a member with the CLI and accept the invitation on a phone; return their browser."""
    added = node.cli("member", "add", f"{name.lower()}@example.org", "--name", name).stdout
    invite = re.search(r"https?://\S+", added).group(0)
    context = chromium.new_context(base_url=node.url, viewport=PHONE)
    context.set_default_timeout(DEADLINE_MS)
    page = context.new_page()
    page.goto(invite)
    page.fill("#f-display_name", name)
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password_confirm", PASSWORD)
    page.get_by_role("button", name="Join the group").click()
    expect(page.get_by_role("link", name="Ballots")).to_be_visible()
    return context, page


def test_tellers_keep_codes_members_vote_two_tellers_count(start_node, chromium):
    node = start_node()
    people = {name: _join(chromium, node, name) for name in (*TELLERS, *(v for v, _ in VOTERS))}

    organiser = chromium.new_context(base_url=node.url)
    organiser.set_default_timeout(DEADLINE_MS)
    admin = organiser.new_page()
    admin.goto("/login")
    admin.fill("#f-email", node.admin_email)
    admin.fill("#f-password", ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    now = datetime.now(ZoneInfo("UTC"))
    # Opening on the next whole second, after everyone joined (the roll is fixed then);
    # voting waits for the tellers anyway.
    opens = (now + timedelta(seconds=1)).replace(microsecond=0)
    admin.goto("/manage/ballots/new")
    admin.fill("#f-question", QUESTION)
    admin.select_option("#f-kind", "yes_no")
    admin.fill("#f-opens_at", form_time(opens, seconds=True))
    admin.fill("#f-closes_at", form_time(now + timedelta(days=2), seconds=True))
    for name in TELLERS:
        admin.get_by_label(name, exact=True).check()
    admin.get_by_role("button", name="Set up the ballot").click()
    expect(admin.get_by_role("heading", name=QUESTION)).to_be_visible()
    ballot_url = admin.url
    expect(admin.locator("#ballot-state")).to_contain_text("0 of 3 have")

    codes = {}
    for name in TELLERS:
        page = people[name][1]
        page.goto(ballot_url)
        page.get_by_role("link", name=re.compile("You are a teller")).click()
        page.get_by_role("button", name="Show me my code").click()
        code = page.locator("#teller-code").inner_text().strip()
        assert code.startswith("BLT1-")
        with page.expect_download() as saved:
            page.locator("#code-file").click()
        assert code in Path(saved.value.path()).read_text(encoding="utf-8")
        page.fill("#f-code", code)
        page.get_by_role("button", name="I have kept my code").click()
        expect(page.get_by_text("Thank you: you have kept your code.")).to_be_visible()
        codes[name] = code

    trackers = {}
    for name, choice in VOTERS:
        page = people[name][1]
        page.goto("/")
        page.get_by_role("link", name="Ballots").click()
        page.get_by_role("link", name=QUESTION).click()
        page.get_by_label(choice, exact=True).check()
        page.get_by_role("button", name="Cast my vote").click()
        expect(page.locator("#review-choice")).to_contain_text(choice)
        page.get_by_role("button", name="Confirm my vote").click()
        expect(page.get_by_role("heading", name="Your vote is in")).to_be_visible()
        trackers[name] = page.locator("#tracker").inner_text().strip()
        assert re.fullmatch(r"[0-9a-f]{64}", trackers[name])

    admin.goto(ballot_url)
    expect(admin.get_by_text("Not yet")).to_have_count(0)
    admin.get_by_role("link", name="Close voting now…").click()
    admin.get_by_role("button", name="Yes, close voting now").click()
    expect(admin.locator("#ballot-state")).to_contain_text("waiting for 2 more tellers")

    for name in ("Cai", "Ann"):
        page = people[name][1]
        page.goto(ballot_url)
        page.get_by_role("link", name=re.compile("give your share")).click()
        page.fill("#f-code", codes[name])
        page.get_by_role("button", name="Give my share").click()
    page = people["Ann"][1]
    expect(page.get_by_role("heading", name="Result: Passed")).to_be_visible()
    expect(page.get_by_text("3 sealed papers opened")).to_be_visible()

    dee = people["Dee"][1]
    dee.goto(ballot_url)
    expect(dee.get_by_role("heading", name="Result: Passed")).to_be_visible()
    dee.get_by_role("link", name=re.compile("The ballot box")).click()
    dee.fill("#tracker", trackers["Dee"])
    dee.get_by_role("button", name="Find").click()
    expect(dee.locator("#tracker-found")).to_contain_text("its paper was counted")
    expect(dee.locator("code.tracker", has_text=trackers["Dee"])).to_be_visible()
    # Nothing is wider than the phone: long trackers wrap.
    width = dee.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]

    for context, _page in people.values():
        context.close()
    organiser.close()
