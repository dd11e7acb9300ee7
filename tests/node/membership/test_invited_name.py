"""The invitation page fills in the name the organiser gave (defect 12)."""

from __future__ import annotations

import re

from node.cli import members
from tests.conftest import log_in, post_form

LINK = re.compile(r"/invite/([A-Za-z0-9_-]{20,})")


def _name_field(html: str) -> str:
    found = re.search(r'<input[^>]*name="display_name"[^>]*>', html)
    assert found, "no name field"
    value = re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else ""


def test_member_add_with_a_name_offers_that_name_on_the_invitation(app, client, group):
    result = app.test_cli_runner().invoke(
        members.member, ["add", "nia@example.org", "--name", "Nia Jones"]
    )
    assert result.exit_code == 0, result.output
    token = LINK.search(result.output).group(1)

    page = client.get(f"/invite/{token}")

    assert page.status_code == 200
    assert _name_field(page.get_data(as_text=True)) == "Nia Jones"


def _invite_from_manage(client, organiser, **form) -> str:
    log_in(client, organiser)
    answer = post_form(
        client, "/manage/members/invite", {"role": "member", **form}, page="/manage/members/invite"
    )
    assert answer.status_code == 200
    token = LINK.search(answer.get_data(as_text=True)).group(1)
    post_form(client, "/logout", page="/")
    return token


def test_the_manage_invite_form_name_is_filled_in_for_an_address(client, organiser):
    token = _invite_from_manage(
        client, organiser, email="sam@example.org", display_name="Sam Smith"
    )

    page = client.get(f"/invite/{token}").get_data(as_text=True)

    assert _name_field(page) == "Sam Smith"


def test_the_manage_invite_form_name_is_filled_in_on_an_open_link(client, organiser):
    token = _invite_from_manage(client, organiser, display_name="Ola Open")

    page = client.get(f"/invite/{token}").get_data(as_text=True)

    assert _name_field(page) == "Ola Open"
