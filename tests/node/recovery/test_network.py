"""`recover --from`: this group's newer entries, fetched back, verified, appended verbatim."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses
from sqlalchemy import select

from federation import feed as signed_feed
from node import keys
from node.extensions import db
from node.models import Event, Follower, Post, SiteState
from node.services import feed, rotation
from node.services.errors import Conflict
from node.services.organising import posts
from node.services.recovery import guard, network
from tests.node.activitypub_support import ACTOR, BASE, stored
from tests.node.sync_support import peer

SOURCE = "http://127.0.0.9"


def _later_entries(node_keys, objects: list[dict]) -> list[dict]:
    """Sign entries continuing this node's feed, as it published them before the loss."""
    previous = stored()[-1]
    built = []
    for obj in objects:
        seq = previous["seq"] + 1
        activity = {
            "id": f"{BASE}/outbox/{seq}",
            "type": "Create",
            "actor": ACTOR,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {"attributedTo": ACTOR, **obj},
        }
        previous = signed_feed.build_entry(
            activity,
            seq=seq,
            previous=previous,
            signing_key=node_keys.proof,
            verification_method=f"{ACTOR}#ed25519-key",
            created=datetime(2030, 1, 1, tzinfo=UTC),
        )
        built.append(previous)
    return built


def _serve(
    mock,
    entries: list[dict],
    held_seq: int | None = None,
    held_hash: str = "",
    source: str = SOURCE,
) -> None:
    page = {
        "type": "OrderedCollectionPage",
        "heldSeq": held_seq if held_seq is not None else entries[-1]["seq"],
        "heldHash": held_hash,
        "orderedItems": entries,
    }
    mock.add(
        responses.GET,
        re.compile(re.escape(source) + r"/held/entries\?.*"),
        body=json.dumps(page),
        content_type="application/activity+json",
    )


POST = {
    "id": f"{BASE}/news/7",
    "type": "Note",
    "name": "Thank you, Hull",
    "content": "<p>x</p>",
    "source": {"content": "Forty doors.", "mediaType": "text/markdown"},
    "published": "2030-01-01T10:00:00Z",
}
EVENT = {
    "id": f"{BASE}/events/4",
    "type": "Event",
    "name": "Canvass on Anlaby Road",
    "startTime": "2031-06-01T17:00:00Z",
    "kind": "canvass",
    "status": "scheduled",
    "location": {"type": "Place", "name": "Library", "latitude": 53.7, "longitude": -0.4},
}


@pytest.fixture
def restored(app, group):
    posts.create({"title": "Before the loss", "body": "."})
    guard.hold(guard.mark_path().parent, {})


def test_newer_entries_come_back_verified_with_their_content(
    app,
    restored,
    remote,
    node_keys,
):
    later = _later_entries(node_keys, [POST, EVENT])
    _serve(remote, later)

    report = network.recover_from(SOURCE)

    assert (report.appended, report.head, report.source_head) == (2, 3, 3)
    assert stored()[1:] == later  # verbatim: same seq, same proof
    post = db.session.get(Post, 7)
    assert (post.title, post.body, post.visibility) == ("Thank you, Hull", "Forty doors.", "public")
    event = db.session.get(Event, 4)
    assert (event.title, event.place_name, event.latitude) == (
        "Canvass on Anlaby Road",
        "Library",
        53.7,
    )
    assert guard.pending() is None
    assert db.session.scalar(select(SiteState.feed_seq)) == 3
    posts.create({"title": "Back on our feet", "body": "."})
    assert stored()[-1]["seq"] == 4
    assert stored()[-1]["prevHash"] == signed_feed.entry_hash(later[-1])


def test_an_entry_that_does_not_verify_stops_the_recovery_and_keeps_publishing_held(
    app,
    restored,
    remote,
    node_keys,
):
    later = _later_entries(node_keys, [POST, EVENT])
    later[1]["object"]["name"] = "Changed after signing"
    _serve(remote, later)

    with pytest.raises(Conflict, match="Entry 3 .* does not verify"):
        network.recover_from(SOURCE)

    assert feed.head_seq() == 2  # the entry before it is kept
    assert db.session.get(Event, 4) is None
    assert guard.pending() is not None


def test_a_source_holding_a_different_entry_at_our_head_is_a_fork(app, restored, remote):
    _serve(remote, [], held_seq=1, held_hash="sha256:" + "0" * 64)

    with pytest.raises(Conflict, match="forked"):
        network.recover_from(SOURCE)

    assert guard.pending() is not None


