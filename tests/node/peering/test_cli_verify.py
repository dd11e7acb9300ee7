"""`branchline verify`: a group's outbox and an aggregator's combined feed, served by fakes.

Groups and the aggregator live on loopback addresses answered by `responses`; the groups'
entries are signed with federation's own feed code, and the aggregator serves them as an
honest one would, or drops, alters, reorders or invents one.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from federation import feed, keys
from federation.jcs import canonicalize
from node.cli.verify import verify
from tests.node.federation_support import ACTIVITY_JSON, FakePeer

AGGREGATOR = "http://127.0.0.9"
COMBINED = f"{AGGREGATOR}/aggregate/feed"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8"}


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as running:
        yield running


def _reply(document: Any) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": ACTIVITY_JSON}, json.dumps(document)


def _raw_page(envelope: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    """A page as a Branchline node writes it: the entries' signed text joined in."""
    head = json.dumps(envelope)
    items = ",".join(canonicalize(entry).decode() for entry in entries)
    return f'{head[:-1]},"orderedItems":[{items}]}}'


def _query(request) -> tuple[int, int]:
    query = parse_qs(urlsplit(request.url).query)
    return int(query.get("after", ["0"])[0]), int(query.get("limit", ["50"])[0])


class Group(FakePeer):
    """A group on 127.0.0.<n> with ``size`` signed entries, serving its actor and outbox."""

    def __init__(self, n: int, size: int) -> None:
        super().__init__(n)
        for index in range(size):
            self.entry("Create", self.event(f"e{index + 1}", f"Canvass {index + 1} of group {n}"))
        self.served = list(self.entries)  # what its own outbox serves
        self.head = self.entries[-1] if self.entries else None
        self.answers_left: int | None = None  # actor fetches answered before it goes down

    def actor_document(self) -> dict[str, Any]:
        document = super().actor_document()
        head = self.head
        document["feedHead"] = (
            {"seq": 0} if head is None else {"seq": head["seq"], "hash": feed.entry_hash(head)}
        )
        return document

    def host(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.GET, self.actor, callback=self._actor)
        mock.add(
            responses.GET,
            f"{self.base}/.well-known/webfinger",
            json={"links": [{"rel": "self", "type": ACTIVITY_JSON, "href": self.actor}]},
            content_type="application/jrd+json",
        )
        mock.add_callback(
            responses.GET, re.compile(re.escape(f"{self.base}/outbox") + r"(\?.*)?$"), self._outbox
        )

    def _actor(self, _request) -> tuple[int, dict[str, str], str]:
        if self.answers_left is not None:
            if self.answers_left <= 0:
                return 503, {}, ""
            self.answers_left -= 1
        return _reply(self.actor_document())

    def _outbox(self, request) -> tuple[int, dict[str, str], str]:
        base = f"{self.base}/outbox"
        if "?" not in request.url:
            return _reply({"id": base, "type": "OrderedCollection", "totalItems": len(self.served)})
        after, limit = _query(request)
        page = self.served[after : after + limit]
        envelope: dict[str, Any] = {
            "id": request.url,
            "type": "OrderedCollectionPage",
            "partOf": base,
        }
        if after + limit < len(self.served):
            envelope["next"] = f"{base}?after={after + limit}&limit={limit}"
        return 200, {"Content-Type": ACTIVITY_JSON}, _raw_page(envelope, page)


