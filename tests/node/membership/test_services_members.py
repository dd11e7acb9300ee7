"""Members: roles, the last admin, log-in rate limiting, invitations and resets."""

import pytest

from node.extensions import db
from node.models import ApiToken, Event, Member, Rsvp
from node.services.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyAttempts,
    Unauthorised,
)
from node.services.membership import invitations, logins, members, resets, tokens
from node.services.organising import events
from tests import factories


def test_organiser_cannot_make_an_admin(organiser, member):
    with pytest.raises(Forbidden):
        members.change(member, {"role": "admin"}, actor=organiser)
    assert db.session.get(Member, member.id).role == "member"


def test_admin_can_make_an_admin(admin, member):
    members.change(member, {"role": "admin"}, actor=admin)
    assert member.role == "admin"


def test_the_last_admin_cannot_step_down_or_be_suspended(admin):
    with pytest.raises(Conflict):
        members.change(admin, {"role": "member"}, actor=admin)
    with pytest.raises(Conflict):
        members.change(admin, {"status": "suspended"}, actor=admin)
    with pytest.raises(Conflict):
        members.remove(admin, actor=admin)


def test_suspending_ends_sessions_and_revokes_tokens(admin, member):
    token = tokens.create_personal(member)
    before = member.session_version
    members.change(member, {"status": "suspended"}, actor=admin)
    assert member.session_version == before + 1
    assert tokens.find(token).is_revoked()


def test_removing_a_member_frees_their_event_places(admin, member):
    event = factories.event(capacity=1)
    events.respond(event, member, "going")
    members.remove(member, actor=admin)
    assert db.session.get(Event, event.id).going_count == 0
    assert db.session.query(Rsvp).count() == 0
    assert db.session.query(ApiToken).filter_by(member_id=member.id).count() == 0


def test_adding_a_duplicate_email_is_a_conflict(group, member):
    with pytest.raises(Conflict):
        members.add({"email": member.email.upper(), "display_name": "Again"})


def test_authenticate_accepts_the_right_password_case_insensitively_by_email(member):
    found = logins.authenticate(member.email.upper(), factories.PASSWORD, "127.0.0.1")
    assert found.id == member.id
    assert found.last_login_at is not None


def test_wrong_password_and_unknown_account_fail_alike(member):
    with pytest.raises(Unauthorised) as wrong:
        logins.authenticate(member.email, "wrong password!", "127.0.0.1")
    with pytest.raises(Unauthorised) as unknown:
        logins.authenticate("nobody@example.org", "wrong password!", "127.0.0.1")
    assert wrong.value.message == unknown.value.message


def test_too_many_failures_lock_the_account_even_for_the_right_password(app, member):
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        with pytest.raises(Unauthorised):
            logins.authenticate(member.email, "not the password", "10.9.9.9")
    with pytest.raises(TooManyAttempts):
        logins.authenticate(member.email, factories.PASSWORD, "127.0.0.2")


def test_too_many_failures_from_one_address_are_refused(app, group):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    for n in range(limit):
        with pytest.raises(Unauthorised):
            logins.authenticate(f"probe{n}@example.org", "not the password", "192.0.2.7")
    with pytest.raises(TooManyAttempts):
        logins.authenticate("another@example.org", "whatever password", "192.0.2.7")


def test_suspended_member_cannot_log_in(member):
    member.status = "suspended"
    db.session.commit()
    with pytest.raises(Forbidden):
        logins.authenticate(member.email, factories.PASSWORD, "127.0.0.1")


def test_an_open_invite_makes_one_member_once_the_address_is_confirmed(admin, monkeypatch):
    # Was test_invite_creates_a_member_once, which had the open link make the account at
    # once for any address typed: the hole of issue 13's first finding.
    sent = []
    monkeypatch.setattr("node.services.mail.send", lambda to, subject, body: sent.append(body))
    links = {"confirm_link": lambda v: f"CONFIRM:{v}", "reset_link": lambda v: f"RESET:{v}"}
    token = invitations.invite(admin, role="organiser")
    invitations.join_by_link(token, "new@example.org", "New Person", "a long passphrase", **links)
    assert members.by_email("new@example.org") is None  # nothing until the address answers
    confirm = sent[0].split("CONFIRM:")[1].split()[0]
    joined = invitations.confirm_join(confirm, "a long passphrase")
    assert (joined.email, joined.display_name, joined.role) == (
        "new@example.org",
        "New Person",
        "organiser",
    )
    with pytest.raises(NotFound):
        invitations.join_by_link(token, "other@example.org", "Other", "a long passphrase", **links)
    with pytest.raises(NotFound):
        invitations.confirm_join(confirm, "a long passphrase")


def test_invite_for_a_named_address_only_works_for_it(admin):
    token = invitations.invite(admin, email="named@example.org")
    with pytest.raises(Invalid):
        invitations.accept_invite(token, "else@example.org", "Else", "a long passphrase")


def test_short_password_is_refused_with_the_field(admin):
    token = invitations.invite(admin)
    with pytest.raises(Invalid) as caught:
        invitations.accept_invite(token, "x@example.org", "X", "short")
    assert "password" in caught.value.fields
    assert db.session.query(Member).filter_by(email="x@example.org").count() == 0


def test_password_reset_link_works_once(member, monkeypatch):
    sent = []
    monkeypatch.setattr("node.services.mail.send", lambda to, subject, body: sent.append(body))
    resets.request_reset(member.email, lambda token: f"RESET:{token}")
    token = sent[0].split("RESET:")[1].split()[0]
    resets.reset_password(token, "a brand new passphrase")
    assert logins.authenticate(member.email, "a brand new passphrase", "127.0.0.1")
    with pytest.raises(NotFound):
        resets.reset_password(token, "another new passphrase")


def test_reset_for_unknown_address_sends_nothing(group, monkeypatch):
    sent = []
    monkeypatch.setattr("node.services.mail.send", lambda *args: sent.append(args))
    resets.request_reset("nobody@example.org", lambda token: token)
    assert sent == []


def test_member_token_cannot_hold_write_scope(member):
    with pytest.raises(Invalid):
        tokens.create_personal(member, ["write"])
    assert tokens.create_personal(member, ["read"]).startswith("blt_")
