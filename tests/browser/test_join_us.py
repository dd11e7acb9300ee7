"""A visitor on a phone asks to join on the "Join us" form, the organiser approves the request
in Manage, and the invitation reaches the visitor's mailbox and lets them finish joining."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.integration.conftest import ADMIN_PASSWORD

from .support import PHONE, fits_phone, smtp_settings, wait_for_mail

pytestmark = pytest.mark.browser

PASSWORD = "a long new member passphrase"


def test_a_visitor_joins_on_a_phone_and_the_organiser_approves(start_node, chromium, mailbox):
    node = start_node(settings=smtp_settings(mailbox))
    visitor = chromium.new_context(base_url=node.url, viewport=PHONE, is_mobile=True)
    phone = visitor.new_page()
    phone.goto("/")
    phone.get_by_role("link", name="Join us").click()
    expect(phone.get_by_role("heading", name=re.compile("^Join "))).to_be_visible()
    fits_phone(phone)
    phone.fill("#f-name", "Robin Hood")
    phone.fill("#f-email", "robin@example.org")
    phone.fill("#f-postcode", "nowhere")
    phone.get_by_role("button", name="Ask to join").click()
    expect(phone.locator("#f-postcode-error")).to_contain_text("Enter a postcode")
    expect(phone.locator("#f-name")).to_have_value("Robin Hood")  # what was typed is kept
    phone.fill("#f-postcode", "LS7 3HB")
    phone.get_by_role("button", name="Ask to join").click()
    expect(phone.get_by_text("we have your request to join")).to_be_visible()
    wait_for_mail(mailbox, "robin@example.org", re.compile("We have your request to join"))

    desk = chromium.new_context(base_url=node.url)
    admin = desk.new_page()
    admin.goto("/login")
    admin.fill("#f-email", f"admin@{node.handle}.test")
    admin.fill("#f-password", ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    admin.goto("/manage/members/")
    admin.get_by_role("link", name=re.compile(r"Requests to join \(1\)")).click()
    expect(admin.get_by_text("LS7 3HB")).to_be_visible()
    admin.get_by_role("button", name="Approve Robin Hood").click()
    expect(admin.get_by_text("Approved Robin Hood")).to_be_visible()

    invitation = wait_for_mail(mailbox, "robin@example.org", re.compile("invitation", re.I))
    text = invitation.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/invite/[A-Za-z0-9_-]+", text).group(0)
    phone.goto(link)
    expect(phone.locator("#f-display_name")).to_have_value("Robin Hood")
    fits_phone(phone)
    phone.fill("#f-password", PASSWORD)
    phone.fill("#f-password_confirm", PASSWORD)
    phone.get_by_role("button", name="Join the group").click()
    expect(phone.get_by_text("Welcome to")).to_be_visible()
