"""What the inbox keeps per process: a key's owner and the group's address, and when it lets go.

Each gunicorn worker keeps them; these tests play "another worker" by writing the database
directly, and move the process's clock instead of waiting.
"""

from __future__ import annotations

import json

import pytest
from flask import g
from sqlalchemy import func, select, update

from federation import keys
from node.extensions import db
from node.models import Group, Peer, RemoteEntry
from node.models.types import utcnow
from node.services import groups
from node.services.peering import peers
from tests.node.federation_support import (  # noqa: F401
    ACTIVITY_JSON,
    FakePeer,
    follow_peer,
    remote,
    rsa_key,
)


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock both caches read, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(peers, "_clock", lambda: now[0])
    monkeypatch.setattr(groups, "_clock", lambda: now[0])
    return now


def _person(remote) -> FakePeer:  # noqa: F811
    person = FakePeer(4, actor_type="Person", branchline=False)
    follow_peer(person, remote)
    return person


def _note(person: FakePeer, label: str) -> dict:
    note = {
        "id": f"{person.base}/notes/{label}",
        "type": "Note",
        "content": f"<p>Canvassing on Saturday ({label})</p>",
        "attributedTo": person.actor,
        "published": "2030-01-01T10:00:00Z",
    }
    return person.activity("Create", note, name=label)


def _kept_posts() -> int:
    return db.session.scalar(select(func.count(RemoteEntry.id))) or 0


def _store_key_as_another_worker(person: FakePeer, key) -> None:
    """Write a new key to the peer's row, as another worker that fetched the actor would."""
    db.session.execute(
        update(Peer)
        .where(Peer.actor_id == person.actor)
        .values(public_key_pem=keys.public_key_to_pem(key.public_key()), fetched_at=utcnow())
    )
    db.session.commit()


# A key's owner ---------------------------------------------------------------------------


def test_a_key_rotated_by_another_worker_is_taken_on_the_first_request_it_signs(
    client,
    remote,  # noqa: F811
    clock,
):
    person = _person(remote)
    assert person.post(client, _note(person, "1")).status_code == 202  # the key is kept now
    new_key = rsa_key(40)
    _store_key_as_another_worker(person, new_key)

    response = person.post(client, _note(person, "2"), key=new_key)

    # The kept key fails, so the inbox looks again and finds the one the other worker stored.
    assert response.status_code == 202, response.get_json()
    assert _kept_posts() == 2


def test_a_key_replaced_by_another_worker_is_dropped_within_the_signer_lifetime(
    client,
    remote,  # noqa: F811
    clock,
):
    person = _person(remote)
    old_key = person.http_key
    assert person.post(client, _note(person, "1")).status_code == 202
    _store_key_as_another_worker(person, rsa_key(40))

    still_kept = person.post(client, _note(person, "2"), key=old_key)
    clock[0] += peers.SIGNER_LIFETIME + 1
    after_lifetime = person.post(client, _note(person, "3"), key=old_key)

    # This worker's copy outlives the change by SIGNER_LIFETIME at most, never longer.
    assert still_kept.status_code == 202
    assert after_lifetime.status_code == 401
    assert _kept_posts() == 2


def test_a_refetched_actor_is_forgotten_at_once_in_this_worker(
    client,
    remote,  # noqa: F811
    clock,
):
    person = _person(remote)
    old_key = person.http_key
    assert person.post(client, _note(person, "1")).status_code == 202
    person.http_key = rsa_key(41)  # same key id, new key: as Mastodon rotates
    remote.replace(
        "GET", person.actor, body=json.dumps(person.actor_document()), content_type=ACTIVITY_JSON
    )
    peers.refresh(person.actor)
    db.session.commit()

    with_old_key = person.post(client, _note(person, "2"), key=old_key)
    with_new_key = person.post(client, _note(person, "3"))

    assert with_old_key.status_code == 401  # no lifetime to wait out
    assert with_new_key.status_code == 202, with_new_key.get_json()


