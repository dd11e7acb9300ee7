"""`branchline verify` against real group nodes and a test-double aggregator over 127.0.0.1.

Three real groups publish; the double aggregator re-serves their outbox entries as its
combined feed, verbatim. The honest feed verifies; a feed with one entry altered, dropped,
reordered or invented fails, naming the group and the seq. `branchline verify` runs as the
real command, in its own process, as an operator would run it.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from federation import feed, keys
from federation.jcs import canonicalize
from tests.federation.local_http import LocalServer, Received, Reply

from .conftest import RunningNode
from .support import Api, outbox_entries

pytestmark = pytest.mark.integration

ACTIVITY_JSON = "application/activity+json"


class DoubleAggregator:
    """An aggregator's actor and combined feed, serving whatever ``served`` holds."""

    def __init__(self, groups: list[RunningNode]) -> None:
        self.groups = groups
        self.server = LocalServer()
        self.lock = threading.Lock()
        self.served: list[dict[str, Any]] = []
        self.server.routes["/actor"] = lambda _request: self._json(self.actor_document())
        self.server.routes["/aggregate/feed"] = self._feed

    @property
    def base(self) -> str:
        return self.server.url("").rstrip("/")

    @property
    def feed(self) -> str:
        return f"{self.base}/aggregate/feed"

    def serve(self, entries: list[dict[str, Any]]) -> None:
        with self.lock:
            self.served = list(entries)

    def actor_document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", feed.extension_terms()],
            "id": f"{self.base}/actor",
            "type": "Service",
            "name": "National aggregator (double)",
            "inbox": f"{self.base}/inbox",
            "outbox": f"{self.base}/outbox",
            "nodeRole": "aggregator",
            "aggregateFeed": self.feed,
        }

    def _json(self, document: dict[str, Any]) -> Reply:
        return Reply(200, {"Content-Type": ACTIVITY_JSON}, json.dumps(document).encode())

    def _feed(self, request: Received) -> Reply:
        query = parse_qs(urlsplit(request.path).query)
        with self.lock:
            served = list(self.served)
        if "after" not in query:
            return self._json(
                {
                    "@context": feed.entry_context(),
                    "id": self.feed,
                    "type": "OrderedCollection",
                    "totalItems": len(served),
                    "first": f"{self.feed}?after=0&limit=100",
                    "groups": [{"actor": g.actor, "name": g.name} for g in self.groups],
                }
            )
        after = int(query["after"][0])
        limit = int(query.get("limit", ["100"])[0])
        page = served[after : after + limit]
        envelope: dict[str, Any] = {
            "@context": feed.entry_context(),
            "id": f"{self.feed}?after={after}&limit={limit}",
            "type": "OrderedCollectionPage",
            "partOf": self.feed,
        }
        if after + limit < len(served):
            envelope["next"] = f"{self.feed}?after={after + limit}&limit={limit}"
        # As the aggregator must: each entry's signed text joined in, never re-serialised.
        head = json.dumps(envelope)
        items = ",".join(canonicalize(entry).decode() for entry in page)
        body = f'{head[:-1]},"orderedItems":[{items}]}}'.encode()
        return Reply(200, {"Content-Type": ACTIVITY_JSON}, body)


def _publish(node: RunningNode, count: int) -> list[dict[str, Any]]:
    api = Api(node)
    for index in range(count):
        if index % 2:
            api.post(f"News {index} from {node.name}")
        else:
            api.event(f"Canvass {index} in {node.name}")
    entries = outbox_entries(node)
    assert len(entries) >= count
    return entries


