"""What the security review found sound, kept so: each test fails if its protection goes.

One vote per member under a burst of parallel requests, the freeze date's boundary, CSRF
on every form (enumerated from the URL map), log-in's ``next`` never leaving the site,
Markdown sanitised on every page that shows it, members-only items in no feed, outbox,
API answer or delivery, and the inbox's body and depth caps. The address guard's own
tests are in tests/federation/test_client_ssrf.py.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from io import BytesIO
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select

from federation.addresses import refusal
from node import create_app
from node.extensions import db
from node.models import (
    BallotPaper,
    BallotVoter,
    Delivery,
    FeedEntry,
    Follower,
    Peer,
    ReceivedActivity,
    RemoteEntry,
)
from node.services.membership import invitations, joining, sessions, tokens
from node.services.messaging import announcements
from node.services.organising import calendar_feeds, carpools, series
from node.services.peering import blocking, inbox, outbound
from node.services.voting import ballots
from node.text import OWN_PICTURE, PICTURE_REFUSED
from tests import factories
from tests.conftest import csrf_token, log_in, post_form
from tests.node.activitypub_support import AS_JSON
from tests.node.api_support import ApiClient
from tests.node.federation_support import FakePeer, follow_peer, remote  # noqa: F401

# --- one member, one vote, even when twenty requests arrive at once ---------------------

VOTERS_AT_ONCE = 20


def _all_at_once(count: int, send: Callable[[int], int]) -> list[int | BaseException]:
    """Run ``send(i)`` on ``count`` threads released together; return what each gave back."""
    start = threading.Barrier(count)
    answers: list[int | BaseException] = [RuntimeError("never ran")] * count

    def run(i: int) -> None:
        try:
            start.wait(timeout=60)
            answers[i] = send(i)
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertions
            answers[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a vote never finished"
    return answers


def _papers_and_voters() -> tuple[int, int]:
    db.session.rollback()  # read what the voting threads committed
    papers = db.session.scalar(select(func.count()).select_from(BallotPaper))
    voters = db.session.scalar(select(func.count()).select_from(BallotVoter))
    return papers, voters


def test_twenty_parallel_votes_from_one_member_on_the_page_leave_one_paper(app, client, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    log_in(client, member)
    token = csrf_token(client, f"/ballots/{ballot.id}")
    cookie = app.config["SESSION_COOKIE_NAME"]
    session = client.get_cookie(cookie).value
    path = f"/ballots/{ballot.id}/vote"

    def vote(i: int) -> int:
        browser = app.test_client()  # one browser tab per request, all in the same session
        browser.set_cookie(cookie, session, domain="localhost")
        form = {"choice": str(i % 2), "confirm": "yes", "csrf_token": token}
        return browser.post(path, data=form).status_code

    answers = _all_at_once(VOTERS_AT_ONCE, vote)

    assert sorted(answers, key=str) == [200] + [409] * (VOTERS_AT_ONCE - 1), answers
    assert _papers_and_voters() == (1, 1)


def test_twenty_parallel_votes_from_one_member_over_the_api_leave_one_paper(app, group, member):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    token = factories.token(member)
    path = f"/ballots/{ballot.id}/vote"

    def vote(i: int) -> int:
        caller = ApiClient(app.test_client())  # one connection per request
        return caller.post(path, token, json={"choices": [i % 2]}).status_code

    answers = _all_at_once(VOTERS_AT_ONCE, vote)

    assert sorted(answers, key=str) == [201] + [409] * (VOTERS_AT_ONCE - 1), answers
    assert _papers_and_voters() == (1, 1)


# --- the freeze date: joined at that very moment may vote, a second later may not ------


def test_a_member_who_joined_exactly_at_the_freeze_may_vote_and_a_second_later_may_not(
    app, client, group
):
    freeze = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    on_time = factories.member(joined_at=freeze)
    too_late = factories.member(joined_at=freeze + timedelta(seconds=1))
    ballot = factories.ballot(freeze_at=freeze)

    log_in(client, on_time)
    voted = post_form(
        client,
        f"/ballots/{ballot.id}/vote",
        {"choice": "0", "confirm": "yes"},
        page=f"/ballots/{ballot.id}",
    )
    assert voted.status_code == 200, voted.get_data(as_text=True)[:500]
    assert 'id="receipt-code"' in voted.get_data(as_text=True)

    late = app.test_client()
    log_in(late, too_late)
    page = late.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "freeze date" in page and "Cast my vote" not in page
    refused = post_form(
        late, f"/ballots/{ballot.id}/vote", {"choice": "0"}, page=f"/ballots/{ballot.id}"
    )
    assert refused.status_code == 403
    assert _papers_and_voters() == (1, 1)
    # The count draws the same line: the one on time is eligible, the one a second late not.
    counted = ballots.close(ballots.get(ballot.id, on_time), early=True)
    assert (counted.eligible_count, counted.voters_count) == (1, 1)


# --- CSRF: every form of the HTML pages, found in the URL map ----------------------------

# Exempt by rule, not by list: the JSON API authenticates each request with a bearer token
# and never reads the session cookie, and the inbox takes only HTTP-signed requests from
# peers. Any other route that accepts POST is a form and must demand the token.
CSRF_EXEMPT_BLUEPRINTS = {
    "api": "bearer tokens, never cookies",
    "inbox": "HTTP signatures, never cookies",
}
# One route by name: a mail client's RFC 8058 one-click unsubscribe POST has no session
# and no form token; the signed token in its address is the proof, it changes only what that
# link names, and a wrong token is a 404 (tests/node/messaging/test_outbox.py).
CSRF_EXEMPT_ENDPOINTS = {
    "mail_links.unsubscribe_confirm": "a signed token in the address (RFC 8058)",
}
CSRF_ERROR = "This form has expired or was not sent from this site."


def _form_routes() -> list[str]:
    """List every endpoint that accepts POST outside the exempt blueprints (a throwaway app)."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "SECRET_KEY": "x"})
        return sorted(
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if "POST" in rule.methods
            and rule.endpoint.partition(".")[0] not in CSRF_EXEMPT_BLUEPRINTS
            and rule.endpoint not in CSRF_EXEMPT_ENDPOINTS
        )


