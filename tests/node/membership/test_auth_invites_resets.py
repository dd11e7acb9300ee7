"""Joining through an invitation link and resetting a forgotten password."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from node.extensions import db
from node.models import Member
from node.services import mail
from node.services.membership import invitations, members, passwords
from tests import factories
from tests.conftest import csrf_token, log_in, post_form
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
    token = invitations.invite(admin, email="rosa@example.org")
    html = text_of(client.get(f"/invite/{token}"))
    assert re.search(r'<input type="email"[^>]*value="rosa@example.org"[^>]*readonly', html)
    assert "Join Leeds North Momentum" in html


def test_accepting_an_invite_creates_the_member_and_logs_them_in(client, admin):
    token = invitations.invite(admin, email="rosa@example.org")
    response = _join(client, token, email="rosa@example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    joined = members.by_email("rosa@example.org")
    assert joined.display_name == "Rosa" and joined.role == "member"
    assert _logged_in_member_id(client) == joined.id


def test_the_invited_address_cannot_be_swapped_for_another(client, admin):
    token = invitations.invite(admin, email="rosa@example.org")
    response = _join(client, token, email="mallory@example.org")
    assert response.status_code == 302
    assert members.by_email("mallory@example.org") is None
    assert members.by_email("rosa@example.org") is not None


def test_open_invite_takes_any_new_address_once_it_is_confirmed(client, admin, outbox):
    # Changed for issue 13: it asserted that the open link made the account at once for
    # any address typed, the hole that let a link take over a member's account.
    token = invitations.invite(admin, role="organiser")
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
    token = invitations.invite(admin)
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
    token = invitations.invite(admin)
    response = _join(
        client, token, email="kim@example.org", password="short", password_confirm="short"
    )
    assert response.status_code == 400
    assert field_error(text_of(response), "password")
    assert members.by_email("kim@example.org") is None


def test_used_or_unknown_invite_is_a_friendly_404(client, admin):
    token = invitations.invite(admin)
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


# Issue 13: an open link never takes over an account, and is used once ------------------

ATTACKER_PASSWORD = "the attackers passphrase"


def _answer(client, token, email):
    """What a visitor sees after typing ``email`` into an open link: status, place, page."""
    response = _join(
        client,
        token,
        email=email,
        password=ATTACKER_PASSWORD,
        password_confirm=ATTACKER_PASSWORD,
    )
    location = response.headers.get("Location")
    page = text_of(client.get(location)) if location else text_of(response)
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    return response.status_code, location, strip.sub("", page).replace(email, "ADDRESS")


def test_open_link_cannot_take_over_a_member_added_without_a_password(client, admin, outbox):
    added, _their_own_link = invitations.add_with_invite(
        {"email": "treasurer@example.org", "display_name": "Treasurer", "role": "admin"},
        actor=admin,
    )
    open_link = invitations.invite(admin)
    status, _location, _page = _answer(client, open_link, "treasurer@example.org")
    assert status == 302
    assert _logged_in_member_id(client) is None
    assert client.get("/account").status_code == 302  # sent to log in: nobody is logged in
    db.session.expire_all()
    assert db.session.get(Member, added.id).password_hash is None
    fresh = client.application.test_client()
    login = {"email": "treasurer@example.org", "password": ATTACKER_PASSWORD}
    assert post_form(fresh, "/login", login).status_code == 401
    # The owner is told, and can still choose their password.
    reset = _mailed_link(outbox, "treasurer@example.org", "/reset/")
    assert "already a member" in [s for to, s, _b in outbox if to == added.email][0]
    owner = client.application.test_client()
    chosen = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert post_form(owner, reset, chosen).status_code == 302
    assert _logged_in_member_id(owner) == added.id


def test_open_link_answers_alike_for_members_new_addresses_and_pending_ones(
    client, admin, member, outbox
):
    invitations.add_with_invite({"email": "pending@example.org", "display_name": "P"}, actor=admin)
    their_hash = member.password_hash
    answers = [
        _answer(client.application.test_client(), invitations.invite(admin), email)
        for email in (member.email, "pending@example.org", "newcomer@example.org")
    ]
    assert answers[0] == answers[1] == answers[2]
    assert "use the invitation sent to it" in answers[0][2]
    assert members.by_email("newcomer@example.org") is None  # not before the address answers
    db.session.expire_all()
    assert members.by_email(member.email).password_hash == their_hash


def test_named_invitation_still_lets_the_added_member_choose_a_password(client, admin):
    added, token = invitations.add_with_invite(
        {"email": "sam@example.org", "display_name": "Sam", "role": "organiser"}, actor=admin
    )
    assert _join(client, token, email="sam@example.org").status_code == 302
    assert _logged_in_member_id(client) == added.id
    assert members.by_email("sam@example.org").role == "organiser"


def test_confirming_an_open_link_needs_the_password_chosen_there(client, admin, outbox):
    _join(client, invitations.invite(admin), email="kim@example.org")
    confirm = _mailed_link(outbox, "kim@example.org", "/invite/")
    scanner = client.application.test_client()  # someone reading the mailbox, or a scanner
    assert scanner.get(confirm).status_code == 200
    wrong = post_form(scanner, confirm, {"password": "not what they chose"})
    assert wrong.status_code == 400 and field_error(text_of(wrong), "password")
    assert members.by_email("kim@example.org") is None


def test_an_address_cannot_be_swapped_on_the_confirmation(client, admin, outbox):
    _join(client, invitations.invite(admin), email="kim@example.org")
    confirm = _mailed_link(outbox, "kim@example.org", "/invite/")
    data = {"password": NEW_PASSWORD, "email": "mallory@example.org"}
    assert post_form(client, confirm, data).status_code == 302
    assert members.by_email("mallory@example.org") is None
    assert members.by_email("kim@example.org") is not None


def test_an_open_link_used_twice_at_once_makes_one_account(client, admin, outbox, monkeypatch):
    token = invitations.invite(admin)
    browsers = [client.application.test_client() for _ in range(2)]
    forms = [
        {
            "csrf_token": csrf_token(browser, f"/invite/{token}"),
            "email": f"twin{n}@example.org",
            "display_name": f"Twin {n}",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        }
        for n, browser in enumerate(browsers)
    ]
    # Both requests get past reading the unused link before either writes: they meet here.
    both_read = threading.Barrier(2, timeout=20)
    real_hash = passwords.hash_password

    def hash_when_both_are_here(password):
        both_read.wait()
        return real_hash(password)

    monkeypatch.setattr(passwords, "hash_password", hash_when_both_are_here)
    answers = []

    def post(browser, form):
        answers.append(browser.post(f"/invite/{token}", data=form).status_code)

    threads = [
        threading.Thread(target=post, args=pair) for pair in zip(browsers, forms, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(passwords, "hash_password", real_hash)
    assert sorted(answers) == [302, 400]

    # Whatever was mailed, following it makes one member at most.
    for _to, _subject, body in list(outbox):
        found = re.search(r"http://localhost(/invite/\S+)", body)
        post_form(client.application.test_client(), found.group(1), {"password": NEW_PASSWORD})
    db.session.expire_all()
    joined = db.session.scalars(select(Member).where(Member.email.like("twin%"))).all()
    assert len(joined) == 1


# Issue 13: a reset or a password change voids the other links and sessions ---------------


def _reset_links(client, member, outbox, count):
    for _ in range(count):
        post_form(client.application.test_client(), "/reset", {"email": member.email})
    links = [re.search(r"http://localhost(/reset/\S+)", body).group(1) for _t, _s, body in outbox]
    assert len(links) == count
    return links


def _token_works(client, value: str) -> bool:
    answer = client.application.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {value}"}
    )
    return answer.status_code == 200


def test_using_one_reset_link_voids_the_others_and_every_session(client, member, outbox):
    elsewhere = client.application.test_client()
    log_in(elsewhere, member)
    kept_token = factories.token(member)  # made by whoever had the account before the reset
    assert _token_works(client, kept_token)
    first, second = _reset_links(client, member, outbox, 2)
    chosen = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    assert post_form(client, first, chosen).status_code == 302
    assert client.get("/account").status_code == 200  # the browser that reset is logged in
    assert elsewhere.get("/account").status_code == 302  # every other session is over
    late = post_form(client.application.test_client(), second, chosen, page="/reset")
    assert late.status_code == 404
    assert not _token_works(client, kept_token)


def test_changing_the_password_voids_reset_links_and_other_sessions(client, member, outbox):
    elsewhere = client.application.test_client()
    log_in(elsewhere, member)
    (link,) = _reset_links(client, member, outbox, 1)
    log_in(client, member)
    kept_token = factories.token(member)
    change = {
        "current_password": factories.PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD,
    }
    assert post_form(client, "/account/password", change, page="/account").status_code == 302
    assert client.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302
    chosen = {"password": "someone elses choice", "password_confirm": "someone elses choice"}
    assert post_form(elsewhere, link, chosen, page="/reset").status_code == 404
    assert not _token_works(client, kept_token)
    fresh = client.application.test_client()
    assert (
        post_form(fresh, "/login", {"email": member.email, "password": NEW_PASSWORD}).status_code
        == 302
    )


def test_invitation_and_reset_pages_are_not_stored(client, admin, member, outbox):
    (link,) = _reset_links(client, member, outbox, 1)
    for page in (f"/invite/{invitations.invite(admin)}", "/invite/not-a-token", "/reset", link):
        assert client.get(page).headers["Cache-Control"] == "no-store", page


def test_reset_requests_are_limited_per_address_and_per_client_and_mail_nothing_more(
    app, client, member, outbox
):
    app.config.update(RESET_MAILS_PER_ADDRESS_HOURLY=2, MAIL_FORMS_PER_CLIENT_HOURLY=4)
    answers = [post_form(client, "/reset", {"email": member.email}).status_code for _ in range(3)]
    assert answers == [302, 302, 429]
    assert len(outbox) == 2
    # Other addresses from the same client, known or not, meet the client's limit alike.
    others = [
        post_form(client, "/reset", {"email": f"someone{n}@example.org"}).status_code
        for n in range(3)
    ]
    assert others == [302, 429, 429]
    refused = post_form(client, "/reset", {"email": "again@example.org"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert len(outbox) == 2


def test_open_links_are_limited_per_client(app, client, admin, outbox):
    app.config.update(MAIL_FORMS_PER_CLIENT_HOURLY=2)
    answers = []
    for n in range(3):
        joining = {
            "email": f"new{n}@example.org",
            "display_name": "New",
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        }
        answers.append(
            post_form(client, f"/invite/{invitations.invite(admin)}", joining).status_code
        )
    assert 429 not in answers[:2] and answers[2] == 429
    assert len(outbox) == 2
