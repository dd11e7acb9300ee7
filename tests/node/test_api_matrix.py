"""Every API route called by the public, a member, an organiser and an admin.

Each caller holds a token with every scope their role allows; the table says which
status each gets. A route added to the API without a row here fails the coverage test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from node.services.membership import invitations
from node.services.messaging import announcements
from node.services.voting import ballots
from tests import factories
from tests.node.api_support import ApiClient
from tests.node.messaging import ask_support

CALLERS = ("anonymous", "member", "organiser", "admin")

OPEN = (200, 200, 200, 200)
ORGANISERS = (401, 403, 200, 200)
ORGANISERS_CREATE = (401, 403, 201, 201)
ORGANISERS_DELETE = (401, 403, 204, 204)
ANY_TOKEN = (401, 200, 200, 200)
CLIENT_ONLY = (401, 401, 401, 401)
NOT_TELLERS = (
    401,
    403,
    403,
    403,
)  # none of the callers is one of the ballot's tellers  # a bearer token is not client credentials

# (method, path, body, expected statuses for CALLERS); {ids} filled from the seeded data
ROUTES = [
    ("GET", "/group", None, OPEN),
    ("PATCH", "/group", {"summary": "Changed"}, ORGANISERS),
    ("GET", "/me", None, ANY_TOKEN),
    ("GET", "/me/data", None, ANY_TOKEN),
    ("GET", "/me/mail-preferences", None, ANY_TOKEN),
    ("PUT", "/me/mail-preferences", {"choices": {"news": "digest"}}, ANY_TOKEN),
    ("GET", "/me/messages", None, ANY_TOKEN),
    ("GET", "/openapi.json", None, OPEN),
    ("POST", "/oauth/token", "form", CLIENT_ONLY),
    ("GET", "/members", None, ORGANISERS),
    ("POST", "/members", {"email": "x@example.org", "display_name": "X"}, ORGANISERS_CREATE),
    ("GET", "/members/{target}", None, ORGANISERS),
    ("PATCH", "/members/{target}", {"display_name": "Renamed"}, ORGANISERS),
    ("DELETE", "/members/{target}", None, ORGANISERS_DELETE),
    ("GET", "/invitations", None, ORGANISERS),
    ("POST", "/invitations", {"email": "new@example.org"}, ORGANISERS_CREATE),
    ("POST", "/invitations/{invitation}/resend", None, ORGANISERS),
    ("DELETE", "/invitations/{invitation}", None, ORGANISERS_DELETE),
    ("PUT", "/events/{event}/rsvp", {"response": "going"}, ANY_TOKEN),
    ("DELETE", "/events/{event}/rsvp", None, (401, 204, 204, 204)),
    ("GET", "/events/{event}/rsvps", None, ORGANISERS),
    # The seeded event has places left: joining its waiting list is refused.
    ("GET", "/events/{event}/waitlist", None, ANY_TOKEN),
    ("PUT", "/events/{event}/waitlist", None, (401, 409, 409, 409)),
    ("DELETE", "/events/{event}/waitlist", None, (401, 204, 204, 204)),
    # Shifts: public to read like their event; organisers set them up; members sign up.
    ("GET", "/events/{event}/shifts", None, OPEN),
    (
        "POST",
        "/events/{fixed}/shifts",
        {"starts_at": "2031-01-01T10:00:00Z", "ends_at": "2031-01-01T12:00:00Z"},
        ORGANISERS_CREATE,
    ),
    ("GET", "/shifts/{shift}", None, OPEN),
    ("PATCH", "/shifts/{shift}", {"label": "Changed"}, ORGANISERS),
    ("DELETE", "/shifts/{shift}", None, ORGANISERS_DELETE),
    ("PUT", "/shifts/{shift}/signup", None, ANY_TOKEN),
    ("DELETE", "/shifts/{shift}/signup", None, (401, 204, 204, 204)),
    ("GET", "/network/groups", None, OPEN),
    ("GET", "/network/events", None, OPEN),
    ("GET", "/network/needed", None, OPEN),
    ("GET", "/network/campaigns", None, OPEN),
    ("GET", "/network/candidates", None, OPEN),
    # Ballots: an open one is members' business (404 to the public); a closed public one's
    # result is anyone's; only a ballot not yet open can be changed or deleted.
    ("GET", "/ballots", None, OPEN),
    (
        "POST",
        "/ballots",
        {
            "question": "Q",
            "kind": "yes_no",
            "opens_at": "2031-01-01T18:00:00Z",
            "closes_at": "2031-01-08T18:00:00Z",
        },
        ORGANISERS_CREATE,
    ),
    ("GET", "/ballots/{ballot}", None, (404, 200, 200, 200)),
    ("PATCH", "/ballots/{later}", {"question": "Changed"}, ORGANISERS),
    ("DELETE", "/ballots/{later}", None, ORGANISERS_DELETE),
    ("POST", "/ballots/{ballot}/vote", {"choices": [0]}, (401, 201, 201, 201)),
    ("POST", "/ballots/{ballot}/close", None, ORGANISERS),
    ("GET", "/ballots/{closed}/result", None, OPEN),
    ("GET", "/ballots/{closed}/papers", None, ANY_TOKEN),
    # A sealed ballot's ballot box is members'; codes and shares are its tellers' alone.
    ("GET", "/ballots/{sealed}/trackers", None, ANY_TOKEN),
    ("POST", "/ballots/{sealed}/teller-code", None, NOT_TELLERS),
    ("POST", "/ballots/{sealed}/teller-code/confirm", {"code": "BLT1-X"}, NOT_TELLERS),
    ("POST", "/ballots/{sealed}/shares", {"code": "BLT1-X"}, NOT_TELLERS),
    # Asks across the network: organisers' business (scope write).
    ("GET", "/asks/received", None, ORGANISERS),
    ("GET", "/asks/received/{inbound}", None, ORGANISERS),
    ("POST", "/asks/received/{inbound}/pass-on", None, ORGANISERS_CREATE),
    ("POST", "/asks/received/{inbound}/decline", None, ORGANISERS),
    ("GET", "/asks/sent", None, ORGANISERS),
    ("POST", "/asks/sent", {"subject": "S", "reach": "followers"}, ORGANISERS_CREATE),
    ("GET", "/asks/sent/{outbound}", None, ORGANISERS),
    # Announcements: organisers only (the announce scope).
    ("GET", "/announcements", None, ORGANISERS),
    ("POST", "/announcements", {"subject": "S", "body": "B"}, ORGANISERS_CREATE),
    ("GET", "/announcements/{announcement}", None, ORGANISERS),
    ("PATCH", "/announcements/{announcement}", {"subject": "Changed"}, ORGANISERS),
    ("GET", "/announcements/{announcement}/reach", None, ORGANISERS),
    ("POST", "/announcements/{announcement}/send", {}, ORGANISERS),
    ("POST", "/announcements/{announcement}/cancel", None, ORGANISERS),
]
CONTENT = {
    "campaigns": {"title": "T", "kind": "policy"},
    "events": {"title": "T", "kind": "meeting", "starts_at": "2031-01-01T18:00:00Z"},
    "candidates": {"name": "N", "office": "mayor"},
    "posts": {"title": "T"},
}
SINGULAR = {"campaigns": "campaign", "events": "event", "candidates": "candidate", "posts": "post"}
for plural, payload in CONTENT.items():
    one = f"/{plural}/{{{SINGULAR[plural]}}}"
    ROUTES += [
        ("GET", f"/{plural}", None, OPEN),
        ("POST", f"/{plural}", payload, ORGANISERS_CREATE),
        ("GET", one, None, OPEN),
        ("PATCH", one, {"title" if plural != "candidates" else "name": "Changed"}, ORGANISERS),
        ("DELETE", one, None, ORGANISERS_DELETE),
    ]

CASES = [
    pytest.param(method, path, body, caller, expected[i], id=f"{method} {path} as {caller}")
    for method, path, body, expected in ROUTES
    for i, caller in enumerate(CALLERS)
]


def _invitation() -> int:
    invitations.invite(None, email="invited@example.org")
    return invitations.pending_for("invited@example.org").id


@pytest.mark.parametrize("method, path, body, caller, expected", CASES)
def test_who_may_call_each_route(
    client, member, organiser, admin, method, path, body, caller, expected
):
    seeded = {
        "campaign": factories.campaign().id,
        "event": factories.event().id,
        "fixed": factories.event(
            starts_at=datetime(2031, 1, 1, 9, tzinfo=UTC),
            ends_at=datetime(2031, 1, 1, 18, tzinfo=UTC),
        ).id,
        "shift": factories.shift().id,
        "candidate": factories.candidate().id,
        "post": factories.post().id,
        "target": factories.member().id,
        "invitation": _invitation(),
        "ballot": factories.ballot(freeze_at=factories.soon(1)).id,
        "later": factories.ballot(
            opens_at=factories.soon(1), closes_at=factories.soon(2), freeze_at=factories.soon(1)
        ).id,
        "closed": ballots.close(factories.ballot(), early=True).id,
        "sealed": factories.ballot(sealed=True, freeze_at=factories.soon(1)).id,
        "inbound": ask_support.received_ask().id,
        "outbound": ask_support.published_ask().id,
        "announcement": announcements.draft(None, subject="Stall", body="Saturday").id,
    }
    holder = {"member": member, "organiser": organiser, "admin": admin}.get(caller)
    token = factories.token(holder) if holder else None
    kwargs = {}
    if body == "form":
        kwargs["data"] = {"grant_type": "client_credentials"}
    elif body is not None:
        kwargs["json"] = body
    response = ApiClient(client).call(method, path.format(**seeded), token, **kwargs)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected >= 400:
        assert set(response.get_json()) >= {"error", "fields"}
    if expected == 401 and path != "/oauth/token":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_table_covers_every_api_route(app):
    import re

    table = {(method, "/api/v1" + re.sub(r"\{\w+\}", "<id>", path)) for method, path, *_ in ROUTES}
    routed = {
        (method, re.sub(r"<[^>]+>", "<id>", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routed == table
