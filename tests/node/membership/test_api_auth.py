"""Bearer tokens and the client-credentials grant: scopes, roles, suspension, expiry, revocation."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from node.extensions import db
from node.models import ApiClient, ApiToken, Campaign, digest, utcnow
from node.services.membership import members, tokens
from tests import factories
from tests.node.api_support import assert_error, count

NEW_CAMPAIGN = {"title": "Bus routes", "kind": "community"}


def _challenge(response) -> str:
    return response.headers.get("WWW-Authenticate", "")


def test_no_token_is_a_401_with_a_bearer_challenge(api):
    refused = api.post("/campaigns", json=NEW_CAMPAIGN)
    assert_error(refused, 401)
    assert _challenge(refused) == 'Bearer realm="branchline"'


@pytest.mark.parametrize(
    "header", ["Bearer blt_unknown", "Bearer", "Basic dXNlcjpwYXNz", "Token abc", ""]
)
def test_unusable_authorization_headers_are_a_401(api, header):
    refused = api.post("/campaigns", json=NEW_CAMPAIGN, headers={"Authorization": header})
    assert_error(refused, 401)
    assert _challenge(refused).startswith("Bearer")
    assert count(Campaign) == 0


def test_expired_token_is_a_401(api, organiser):
    value = factories.token(organiser)
    tokens.find(value).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused = api.post("/campaigns", value, json=NEW_CAMPAIGN)
    assert_error(refused, 401)
    assert 'error="invalid_token"' in _challenge(refused)
    assert count(Campaign) == 0


def test_revoked_token_is_a_401(api, organiser):
    value = factories.token(organiser)
    tokens.revoke(organiser, tokens.find(value).id)
    assert_error(api.get("/me", value), 401)


def test_a_suspended_members_token_is_refused_even_if_not_revoked(api, organiser):
    value = factories.token(organiser)
    organiser.status = "suspended"  # bypassing the service, which would also revoke it
    db.session.commit()
    refused = api.get("/campaigns", value)
    body = assert_error(refused, 401)
    assert "not active" in body["error"]


def test_suspension_through_the_service_revokes_tokens(api, organiser, admin):
    value = factories.token(organiser)
    members.change(organiser, {"status": "suspended"}, actor=admin)
    assert_error(api.get("/me", value), 401)
    members.change(organiser, {"status": "active"}, actor=admin)
    assert_error(api.get("/me", value), 401)  # reinstating does not bring old tokens back


def test_missing_scope_is_a_403(api, organiser):
    reader = factories.token(organiser, "read")
    refused = api.post("/campaigns", reader, json=NEW_CAMPAIGN)
    body = assert_error(refused, 403)
    assert "write" in body["error"]
    assert 'error="insufficient_scope"' in _challenge(refused)
    assert count(Campaign) == 0


def test_a_demoted_organisers_token_loses_what_the_new_role_lacks(api, organiser, admin):
    value = factories.token(organiser)
    members.change(organiser, {"role": "member"}, actor=admin)
    assert_error(api.post("/campaigns", value, json=NEW_CAMPAIGN), 403)
    assert api.get("/me", value).get_json()["scopes"] == ["mail", "read", "rsvp", "vote"]
    assert count(Campaign) == 0


def test_role_is_checked_besides_scope(api, organiser, monkeypatch):
    value = factories.token(organiser)
    # Suppose a future role table let members hold 'write': the route still needs organisers.
    monkeypatch.setitem(tokens.vocab.SCOPES_BY_ROLE, "member", ("read", "rsvp", "write"))
    organiser.role = "member"
    db.session.commit()
    body = assert_error(api.post("/campaigns", value, json=NEW_CAMPAIGN), 403)
    assert "organiser" in body["error"]


def test_tokens_are_stored_only_hashed(organiser):
    value = factories.token(organiser)
    stored = db.session.scalars(db.select(ApiToken)).one()
    assert stored.token_hash == digest(value) and value not in stored.token_hash


def test_use_is_recorded_at_most_once_per_interval(api, organiser):
    value = factories.token(organiser)
    assert tokens.find(value).last_used_at is None
    api.get("/me", value)
    db.session.expire_all()
    first = tokens.find(value).last_used_at
    assert first is not None
    api.get("/me", value)
    db.session.expire_all()
    assert tokens.find(value).last_used_at == first


def test_a_write_stores_the_token_use_in_its_own_commit(api, organiser):
    value = factories.token(organiser)
    commits = []

    def note(session):
        commits.append(tokens.USE_NOTED in session.info)

    event.listen(Session, "before_commit", note, insert=True)  # runs before the store
    try:
        assert api.post("/campaigns", value, json=NEW_CAMPAIGN).status_code == 201
    finally:
        event.remove(Session, "before_commit", note)
    assert commits == [True]  # one commit, and it carried the noted use
    db.session.expire_all()
    assert tokens.find(value).last_used_at is not None and count(Campaign) == 1


def test_a_refused_write_still_records_the_use_and_nothing_else(api, organiser):
    value = factories.token(organiser)
    assert_error(api.post("/campaigns", value, json={"title": ""}), 400)
    db.session.expire_all()
    assert tokens.find(value).last_used_at is not None
    assert count(Campaign) == 0


# The client-credentials grant ---------------------------------------------------------


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _ask(api, client_id, secret, **form):
    form.setdefault("grant_type", "client_credentials")
    return api.post("/oauth/token", data=form, headers=_basic(client_id, secret))


def _oauth_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code and isinstance(body["fields"], dict)
    if field:
        assert field in body["fields"], body
    return body


def test_client_credentials_flow_end_to_end(api, app, organiser):
    client_id, secret = tokens.create_client(organiser, "dialler", ["read", "write"])
    issued = _ask(api, client_id, secret)
    assert issued.status_code == 200, issued.get_json()
    assert issued.headers["Cache-Control"] == "no-store"
    body = issued.get_json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    assert body["expires_in"] == app.config["TOKEN_LIFETIME_SECONDS"]

    stored = tokens.find(body["access_token"])
    assert stored.client.client_id == client_id and stored.member_id == organiser.id
    assert stored.token_hash == digest(body["access_token"])
    lifetime = (stored.expires_at - stored.created_at).total_seconds()
    assert abs(lifetime - app.config["TOKEN_LIFETIME_SECONDS"]) < 60

    made = api.post("/campaigns", body["access_token"], json=NEW_CAMPAIGN)
    assert made.status_code == 201
    assert_error(api.patch("/group", body["access_token"], json={"summary": "x"}), 403)

    stored.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_error(api.get("/me", body["access_token"]), 401)


def test_client_secret_may_be_posted_in_the_form(api, organiser):
    client_id, secret = tokens.create_client(organiser, "app", ["read"])
    issued = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert issued.status_code == 200 and issued.get_json()["scope"] == "read"


def test_requested_scopes_are_narrowed_to_the_registration(api, organiser):
    client_id, secret = tokens.create_client(organiser, "app", ["read", "rsvp"])
    issued = _ask(api, client_id, secret, scope="read write")
    assert issued.get_json()["scope"] == "read"
    _oauth_error(_ask(api, client_id, secret, scope="write"), 400, "invalid_scope", "scope")
    _oauth_error(_ask(api, client_id, secret, scope="everything"), 400, "invalid_scope", "scope")
    assert count(ApiToken) == 1


def test_a_demoted_members_client_gets_only_what_the_role_allows(api, organiser, admin):
    client_id, secret = tokens.create_client(organiser, "app", ["read", "write"])
    members.change(organiser, {"role": "member"}, actor=admin)
    assert _ask(api, client_id, secret).get_json()["scope"] == "read"


def test_wrong_secret_or_unknown_client_is_a_401(api, organiser):
    client_id, _secret = tokens.create_client(organiser, "app", ["read"])
    _oauth_error(_ask(api, client_id, "wrong"), 401, "invalid_client")
    _oauth_error(_ask(api, "nobody", "wrong"), 401, "invalid_client")
    _oauth_error(
        api.post("/oauth/token", data={"grant_type": "client_credentials"}), 401, "invalid_client"
    )
    assert count(ApiToken) == 0


def test_revoked_client_and_inactive_member_get_no_token(api, organiser, admin):
    client_id, secret = tokens.create_client(organiser, "app", ["read"])
    found = db.session.scalars(db.select(ApiClient)).one()
    found.revoked_at = utcnow()
    db.session.commit()
    _oauth_error(_ask(api, client_id, secret), 400, "unauthorized_client", "client_id")

    other_id, other_secret = tokens.create_client(admin, "app", ["read"])
    members.change(organiser, {"role": "admin"}, actor=admin)  # keep an active admin
    members.change(admin, {"status": "suspended"}, actor=organiser)
    _oauth_error(_ask(api, other_id, other_secret), 400, "unauthorized_client")
    assert count(ApiToken) == 0


def test_token_endpoint_refuses_other_grants_and_bodies(api, organiser):
    client_id, secret = tokens.create_client(organiser, "app", ["read"])
    _oauth_error(
        _ask(api, client_id, secret, grant_type="password"),
        400,
        "unsupported_grant_type",
        "grant_type",
    )
    as_json = api.post(
        "/oauth/token", json={"grant_type": "client_credentials"}, headers=_basic(client_id, secret)
    )
    _oauth_error(as_json, 415, "invalid_request")
    assert_error(api.get("/oauth/token"), 405)
    assert count(ApiToken) == 0


@pytest.mark.parametrize(
    "credentials",
    ["!!!", base64.b64encode(b"no-colon").decode(), base64.b64encode(b"\xff:x").decode()],
)
def test_garbled_basic_credentials_are_a_401(api, organiser, credentials):
    tokens.create_client(organiser, "app", ["read"])
    garbled = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {credentials}"},
    )
    _oauth_error(garbled, 401, "invalid_client")
    assert count(ApiToken) == 0


def test_a_bearer_token_with_odd_bytes_is_a_401(api):
    assert_error(api.get("/me", "\x00\xff\u2603"), 401)


def test_token_endpoint_refuses_plain_http_off_loopback(app, organiser):
    client_id, secret = tokens.create_client(organiser, "app", ["read"])
    plain = app.test_client().post(
        "/api/v1/oauth/token",
        base_url="http://branchline.example.org",
        data={"grant_type": "client_credentials"},
        headers=_basic(client_id, secret),
    )
    _oauth_error(plain, 400, "insecure_transport")
    assert count(ApiToken) == 0