def _mailed_invitation_id() -> int:
    invitations.invite(None, email="invited@example.org")
    return invitations.pending_for("invited@example.org").id


def _join_request_id() -> int:
    joining.ask("Robin", "robin@example.org", "LS7", [])
    return joining.pending()[0].id


def _real_ids(admin) -> dict:
    """Make one of everything a form acts on, so a missing check would change something."""
    target = factories.member(email="target@example.org")
    event = factories.event(capacity=10)
    return {
        "item_id": event.id,
        "kind": "events",
        "member_id": target.id,
        "token": invitations.invite(None),
        "invite_id": _mailed_invitation_id(),
        "calendar_token": calendar_feeds.token_for(target),
        "token_id": tokens.find(tokens.create_personal(target)).id,
        "following_id": 1,
        "follower_id": 1,
        "listing_id": 1,
        "block_id": blocking.block("blocked.example").block.id,
        "twin_id": 1,
        "ask_id": 1,
        "object_id": 1,
        "attendee_id": 1,
        "ballot_id": factories.ballot(freeze_at=factories.soon(1)).id,
        "shift_id": factories.shift(event.id).id,
        "series_id": series.repeat(factories.event(), "FREQ=WEEKLY;COUNT=2").id,
        "request_id": carpools.ask(event, factories.member(), "Leeds").id,
        "join_request_id": _join_request_id(),
        "announcement_id": announcements.draft(admin, subject="Stall", body="Saturday").id,
        # The admin's session on another device, which a forged "log out" would end.
        "session_id": sessions.find(sessions.start(admin, "Another browser")).id,
    }


