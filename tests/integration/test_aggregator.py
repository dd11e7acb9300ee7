"""Aggregators between real nodes on 127.0.0.1: three groups listed three ways, entries
flowing into the combined feed, outages caught up, and regional → national verified back to
the group that signed."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from federation import feed
from federation.jcs import canonicalize
from federation.keys import ed25519_public_key_from_multikey

from .support import Api, following_state, outbox_entries, wait_until

pytestmark = pytest.mark.integration

ACCEPT = {"Accept": "application/activity+json"}
AGGREGATOR = {"ROLE": "aggregator"}


def combined_feed(node) -> tuple[list[dict[str, Any]], str]:
    """Read a node's whole combined feed, page by page; return the entries and the raw text."""
    url, entries, text = f"{node.url}/aggregate/feed?after=0&limit=7", [], ""
    while url:
        answer = requests.get(url, headers=ACCEPT, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("application/activity+json")
        page = answer.json()
        entries += page["orderedItems"]
        text += answer.text
        url = page.get("next")
    return entries, text


def of_group(entries: list[dict[str, Any]], group) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry.get("actor") == group.actor]


def holds_all_of(aggregator, *groups) -> bool:
    """Tell whether the combined feed serves exactly each group's outbox, in order."""
    entries, _text = combined_feed(aggregator)
    return all(of_group(entries, group) == outbox_entries(group) for group in groups)


def verify_to_origin(entries: list[dict[str, Any]], group) -> feed.RunReport:
    """Check a group's entries as any reader would: its key and head from its own actor."""
    actor = requests.get(group.actor, headers=ACCEPT, timeout=10).json()
    keys = {
        method["id"]: ed25519_public_key_from_multikey(method["publicKeyMultibase"])
        for method in actor["assertionMethod"]
    }
    report = feed.verify_run(entries, actor=group.actor, lookup_key=keys.get)
    head = actor["feedHead"]
    assert report.head == (head["seq"], head["hash"]), (report.head, head)
    return report


def directory_line(aggregator, group) -> str:
    lines = aggregator.cli("aggregate", "list").stdout.splitlines()
    return next((line for line in lines if f"{group.handle}@127.0.0.1:{group.port}" in line), "")


def test_aggregator_lists_three_groups_three_ways_and_reserves_their_entries(start_node, tmp_path):
    national = start_node("National Office", "national", settings=AGGREGATOR)
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    york = start_node("York Central Group", "yorkcentral")
    for group in (leeds, hull, york):
        Api(group).event(f"Canvass with {group.name}")
    assert national.get("/actor", headers=ACCEPT).json()["nodeRole"] == "aggregator"

    # One by command, one from a CSV file, one by asking (following the aggregator).
    added = national.cli("aggregate", "add", leeds.acct)
    assert "Listed Leeds North Momentum" in added.stdout
    assert "Applied 1 entries" in added.stdout
    sheet = tmp_path / "groups.csv"
    sheet.write_text(f"group,area\n{hull.acct},Hull\nnot a group,Nowhere\n", encoding="utf-8")
    imported = national.cli("aggregate", "import", str(sheet), check=False)
    assert imported.returncode == 1, imported.stdout + imported.stderr
    assert "row 2: listed Hull Unite Branch" in imported.stdout
    assert "row 3: skipped not a group" in imported.stdout
    york.cli("follow", national.acct)
    wait_until(
        lambda: "York Central Group" in national.cli("aggregate", "requests").stdout,
        "York's Follow waits at the aggregator as a request to be listed",
        explain=lambda: national.output()[-3000:],
    )
    assert following_state(york, national.actor) == "pending"
    approved = national.cli("aggregate", "approve", york.actor)
    assert "York Central Group is listed." in approved.stdout
    wait_until(
        lambda: following_state(york, national.actor) == "accepted",
        "the aggregator accepts York's Follow once an admin approves it",
    )

    wait_until(
        lambda: holds_all_of(national, leeds, hull, york),
        "the combined feed serves every group's entries",
        explain=lambda: national.cli("aggregate", "list").stdout + national.output()[-3000:],
    )
    # New entries are pushed (or pulled) in, and served again as they were signed.
    for group in (leeds, hull, york):
        Api(group).post(f"News from {group.name}", "Leaflets are in.")
    wait_until(
        lambda: holds_all_of(national, leeds, hull, york),
        "the combined feed serves each group's new entry",
        explain=lambda: national.cli("aggregate", "list").stdout + national.output()[-3000:],
    )
    entries, text = combined_feed(national)
    for group in (leeds, hull, york):
        own = of_group(entries, group)
        assert len(own) == 2 and verify_to_origin(own, group).ok
        for entry in own:
            assert canonicalize(entry).decode() in text  # byte for byte
        assert "in step" in directory_line(national, group)
    root = national.get("/aggregate/feed", headers=ACCEPT).json()
    assert root["totalItems"] == 6
    assert {g["actor"]: g["heldSeq"] for g in root["groups"]} == {
        leeds.actor: 2,
        hull.actor: 2,
        york.actor: 2,
    }
    outbox = national.get("/aggregate/outbox?after=0&limit=100", headers=ACCEPT).json()
    assert [item["object"] for item in outbox["orderedItems"]] == entries


