"""The invitations API: send (mailed, real SMTP), list, resend (old link dies), revoke; errors."""

from __future__ import annotations

import pytest

from node.models import Invite
from node.services import mail
from tests import factories
from tests.node.api_support import ApiClient, assert_error, count
from tests.node.mail_support import smtp_settings


@pytest.fixture
def app_config(app_config, mailbox):
    return smtp_settings(app_config, mailbox)


@pytest.fixture
def api(client):
    return ApiClient(client)


@pytest.fixture
def organiser_token(organiser):
    return factories.token(organiser)


def test_send_list_resend_and_revoke(api, client, organiser_token, mailbox):
    sent = api.post(
        "/invitations",
        organiser_token,
        json={"email": "Ana@Example.org", "role": "member", "display_name": "Ana"},
    )
    assert sent.status_code == 201, sent.get_json()
    first = sent.get_json()
    assert first["email"] == "ana@example.org" and first["state"] == "pending"
    assert first["invite_url"].startswith("http://localhost/invite/")
    mail.send_due(limit=10)
    assert first["invite_url"] in mailbox.received[0][2].get_body(("plain",)).get_content()

    listed = api.get("/invitations", organiser_token).get_json()["items"]
    assert [item["email"] for item in listed] == ["ana@example.org"]
    assert "invite_url" not in listed[0] and listed[0]["expires_at"]

    again = api.post(f"/invitations/{first['id']}/resend", organiser_token)
    assert again.status_code == 200
    second = again.get_json()["invite_url"]
    assert second != first["invite_url"]
    assert client.get(first["invite_url"].removeprefix("http://localhost")).status_code == 404
    assert client.get(second.removeprefix("http://localhost")).status_code == 200

    assert api.delete(f"/invitations/{first['id']}", organiser_token).status_code == 204
    assert count(Invite) == 0
    assert_error(api.delete(f"/invitations/{first['id']}", organiser_token), 404)


def test_bad_input_is_a_400_naming_the_field(api, organiser_token):
    assert_error(api.post("/invitations", organiser_token, json={"email": "nope"}), 400, "email")
    assert_error(
        api.post("/invitations", organiser_token, json={"email": "a@example.org", "role": "boss"}),
        400,
        "role",
    )
    assert_error(
        api.post("/invitations", organiser_token, json={"email": "a@example.org", "x": 1}),
        400,
        "x",
    )
    assert count(Invite) == 0


def test_an_organiser_cannot_invite_an_admin(api, organiser_token):
    response = api.post(
        "/invitations", organiser_token, json={"email": "a@example.org", "role": "admin"}
    )
    assert_error(response, 403)
    assert count(Invite) == 0


def test_inviting_a_member_or_twice_is_a_409(api, organiser_token, member):
    assert_error(api.post("/invitations", organiser_token, json={"email": member.email}), 409)
    assert (
        api.post("/invitations", organiser_token, json={"email": "b@example.org"}).status_code
        == 201
    )
    assert_error(api.post("/invitations", organiser_token, json={"email": "b@example.org"}), 409)
