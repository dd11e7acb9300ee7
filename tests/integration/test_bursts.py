"""A burst of posts reaches followers by push, and a restarted follower pulls at once.

The followers here poll only every 300 s (the shipped interval), so what they hold within
the test came by push, or by the pull a gap or a restart asks for straight away.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from .support import Api, following_state, held_seq, outbox_entries, remote_entries, wait_until

pytestmark = pytest.mark.integration

SLOW_POLL = {"POLL_INTERVAL_SECONDS": "300"}
WAIT = 90.0  # generous: the machine is shared; the target (seconds) is bench/burst.py's


def _follow(follower, followed) -> None:
    follower.cli("follow", followed.acct)
    wait_until(
        lambda: following_state(follower, followed.actor) == "accepted",
        f"{followed.name} accepts {follower.name}'s follow",
        explain=lambda: follower.output()[-3000:],
    )


def _publish_at_once(api: Api, count: int, label: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: api.post(f"{label} {n}"), range(count)))


def _holds_every_entry_once_in_order(follower, followed) -> None:
    published = outbox_entries(followed)
    stored = remote_entries(follower, followed.actor)
    assert [seq for seq, _id, _body in stored] == list(range(1, len(published) + 1))
    assert [activity_id for _seq, activity_id, _body in stored] == [e["id"] for e in published]


def test_a_burst_of_posts_reaches_every_follower_without_waiting_for_the_poll(start_node):
    source = start_node("Hull Unite Branch", "hullunite")
    followers = [
        start_node("Leeds North Momentum", "leedsnorth", settings=SLOW_POLL),
        start_node("York Central Branch", "yorkcentral", settings=SLOW_POLL),
    ]
    for follower in followers:
        _follow(follower, source)
    api = Api(source)

    _publish_at_once(api, 40, "Burst post")

    head = len(outbox_entries(source))
    for follower in followers:
        wait_until(
            lambda f=follower: held_seq(f, source.actor) == head,
            f"{follower.name} holds all {head} of the burst's entries",
            timeout=WAIT,
            explain=lambda f=follower: f.cli("peers").stdout + source.output()[-3000:],
        )
        _holds_every_entry_once_in_order(follower, source)


def test_a_follower_back_from_being_down_pulls_what_it_missed_at_once(start_node):
    source = start_node("Hull Unite Branch", "hullunite")
    follower = start_node("Leeds North Momentum", "leedsnorth", settings=SLOW_POLL)
    _follow(follower, source)
    api = Api(source)
    api.post("Before the outage")
    first = len(outbox_entries(source))
    wait_until(lambda: held_seq(follower, source.actor) == first, "Leeds holds the first post")

    follower.stop()
    _publish_at_once(api, 30, "While Leeds was down")
    head = len(outbox_entries(source))
    follower.restart()

    wait_until(
        lambda: held_seq(follower, source.actor) == head,
        f"the restarted follower holds all {head} entries",
        timeout=WAIT,
        explain=lambda: follower.cli("peers").stdout + follower.output()[-3000:],
    )
    _holds_every_entry_once_in_order(follower, source)