def _everything() -> dict[str, list[str]]:
    """Read every row of every table, to show that a refused request changed nothing."""
    db.session.rollback()
    return {
        table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
        for table in db.metadata.sorted_tables
    }


def _url(app, endpoint: str, values: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    return app.url_map.bind("localhost").build(endpoint, {k: values[k] for k in rule.arguments})


@pytest.mark.parametrize("endpoint", _form_routes())
def test_every_form_refuses_a_post_without_its_csrf_token(app, client, admin, endpoint):
    values = _real_ids(admin)
    log_in(client, admin)
    csrf_token(client, "/account")  # the session holds a token; the forged form lacks it
    url = _url(app, endpoint, values)
    form = {
        # What a forged form would carry: enough to change things if it got through.
        "title": "Forged",
        "name": "Forged",
        "kind": "other",
        "email": "forged@example.org",
        "display_name": "Forged",
        "password": factories.PASSWORD,
        "role": "admin",
        "status": "cancelled",
        "choice": "0",
        "capacity": "1",
        "starts_at": "2031-01-01T10:00",
        "timezone": "UTC",
        "rule": "FREQ=WEEKLY;COUNT=2",
        "handle": "someone@127.0.0.9",
    }
    before = _everything()

    response = client.post(url, data=form)

    assert response.status_code == 400, (endpoint, response.status_code)
    assert CSRF_ERROR in response.get_data(as_text=True), endpoint
    assert _everything() == before, endpoint
    assert client.get("/account").status_code == 200  # still logged in (not logged out)


# --- log-in's next= never sends anyone off the site --------------------------------------

OFF_SITE = [
    "//evil.example",
    "///evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "HTTPS://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example@localhost",
    "/\r\nLocation: https://evil.example",
]


def _browser_destination(location: str) -> tuple[str, str]:
    """Resolve a Location header the way a browser would: (scheme, host) it goes to."""
    # Browsers drop tabs and newlines inside URLs and read "\" as "/" in http(s) URLs.
    cleaned = re.sub(r"[\t\n\r]", "", location).strip().replace("\\", "/")
    parts = urlsplit(urljoin("http://localhost/login", cleaned))
    return parts.scheme, parts.hostname or ""


@pytest.mark.parametrize("target", OFF_SITE)
def test_log_in_with_an_off_site_next_lands_on_this_site(app, member, target):
    for where in ("form", "query"):
        browser = app.test_client()
        form = {"email": member.email, "password": factories.PASSWORD}
        query = {}
        (form if where == "form" else query)["next"] = target
        response = post_form(browser, "/login", form, page="/login", query_string=query)
        assert response.status_code == 302, (where, response.get_data(as_text=True)[:300])
        location = response.headers["Location"]
        assert _browser_destination(location) == ("http", "localhost"), (where, location)
        assert "evil" not in location, (where, location)


@pytest.mark.parametrize("target", OFF_SITE)
def test_a_logged_in_member_sent_to_log_in_with_an_off_site_next_stays(client, member, target):
    log_in(client, member)
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert _browser_destination(location) == ("http", "localhost"), location
    assert "evil" not in location


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_log_in_form_does_not_carry_an_off_site_next(client, target):
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'name="next"' not in html
    assert "evil.example" not in html


def test_an_on_site_next_is_followed_after_log_in(app, member):
    # The control for the tests above: the same request with a path of our own goes there.
    browser = app.test_client()
    form = {"email": member.email, "password": factories.PASSWORD, "next": "/events?when=past"}
    response = post_form(browser, "/login", form, page="/login")
    assert response.headers["Location"] == "/events?when=past"


# --- reading the outbox as a peer does (for the two sections below) ---------------------


def _outbox_pages(client) -> list[str]:
    """Read the whole outbox as a peer does, page by page; return each page's text."""
    pages, url = [], "/outbox?after=0"
    while url:
        response = client.get(url, headers={"Accept": AS_JSON})
        assert response.status_code == 200
        pages.append(response.get_data(as_text=True))
        url = json.loads(pages[-1]).get("next")
    return pages


def _outbox(client) -> list[dict]:
    return [entry for page in _outbox_pages(client) for entry in json.loads(page)["orderedItems"]]


# --- Markdown is sanitised wherever it is shown ------------------------------------------

HOSTILE_MARKDOWN = "\n\n".join(
    [
        "Kept **SANITISED-MARK** text.",
        "<script>alert('script')</script>",
        "<img src=x onerror=alert('img')>",
        "![a tracking pixel](https://evil.example/pixel.png)",
        '<img src="/uploads/0123456789abcdef0123456789abcdef.png" onerror="alert(13)">',
        '<a href="javascript:alert(1)">raw javascript link</a>',
        "[markdown javascript link](javascript:alert(2))",
        '<a href="JaVaScRiPt:alert(3)">mixed case</a>',
        '<a href="jav&#x09;ascript:alert(4)">entity tab</a>',
        '<a href=" javascript:alert(5)">leading space</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==">data link</a>',
        '<a href="vbscript:msgbox(7)">vbscript</a>',
        '<p style="background:url(javascript:alert(8))">styled</p>',
        "<style>body { display: none }</style>",
        '<iframe src="https://evil.example/"></iframe>',
        '<svg onload="alert(9)"><circle r="1"/></svg>',
        '<object data="https://evil.example/x.swf"></object>',
        '<embed src="https://evil.example/x.swf">',
        '<form action="https://evil.example/"><input name="password"><button>Go</button></form>',
        '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
        '<base href="https://evil.example/">',
        '<div onmouseover="alert(11)">hover</div>',
        '<a href="https://example.org/" onclick="alert(12)">a fine link</a>',
        # Last, as it swallows what follows it: a parser-confusion (mutation XSS) classic.
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(10)>",
    ]
)
# Tags that run script, load or frame something, restyle the page, post a form or break out
# of the text's box: none of them may come out of a member's Markdown.
NOT_FROM_MARKDOWN = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
    "math", "picture", "video", "audio", "source", "base", "meta", "link", "form",
    "input", "button", "textarea", "select", "template", "noscript", "div",
}  # fmt: skip
MARKDOWN_ATTRIBUTES = {"href", "title", "rel", "align", "src", "alt", "loading", "class"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcset", "xlink:href"}
SAFE_SCHEMES = {"", "http", "https", "mailto"}
ATOM = "{http://www.w3.org/2005/Atom}"


class _Prose(HTMLParser):
    """Collect the tags and attributes inside each ``<div class="prose">`` of a page."""

    VOID = {"br", "hr", "img", "input", "meta", "link", "base", "embed", "source", "area"}

    def __init__(self, whole: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.whole = whole  # the whole text is prose (a feed's HTML content)
        self.depth = 0  # open elements inside the current prose div
        self.regions = 0
        self.found: list[tuple[str, dict[str, str]]] = []
        self.everywhere: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.everywhere.append((tag, attributes))
        if self.whole or self.depth:
            self.found.append((tag, attributes))
            if not self.whole and tag not in self.VOID:
                self.depth += 1
        elif tag == "div" and "prose" in attributes.get("class", "").split():
            self.regions += 1
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and not self.whole and tag not in self.VOID:
            self.depth -= 1


def _scheme(url: str) -> str:
    # As a browser reads it: control characters and spaces around and inside go.
    squeezed = re.sub(r"[\x00-\x20]", "", url).lower()
    found = re.match(r"([a-z][a-z0-9+.-]*):", squeezed)
    return found.group(1) if found else ""


def _assert_inert(html: str, *, whole: bool = False, where: str = "") -> _Prose:
    parsed = _Prose(whole)
    parsed.feed(html)
    parsed.close()
    for tag, attributes in parsed.found:
        assert tag not in NOT_FROM_MARKDOWN, (where, tag, attributes)
        if tag == "img":  # only a picture uploaded to this node (node/text.py)
            address = urlsplit(attributes.get("src", ""))
            assert address.netloc in ("", "localhost"), (where, attributes)
            assert OWN_PICTURE.fullmatch(address.path), (where, attributes)
        for name, value in attributes.items():
            assert name not in URL_ATTRIBUTES or _scheme(value) in SAFE_SCHEMES, (where, tag, name)
            assert name in MARKDOWN_ATTRIBUTES, (where, tag, name, value)
            assert name != "class" or (tag, value) == ("span", "picture-refused"), (where, tag)
    for tag, attributes in parsed.everywhere:  # nothing escaped the prose either
        assert tag != "script" and tag != "iframe", (where, tag)
        assert not any(name.startswith("on") or name == "style" for name in attributes), (
            where,
            tag,
            attributes,
        )
    return parsed


def test_hostile_markdown_is_inert_on_every_page_that_shows_markdown(client, group, member):
    group.summary = HOSTILE_MARKDOWN
    db.session.commit()
    log_in(client, member)  # ballots are shown to members only
    pages = {
        "/": None,
        "/news/{}": factories.post(body=HOSTILE_MARKDOWN),
        "/events/{}": factories.event(description=HOSTILE_MARKDOWN, accessibility=HOSTILE_MARKDOWN),
        "/campaigns/{}": factories.campaign(body=HOSTILE_MARKDOWN),
        "/candidates/{}": factories.candidate(statement=HOSTILE_MARKDOWN),
        "/ballots/{}": factories.ballot(description=HOSTILE_MARKDOWN),
    }
    for pattern, item in pages.items():
        path = pattern.format(item.id) if item is not None else pattern
        html = client.get(path).get_data(as_text=True)
        parsed = _assert_inert(html, where=path)
        assert parsed.regions >= 1, path
        assert "<strong>SANITISED-MARK</strong>" in html, path  # the Markdown was rendered
        assert PICTURE_REFUSED in html, path  # pictures from elsewhere are named, not loaded
        links = [attrs for tag, attrs in parsed.found if tag == "a" and attrs.get("href")]
        assert {"href": "https://example.org/", "rel": "nofollow noopener noreferrer"} in links


def test_hostile_markdown_is_inert_in_the_outbox_and_the_news_feed(client, api, organiser_token):
    made = {
        "posts": {"title": "Hostile post", "body": HOSTILE_MARKDOWN},
        "events": {
            "title": "Hostile event",
            "kind": "canvass",
            "starts_at": "2031-05-01T10:00:00+01:00",
            "description": HOSTILE_MARKDOWN,
        },
        "campaigns": {"title": "Hostile campaign", "kind": "community", "body": HOSTILE_MARKDOWN},
    }
    for plural, payload in made.items():
        assert api.post(f"/{plural}", organiser_token, json=payload).status_code == 201
    html_fields = []
    for entry in _outbox(client):
        for key in ("content", "summary"):
            if isinstance(entry["object"].get(key), str):
                html_fields.append(entry["object"][key])
    assert any("SANITISED-MARK" in field for field in html_fields)
    for field in html_fields:
        _assert_inert(field, whole=True, where="outbox")

    atom = client.get("/news.atom").get_data(as_text=True)
    contents = [
        element.text or ""
        for element in ET.fromstring(atom).iter(f"{ATOM}content")  # noqa: S314 - our own feed
    ]
    assert any("SANITISED-MARK" in content for content in contents)
    for content in contents:
        _assert_inert(content, whole=True, where="news.atom")


# --- members-only items never leave the node ---------------------------------------------

SECRET = "Larkspur"  # in every members-only item's title and text, and nowhere else
OPEN = "Foxglove"  # the same for the public items beside them: the channels do work


def _items_through_the_api(api, token, word: str, visibility: str, campaign_id=None) -> dict:
    """Create one of each kind over the API, each naming ``word``; return their ids."""
    payloads = {
        "campaigns": {"title": f"{word} campaign", "kind": "community", "body": f"{word} body"},
        "events": {
            "title": f"{word} event",
            "kind": "canvass",
            "starts_at": "2031-05-01T10:00:00+01:00",
            "description": f"{word} description",
            "place_name": f"{word} hall",
        },
        "posts": {"title": f"{word} post", "body": f"{word} minutes"},
        "candidates": {"name": f"{word} Candidate", "office": "council_ward"},
    }
    made = {}
    for plural, payload in payloads.items():
        if plural == "events" and campaign_id is not None:
            payload["campaign_id"] = campaign_id
        answer = api.post(f"/{plural}", token, json={**payload, "visibility": visibility})
        assert answer.status_code == 201, answer.get_json()
        made[plural] = answer.get_json()["id"]
    return made


def _ballot_counted(api, organiser_token, voter, word: str, visibility: str) -> None:
    # On the roll: joined before the opening, which is the latest a roll can be fixed.
    voter.joined_at = datetime(2019, 1, 1, tzinfo=UTC)
    db.session.commit()
    motion = {
        "question": f"{word} motion?",
        "kind": "yes_no",
        "opens_at": "2020-01-01T18:00:00Z",
        "closes_at": "2039-01-08T18:00:00Z",
        "description": f"{word} reasons",
        "visibility": visibility,
        # A sealed ballot whose one teller is the voter, so the test can count it alone.
        "tellers": [voter.id],
        "tellers_needed": 1,
    }
    made = api.post("/ballots", organiser_token, json=motion)
    assert made.status_code == 201, made.get_json()
    path = f"/ballots/{made.get_json()['id']}"
    token = factories.token(voter)
    code = api.post(f"{path}/teller-code", token).get_json()["code"]
    assert api.post(f"{path}/teller-code/confirm", token, json={"code": code}).status_code == 200
    assert api.post(f"{path}/vote", token, json={"choices": [0]}).status_code == 201
    assert api.post(f"{path}/close", organiser_token).status_code == 202
    assert api.post(f"{path}/shares", token, json={"code": code}).status_code == 200


def _follower(n: int) -> None:
    peer = Peer(actor_id=f"http://127.0.0.{n}/actor", inbox=f"http://127.0.0.{n}/inbox")
    db.session.add(peer)
    db.session.flush()
    db.session.add(Follower(peer_id=peer.id, state="accepted", follow_activity_id=f"{n}#f"))
    db.session.commit()


def _public_reads(app, client) -> dict[str, str]:
    """Fetch every address a visitor or a peer can read without arguments, plus the outbox."""
    seen = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments:
            continue
        path = rule.rule
        for accept in ("text/html", AS_JSON):
            response = client.get(path, headers={"Accept": accept})
            seen[f"{path} ({accept})"] = response.get_data(as_text=True)
    for n, page in enumerate(_outbox_pages(client)):
        seen[f"outbox page {n}"] = page
    for n in range(1, len(_outbox(client)) + 1):
        seen[f"/outbox/{n}"] = client.get(f"/outbox/{n}").get_data(as_text=True)
    # Calendar lines are folded at 75 octets: unfold them, or a word could hide across two.
    seen["/events.ics"] = seen["/events.ics (text/html)"].replace("\r\n ", "")
    return seen


def test_members_only_items_leave_no_trace_in_feeds_outbox_api_or_deliveries(
    app, client, api, organiser_token, member
):
    _follower(2)
    _follower(3)
    hidden_campaign = api.post(
        "/campaigns",
        organiser_token,
        json={"title": f"{SECRET} inner campaign", "kind": "internal", "visibility": "members"},
    ).get_json()["id"]
    hidden = _items_through_the_api(api, organiser_token, SECRET, "members")
    shown = _items_through_the_api(api, organiser_token, OPEN, "public", hidden_campaign)
    _ballot_counted(api, organiser_token, member, SECRET, "members")
    _ballot_counted(api, organiser_token, factories.member(), OPEN, "public")
    # Changing a members-only item, and cancelling its event, must stay inside too.
    assert api.patch(f"/posts/{hidden['posts']}", organiser_token, json={}).status_code == 200
    event = f"/events/{hidden['events']}"
    assert api.patch(event, organiser_token, json={"status": "cancelled"}).status_code == 200

    seen = _public_reads(app, client)
    refused = {}  # asking for each item by its address: refused, and saying nothing of it
    for plural, item_id in {**hidden, "campaigns": hidden_campaign}.items():
        for accept in ("text/html", AS_JSON):
            answer = client.get(f"/{plural}/{item_id}", headers={"Accept": accept})
            assert answer.status_code == 404, (plural, accept)
            refused[f"/{plural}/{item_id} ({accept})"] = answer.get_data(as_text=True)
        answer = api.get(f"/{plural}/{item_id}")
        assert answer.status_code == 404, plural
        refused[f"api {plural} {item_id}"] = answer.get_data(as_text=True)
    for plural in hidden:
        seen[f"api {plural}"] = api.get(f"/{plural}?per_page=100").get_data(as_text=True)
    db.session.rollback()
    seen["feed entries"] = "\n".join(db.session.scalars(select(FeedEntry.body)))
    queued = db.session.execute(
        select(Delivery.inbox, Delivery.body, FeedEntry.body).outerjoin(
            FeedEntry, Delivery.feed_entry_id == FeedEntry.id
        )
    ).all()
    seen["deliveries"] = "\n".join(" ".join(str(part) for part in row) for row in queued)

    # Nor their addresses (an event of a members-only campaign must not point at it).
    addresses = [
        re.compile(rf"/{plural}/{item_id}(?!\d)")
        for plural, item_id in {**hidden, "campaigns": hidden_campaign}.items()
    ]
    for where, text in seen.items():
        assert SECRET.lower() not in text.lower(), where
        assert not any(address.search(text) for address in addresses), where
    for where, text in refused.items():
        assert SECRET.lower() not in text.lower(), where
    # The same channels carry the public items: the checks above look where things go.
    for where in ("feed entries", "deliveries", "/events.ics", "/news.atom (text/html)"):
        assert OPEN in seen[where], where
    assert OPEN in seen["outbox page 0"] and OPEN in seen["api events"]
    assert all(f"{OPEN} {kind}" in seen["feed entries"] for kind in ("event", "post", "motion"))
    assert f"{OPEN} campaign" in seen["deliveries"] and f"{OPEN} Candidate" in seen["deliveries"]
    assert db.session.scalar(select(func.count()).select_from(Delivery)) > 0
    assert shown


# --- the operator's address setting reaches the guard ----------------------------------
# (The guard itself, against hostile and rebinding names: tests/federation/test_client_ssrf.py.)


@pytest.mark.parametrize(
    ("setting", "allowed", "refused"),
    [
        (None, [], ["127.0.0.1", "::1", "10.0.0.1", "169.254.169.254"]),
        ("0", [], ["127.0.0.1", "::1", "10.0.0.1"]),
        ("false", [], ["127.0.0.1", "::1", "10.0.0.1"]),
        ("1", ["127.0.0.1", "::1", "10.0.0.1", "fd00::1"], ["169.254.169.254", "0.0.0.0"]),  # noqa: S104
        ("true", ["127.0.0.1", "10.0.0.1"], ["169.254.169.254"]),
        ("127.0.0.0/8", ["127.0.0.1", "127.9.9.9"], ["::1", "10.0.0.1", "169.254.169.254"]),
        ("127.0.0.0/8,::1/128", ["127.0.0.1", "::1"], ["10.0.0.1", "192.168.1.20", "fe80::1"]),
    ],
)
def test_the_private_address_setting_opens_exactly_what_it_names(
    monkeypatch, tmp_path, setting, allowed, refused
):
    monkeypatch.setenv("BRANCHLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("BRANCHLINE_SECRET_KEY", "test-secret")
    monkeypatch.setenv("BRANCHLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'node.sqlite3'}")
    if setting is None:
        monkeypatch.delenv("BRANCHLINE_ALLOW_PRIVATE_ADDRESSES", raising=False)
    else:
        monkeypatch.setenv("BRANCHLINE_ALLOW_PRIVATE_ADDRESSES", setting)
    with create_app().app_context():
        policy = outbound.address_policy()
    assert [a for a in allowed + refused if refusal(a, policy) is None] == allowed
    for address in ("93.184.216.34", "2606:4700::1111"):  # public ones pass under any setting
        assert refusal(address, policy) is None


# --- the inbox's caps: body size and JSON depth ------------------------------------------


def _padded_like(peer: FakePeer, size: int) -> bytes:
    """A Like from ``peer`` padded to exactly ``size`` bytes."""
    like = peer.activity("Like", "http://localhost/events/1")
    bare = json.dumps({**like, "padding": ""}).encode()
    body = json.dumps({**like, "padding": "x" * (size - len(bare))}).encode()
    assert len(body) == size
    return body


def _nested_like(peer: FakePeer, depth: int, kind: str) -> bytes:
    """A Like whose JSON, counting the activity itself, is ``depth`` levels deep."""
    like = peer.activity("Like", "http://localhost/events/1")
    inner = depth - 1  # the activity object is the first level
    nested = "[" * inner + "]" * inner if kind == "lists" else '{"a":' * inner + "1" + "}" * inner
    return json.dumps({**like, "padding": "@"}).encode().replace(b'"@"', nested.encode())


def _stored_from_peers() -> tuple[int, int]:
    db.session.rollback()
    received = db.session.scalar(select(func.count()).select_from(ReceivedActivity))
    entries = db.session.scalar(select(func.count()).select_from(RemoteEntry))
    return received, entries


def _post_body(client, peer: FakePeer, body: bytes, how: str):
    """POST a signed body with its length declared, or chunked with none (as gunicorn hands
    a chunked request on: the body de-chunked, the stream marked as ending by itself)."""
    headers = peer.signed_headers(body)
    if how == "declared":
        return client.post("/inbox", data=body, headers=headers)
    return client.post(
        "/inbox",
        input_stream=BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("how", ["declared", "chunked"])
def test_inbox_takes_a_body_of_exactly_the_cap(client, remote, how):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    response = _post_body(client, peer, _padded_like(peer, inbox.MAX_BODY), how)
    assert response.status_code == 202, response.get_json()
    assert _stored_from_peers() == (1, 0)


@pytest.mark.parametrize("size", [inbox.MAX_BODY + 1, 2 * inbox.MAX_BODY])
@pytest.mark.parametrize("how", ["declared", "chunked"])
def test_inbox_refuses_a_body_over_the_cap_and_stores_nothing(client, remote, how, size):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    fetches = len(remote.calls)
    response = _post_body(client, peer, _padded_like(peer, size), how)
    assert response.status_code == 413, response.get_json()
    assert _stored_from_peers() == (0, 0)
    assert len(remote.calls) == fetches  # not even the signer's key was looked up


@pytest.mark.parametrize("kind", ["lists", "objects"])
def test_inbox_takes_json_exactly_as_deep_as_the_cap(client, remote, kind):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    body = _nested_like(peer, inbox.MAX_DEPTH, kind)
    response = client.post("/inbox", data=body, headers=peer.signed_headers(body))
    assert response.status_code == 202, response.get_json()
    assert _stored_from_peers() == (1, 0)


@pytest.mark.parametrize("depth", [inbox.MAX_DEPTH + 1, 100_000])
@pytest.mark.parametrize("kind", ["lists", "objects"])
def test_inbox_refuses_json_deeper_than_the_cap_and_stores_nothing(client, remote, kind, depth):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    fetches = len(remote.calls)
    body = _nested_like(peer, depth, kind)
    response = client.post("/inbox", data=body, headers=peer.signed_headers(body))
    assert response.status_code == 400
    assert "nested deeper" in response.get_json()["error"]
    assert _stored_from_peers() == (0, 0)
    assert len(remote.calls) == fetches
