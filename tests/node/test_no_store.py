"""Every response that carries a secret says ``Cache-Control: no-store``.

A ballot receipt, a token, an invitation or reset link, the setup code, a guest's RSVP
link or a member's own data must not stay in a browser's cache or a shared proxy's after
the page is left: the next person at the library computer would find it with Back.
"""

from __future__ import annotations

import base64
import re

import pytest

from node.services import groups
from node.services.membership import invitations, resets, tokens
from node.services.organising import guests
from node.services.voting import ballots, votes
from tests import factories
from tests.conftest import csrf_token, log_in, post_form
from tests.node.api_support import ApiClient

GUEST_LINK = re.compile(r"/rsvp/(glt_[A-Za-z0-9_-]+)")


class Visit:
    """What a case needs: the test client (logged in as ``who``), the API and a few ids."""

    def __init__(self, client, who) -> None:
        self.client = client
        self.api = ApiClient(client)
        self.who = who
        self.token = factories.token(who)

    def log_in(self) -> None:
        log_in(self.client, self.who)


def _vote_page(v: Visit):
    ballot = factories.ballot()
    v.log_in()
    form = {"choice": "0", "confirm": "yes"}
    return post_form(v.client, f"/ballots/{ballot.id}/vote", form, page="/account")


def _vote_api(v: Visit):
    ballot = factories.ballot()
    return v.api.post(f"/ballots/{ballot.id}/vote", v.token, json={"choices": [0]})


def _closed_ballot(v: Visit):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    receipt = votes.cast(ballot, v.who, [0])
    ballots.close(ballot, early=True)
    return ballot, receipt


def _my_paper_page(v: Visit):
    ballot, receipt = _closed_ballot(v)
    v.log_in()
    return v.client.get(f"/ballots/{ballot.id}/papers?receipt={receipt.receipt_code}")


def _my_paper_api(v: Visit):
    ballot, receipt = _closed_ballot(v)
    return v.api.get(f"/ballots/{ballot.id}/papers?receipt={receipt.receipt}", v.token)


def _token_page(v: Visit):
    v.log_in()
    return post_form(
        v.client, "/account/tokens", {"name": "phone", "scopes": "read"}, page="/account"
    )


def _token_form_refused(v: Visit):
    v.log_in()
    return post_form(v.client, "/account/tokens", {"days": "-3"}, page="/account")


def _account_page(v: Visit):  # it shows the secret address of the member's own calendar
    v.log_in()
    return v.client.get("/account")


def _oauth_token(v: Visit):
    client_id, secret = tokens.create_client(v.who, "dialler", ["read"])
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return v.client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )


def _add_member_page(v: Visit):
    v.log_in()
    form = {"display_name": "Sam", "email": "sam@example.org", "role": "member"}
    return post_form(v.client, "/manage/members/new", form)


def _invite_page(v: Visit):
    v.log_in()
    return post_form(v.client, "/manage/members/invite", {"role": "member"})


def _add_member_api(v: Visit):
    body = {"display_name": "Sam", "email": "sam@example.org"}
    return v.api.post("/members", v.token, json=body)


def _invitation_link(v: Visit):
    return v.client.get(f"/invite/{invitations.invite(v.who)}")


def _invitation_refused(v: Visit):
    token = invitations.invite(v.who)
    path = f"/invite/{token}"
    return post_form(v.client, path, {"email": "x@example.org", "display_name": ""})


def _reset_token(v: Visit) -> str:
    found: list[str] = []
    resets.request_reset(v.who.email, lambda value: found.append(value) or "link")
    return found[0]


def _reset_link(v: Visit):
    return v.client.get(f"/reset/{_reset_token(v)}")


def _reset_refused(v: Visit):
    path = f"/reset/{_reset_token(v)}"
    return post_form(v.client, path, {"password": "short", "password_again": "other"})


def _guest_token() -> str:
    from sqlalchemy import select

    from node.extensions import db
    from node.models import OutboundMail

    event = factories.event()
    guests.ask(event, "Sam", "sam@example.org")
    mail = db.session.scalars(select(OutboundMail).order_by(OutboundMail.id.desc())).first()
    return GUEST_LINK.findall(mail.body)[-1]


def _guest_link(v: Visit):
    return v.client.get(f"/rsvp/{_guest_token()}")


def _guest_answer(v: Visit):
    token = _guest_token()
    return post_form(v.client, f"/rsvp/{token}", {"action": "confirm"})


def _data_page(v: Visit):
    v.log_in()
    return v.client.get("/account/data")


def _data_download(v: Visit):
    v.log_in()
    return v.client.get("/account/data.json")


def _data_api(v: Visit):
    return v.api.get("/me/data", v.token)


# name: (who, what they do, the status expected)
CASES = {
    "vote page: the receipt": ("member", _vote_page, 200),
    "vote API: the receipt": ("member", _vote_api, 201),
    "my paper, by receipt code": ("member", _my_paper_page, 200),
    "my paper in the API": ("member", _my_paper_api, 200),
    "new token on the account page": ("member", _token_page, 200),
    "token form refused, the page again": ("member", _token_form_refused, 400),
    "account page: the calendar's secret address": ("member", _account_page, 200),
    "OAuth token endpoint": ("organiser", _oauth_token, 200),
    "add a member: the invitation link": ("organiser", _add_member_page, 200),
    "invitation link without e-mail": ("organiser", _invite_page, 200),
    "add a member in the API: invite_url": ("organiser", _add_member_api, 201),
    "the invitation page": ("organiser", _invitation_link, 200),
    "the invitation page, refused": ("organiser", _invitation_refused, 400),
    "the reset page": ("member", _reset_link, 200),
    "the reset page, refused": ("member", _reset_refused, 400),
    "a guest's RSVP link": ("member", _guest_link, 200),
    "a guest's answer": ("member", _guest_answer, 302),
    "the member's data": ("member", _data_page, 200),
    "the member's data, downloaded": ("member", _data_download, 200),
    "the member's data in the API": ("member", _data_api, 200),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_response_carrying_a_secret_is_not_stored(client, member, organiser, name):
    who, act, status = CASES[name]
    visit = Visit(client, member if who == "member" else organiser)

    response = act(visit)

    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert "no-store" in response.headers.get("Cache-Control", ""), dict(response.headers)


def test_the_setup_page_with_its_code_is_not_stored(app):
    # A node with no group yet: the first-run form, reached with the one-time code.
    visitor = app.test_client()
    code = groups.setup_code()

    page = visitor.get(f"/setup?code={code}")
    refused = visitor.post(
        "/setup", data={"code": code, "csrf_token": csrf_token(visitor, f"/setup?code={code}")}
    )

    assert page.status_code == 200 and refused.status_code == 400
    assert page.headers["Cache-Control"] == "no-store"
    assert refused.headers["Cache-Control"] == "no-store"


def test_ordinary_pages_may_still_be_cached(client):
    # The mark is for secrets only: the public pages keep their own caching.
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    assert "no-store" not in client.get("/events.ics").headers.get("Cache-Control", "")
