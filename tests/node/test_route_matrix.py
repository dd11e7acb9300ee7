"""Every page route called by a visitor, a member, an organiser and an admin.

The table says who each route is for; a route added without a row here fails the
coverage test. (The JSON API has its own matrix in test_api_matrix.py; the monitors'
addresses, which take no log-in, are tested in test_operations.py.)
"""

from __future__ import annotations

import tempfile

import pytest

from node import create_app
from node.services.membership import invitations, joining, tokens
from node.services.organising import calendar_feeds, carpools, series
from tests import factories
from tests.conftest import csrf_token, log_in

NOT_PAGES = ("api.", "operations.")
ROLES = ("anonymous", "member", "organiser", "admin")
RANK = {"anonymous": 0, "member": 1, "organiser": 2, "admin": 3}
NEEDS = {"public": 0, "member": 1, "organiser": 2, "admin": 3}

# endpoint -> who may use it; every method the route accepts is checked
ACCESS = {
    "static": "public",
    "pages.home": "public",
    "pages.events": "public",
    "pages.event": "public",
    "pages.rsvp": "member",
    "pages.campaigns": "public",
    "pages.campaign": "public",
    "pages.candidates": "public",
    "pages.candidate": "public",
    "pages.news": "public",
    "pages.post": "public",
    "pages.logo": "public",
    # Uploaded pictures are served to anybody; only organisers upload them.
    "pictures.picture": "public",
    "pictures.manage": "organiser",
    # Feeds for calendar apps and feed readers; a member's own calendar is reached by its
    # signed address, not a log-in (calendar apps cannot log in), so it is public here.
    "feeds.events_calendar": "public",
    "feeds.member_calendar": "public",
    "feeds.news": "public",
    "wellknown.webfinger": "public",
    "wellknown.host_meta": "public",
    "wellknown.nodeinfo_links": "public",
    "wellknown.nodeinfo": "public",
    "activitypub.actor": "public",
    "activitypub.context": "public",
    "activitypub.outbox": "public",
    "activitypub.outbox_entry": "public",
    "activitypub.followers": "public",
    "activitypub.following": "public",
    "auth.setup": "public",
    "auth.login": "public",
    "auth.logout": "public",
    "auth.accept_invite": "public",
    "auth.request_reset": "public",
    "auth.reset_password": "public",
    "account.home": "member",
    "account.profile": "member",
    "account.password": "member",
    "account.create_token": "member",
    "account.revoke_token": "member",
    "account.end_session": "member",  # someone else's session is a 404
    "account.end_all_sessions": "member",
    "account.data": "member",
    "account.data_download": "member",
    "account.messages": "member",
    "account.leave": "member",  # the group's last admin is told they cannot (409)
    "account.leave_confirm": "member",  # needs the password again: 400 without it
    # An unsubscribe link's signed token is its authority (RFC 8058: no log-in).
    "mail_links.unsubscribe": "public",
    "mail_links.unsubscribe_confirm": "public",
    "mail_links.preferences": "member",
    "mail_links.preferences_save": "member",
    "manage.dashboard": "organiser",
    "manage.dismiss_checklist": "organiser",
    "manage.items": "organiser",
    "manage.new_item": "organiser",
    "manage.edit_item": "organiser",
    "manage.delete_item": "organiser",
    "manage.attendance": "organiser",
    "manage.event_status": "organiser",
    "manage.group_profile": "organiser",
    "manage.group_logo": "organiser",
    "manage.member_list": "organiser",
    "manage.add_member": "organiser",
    "manage.edit_member": "organiser",
    "manage.remove_member": "organiser",
    "manage.invite": "organiser",
    "invitations.resend": "organiser",
    "invitations.revoke": "organiser",
    "invitations.import_members": "organiser",
    "invitations.import_confirm": "organiser",
    "invitations.import_rejected": "organiser",
    "invitations.mail_problems": "organiser",
    "invitations.clear_problem": "organiser",
    "inbox.inbox": "public",  # peers sign instead of logging in; see test_inbox_*.py
    "held.entries": "public",  # only the group itself, signing; see recovery/test_held.py
    "network.index": "member",
    "network.following": "organiser",
    "network.unfollow": "organiser",
    "network.followers": "organiser",
    "network.approve_follower": "organiser",
    "network.reject_follower": "organiser",
    # The national pages: public network data, read-only.
    "national.groups": "public",
    "national.events": "public",
    "national.needed": "public",
    "national.campaigns": "public",
    "national.candidates": "public",
    "national.evidence": "public",
    # An aggregator's combined feed (read-only) and directory; 404 on other nodes.
    "aggregate.feed": "public",
    "aggregate.outbox": "public",
    "aggregate.announce": "public",
    "aggregate.directory": "admin",
    "aggregate.add": "admin",
    "aggregate.approve": "admin",
    "aggregate.refuse": "admin",
    "aggregate.remove": "admin",
    # The block list: admins only.
    "blocks.index": "admin",
    "blocks.add": "admin",
    "blocks.remove": "admin",
    "blocks.import_list": "admin",
    "blocks.export_list": "admin",
    # Twinning: organisers propose and answer; members RSVP to twinned groups' events.
    "twins.index": "organiser",
    "asks.queue": "organiser",
    "asks.show": "organiser",
    "asks.seen": "organiser",
    "asks.pass_on": "organiser",
    "asks.decline": "organiser",
    "asks.new": "organiser",
    "asks.sent": "organiser",
    "twins.accept": "organiser",
    "twins.decline": "organiser",
    "twins.end": "organiser",
    "twins.record_attended": "organiser",
    "twins.announce_event": "organiser",
    "shifts.signup": "member",
    "shifts.manage": "organiser",
    "shifts.change_capacity": "organiser",
    "shifts.delete": "organiser",
    # RSVPs without an account: the form and the e-mailed link's page are for anybody
    # (the link's token is the authority); the door is for organisers.
    "guests.ask": "public",
    "joining.join": "public",
    "manage_joining.requests": "organiser",
    "manage_joining.settings": "organiser",
    "manage_joining.approve": "organiser",
    "manage_joining.decline": "organiser",
    "invitations.export_members": "organiser",
    "guests.link": "public",
    "guests.answer": "public",
    # A reminder's "Still coming?" links: the signed token is the authority (a bad one is
    # a 404), so anybody holding the mail may answer.
    "still_coming.page": "public",
    "still_coming.answer": "public",
    "checkin.door": "organiser",
    "checkin.mark": "organiser",
    "checkin.walk_in": "organiser",
    "checkin.publish": "organiser",
    # Recurring events: organisers only.
    "series.repeat": "organiser",
    "series.manage": "organiser",
    "series.skip": "organiser",
    "series.restore": "organiser",
    "series.stop": "organiser",
    "series.apply_details": "organiser",
    # Carpools: members offer and ask on the event page; organisers match them.
    "carpools.offer": "member",
    "carpools.ask": "member",
    "carpools.manage": "organiser",
    "carpools.match": "organiser",
    "carpools.unmatch": "organiser",
    "twins.event": "member",
    "twins.cancel": "member",
    # Ballots: members vote and check the papers; organisers set up, close, delete.
    "ballots.index": "public",
    "ballots.ballot": "public",
    "ballots.vote": "member",
    "ballots.papers": "member",
    "ballots.manage_list": "organiser",
    "ballots.new": "organiser",
    "ballots.close": "organiser",
    "ballots.delete": "organiser",
    # Sealed ballots: a teller's code and the count (tellers only, refused to others inside),
    # and the ballot box of trackers.
    "ballots.teller": "member",
    "ballots.take_code": "member",
    "ballots.confirm_code": "member",
    "ballots.count": "member",
    "ballots.give_share": "member",
    "ballots.box": "member",
    # Announcements: organisers write, test, send and follow them.
    "messages.index": "organiser",
    "messages.new": "organiser",
    "messages.create": "organiser",
    "messages.edit": "organiser",
    "messages.save": "organiser",
    "messages.test": "organiser",
    "messages.confirm": "organiser",
    "messages.send": "organiser",
    "messages.cancel": "organiser",
}


