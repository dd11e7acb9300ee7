"""A member votes in a ballot in a real browser, and after the close sees the result.

The organiser is the ballot's single teller (1 of 1), so they are warned that they alone
can read every paper; they keep their code, close the ballot and give their share.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE, form_time

pytestmark = pytest.mark.browser

QUESTION = "Should we twin with Leeds Central?"
MEMBER_PASSWORD = "a long member passphrase"


def _log_in(context, email: str, password: str):
    page = context.new_page()
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Ballots")).to_be_visible()
    return page


def test_a_member_votes_and_later_sees_the_result(start_node, chromium):
    node = start_node()
    added = node.cli("member", "add", "ria@example.org", "--name", "Ria").stdout
    invite = re.search(r"https?://\S+", added).group(0)

    member = chromium.new_context(base_url=node.url, viewport=PHONE)
    joining = member.new_page()
    joining.goto(invite)
    joining.fill("#f-display_name", "Ria")
    joining.fill("#f-password", MEMBER_PASSWORD)
    joining.fill("#f-password_confirm", MEMBER_PASSWORD)
    joining.get_by_role("button", name="Join the group").click()
    joining.close()

    organiser = chromium.new_context(base_url=node.url)
    admin = _log_in(organiser, f"admin@{node.handle}.test", ADMIN_PASSWORD)
    now = datetime.now(ZoneInfo("UTC"))
    # Opening on the next whole second, after Ria joined: the roll is fixed at the opening
    # (freeze_at left blank), and the form takes times to the second.
    opens = (now + timedelta(seconds=1)).replace(microsecond=0)
    admin.goto("/manage/ballots/new")
    admin.fill("#f-question", QUESTION)
    admin.select_option("#f-kind", "yes_no")
    admin.fill("#f-opens_at", form_time(opens, seconds=True))
    admin.fill("#f-closes_at", form_time(now + timedelta(days=2), seconds=True))
    admin.get_by_label("Admin", exact=True).check()
    admin.get_by_role("button", name="Set up the ballot").click()
    expect(admin.get_by_role("heading", name=QUESTION)).to_be_visible()
    expect(admin.get_by_text("Warning: one teller alone can open the papers")).to_be_visible()
    expect(admin.get_by_text("a single teller, who alone can read every paper")).to_be_visible()
    ballot_url = admin.url
    admin.get_by_role("link", name=re.compile("You are a teller")).click()
    admin.get_by_role("button", name="Show me my code").click()
    code = admin.locator("#teller-code").inner_text().strip()
    admin.fill("#f-code", code)
    admin.get_by_role("button", name="I have kept my code").click()
    expect(admin.get_by_text("Every teller has now")).to_be_visible()

    while datetime.now(ZoneInfo("UTC")) < opens:
        time.sleep(0.05)  # a second at most: voting starts at the opening
    page = member.new_page()  # joining logged Ria in
    page.goto("/")
    page.get_by_role("link", name="Ballots").click()
    page.get_by_role("link", name=QUESTION).click()
    expect(page.locator("#turnout")).to_have_text("0 of 2 eligible members have voted (0%)")
    # An empty paper is refused in the form: abstaining is the Abstain option.
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("#f-choices .field-error")).to_contain_text("Choose Yes, No or Abstain")
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Cast my vote").click()
    # Nothing is cast yet: the member checks their vote, goes back and changes it.
    expect(page.get_by_role("heading", name="Check your vote")).to_be_visible()
    expect(page.locator("#review-choice")).to_have_text("No")
    expect(page.get_by_text("Your vote cannot be changed once cast")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Change my choices").click()
    expect(page.get_by_label("No", exact=True)).to_be_checked()
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Cast my vote").click()
    expect(page.locator("#review-choice")).to_have_text("Yes")
    page.get_by_role("button", name="Confirm my vote").click()
    expect(page.get_by_role("heading", name="Your vote is in")).to_be_visible()
    tracker = page.locator("#tracker").inner_text().strip()
    page.goto(ballot_url)
    expect(page.get_by_text("You have voted")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Result"))).to_have_count(0)

    admin.goto(ballot_url)
    expect(admin.locator("#turnout")).to_have_text("1 of 2 eligible members has voted (50%)")
    # Closing asks first, saying what happens and who is told.
    admin.get_by_role("link", name="Close voting now…").click()
    expect(admin.get_by_role("heading", name="Close voting now?")).to_be_visible()
    expect(admin.get_by_text("Nobody is e-mailed")).to_be_visible()
    admin.get_by_role("button", name="Yes, close voting now").click()
    expect(admin.get_by_text("The count waits for the tellers")).to_be_visible()
    admin.get_by_role("link", name=re.compile("give your share")).click()
    admin.fill("#f-code", code)
    admin.get_by_role("button", name="Give my share").click()
    expect(admin.get_by_role("heading", name="Result: Passed")).to_be_visible()
    organiser.close()

    page.reload()
    expect(page.get_by_role("heading", name="Result: Passed")).to_be_visible()
    expect(page.get_by_text("1 of 2 eligible members voted")).to_be_visible()
    expect(page.locator("#result svg[role=img] title").first).to_have_text("Votes per option")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("link", name=re.compile("The opened papers")).click()
    expect(page.get_by_role("cell", name="Yes")).to_be_visible()
    expect(page.get_by_text(tracker)).to_have_count(0)  # no tracker beside a paper
    member.close()
