"""A lost server recovers from a backup and from the network, without forking its feed.

Real nodes on 127.0.0.1: Hull publishes, Leeds follows and holds its entries; Hull is backed
up, publishes more, then is restored from the older backup. It refuses to publish until
`branchline recover --from` Leeds brings back, verified, the entries Leeds holds; its next
entry then takes the next seq and Leeds accepts it as the next link of the chain.
"""

from __future__ import annotations

import json
import shutil
import stat

import pytest
import requests

from federation import feed

from .support import Api, following_state, held_seq, outbox_entries, peer_state, wait_until

pytestmark = pytest.mark.integration


def _follow(follower, followed) -> None:
    follower.cli("follow", followed.acct)
    wait_until(
        lambda: following_state(follower, followed.actor) == "accepted",
        f"{followed.name} accepts {follower.name}'s follow",
        explain=lambda: follower.output()[-3000:],
    )


def _held_everything(follower, followed) -> int:
    head = len(outbox_entries(followed))
    wait_until(
        lambda: held_seq(follower, followed.actor) == head,
        f"{follower.name} holds {followed.name}'s {head} entries",
        explain=lambda: follower.cli("peers").stdout + follower.output()[-3000:],
    )
    return head


def test_restore_from_an_old_backup_then_recover_from_a_follower_without_a_fork(
    start_node, tmp_path
):
    recovery_cycle(start_node, tmp_path)


def recovery_cycle(
    start_node, tmp_path, settings: dict[str, str] | None = None, *, from_followers: bool = False
) -> None:
    """Run the whole cycle with Hull on ``settings`` (its database) and Leeds following it;
    recover from Leeds named, or from every follower in the restored database."""
    hull = start_node("Hull Unite Branch", "hullunite", settings)
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    _follow(leeds, hull)
    api = Api(hull)
    api.post("Leaflets are in", "Collect them from the office.")
    api.event("Canvass on Beverley Road")
    backed_up = _held_everything(leeds, hull)

    saved = tmp_path / "backup"
    made = hull.cli("backup", str(saved))
    assert f"feed head seq {backed_up}" in made.stdout
    assert stat.S_IMODE(saved.stat().st_mode) == 0o700
    assert all(
        stat.S_IMODE(path.stat().st_mode) == 0o600 for path in saved.rglob("*") if path.is_file()
    )
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["feed_head"]["seq"] == backed_up

    later = api.post("Thank you, Hull", "Forty doors knocked on Saturday.")
    api.event("Canvass on Anlaby Road")
    head = _held_everything(leeds, hull)
    assert head == backed_up + 2
    held_before = outbox_entries(hull)

    # The server is lost: its keys with it. A node that has published never makes new ones.
    hull.stop()
    shutil.rmtree(hull.instance / "keys")
    refused = hull.cli("worker", "--once", check=False)
    assert refused.returncode != 0
    assert "proof-ed25519.pem" in refused.stderr and "branchline backup" in refused.stderr
    assert not (hull.instance / "keys" / "proof-ed25519.pem").exists()

    restored = hull.cli("restore", str(saved), "--force")
    assert "Publishing is held" in restored.stdout
    assert "private data" in restored.stdout
    hull.restart()
    assert len(outbox_entries(hull)) == backed_up

    # Publishing now would reuse seqs Leeds holds: refused, and nothing is stored.
    answer = requests.post(
        f"{hull.url}/api/v1/posts",
        json={"title": "Too soon", "body": "This would fork the feed."},
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=30,
    )
    assert answer.status_code == 503, answer.text
    assert "branchline recover" in answer.json()["error"]
    assert len(outbox_entries(hull)) == backed_up

    asked = ("--from-followers",) if from_followers else ("--from", leeds.url)
    recovered = hull.cli("recover", *asked)
    assert f"Recovered 2 entries from {leeds.url}" in recovered.stdout, recovered.stdout
    assert "verified" in recovered.stdout
    assert "Members, RSVPs" in recovered.stdout
    entries = outbox_entries(hull)
    assert [entry["seq"] for entry in entries] == list(range(1, head + 1))
    # The same entries, byte for byte: same seq, same proof.
    assert [feed.entry_hash(entry) for entry in entries] == [
        feed.entry_hash(entry) for entry in held_before
    ]
    # The public content they carry is back on the group's pages.
    page = hull.get(f"/news/{later['id']}")
    assert page.status_code == 200 and "Thank you, Hull" in page.text
    assert "Canvass on Anlaby Road" in hull.get("/events").text

    api.post("Back on our feet", "The server was lost and found again.")
    assert len(outbox_entries(hull)) == head + 1
    wait_until(
        lambda: held_seq(leeds, hull.actor) == head + 1,
        "Leeds accepts Hull's next entry after the recovery",
        explain=lambda: leeds.cli("peers").stdout + leeds.output()[-3000:],
    )
    state = peer_state(leeds, hull.actor)
    assert state["state"] == "in_step", state