def _page_routes() -> list[tuple[str, str]]:
    """List (endpoint, method) of every page route, read from a throwaway app."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "SECRET_KEY": "x"})
        return sorted(
            (rule.endpoint, method)
            for rule in app.url_map.iter_rules()
            if not rule.endpoint.startswith(NOT_PAGES)
            for method in rule.methods - {"HEAD", "OPTIONS"}
        )


def test_every_page_route_has_a_row(app):
    endpoints = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith(NOT_PAGES)
    }
    assert endpoints == set(ACCESS)


def _join_request_id() -> int:
    joining.ask("Robin", "robin@example.org", "LS7", [])
    return joining.pending()[0].id


def _url(app, endpoint: str, values: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    adapter = app.url_map.bind("localhost")
    return adapter.build(endpoint, {k: values[k] for k in rule.arguments})


CASES = [(endpoint, method, role) for endpoint, method in _page_routes() for role in ROLES]


@pytest.mark.parametrize(("endpoint", "method", "role"), CASES)
def test_route_answers_each_role_as_the_table_says(app, client, endpoint, method, role):
    target = factories.member(email="target@example.org")
    values = {
        "item_id": factories.event(capacity=10).id,
        "kind": "events",
        "member_id": target.id,
        "filename": "style.css",
        "name": "0123456789abcdef0123456789abcdef.png",
        "token": invitations.invite(None),
        "calendar_token": calendar_feeds.token_for(target),
        "token_id": 1,
        "invite_id": 1,
        "session_id": 1,
        "following_id": 1,
        "follower_id": 1,
        "seq": 1,
        "cursor": 1,
        "listing_id": 1,
        "block_id": 1,
        "announcement_id": 1,
        "twin_id": 1,
        "ask_id": 1,
        "object_id": 1,
        "ballot_id": factories.ballot(freeze_at=factories.soon(1)).id,  # the viewer may vote
        "shift_id": factories.shift().id,
        "attendee_id": 1,
        "series_id": series.repeat(factories.event(), "FREQ=WEEKLY;COUNT=2").id,
        "request_id": carpools.ask(factories.event(), factories.member(), "Leeds").id,
        "join_request_id": _join_request_id(),
    }
    factories.campaign(), factories.candidate(), factories.post()
    if role != "anonymous":
        viewer = factories.member(role=role, email=f"{role}@example.org")
        values["token_id"] = tokens.find(tokens.create_personal(viewer)).id
        log_in(client, viewer)
    url = _url(app, endpoint, values)
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_token(client, "/account" if role != "anonymous" else "/login")
        response = client.post(url, data={"csrf_token": token})

    allowed = RANK[role] >= NEEDS[ACCESS[endpoint]]
    location = response.headers.get("Location", "")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if allowed:
        assert response.status_code not in (401, 403), (endpoint, method, role)
        assert "/login" not in location or endpoint.startswith("auth."), location
    elif role == "anonymous":
        assert response.status_code == 302 and "/login" in location, (endpoint, method)
    else:
        assert response.status_code == 403, (endpoint, method, role, response.status_code)
