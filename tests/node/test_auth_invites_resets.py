"""Joining through an invitation link and resetting a forgotten password."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Member
from node.services import mail, members
from tests import factories
from tests.conftest import post_form
from tests.node.pages_support import field_error, text_of

NEW_PASSWORD = "a brand new passphrase"


def _logged_in_member_id(client):
    with client.session_transaction() as session:
        return session.get("member_id")


def _join(client, token, **fields):
    data = {
        "display_name": "Rosa",
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
        **fields,
    }
    return post_form(client, f"/invite/{token}", data)


# Invitations -------------------------------------------------------------------------


def test_invite_for_an_address_shows_it_locked(client, admin):
    token = members.invite(admin, email="rosa@example.org")
    html = text_of(client.get(f"/invite/{token}"))
    assert re.search(r'<input type="email"[^>]*value="rosa@example.org"[^>]*readonly', html)
    assert "Join Leeds North Momentum" in html


def test_accepting_an_invite_creates_the_member_and_logs_them_in(client, admin):
    token = members.invite(admin, email="rosa@example.org")
    response = _join(client, token, email="rosa@example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    joined = members.by_email("rosa@example.org")
    assert joined.display_name == "Rosa" and joined.role == "member"
    assert _logged_in_member_id(client) == joined.id


def test_the_invited_address_cannot_be_swapped_for_another(client, admin):
    token = members.invite(admin, email="rosa@example.org")
    response = _join(client, token, email="mallory@example.org")
    assert response.status_code == 302
    assert members.by_email("mallory@example.org") is None
    assert members.by_email("rosa@example.org") is not None


def test_open_invite_takes_any_new_address_once_it_is_confirmed(client, admin, outbox):
    # Changed for issue 13: it asserted that the open link made the account at once for
    # any address typed, the hole that let a link take over a member's account.
    token = members.invite(admin, role="organiser")
    html = text_of(client.get(f"/invite/{token}"))
    assert "readonly" not in html and "as an organiser" in html
    assert _join(client, token, email="kim@example.org").status_code == 302
    assert members.by_email("kim@example.org") is None and _logged_in_member_id(client) is None
    confirm = _mailed_link(outbox, "kim@example.org", "/invite/")
    page = text_of(client.get(confirm))
    assert "kim@example.org" in page and "Rosa" in page and "as an organiser" in page
    response = post_form(client, confirm, {"password": NEW_PASSWORD})
    assert response.status_code == 302
    assert members.by_email("kim@example.org").role == "organiser"
    assert _logged_in_member_id(client) == members.by_email("kim@example.org").id


def test_bad_invite_input_is_a_400_with_field_errors_and_nothing_stored(client, admin):
    token = members.invite(admin)
    response = _join(
        client, token, email="not-an-address", display_name="", password_confirm="other"
    )
    html = text_of(response)
    assert response.status_code == 400
    for name in ("email", "display_name", "password_confirm"):
        assert field_error(html, name), name
    assert 'value="not-an-address"' in html
    assert db.session.scalar(select(Member).where(Member.email == "not-an-address")) is None
    assert client.get(f"/invite/{token}").status_code == 200  # still usable


def test_short_password_on_invite_is_refused_on_its_field(client, admin):
    token = members.invite(admin)
    response = _join(
        client, token, email="kim@example.org", password="short", password_confirm="short"
    )
    assert response.status_code == 400
    assert field_error(text_of(response), "password")
    assert members.by_email("kim@example.org") is None


def test_used_or_unknown_invite_is_a_friendly_404(client, admin):
    token = members.invite(admin)
    _join(client, token, email="kim@example.org")
    fresh = client.application.test_client()
    for link in (f"/invite/{token}", "/invite/not-a-token"):
        response = fresh.get(link)
        assert response.status_code == 404
        assert "not valid any more" in text_of(response)


# Password resets ---------------------------------------------------------------------


@pytest.fixture
def outbox(monkeypatch):
    sent: list[tuple[str, str, str]] = []
    monkeypatch.setattr(mail, "send", lambda to, subject, body: sent.append((to, subject, body)))
    return sent


def _mailed_link(outbox, to: str, path: str) -> str:
    """Return the one link to ``path`` mailed to ``to``."""
    (body,) = [body for address, _subject, body in outbox if address == to]
    found = re.search(rf"http://localhost({path}\S+)", body)
    assert found, body
    return found.group(1)


def _reset_link(outbox) -> str:
    ((_to, _subject, body),) = outbox
    found = re.search(r"http://localhost(/reset/\S+)", body)
    assert found, body
    return found.group(1)


def test_reset_request_sends_a_link_to_a_member(client, member, outbox):
    response = post_form(client, "/reset", {"email": member.email.upper()})
    assert response.status_code == 302
    assert outbox and outbox[0][0] == member.email
    assert "we have sent it a link" in text_of(client.get(response.headers["Location"]))


def test_reset_request_replies_the_same_for_unknown_addresses(client, member, outbox):
    known = post_form(client, "/reset", {"email": member.email})
    known_page = text_of(client.get(known.headers["Location"]))
    unknown = post_form(client, "/reset", {"email": "nobody@example.org"})
    unknown_page = text_of(client.get(unknown.headers["Location"]))
    assert (known.status_code, known.headers["Location"]) == (
        unknown.status_code,
        unknown.headers["Location"],
    )
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", known_page) == strip.sub("", unknown_page)
    assert len(outbox) == 1


def test_reset_request_with_a_malformed_address_is_a_400(client, group, outbox):
    response = post_form(client, "/reset", {"email": "not an address"})
    assert response.status_code == 400
    assert field_error(text_of(response), "email")
    assert outbox == []


def test_reset_link_sets_a_new_password_once(client, member, outbox):
    post_form(client, "/reset", {"email": member.email})
    link = _reset_link(outbox)
    assert client.get(link).status_code == 200
    mismatch = post_form(client, link, {"password": NEW_PASSWORD, "password_confirm": "x"})
    assert mismatch.status_code == 400 and field_error(text_of(mismatch), "password_confirm")
    response = post_form(client, link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert _logged_in_member_id(client) == member.id

    fresh = client.application.test_client()
    old = post_form(fresh, "/login", {"email": member.email, "password": factories.PASSWORD})
    assert old.status_code == 401
    new = post_form(fresh, "/login", {"email": member.email, "password": NEW_PASSWORD})
    assert new.status_code == 302

    again = post_form(
        client.application.test_client(),
        link,
        {"password": "yet another passphrase", "password_confirm": "yet another passphrase"},
        page="/reset",
    )
    assert again.status_code == 404
