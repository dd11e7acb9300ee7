"""A group rotates its keys while a real follower listens: nothing it publishes is lost.

Two real nodes over 127.0.0.1. Hull rotates with `branchline keys rotate` while running;
Leeds keeps taking Hull's pushed entries (it takes Hull's new HTTP key because the rotation
entry Hull's actor embeds proves it, and the new proof key because Hull's feed does), and
`branchline verify` of Hull's feed passes end to end across the rotation.
"""

from __future__ import annotations

import pytest

from .support import (
    Api,
    following_state,
    held_seq,
    outbox_entries,
    peer_state,
    query,
    undelivered,
    wait_until,
)

pytestmark = pytest.mark.integration


def _follow(follower, followed) -> None:
    follower.cli("follow", followed.acct)
    wait_until(
        lambda: following_state(follower, followed.actor) == "accepted",
        f"{followed.name} accepts {follower.name}'s follow",
        explain=lambda: follower.output()[-3000:],
    )


def test_follower_keeps_taking_entries_after_a_rotation_and_the_feed_verifies(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")
    _follow(leeds, hull)
    api = Api(hull)
    api.event("Canvass on Beverley Road")
    wait_until(
        lambda: held_seq(leeds, hull.actor) == len(outbox_entries(hull)),
        "Leeds holds Hull's entries before the rotation",
    )

    rotated = hull.cli("keys", "rotate")
    assert "Published the rotation as feed entry" in rotated.stdout
    api.event("Canvass on Anlaby Road")  # the running node signs with its new keys
    api.post("Leaflets are in", "Collect them from the office.")

    published = outbox_entries(hull)
    signers = [entry["proof"]["verificationMethod"] for entry in published]
    assert signers[-1] == f"{hull.actor}#ed25519-key-2"
    assert f"{hull.actor}#ed25519-key" in signers
    wait_until(
        lambda: held_seq(leeds, hull.actor) == len(published),
        f"Leeds takes Hull's entries up to {len(published)} after the rotation",
        explain=lambda: str(peer_state(leeds, hull.actor)) + leeds.output()[-3000:],
    )
    assert peer_state(leeds, hull.actor)["state"] == "in_step"
    # Pushed, not only pulled: Leeds took every delivery Hull signed with its new key.
    wait_until(lambda: undelivered(hull, leeds.actor) == 0, "Hull's deliveries all land")
    refused = query(
        hull,
        "SELECT d.state, d.attempts, d.last_status FROM delivery d JOIN peer p"
        " ON p.id = d.peer_id WHERE p.actor_id = ? AND (d.state != 'done' OR d.attempts > 1)",
        leeds.actor,
    )
    assert refused == []

    verified = leeds.cli("verify", hull.actor, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{len(published)} verified by proof" in verified.stdout