def test_a_key_fetched_during_a_request_is_kept_only_from_the_next(
    client,
    remote,  # noqa: F811
    clock,
):
    person = FakePeer(5, actor_type="Person", branchline=False)
    person.serve(remote)  # never followed or met: the first request fetches its actor
    assert person.post(client, _note(person, "1")).status_code == 202
    kept = client.application.extensions.get(peers._SIGNERS_KEY, {})

    # What a request fetched is kept only from a later request on, read back once committed.
    assert person.key_id not in kept
    assert person.post(client, _note(person, "2")).status_code == 202
    assert person.key_id in kept


def test_a_plain_post_from_an_account_we_do_not_follow_is_not_kept(
    client,
    remote,  # noqa: F811
    clock,
):
    person = FakePeer(5, actor_type="Person", branchline=False)
    person.serve(remote)

    for label in ("1", "2"):  # the second comes through the kept key
        assert person.post(client, _note(person, label)).status_code == 202

    assert _kept_posts() == 0
    stored = db.session.scalar(select(Peer).where(Peer.actor_id == person.actor))
    assert stored.last_contact_at is not None and stored.last_activity_at is None


def test_a_plain_post_moves_the_accounts_last_activity_on_never_back(
    client,
    remote,  # noqa: F811
    clock,
):
    person = _person(remote)
    later, earlier = _note(person, "later"), _note(person, "earlier")
    later["published"] = "2020-02-01T10:00:00Z"
    earlier["published"] = "2020-01-01T10:00:00Z"

    assert person.post(client, later).status_code == 202
    assert person.post(client, earlier).status_code == 202

    stored = db.session.scalar(select(Peer).where(Peer.actor_id == person.actor))
    assert stored.last_activity_at.isoformat() == "2020-02-01T10:00:00+00:00"
    assert _kept_posts() == 2


# The group's address ---------------------------------------------------------------------


def _next_request() -> None:
    g.pop("group", None)
    g.pop("base_url", None)


def test_the_address_changed_in_this_process_is_seen_at_once(app, group, clock):
    assert groups.base_url() == "http://localhost"

    group.base_url = "https://leeds.example.org"
    db.session.commit()
    _next_request()

    assert groups.base_url() == "https://leeds.example.org"


def test_the_address_changed_by_another_process_is_seen_within_its_lifetime(app, group, clock):
    assert groups.base_url() == "http://localhost"
    db.session.execute(update(Group).values(base_url="https://leeds.example.org"))
    db.session.commit()
    _next_request()
    kept = groups.base_url()

    clock[0] += groups.ADDRESS_LIFETIME + 1
    _next_request()

    assert kept == "http://localhost"
    assert groups.base_url() == "https://leeds.example.org"


def test_no_address_is_kept_before_setup(app, clock):
    assert groups.base_url() is None
    db.session.add(Group(name="Leeds", handle="leeds", base_url="https://leeds.example.org"))
    db.session.commit()
    _next_request()

    assert groups.base_url() == "https://leeds.example.org"


def test_the_inbox_checks_the_host_against_the_address_as_it_is_now(
    client,
    remote,  # noqa: F811
    group,
    clock,
):
    person = _person(remote)
    assert person.post(client, _note(person, "1")).status_code == 202
    group.base_url = "https://leeds.example.org"
    db.session.commit()

    response = person.post(client, _note(person, "2"))  # signed for http://localhost

    assert response.status_code == 401


def test_a_plain_post_delivered_twice_is_kept_once(
    client,
    remote,  # noqa: F811
    clock,
):
    person = _person(remote)
    note = _note(person, "1")

    first, again = person.post(client, note), person.post(client, note)

    assert first.get_json() == {"status": "accepted"}
    assert again.status_code == 202 and again.get_json() == {"status": "already received"}
    assert _kept_posts() == 1