class Aggregator:
    """An aggregator on 127.0.0.9 serving ``served`` as its combined feed."""

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        self.served = interleave(*(group.entries for group in groups))
        self.next_link: Callable[[int, int], str] | None = None
        self.oversized_above: int | None = None  # pages of more entries overflow the size cap
        self.asked_limits: list[int] = []
        self.claims: dict[int, dict[str, Any]] = {}  # what it says of group n, beyond the truth

    def actor_document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", feed.extension_terms()],
            "id": f"{AGGREGATOR}/actor",
            "type": "Service",
            "name": "National network",
            "inbox": f"{AGGREGATOR}/inbox",
            "outbox": f"{AGGREGATOR}/outbox",
            "nodeRole": "aggregator",
            "aggregateFeed": COMBINED,
        }

    def host(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(
            responses.GET, f"{AGGREGATOR}/actor", callback=lambda _r: _reply(self.actor_document())
        )
        mock.add_callback(
            responses.GET, re.compile(re.escape(COMBINED) + r"(\?.*)?$"), callback=self._feed
        )

    def _feed(self, request) -> tuple[int, dict[str, str], str]:
        if "?" not in request.url:
            return _reply(
                {
                    "@context": feed.entry_context(),
                    "id": COMBINED,
                    "type": "OrderedCollection",
                    "totalItems": len(self.served),
                    "first": f"{COMBINED}?after=0&limit=100",
                    "groups": [
                        {
                            "actor": group.actor,
                            "name": group.actor_document()["name"],
                            "heldSeq": len(group.entries),
                            "state": "in_step",
                            **self.claims.get(group.n, {}),
                        }
                        for group in self.groups
                    ],
                }
            )
        after, limit = _query(request)
        self.asked_limits.append(limit)
        page = self.served[after : after + limit]
        envelope: dict[str, Any] = {
            "@context": feed.entry_context(),
            "id": request.url,
            "type": "OrderedCollectionPage",
            "partOf": COMBINED,
        }
        if self.oversized_above is not None and limit > self.oversized_above:
            envelope["padding"] = "x" * 1_100_000
        if after + limit < len(self.served):
            envelope["next"] = (self.next_link or _next)(after + limit, limit)
        return 200, {"Content-Type": ACTIVITY_JSON}, _raw_page(envelope, page)


def _next(after: int, limit: int) -> str:
    return f"{COMBINED}?after={after}&limit={limit}"


def interleave(*feeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mixed: list[dict[str, Any]] = []
    for index in range(max(len(entries) for entries in feeds)):
        mixed.extend(entries[index] for entries in feeds if index < len(entries))
    return mixed


@pytest.fixture
def groups(mock) -> list[Group]:
    made = [Group(2, 5), Group(3, 4), Group(4, 6)]
    for group in made:
        group.host(mock)
    return made


@pytest.fixture
def aggregator(mock, groups) -> Aggregator:
    running = Aggregator(groups)
    running.host(mock)
    return running


def run(app, *args: str):
    return app.test_cli_runner().invoke(verify, list(args))


# Honest feeds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.2/actor", "http://127.0.0.2/outbox", "acct:group2@127.0.0.2"],
)
def test_group_feed_verifies(app, group, groups, mock, target):
    result = run(app, target, "--page-size", "2")

    assert result.exit_code == 0, result.output
    assert "OK   Group 2 http://127.0.0.2/actor" in result.stdout
    assert "entries checked: 5 (5 verified by proof)" in result.stdout
    head = feed.entry_hash(groups[0].entries[-1])
    assert f"head reached: seq 5 {head}" in result.stdout
    assert f"group's own head: seq 5 {head}" in result.stdout
    assert "1 group(s), 5 entries: 1 verified, 0 failed: everything verifies." in result.stdout


def test_fetches_are_signed_as_this_node_once_it_is_set_up(app, group, groups, mock):
    result = run(app, "http://127.0.0.2/actor")

    assert result.exit_code == 0, result.output
    assert all("Signature" in call.request.headers for call in mock.calls)


def test_anyone_may_verify_without_setting_up_a_node(app, groups, mock):
    result = run(app, "http://127.0.0.2/actor")

    assert result.exit_code == 0, result.output
    assert not any("Signature" in call.request.headers for call in mock.calls)


@pytest.mark.parametrize("target", [f"{AGGREGATOR}/actor", COMBINED, f"{COMBINED}?after=0"])
def test_combined_feed_verifies_every_group(app, group, aggregator, target):
    result = run(app, target, "--page-size", "4")

    assert result.exit_code == 0, result.output
    for peer in aggregator.groups:
        assert f"OK   Group {peer.n} {peer.actor}" in result.stdout
    assert "3 group(s), 15 entries: 3 verified, 0 failed" in result.stdout


def test_combined_feed_keys_come_from_the_groups_not_the_aggregator(app, group, aggregator, mock):
    run(app, COMBINED)

    fetched = {call.request.url.split("?")[0] for call in mock.calls}
    assert {peer.actor for peer in aggregator.groups} <= fetched


def test_json_report(app, group, aggregator):
    leeds = aggregator.groups[0]
    aggregator.served.remove(leeds.entries[1])

    result = run(app, COMBINED, "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == {"feed", "kind", "ok", "entries", "groups", "stray", "summary"}
    assert (report["feed"], report["kind"], report["ok"], report["entries"]) == (
        COMBINED,
        "aggregator",
        False,
        14,
    )
    assert report["summary"] == {"groups": 3, "verified": 2, "failed": 1}
    first = report["groups"][0]
    assert first == {
        "actor": leeds.actor,
        "name": "Group 2",
        "ok": False,
        "entries": 4,
        "verified": 1,
        "redacted": [],
        "head": {"seq": 1, "hash": feed.entry_hash(leeds.entries[0])},
        "declaredHead": {"seq": 5, "hash": feed.entry_hash(leeds.entries[-1])},
        "problem": {
            "seq": 2,
            "kind": "gap",
            "detail": "seq 2 is missing: seq 1 is followed by seq 3",
        },
        "notes": [],
        "aggregatorSays": {"name": "Group 2", "heldSeq": 5, "state": "in_step"},
    }
    assert report["groups"][1]["ok"] and report["groups"][1]["problem"] is None


# An aggregator that tampers ------------------------------------------------------------------


def _alter(aggregator: Aggregator, peer: Group, seq: int) -> None:
    index = aggregator.served.index(peer.entries[seq - 1])
    altered = copy.deepcopy(peer.entries[seq - 1])
    altered["object"]["name"] = "Cancelled"
    aggregator.served[index] = altered


def _drop(aggregator: Aggregator, peer: Group, seq: int) -> None:
    aggregator.served.remove(peer.entries[seq - 1])


def _swap(aggregator: Aggregator, peer: Group, seq: int) -> None:
    first = aggregator.served.index(peer.entries[seq - 1])
    second = aggregator.served.index(peer.entries[seq])
    served = aggregator.served
    served[first], served[second] = served[second], served[first]


def _invent(aggregator: Aggregator, peer: Group, seq: int) -> None:
    invented = feed.build_entry(
        {
            "id": f"{peer.base}/outbox/{seq}",
            "type": "Create",
            "actor": peer.actor,
            "object": peer.event("fake", "A meeting that never was"),
        },
        seq=seq,
        previous=peer.entries[seq - 2],
        signing_key=keys.generate_ed25519_key(),
        verification_method=peer.proof_key_id,
        created=datetime(2030, 1, 2, tzinfo=UTC),
    )
    aggregator.served.append(invented)


def _duplicate(aggregator: Aggregator, peer: Group, seq: int) -> None:
    aggregator.served.append(peer.entries[seq - 1])


def _drop_tail(aggregator: Aggregator, peer: Group, seq: int) -> None:
    for entry in peer.entries[seq - 1 :]:
        aggregator.served.remove(entry)


@pytest.mark.parametrize(
    ("tamper", "n", "seq", "kind"),
    [
        (_alter, 3, 2, "bad-proof"),
        (_drop, 2, 3, "gap"),
        (_swap, 4, 3, "reordered"),
        (_invent, 3, 5, "bad-proof"),
        (_duplicate, 4, 2, "duplicate"),
        (_drop_tail, 2, 4, "tail-dropped"),
    ],
)
def test_tampered_combined_feed_fails_naming_the_group_and_seq(
    app, group, aggregator, tamper, n, seq, kind
):
    peer = next(found for found in aggregator.groups if found.n == n)
    tamper(aggregator, peer, seq)

    result = run(app, COMBINED, "--page-size", "3")

    assert result.exit_code == 1, result.output
    assert f"FAIL Group {n} {peer.actor}" in result.stdout
    assert f"FIRST PROBLEM at seq {seq}: {kind}:" in result.stdout
    assert "3 group(s)" in result.stdout and "2 verified, 1 failed." in result.stdout


def test_report_shows_what_the_aggregator_says_of_a_group_beside_the_finding(
    app, group, aggregator
):
    york = aggregator.groups[2]
    _drop_tail(aggregator, york, 5)
    aggregator.claims[4] = {"heldSeq": 4, "state": "behind"}

    result = run(app, COMBINED)

    assert result.exit_code == 1
    assert "FIRST PROBLEM at seq 5: tail-dropped:" in result.stdout
    assert "the aggregator says: holds seq 4, behind" in result.stdout


def test_group_outbox_that_lost_an_entry_fails(app, group, groups):
    hull = groups[1]
    del hull.served[1]

    result = run(app, hull.actor)

    assert result.exit_code == 1
    assert f"FAIL Group 3 {hull.actor}" in result.stdout
    assert "FIRST PROBLEM at seq 2: gap:" in result.stdout


def test_group_that_cannot_be_reached_for_its_head_fails(app, group, aggregator):
    york = aggregator.groups[2]
    york.answers_left = 1  # answers for its key, then goes away before its head is asked

    result = run(app, COMBINED)

    assert result.exit_code == 1
    assert f"FAIL Group 4 {york.actor}" in result.stdout
    assert "FIRST PROBLEM: head-not-confirmed:" in result.stdout


# Feeds that cannot be audited -------------------------------------------------------------


def test_unreachable_target_exits_2(app, group, mock):
    mock.add(responses.GET, "http://127.0.0.5/actor", body=requests.ConnectionError("refused"))

    result = run(app, "http://127.0.0.5/actor")

    assert result.exit_code == 2
    assert "Error: could not fetch the target http://127.0.0.5/actor" in result.stderr
    assert result.stdout == ""


def test_target_that_is_not_a_feed_exits_2(app, group, mock):
    mock.add(
        responses.GET,
        "http://127.0.0.5/notes/1",
        json={"id": "http://127.0.0.5/notes/1", "type": "Note"},
        content_type=ACTIVITY_JSON,
    )

    result = run(app, "http://127.0.0.5/notes/1")

    assert result.exit_code == 2
    assert "is neither a group, an aggregator nor a feed" in result.stderr


def test_private_addresses_stay_refused_unless_allowed(app, group, groups):
    app.config["ALLOW_PRIVATE_ADDRESSES"] = None

    result = run(app, "http://127.0.0.2/actor")

    assert result.exit_code == 2
    assert "loopback" in result.stderr


def test_bad_target_and_page_size_are_usage_errors(app, group):
    assert run(app, "not a url").exit_code == 2
    assert run(app, "http://127.0.0.2/actor", "--page-size", "0").exit_code == 2


def test_next_link_off_the_feeds_origin_is_not_followed(app, group, aggregator, mock):
    aggregator.next_link = lambda after, limit: f"http://127.0.0.8/feed?after={after}"

    result = run(app, COMBINED, "--page-size", "5")

    assert result.exit_code == 2
    assert "off its origin" in result.stderr
    assert not any(call.request.url.startswith("http://127.0.0.8") for call in mock.calls)


def test_next_links_that_loop_are_caught(app, group, aggregator):
    aggregator.next_link = lambda after, limit: f"{COMBINED}?after=0&limit={limit}"

    result = run(app, COMBINED, "--page-size", "5")

    assert result.exit_code == 2
    assert "loop" in result.stderr


def test_page_too_large_for_the_client_is_asked_for_in_halves(app, group, aggregator):
    aggregator.oversized_above = 5

    result = run(app, COMBINED, "--page-size", "16")

    assert result.exit_code == 0, result.output
    assert aggregator.asked_limits == [16, 8, 5, 5, 5]


def test_page_too_large_even_when_small_exits_2(app, group, aggregator):
    aggregator.oversized_above = 1

    result = run(app, COMBINED, "--page-size", "16")

    assert result.exit_code == 2
    assert "too large to fetch" in result.stderr