def test_a_source_that_holds_no_more_than_we_do_reconciles(app, restored, remote):
    seq, entry_hash = feed.head()
    _serve(remote, [], held_seq=seq, held_hash=entry_hash)

    report = network.recover_from(SOURCE)

    assert report.appended == 0 and guard.pending() is None


def _follower(actor: str) -> None:
    found = peer(actor, handle=actor)
    db.session.add(Follower(peer_id=found.id, state="accepted", follow_activity_id=f"{actor}#f"))
    db.session.commit()


def test_every_follower_is_asked_and_the_longest_head_wins(app, restored, remote, node_keys):
    later = _later_entries(node_keys, [POST, EVENT])
    _follower("http://127.0.0.10/actor")  # a Mastodon account: no /held/entries
    _follower("http://127.0.0.11/users/x")  # behind: holds only the first of them
    _follower("http://127.0.0.12/actor")  # holds both
    remote.add(responses.GET, re.compile(r"http://127\.0\.0\.10/held/.*"), status=404)
    _serve(remote, later[:1], source="http://127.0.0.11")
    _serve(remote, later[1:], held_seq=3, source="http://127.0.0.12")

    results = dict(network.recover_from_followers())

    assert "404" in results["http://127.0.0.10"]
    assert results["http://127.0.0.11"].appended == 1
    assert results["http://127.0.0.12"].appended == 1
    assert stored()[1:] == later
    assert guard.pending() is None


def test_no_follower_answering_keeps_publishing_held(app, restored, remote):
    _follower("http://127.0.0.10/actor")
    remote.add(responses.GET, re.compile(r"http://127\.0\.0\.10/held/.*"), status=404)

    with pytest.raises(Conflict, match="No follower"):
        network.recover_from_followers()

    assert guard.pending() is not None


def _signed_after_rotation(key, fragment: str) -> list[dict]:
    previous = stored()[-1]
    seq = previous["seq"] + 1
    activity = {
        "id": f"{BASE}/outbox/{seq}",
        "type": "Create",
        "actor": ACTOR,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"attributedTo": ACTOR, **POST},
    }
    return [
        signed_feed.build_entry(
            activity,
            seq=seq,
            previous=previous,
            signing_key=key,
            verification_method=f"{ACTOR}#{fragment}",
            created=datetime(2030, 1, 1, tzinfo=UTC),
        )
    ]


def test_entries_signed_after_a_rotation_come_back_under_the_new_key(app, group, remote):
    posts.create({"title": "Before the rotation", "body": "."})
    rotation.rotate()
    guard.hold(guard.mark_path().parent, {})
    current = keys.node_keys()
    later = _signed_after_rotation(current.proof, current.proof_fragment)
    _serve(remote, later)

    report = network.recover_from(SOURCE)

    assert (report.appended, report.head) == (1, later[0]["seq"])
    assert stored()[-1] == later[0]
    assert guard.pending() is None


def test_an_entry_signed_by_the_retired_key_after_the_rotation_is_refused(
    app, group, remote, node_keys
):
    posts.create({"title": "Before the rotation", "body": "."})
    retired = node_keys.proof
    rotation.rotate()
    guard.hold(guard.mark_path().parent, {})
    head = feed.head_seq()
    _serve(remote, _signed_after_rotation(retired, "ed25519-key"))

    with pytest.raises(Conflict, match="does not verify"):
        network.recover_from(SOURCE)

    assert feed.head_seq() == head
    assert guard.pending() is not None


def test_a_node_whose_keys_are_older_than_its_feeds_rotation_stays_held(app, group, remote):
    posts.create({"title": "Before the rotation", "body": "."})
    old = keys.node_keys()
    rotation.rotate()
    # What a backup from before the rotation brings back: the old keys, the newer feed.
    shutil.rmtree(Path(app.instance_path) / "keys")
    app.extensions["branchline_keys"], app.extensions["branchline_keys_stamp"] = old, None
    assert keys.node_keys().proof_fragment == "ed25519-key"
    guard.hold(guard.mark_path().parent, {})
    head = feed.head()
    _serve(remote, [], held_seq=head[0], held_hash=head[1])

    with pytest.raises(Conflict, match="older than that rotation"):
        network.recover_from(SOURCE)

    assert guard.pending() is not None
