"""What the national pages search is filled in by the real paths: a group's actor document
and its Update entries fill the peer's profile, stored objects get their searchable columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from node.activitypub import documents
from node.extensions import db
from node.models import Peer, RemoteObject
from node.services.peering import peers
from tests.node.federation_support import remote  # noqa: F401
from tests.node.national_support import LEEDS, followed_group, profile, upcoming


def _object(object_id: str) -> RemoteObject:
    return db.session.scalar(select(RemoteObject).where(RemoteObject.object_id == object_id))


def test_fetching_a_groups_actor_stores_its_profile(remote):  # noqa: F811
    _group, stored = followed_group(
        remote,
        2,
        area="Leeds",
        seat="Leeds North West",
        majority=1_234,
        marginality=2.5,
        place=LEEDS,
    )

    assert stored.area == "Leeds" and stored.seat_name == "Leeds North West"
    assert stored.seat_majority == 1_234 and stored.seat_marginality == 2.5
    assert (stored.latitude, stored.longitude) == LEEDS


def test_profile_fields_with_nonsense_values_are_left_empty(remote):  # noqa: F811
    document = {
        "seat": ["Leeds Central"],
        "area": {"en": "Leeds"},
        "seatMajority": True,
        "seatMarginality": "close",
        "location": {"type": "Place", "latitude": 123, "longitude": 0},
    }
    group, stored = followed_group(remote, 2)
    group.profile = document
    group.serve(remote)
    peers.refresh(group.actor)

    assert stored.seat_name == "Leeds Central" and stored.area == "Leeds"  # read loosely
    assert stored.seat_majority is None and stored.seat_marginality is None
    assert stored.latitude is None and stored.longitude is None


def test_a_group_update_entry_changes_the_profile_but_an_older_one_does_not(
    remote,  # noqa: F811
):
    group, stored = followed_group(remote, 2, seat="Old seat", updated="2030-01-01T00:00:00Z")
    newer = {
        "id": group.actor,
        "type": "Group",
        "name": "Renamed group",
        **profile(seat="Leeds East", marginality=7.5, place=LEEDS, updated="2030-02-01T00:00:00Z"),
    }
    group.publish(stored, "Update", newer)
    assert stored.seat_name == "Leeds East" and stored.seat_marginality == 7.5
    assert stored.name == "Renamed group" and stored.latitude == LEEDS[0]

    older = {**newer, "name": "Stale", "seat": "Stale seat", "updated": "2030-01-15T00:00:00Z"}
    group.publish(stored, "Update", older)
    assert stored.seat_name == "Leeds East" and stored.name == "Renamed group"


def test_our_actor_publishes_the_seat_figures_only_when_known(group):
    assert "seatMajority" not in documents.actor_object(group)
    assert "seatMarginality" not in documents.actor_object(group)

    group.seat_majority, group.seat_marginality = 4_321, 9.8
    document = documents.actor_object(group)

    assert document["seatMajority"] == 4_321 and document["seatMarginality"] == 9.8


def test_stored_objects_get_their_searchable_columns(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    starts = upcoming(3)
    event = group.event_at(
        "door", "Door knock", starts=starts, place=LEEDS, kind="canvass", status="postponed"
    )
    group.publish(stored, "Create", event)
    group.publish(
        stored, "Create", group.campaign("c", "Save the library", kind="community", status="active")
    )
    group.publish(
        stored,
        "Create",
        group.candidate(
            "k", "Kim", office="council_ward", stage="elected", result="Elected with 2,345 votes"
        ),
    )

    found = _object(event["id"])
    assert (found.kind, found.status) == ("canvass", "postponed")
    assert (found.latitude, found.longitude) == LEEDS
    assert found.starts_at == starts and found.ends_at == starts + timedelta(hours=2)
    campaign = _object(f"{group.base}/campaigns/c")
    assert (campaign.kind, campaign.status) == ("community", "active")
    candidate = _object(f"{group.base}/candidates/k")
    assert (candidate.office, candidate.stage, candidate.endorsement) == (
        "council_ward",
        "elected",
        "endorsed",
    )
    assert candidate.election_result == "Elected with 2,345 votes"


def test_an_event_that_moves_or_is_deleted_leaves_no_stale_place(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    event = group.event_at("door", "Door knock", starts=upcoming(3), place=LEEDS)
    group.publish(stored, "Create", event)
    moved = {**event, "location": {"type": "Place", "name": "Online"}}
    moved["updated"] = "2030-03-01T00:00:00Z"
    group.publish(stored, "Update", moved)
    assert _object(event["id"]).latitude is None

    group.publish(stored, "Delete", event["id"])
    found = _object(event["id"])
    assert found.deleted and found.kind is None and found.starts_at is None


def test_last_activity_is_when_the_latest_entry_was_published(remote):  # noqa: F811
    group, stored = followed_group(remote, 2)
    assert stored.last_activity_at is None

    group.publish(stored, "Create", group.event("a", "A"), published="2025-06-01T12:00:00Z")
    assert stored.last_activity_at == datetime(2025, 6, 1, 12, tzinfo=UTC)

    # An entry dated ahead of our clock counts as now, not as the future.
    group.publish(stored, "Create", group.event("b", "B"), published="2099-01-01T00:00:00Z")
    assert stored.last_activity_at <= datetime.now(UTC)
    assert stored.last_activity_at > datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert db.session.get(Peer, stored.id).last_activity_at == stored.last_activity_at


def test_the_migration_fills_the_columns_of_objects_already_held(tmp_path):
    from flask_migrate import downgrade, upgrade

    from node import MIGRATIONS, create_app

    url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": url, "SECRET_KEY": "x"})
    event = {
        "type": "Event",
        "kind": "canvass",
        "status": "scheduled",
        "endTime": "2031-05-01T20:00:00Z",
        "location": [{"type": "Place", "name": "Online"}, {"latitude": 53.8, "longitude": -1.5}],
    }
    candidate = {
        "type": "Candidate",
        "office": "mayor",
        "stage": "elected",
        "endorsement": "endorsed",
    }
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision="d5e8a2c4b611")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO peer (id, actor_id, actor_type, handle, name, url, inbox, "
                    "shared_inbox, outbox, key_id, public_key_pem, assertion_keys, "
                    "is_branchline, state, state_reason, held_seq, held_hash, head_seq, "
                    "created_at) VALUES (1, 'http://a/actor', 'Group', '', '', '', '', '', '', "
                    "'', '', '{}', 1, 'in_step', '', 1, '', 1, '2030-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO remote_entry (id, peer_id, seq, activity_id, activity_type, "
                    "body, entry_hash, verification, received_at) VALUES (1, 1, 1, "
                    "'http://a/outbox/1', 'Create', '{}', '', 'verified', '2030-02-03 04:05:06')"
                )
            )
            for n, data in enumerate((event, candidate, {"type": "Note"}), start=1):
                conn.execute(
                    text(
                        "INSERT INTO remote_object (peer_id, object_id, object_type, data, "
                        "title, deleted, verification, received_at) VALUES (1, :id, :type, "
                        ":data, '', 0, 'verified', '2030-01-01 00:00:00')"
                    ),
                    {"id": f"http://a/o/{n}", "type": data["type"], "data": json.dumps(data)},
                )
        upgrade(directory=str(MIGRATIONS), revision="e7f1b3d5c822")
        # Adding the peer's columns must not rebuild its table: on SQLite that would drop
        # it, and every entry and object would go with it (ON DELETE CASCADE).
        rows = db.session.scalars(select(RemoteObject).order_by(RemoteObject.id)).all()
        assert len(rows) == 3 and db.session.scalar(text("SELECT count(*) FROM remote_entry")) == 1
        assert (rows[0].kind, rows[0].status) == ("canvass", "scheduled")
        assert (rows[0].latitude, rows[0].longitude) == (53.8, -1.5)
        assert rows[0].ends_at == datetime(2031, 5, 1, 20, tzinfo=UTC)
        assert (rows[1].office, rows[1].stage, rows[1].endorsement) == (
            "mayor",
            "elected",
            "endorsed",
        )
        assert rows[2].kind is None and rows[2].latitude is None
        peer = db.session.get(Peer, 1)
        assert peer.last_activity_at == datetime(2030, 2, 3, 4, 5, 6, tzinfo=UTC)
        assert peer.area == "" and peer.seat_marginality is None
        db.session.remove()

        downgrade(directory=str(MIGRATIONS), revision="d5e8a2c4b611")
        with db.engine.connect() as conn:  # and back down, still keeping every row
            assert conn.execute(text("SELECT count(*) FROM remote_object")).scalar() == 3
            assert conn.execute(text("SELECT count(*) FROM remote_entry")).scalar() == 1
        db.engine.dispose()
