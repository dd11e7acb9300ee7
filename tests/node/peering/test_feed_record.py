"""Every public change appends one signed entry, in the change's own transaction."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from node.extensions import db
from node.models import Campaign, Delivery, FeedEntry, Follower, Group, Peer, SiteState
from node.services import feed, profile
from node.services.errors import Conflict
from node.services.organising import campaigns, candidates, events, posts
from tests.node.activitypub_support import (
    ACTOR,
    BASE,
    activities,
    event_data,
    keys_from_actor,
    later,
    stored,
    verify,
)


def _actor(client) -> dict:
    return client.get("/actor", headers={"Accept": "application/activity+json"}).get_json()


def test_creating_an_event_appends_a_signed_create(group):
    event = events.create(event_data(place_name="Library", latitude=53.8, longitude=-1.5))
    [entry] = stored()
    assert entry["type"] == "Create"
    assert entry["id"] == f"{BASE}/outbox/1"
    assert entry["seq"] == 1 and "prevHash" not in entry
    assert entry["actor"] == ACTOR
    assert entry["proof"]["verificationMethod"] == f"{ACTOR}#ed25519-key"
    obj = entry["object"]
    assert obj["id"] == obj["url"] == f"{BASE}/events/{event.id}"
    assert obj["type"] == "Event"
    assert obj["location"] == {
        "type": "Place",
        "name": "Library",
        "latitude": 53.8,
        "longitude": -1.5,
    }
    assert obj["ical:status"] == "CONFIRMED"
    assert obj["to"] == ["https://www.w3.org/ns/activitystreams#Public"]


def test_each_kind_of_change_appends_its_activity(group):
    event = events.create(event_data())
    events.update(event, {"title": "Moved"})
    events.cancel(event)
    events.delete(event)
    object_id = f"{BASE}/events/{event.id}"
    assert activities() == [
        ("Create", object_id, "Event"),
        ("Update", object_id, "Event"),
        ("Update", object_id, "Event"),
        ("Delete", object_id, "Event"),
    ]
    cancelled, deleted = stored()[2:]
    assert cancelled["object"]["status"] == "cancelled"
    assert cancelled["object"]["ical:status"] == "CANCELLED"
    assert deleted["object"] == {
        "id": object_id,
        "type": "Tombstone",
        "formerType": "Event",
        "deleted": deleted["object"]["deleted"],
    }


@pytest.mark.parametrize(
    ("service", "data", "object_type", "segment"),
    [
        (campaigns, {"title": "Save the library", "kind": "community"}, "Campaign", "campaigns"),
        (candidates, {"name": "Sam Jones", "office": "council_ward"}, "Candidate", "candidates"),
        (posts, {"title": "We won", "body": "**Yes**"}, "Note", "news"),
    ],
)
def test_campaigns_candidates_and_posts_are_published(group, service, data, object_type, segment):
    item = service.create(data)
    service.update(item, {"visibility": "public"})
    service.delete(item)
    object_id = f"{BASE}/{segment}/{item.id}"
    assert activities() == [
        ("Create", object_id, object_type),
        ("Update", object_id, object_type),
        ("Delete", object_id, object_type),
    ]


def test_members_only_items_never_reach_the_feed(group):
    event = events.create(event_data(visibility="members"))
    events.update(event, {"title": "Still private"})
    events.cancel(event)
    events.delete(event)
    campaign = campaigns.create({"title": "Inner", "kind": "internal", "visibility": "members"})
    campaigns.delete(campaign)
    post = posts.create({"title": "Minutes", "body": "secret", "visibility": "members"})
    posts.update(post, {"body": "more secret"})
    assert stored() == []
    assert db.session.scalar(select(SiteState.feed_seq)) == 0


def test_making_an_item_members_only_deletes_it_and_public_again_creates_it(group):
    candidate = candidates.create({"name": "Sam Jones", "office": "mayor"})
    candidates.update(candidate, {"visibility": "members"})
    candidates.update(candidate, {"statement": "members-only draft"})
    candidates.update(candidate, {"visibility": "public"})
    assert [kind for kind, _, _ in activities()] == ["Create", "Delete", "Create"]
    # Nothing written while it was members-only ever left the node in between.
    assert all("members-only draft" not in json.dumps(e) for e in stored()[:2])


def test_deleting_an_item_that_was_only_ever_members_only_writes_nothing(group):
    post = posts.create({"title": "Minutes", "visibility": "members"})
    posts.delete(post)
    assert stored() == []


def test_scheduled_post_is_published_when_its_time_has_come(group, monkeypatch):
    post = posts.create({"title": "Embargoed", "published_at": later(1)})
    assert stored() == []
    moment = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr("node.services.feed.utcnow", lambda: moment)
    assert feed.publish_due() == 1
    assert activities() == [("Create", f"{BASE}/news/{post.id}", "Note")]
    assert feed.publish_due() == 0


def test_group_profile_changes_are_an_update_of_the_actor(group):
    profile.update(group, {"summary": "Now with *emphasis*"})
    [entry] = stored()
    assert entry["type"] == "Update"
    assert entry["object"]["id"] == ACTOR
    assert entry["object"]["type"] == "Group"
    assert entry["object"]["summary"] == "<p>Now with <em>emphasis</em></p>"
    assert "feedHead" not in entry["object"]


def test_group_update_embeds_the_actor_with_the_actors_own_context(client, group):
    # The entry's @context does not define publicKey or assertionMethod: without the
    # actor's own context, JSON-LD readers (Fedify) find no keys in the Update.
    profile.update(group, {"summary": "New summary"})
    [entry] = stored()
    served = _actor(client)
    assert entry["object"]["@context"] == served["@context"]
    assert entry["object"] == {key: value for key, value in served.items() if key != "feedHead"}


def test_entries_chain_and_verify_against_the_actors_multikey(client, group):
    event = events.create(event_data())
    campaigns.create({"title": "Save the library", "kind": "community"})
    events.update(event, {"capacity": 40})
    events.delete(event)
    entries = stored()
    report = verify(entries, _actor(client))
    assert report.ok, report.problem
    assert report.verified == 4
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert report.head == feed.head()


def test_stored_body_is_the_canonical_signed_text_and_its_hash(group):
    from federation import feed as signed_feed

    events.create(event_data())
    row = db.session.scalar(select(FeedEntry))
    parsed = json.loads(row.body)
    assert signed_feed.serialize_entry(parsed).decode() == row.body
    assert row.entry_hash == signed_feed.entry_hash(parsed)


def test_a_change_that_fails_writes_no_entry(group, monkeypatch):
    from node.services.organising import records

    def clashing_commit():
        # The change and its entry are flushed; now something in the same unit clashes.
        db.session.add(Group(name="Twin", handle=group.handle, base_url="http://twin"))
        records.commit()

    _follower(1)
    monkeypatch.setattr(campaigns, "commit", clashing_commit)
    with pytest.raises(Conflict):
        campaigns.create({"title": "Doomed", "kind": "community"})
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(FeedEntry)) == 0
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    assert db.session.scalar(select(SiteState.feed_seq)) == 0
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0
    # The next change takes seq 1: nothing was skipped.
    monkeypatch.undo()
    campaigns.create({"title": "Fine", "kind": "community"})
    assert [e["seq"] for e in stored()] == [1]


def test_concurrent_writers_get_consecutive_seqs_and_an_unbroken_chain(app, client, group):
    writers = 8
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def publish(n: int) -> None:
        with app.app_context():
            try:
                start.wait()
                events.create(event_data(title=f"Event {n}"))
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    db.session.expire_all()
    entries = stored()
    assert [e["seq"] for e in entries] == list(range(1, writers + 1))
    assert db.session.scalar(select(SiteState.feed_seq)) == writers
    assert verify(entries, _actor(client)).ok


def _follower(n: int, *, shared: str = "", state: str = "accepted") -> Peer:
    peer = Peer(
        actor_id=f"https://peer{n}.example/actor",
        inbox=f"https://peer{n}.example/inbox/{n}",
        shared_inbox=shared,
    )
    db.session.add(peer)
    db.session.flush()
    db.session.add(Follower(peer_id=peer.id, state=state, follow_activity_id=f"{peer.actor_id}#f"))
    db.session.commit()
    return peer


def test_each_entry_queues_one_delivery_per_distinct_follower_inbox(group):
    _follower(1, shared="https://shared.example/inbox")
    _follower(2, shared="https://shared.example/inbox")
    lone = _follower(3)
    _follower(4, state="pending")
    events.create(event_data())
    entry = db.session.scalar(select(FeedEntry))
    queued = db.session.scalars(select(Delivery).order_by(Delivery.inbox)).all()
    assert [(d.inbox, d.feed_entry_id, d.state) for d in queued] == [
        (lone.inbox, entry.id, "pending"),
        ("https://shared.example/inbox", entry.id, "pending"),
    ]


def test_members_only_change_queues_no_delivery(group):
    _follower(1)
    events.create(event_data(visibility="members"))
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_keys_from_the_actor_are_the_nodes_proof_key(client, group, node_keys):
    found = keys_from_actor(_actor(client))
    assert list(found) == [f"{ACTOR}#ed25519-key"]
    assert found[f"{ACTOR}#ed25519-key"] == node_keys.proof.public_key()


def test_append_refuses_an_activity_that_names_itself(group):
    with pytest.raises(ValueError, match="own id"):
        feed.append({"id": "https://elsewhere.example/1", "type": "Announce"})
    assert stored() == []


def test_append_chains_any_activity_the_node_publishes(client, group):
    campaigns.create({"title": "Save it", "kind": "community"})
    announced = feed.append({"type": "Announce", "object": "https://twin.example/events/3"})
    db.session.commit()
    assert announced.seq == 2
    assert announced.activity_id == f"{BASE}/outbox/2"
    assert announced.object_id == "https://twin.example/events/3"
    assert verify(stored(), _actor(client)).ok


def test_a_change_that_clashes_before_its_entry_is_a_conflict_with_nothing_written(group):
    first_id = campaigns.create({"title": "First", "kind": "community"}).id
    db.session.expunge_all()  # as in a fresh request
    with pytest.raises(Conflict):
        campaigns.create({"id": first_id, "title": "Same id", "kind": "community"})
    assert [e["seq"] for e in stored()] == [1]
    assert db.session.scalar(select(SiteState.feed_seq)) == 1
