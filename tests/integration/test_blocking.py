"""Two real nodes: one blocks the other, whose pushes are then refused with 403, and to which
nothing more is sent."""

from __future__ import annotations

import pytest

from .support import Api, following_state, held_seq, outbox_entries, query, wait_until

pytestmark = pytest.mark.integration


def _follow(follower, followed) -> None:
    follower.cli("follow", followed.acct)
    wait_until(
        lambda: following_state(follower, followed.actor) == "accepted",
        f"{followed.name} accepts {follower.name}'s follow",
        explain=lambda: follower.output()[-3000:],
    )


def _deliveries_to(node, actor: str) -> list[tuple[str, int | None]]:
    return query(
        node,
        "SELECT d.state, d.last_status FROM delivery d JOIN peer p ON p.id = d.peer_id"
        " WHERE p.actor_id = ? AND d.feed_entry_id IS NOT NULL ORDER BY d.id",
        actor,
    )


def test_a_blocked_nodes_pushes_are_refused_and_nothing_is_sent_to_it(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    _follow(hull, leeds)  # hull holds leeds's entries, pushed by leeds
    _follow(leeds, hull)
    leeds_api, hull_api = Api(leeds), Api(hull)
    leeds_api.post("Before the block")
    wait_until(
        lambda: held_seq(hull, leeds.actor) == len(outbox_entries(leeds)),
        "Hull holds Leeds's post",
    )
    held = held_seq(hull, leeds.actor)

    # Quietly: Leeds is not told, so it goes on pushing as a hostile server would.
    blocked = hull.cli(
        "block", "add", f"127.0.0.1:{leeds.port}", "--public-comment", "test", "--quiet"
    )
    assert "1 follower(s) and 1 follow(s) removed" in blocked.stdout, blocked.stdout
    assert f"127.0.0.1:{leeds.port}" in hull.cli("block", "list").stdout

    leeds_api.post("After the block")
    refused = wait_until(
        lambda: [row for row in _deliveries_to(leeds, hull.actor) if row[1] == 403],
        "Hull answers Leeds's push with 403",
        # Generous: on a busy machine a first try that times out waits for its retry.
        timeout=90,
        explain=lambda: leeds.output()[-3000:] + hull.output()[-3000:],
    )
    assert refused[-1][0] == "failed"  # a 403 is not retried
    assert held_seq(hull, leeds.actor) == held

    before = len(_deliveries_to(hull, leeds.actor))
    hull_api.post("Hull's news")
    assert len(_deliveries_to(hull, leeds.actor)) == before  # nothing queued for Leeds


def test_a_block_tells_the_other_node_its_follows_are_over(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    _follow(hull, leeds)
    _follow(leeds, hull)

    hull.cli("block", "add", leeds.actor)

    wait_until(
        lambda: following_state(leeds, hull.actor) == "rejected",
        "Leeds hears that Hull no longer lets it follow",
        explain=lambda: leeds.output()[-3000:],
    )
    wait_until(
        lambda: (
            not query(
                leeds,
                "SELECT 1 FROM follower f JOIN peer p ON p.id = f.peer_id WHERE p.actor_id = ?",
                hull.actor,
            )
        ),
        "Leeds hears that Hull no longer follows it",
    )
