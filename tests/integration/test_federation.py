"""Two real nodes federating over 127.0.0.1: follow, publish, show, survive an outage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from federation import feed

from .support import (
    Api,
    follow_from_the_page,
    following_line,
    following_state,
    held_seq,
    log_in,
    network_items,
    outbox_entries,
    peers_line,
    remote_entries,
    undelivered,
    wait_until,
)

pytestmark = pytest.mark.integration


def _follow(follower, followed) -> None:
    """Make ``follower`` follow ``followed`` with `branchline follow` and wait for the Accept."""
    asked = follower.cli("follow", followed.acct)
    assert f"Asked to follow {followed.name}" in asked.stdout
    wait_until(
        lambda: following_state(follower, followed.actor) == "accepted",
        f"{followed.name} accepts {follower.name}'s follow",
        explain=lambda: follower.output()[-3000:],
    )
    assert "\taccepted\t" in following_line(follower, followed)


def _head(node) -> int:
    return len(outbox_entries(node))


def test_group_follows_another_and_shows_its_new_event_on_the_network_page(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    _follow(leeds, hull)

    Api(hull).event("Canvass on Beverley Road")

    session = log_in(leeds)
    shown = wait_until(
        lambda: [item for item in network_items(session, leeds) if "Beverley Road" in item],
        "Leeds's Network page shows Hull's new event",
        explain=lambda: leeds.output()[-3000:],
    )
    assert len(shown) == 1
    assert "Hull Unite Branch" in shown[0]
    assert "Verified" in shown[0], leeds.output()[-3000:]
    # Hull counts Leeds among its followers (a number only: who follows is not published).
    followers = hull.get("/followers", headers={"Accept": "application/activity+json"}).json()
    assert followers["totalItems"] == 1


def test_follower_that_was_down_ends_with_every_entry_in_order_once(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    session = log_in(leeds)
    # This time an organiser follows from the Network page, by actor URL.
    followed = follow_from_the_page(session, leeds, hull.actor)
    assert "Asked to follow Hull Unite Branch" in followed
    wait_until(
        lambda: following_state(leeds, hull.actor) == "accepted",
        "Hull accepts Leeds's follow",
    )
    hull_api = Api(hull)
    first = hull_api.event("Canvass on Beverley Road")
    wait_until(lambda: held_seq(leeds, hull.actor) == _head(hull), "Leeds holds Hull's event")

    leeds.stop()
    for street in ("Anlaby Road", "Holderness Road", "Spring Bank"):
        hull_api.event(f"Canvass on {street}")
    hull_api.post("Leaflets are in", "Collect them from the office.")
    hull_api.post("Thank you, Hull", "Forty doors knocked on Saturday.")
    hull_api.update("events", first["id"], title="Canvass on Beverley Road (moved to 11am)")
    published = outbox_entries(hull)
    assert len(published) >= 7
    leeds.restart()  # same port, same instance folder: the session cookie still works

    wait_until(
        lambda: held_seq(leeds, hull.actor) == len(published),
        f"Leeds catches up to Hull's entry {len(published)} after its restart",
        explain=lambda: leeds.cli("peers").stdout + leeds.output()[-3000:],
    )
    stored = remote_entries(leeds, hull.actor)
    assert [seq for seq, _id, _body in stored] == list(range(1, len(published) + 1))
    assert [activity_id for _seq, activity_id, _body in stored] == [e["id"] for e in published]
    # Kept byte for byte as Hull signed them, so anyone can check them again later.
    for (_seq, _id, body), entry in zip(stored, published, strict=True):
        assert feed.entry_hash(json.loads(body)) == feed.entry_hash(entry)

    events = network_items(session, leeds, "events")
    assert len(events) == 4
    assert sum("Canvass on Beverley Road (moved to 11am)" in item for item in events) == 1
    assert all("Verified" in item and "Hull Unite Branch" in item for item in events)
    posts = network_items(session, leeds, "posts")
    assert [item.split(" Hull Unite Branch")[0] for item in posts] == [
        "Thank you, Hull",
        "Leaflets are in",
    ]
    assert "in step" in peers_line(leeds, f"hullunite@127.0.0.1:{hull.port}")
    # Hull's deliveries that failed while Leeds was down are retried until they land (and
    # land as duplicates of what the pull already brought: still stored once).
    wait_until(
        lambda: undelivered(hull, leeds.actor) == 0,
        "Hull's retried deliveries to Leeds all land",
        explain=lambda: hull.cli("peers").stdout,
    )
    assert peers_line(hull, f"leedsnorth@127.0.0.1:{leeds.port}").endswith("-")
    assert len(remote_entries(leeds, hull.actor)) == len(published)


def test_post_scheduled_ahead_reaches_followers_when_its_time_comes(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    _follow(leeds, hull)
    api = Api(hull)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)

    api.post("Polling day rota", "Sign up for a shift.", published_at=due.isoformat())

    assert outbox_entries(hull) == []  # not public yet: nothing on the feed
    session = log_in(leeds)
    shown = wait_until(
        lambda: network_items(session, leeds, "posts"),
        "Leeds shows Hull's scheduled post once it is published, with no other change at Hull",
        explain=lambda: json.dumps(outbox_entries(hull), indent=1)[-2000:],
    )
    assert datetime.now(UTC) >= due
    assert [item.split(" Hull Unite Branch")[0] for item in shown] == ["Polling day rota"]
