"""Arrays in remote documents are capped: a signed Create(Note) with 20,000 tags is refused
(400, naming the field) and nothing of it is kept; by pull, such an entry keeps only its
place in the chain so the catch-up goes on past it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from federation import feed
from federation.limits import MAX_ITEMS, MAX_RECIPIENTS
from node.extensions import db
from node.models import Peer, ReceivedActivity, RemoteEntry, RemoteObject
from node.services.peering import sync
from tests.federation.local_http import LocalServer
from tests.node import sync_support
from tests.node.federation_support import FakePeer, body_of, follow_peer, remote  # noqa: F401

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _tags(count: int) -> list[dict[str, str]]:
    return [{"type": "Hashtag", "name": f"#t{n}"} for n in range(count)]


def _note(peer: FakePeer, n: int = 1, **extra) -> dict:
    return {
        "id": f"{peer.base}/notes/{n}",
        "type": "Note",
        "content": "<p>Canvassing on Saturday</p>",
        "attributedTo": peer.actor,
        "published": "2030-01-01T10:00:00Z",
        **extra,
    }


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _nothing_kept() -> bool:
    return _count(RemoteEntry) == _count(RemoteObject) == _count(ReceivedActivity) == 0


@pytest.fixture
def person(remote):  # noqa: F811
    """A followed fediverse account (no signed feed): its posts come by the inbox only."""
    found = FakePeer(4, actor_type="Person", branchline=False)
    follow_peer(found, remote)
    return found


def test_a_note_with_20000_tags_is_refused_and_nothing_kept(client, person):
    activity = person.activity("Create", _note(person, tag=_tags(20_000)))

    response = person.post(client, activity)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["fields"] == {
        "object.tag": [f"At most {MAX_ITEMS} items are kept; this has 20000."]
    }
    assert _nothing_kept()


def test_a_note_with_50_tags_is_kept(client, person):
    response = person.post(client, person.activity("Create", _note(person, tag=_tags(50))))

    assert response.status_code == 202, response.get_json()
    stored = db.session.scalar(select(RemoteObject))
    assert len(json.loads(stored.data)["tag"]) == 50


@pytest.mark.parametrize("field", ["to", "cc"])
def test_too_many_recipients_are_refused(client, person, field):
    crowd = [f"http://127.0.0.9/users/{n}" for n in range(MAX_RECIPIENTS + 1)]
    activity = {**person.activity("Create", _note(person)), field: [PUBLIC, *crowd]}

    response = person.post(client, activity)

    assert response.status_code == 400
    assert list(response.get_json()["fields"]) == [field]
    assert _nothing_kept()


def test_every_array_counts_at_any_depth(client, person):
    attachment = [{"type": "Document", "url": [f"http://127.0.0.4/{n}" for n in range(500)]}]
    activity = person.activity("Create", _note(person, attachment=attachment))

    response = person.post(client, activity)

    assert response.status_code == 400
    assert list(response.get_json()["fields"]) == ["object.attachment[0].url"]
    assert _nothing_kept()


def test_a_signed_feed_entry_with_20000_tags_is_refused_by_the_inbox(client, remote):  # noqa: F811
    group = FakePeer(2)
    stored_peer = follow_peer(group, remote)
    entry = group.entry("Create", _note(group, tag=_tags(20_000)))
    body = body_of(entry)

    response = client.post("/inbox", data=body, headers=group.signed_headers(body))

    assert response.status_code == 400
    assert "object.tag" in response.get_json()["fields"]
    assert _nothing_kept()
    db.session.refresh(stored_peer)
    assert stored_peer.held_seq == 0


# By pull --------------------------------------------------------------------------------


@pytest.fixture
def server():
    running = LocalServer()
    yield running
    running.stop()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8", "SYNC_PAGE_SIZE": 4}


def _feed_with_a_big_entry(server) -> sync_support.RemoteFeed:
    """Five signed entries; the second carries 20,000 tags."""
    served = sync_support.RemoteFeed(server, size=0)
    previous = None
    for seq in range(1, 6):
        note = {"id": f"{served.actor}/notes/{seq}", "type": "Note", "content": f"n{seq}"}
        if seq == 2:
            note["tag"] = _tags(20_000)
        previous = feed.build_entry(
            {"id": f"{served.actor}/activities/{seq}", "type": "Create", "object": note},
            seq=seq,
            previous=previous,
            signing_key=served.key,
            verification_method=f"{served.actor}#ed25519-key",
            created=sync_support.CREATED,
        )
        served.entries.append(previous)
    served.size = len(served.entries)
    return served


def test_a_pulled_entry_with_20000_tags_keeps_only_its_place_and_the_catch_up_goes_on(
    app, group, server
):
    served = _feed_with_a_big_entry(server)
    peer = served.peer()

    report = sync.catch_up(peer)

    assert report.ok and report.held_seq == 5, report
    db.session.expire_all()
    held = {e.seq: e for e in db.session.scalars(select(RemoteEntry))}
    assert sorted(held) == [1, 2, 3, 4, 5]
    stub = json.loads(held[2].body)
    assert feed.is_redacted(stub) and "object" not in stub  # its hash, not its tags
    assert feed.redaction_matches(stub, served.entries[1])
    assert held[2].verification == "redacted"
    shown = set(db.session.scalars(select(RemoteObject.object_id)))
    assert shown == {f"{served.actor}/notes/{n}" for n in (1, 3, 4, 5)}
    assert db.session.get(Peer, peer.id).state == "in_step"
