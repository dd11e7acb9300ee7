"""A member's own page: profile, password, upcoming answers and personal API tokens."""

from __future__ import annotations

import re

from node.extensions import db
from node.models import ApiToken
from node.services.membership import tokens
from node.services.organising import events
from tests import factories
from tests.conftest import log_in, post_form
from tests.node.pages_support import field_error, text_of

NEW_PASSWORD = "a different passphrase"


def test_account_page_needs_a_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_account_page_lists_upcoming_answers_only(client, member, group):
    coming = factories.event(title="Phonebank Thursday")
    factories.event(title="Not answered")
    events.respond(coming, member, "going")
    log_in(client, member)
    html = text_of(client.get("/account"))
    assert "Phonebank Thursday" in html and "Not answered" not in html
    assert member.email in html


def test_member_renames_themselves(client, member):
    log_in(client, member)
    response = post_form(client, "/account/profile", {"display_name": "Rosa L."}, page="/account")
    assert response.status_code == 302
    db.session.refresh(member)
    assert member.display_name == "Rosa L."
    assert "Your profile is saved." in text_of(client.get("/account"))


def test_blank_name_is_a_400_and_keeps_the_old_one(client, member):
    log_in(client, member)
    before = member.display_name
    response = post_form(client, "/account/profile", {"display_name": "  "}, page="/account")
    assert response.status_code == 400
    assert field_error(text_of(response), "display_name")
    db.session.refresh(member)
    assert member.display_name == before


def test_profile_form_refuses_fields_a_member_may_not_change(client, member):
    log_in(client, member)
    post_form(client, "/account/profile", {"display_name": "Me", "role": "admin"}, page="/account")
    db.session.refresh(member)
    assert member.role == "member"


def test_member_changes_password_and_stays_logged_in(client, member):
    log_in(client, member)
    data = {
        "current_password": factories.PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD,
    }
    response = post_form(client, "/account/password", data, page="/account")
    assert response.status_code == 302
    assert client.get("/account").status_code == 200  # this session carries on
    fresh = client.application.test_client()
    assert (
        post_form(fresh, "/login", {"email": member.email, "password": NEW_PASSWORD}).status_code
        == 302
    )


def test_password_change_checks_the_current_password_and_the_repeat(client, member):
    log_in(client, member)
    wrong = post_form(
        client,
        "/account/password",
        {
            "current_password": "not it",
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
        page="/account",
    )
    assert wrong.status_code == 400 and field_error(text_of(wrong), "current_password")
    mismatch = post_form(
        client,
        "/account/password",
        {
            "current_password": factories.PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": "something else",
        },
        page="/account",
    )
    assert mismatch.status_code == 400 and field_error(text_of(mismatch), "new_password_confirm")
    assert NEW_PASSWORD not in text_of(mismatch)
    fresh = client.application.test_client()
    assert log_in(fresh, member).status_code == 302  # the old password still works


def test_member_creates_a_token_shown_once_with_allowed_scopes(client, member):
    log_in(client, member)
    html = text_of(client.get("/account"))
    assert 'value="rsvp"' in html and 'value="write"' not in html  # a member's role allows
    response = post_form(
        client, "/account/tokens", {"name": "phone", "scopes": ["read", "rsvp"]}, page="/account"
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    value = re.search(r'<code id="new-token">([^<]+)</code>', text_of(response)).group(1)
    stored = tokens.find(value)
    assert stored.member_id == member.id and stored.scope == "read rsvp"
    listing = text_of(client.get("/account"))
    assert "phone" in listing and value not in listing


def test_token_with_scopes_beyond_the_role_is_refused(client, member):
    log_in(client, member)
    response = post_form(
        client, "/account/tokens", {"name": "x", "scopes": ["read", "write"]}, page="/account"
    )
    assert response.status_code == 400
    assert field_error(text_of(response), "scopes")
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 0


def test_token_needs_at_least_one_scope(client, member):
    log_in(client, member)
    response = post_form(client, "/account/tokens", {"name": "x"}, page="/account")
    assert response.status_code == 400
    assert field_error(text_of(response), "scopes")


def test_member_revokes_their_token_but_not_someone_elses(client, member):
    mine = tokens.create_personal(member, ["read"], name="mine")
    other = factories.member()
    theirs = tokens.create_personal(other, ["read"], name="theirs")
    log_in(client, member)
    own_id, other_id = tokens.find(mine).id, tokens.find(theirs).id
    assert (
        post_form(client, f"/account/tokens/{other_id}/revoke", page="/account").status_code == 404
    )
    response = post_form(client, f"/account/tokens/{own_id}/revoke", page="/account")
    assert response.status_code == 302
    db.session.expire_all()
    assert tokens.find(mine).revoked_at is not None
    assert tokens.find(theirs).revoked_at is None


def test_account_forms_need_a_csrf_token(client, member):
    log_in(client, member)
    for path in ("/account/profile", "/account/password", "/account/tokens"):
        assert client.post(path, data={"display_name": "x"}).status_code == 400