def test_aggregator_catches_up_after_its_own_outage_and_a_groups(start_node):
    national = start_node("National Office", "national", settings=AGGREGATOR)
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    york = start_node("York Central Group", "yorkcentral")
    groups = (leeds, hull, york)
    for group in groups:
        Api(group).event(f"Canvass with {group.name}")
        national.cli("aggregate", "add", group.acct)
    wait_until(lambda: holds_all_of(national, *groups), "the combined feed serves every group")

    # The aggregator is down while all three publish; it catches up when it is back.
    national.stop()
    for group in groups:
        api = Api(group)
        api.event(f"Street stall with {group.name}")
        api.post(f"Thanks from {group.name}", "Forty doors knocked.")
    national.restart()
    wait_until(
        lambda: holds_all_of(national, *groups),
        "the aggregator catches up with all three after its restart",
        explain=lambda: national.cli("aggregate", "list").stdout + national.output()[-3000:],
    )

    # York is down while the others publish; the aggregator says so, and catches York up.
    york.stop()
    Api(leeds).event("Phone bank")
    Api(hull).event("Phone bank")
    wait_until(
        lambda: "unreachable" in directory_line(national, york),
        "the directory marks York unreachable",
        explain=lambda: national.cli("aggregate", "list").stdout,
    )
    york.restart()
    Api(york).event("Back from the outage")
    wait_until(
        lambda: holds_all_of(national, *groups),
        "the aggregator catches up with York after York's restart",
        explain=lambda: national.cli("aggregate", "list").stdout + national.output()[-3000:],
    )
    entries, _text = combined_feed(national)
    for group in groups:
        assert verify_to_origin(of_group(entries, group), group).ok
    wait_until(
        lambda: "in step" in directory_line(national, york),
        "the directory shows York in step again",
        explain=lambda: national.cli("aggregate", "list").stdout,
    )


def test_an_entry_reaches_a_national_aggregator_through_a_regional_one(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    regional = start_node("Yorkshire Region", "yorkshire", settings=AGGREGATOR)
    national = start_node("National Office", "national", init_args=("--aggregator",))
    regional.cli("aggregate", "add", leeds.acct)
    added = national.cli("aggregate", "add", regional.acct)
    assert "as a source" in added.stdout

    published = Api(leeds).event("Canvass on Chapeltown Road")

    def arrived() -> list[dict[str, Any]]:
        entries, _text = combined_feed(national)
        return [
            entry
            for entry in of_group(entries, leeds)
            if entry.get("object", {}).get("name") == published["title"]
        ]

    wait_until(
        arrived,
        "the entry created on Leeds reaches the national combined feed via the regional one",
        explain=lambda: national.cli("aggregate", "list").stdout + national.output()[-3000:],
    )
    entries, text = combined_feed(national)
    own = of_group(entries, leeds)
    assert own == outbox_entries(leeds)
    assert verify_to_origin(own, leeds).ok  # against Leeds's own key, not any aggregator's
    assert all(canonicalize(entry).decode() in text for entry in own)
    # The national node learned Leeds from the regional feed: it did not follow Leeds.
    assert following_state(national, leeds.actor) == ""
    line = directory_line(national, leeds)
    assert "listed" in line and "in step" in line