def _interleave(*feeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mixed: list[dict[str, Any]] = []
    for index in range(max(len(entries) for entries in feeds)):
        mixed.extend(entries[index] for entries in feeds if index < len(entries))
    return mixed


@pytest.fixture
def network(start_node):
    """Three real groups with published feeds, and a double aggregator serving them."""
    groups = [
        start_node("Leeds North Momentum", "leedsnorth"),
        start_node("Hull Unite Branch", "hullunite"),
        start_node("York Central Greens", "yorkcentral"),
    ]
    feeds = {group.actor: _publish(group, 4) for group in groups}
    aggregator = DoubleAggregator(groups)
    aggregator.serve(_interleave(*feeds.values()))
    yield groups, feeds, aggregator
    aggregator.server.stop()


def _verify(node: RunningNode, *args: str):
    return node.cli("verify", *args, check=False)


def test_honest_combined_feed_and_groups_own_feeds_verify_and_a_gone_feed_exits_2(network):
    groups, feeds, aggregator = network
    leeds = groups[0]

    combined = _verify(leeds, aggregator.feed, "--page-size", "5")

    assert combined.returncode == 0, combined.stdout + combined.stderr
    for group in groups:
        assert f"OK   {group.name} {group.actor}" in combined.stdout
    total = sum(len(entries) for entries in feeds.values())
    assert f"3 group(s), {total} entries: 3 verified, 0 failed" in combined.stdout
    assert "Checking entries" in combined.stderr

    by_actor = _verify(groups[1], aggregator.base + "/actor", "--json")
    assert by_actor.returncode == 0, by_actor.stderr
    report = json.loads(by_actor.stdout)
    assert report["ok"] and report["kind"] == "aggregator"
    assert [g["actor"] for g in report["groups"]] == [g.actor for g in groups]

    own = _verify(leeds, f"{groups[2].url}/outbox")
    assert own.returncode == 0, own.stdout + own.stderr
    assert f"OK   York Central Greens {groups[2].actor}" in own.stdout

    handle = _verify(groups[2], groups[1].acct)
    assert handle.returncode == 0, handle.stdout + handle.stderr

    aggregator.server.stop()
    gone = _verify(leeds, aggregator.feed)
    assert gone.returncode == 2
    assert "Error: could not fetch" in gone.stderr


def _altered(feeds, group: RunningNode) -> tuple[list[dict[str, Any]], int]:
    entries = [dict(entry) for entry in feeds[group.actor]]
    entries[1] = {**entries[1], "published": "2020-01-01T00:00:00Z"}
    return entries, 2


def _dropped(feeds, group: RunningNode) -> tuple[list[dict[str, Any]], int]:
    entries = list(feeds[group.actor])
    del entries[2]
    return entries, 3


def _reordered(feeds, group: RunningNode) -> tuple[list[dict[str, Any]], int]:
    entries = list(feeds[group.actor])
    entries[1], entries[2] = entries[2], entries[1]
    return entries, 2


def _invented(feeds, group: RunningNode) -> tuple[list[dict[str, Any]], int]:
    entries = list(feeds[group.actor])
    seq = entries[-1]["seq"] + 1
    invented = feed.build_entry(
        {
            "id": f"{group.url}/outbox/{seq}",
            "type": "Create",
            "actor": group.actor,
            "object": {
                "id": f"{group.url}/events/999",
                "type": "Event",
                "name": "A rally that was never called",
            },
        },
        seq=seq,
        previous=entries[-1],
        signing_key=keys.generate_ed25519_key(),  # the aggregator's forgery, not the group's key
        verification_method=f"{group.actor}#ed25519-key",
        created=datetime.now(UTC),
    )
    return [*entries, invented], seq


TAMPERINGS = [
    # (what the aggregator does, to which group, what verify must call it)
    (_altered, 1, "bad-proof"),
    (_dropped, 0, "gap"),
    (_reordered, 2, "reordered"),
    (_invented, 0, "bad-proof"),
]


def test_tampered_combined_feed_fails_naming_the_group_and_seq(network):
    groups, feeds, aggregator = network
    # One network for every kind of tampering: starting three nodes per kind would cost
    # more than every check together.
    for tamper, victim, kind in TAMPERINGS:
        target = groups[victim]
        changed, seq = tamper(feeds, target)
        aggregator.serve(_interleave(*(changed if g is target else feeds[g.actor] for g in groups)))

        result = _verify(groups[(victim + 1) % 3], aggregator.feed, "--page-size", "4")

        seen = f"{tamper.__name__}: {result.stdout}{result.stderr}"
        assert result.returncode == 1, seen
        assert f"FAIL {target.name} {target.actor}" in result.stdout, seen
        assert f"FIRST PROBLEM at seq {seq}: {kind}:" in result.stdout, seen
        assert "2 verified, 1 failed." in result.stdout, seen
