"""Feed entries from followed groups: verified, chained, stored once, objects kept current."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from federation import keys
from federation.proofs import sign_object
from node.extensions import db
from node.models import RemoteEntry, RemoteObject
from node.services.peering import peers
from node.services.peering.remote_feed import apply_entry
from tests.node.federation_support import (  # noqa: F401
    FakePeer,
    body_of,
    follow_peer,
    remote,
)


def _push(client, peer: FakePeer, entry: dict):
    body = body_of(entry)
    return client.post("/inbox", data=body, headers=peer.signed_headers(body))


def _objects() -> list[RemoteObject]:
    return list(db.session.scalars(select(RemoteObject).order_by(RemoteObject.id)))


def test_pushed_entry_is_verified_stored_verbatim_and_shown(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally at the town hall"))

    response = _push(client, peer, entry)

    assert response.status_code == 202, response.get_json()
    (held,) = db.session.scalars(select(RemoteEntry))
    assert held.body == body_of(entry).decode() and held.seq == 1
    assert held.verification == "verified"
    assert (stored_peer.held_seq, stored_peer.state) == (1, "in_step")
    (event,) = _objects()
    assert event.title == "Rally at the town hall" and event.verification == "verified"
    assert event.starts_at.year == 2031


def test_replayed_entry_is_stored_once(client, remote):  # noqa: F811
    peer = FakePeer(2)
    follow_peer(peer, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))

    assert _push(client, peer, entry).status_code == 202
    assert _push(client, peer, entry).status_code == 202

    assert len(db.session.scalars(select(RemoteEntry)).all()) == 1


def test_entries_of_groups_we_do_not_follow_are_ignored(client, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))

    assert _push(client, peer, entry).status_code == 202
    assert db.session.scalar(select(RemoteEntry)) is None


def test_gap_stores_nothing_and_marks_the_peer_behind(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    first, second, third = (peer.entry("Create", peer.event(f"e{n}", f"E{n}")) for n in range(3))
    _push(client, peer, first)

    assert _push(client, peer, third).status_code == 202  # re-ordered: third before second

    assert stored_peer.state == "behind" and stored_peer.held_seq == 1
    assert len(db.session.scalars(select(RemoteEntry)).all()) == 1
    _push(client, peer, second)
    _push(client, peer, third)
    assert [e.seq for e in db.session.scalars(select(RemoteEntry).order_by(RemoteEntry.seq))] == [
        1,
        2,
        3,
    ]
    assert (stored_peer.held_seq, stored_peer.state) == (3, "in_step")


def test_tampered_entry_is_refused_and_reported(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))
    entry["object"]["name"] = "Rally (cancelled)"

    response = _push(client, peer, entry)

    assert response.status_code == 400
    assert stored_peer.state == "chain_broken" and "bad-proof" in stored_peer.state_reason
    assert db.session.scalar(select(RemoteEntry)) is None and _objects() == []


def test_entry_signed_with_another_key_is_refused(client, remote):  # noqa: F811
    peer, forger = FakePeer(2), FakePeer(9)
    stored_peer = follow_peer(peer, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))
    unsigned = {name: value for name, value in entry.items() if name != "proof"}
    forged = sign_object(
        unsigned, forger.proof_key, peer.proof_key_id, datetime(2030, 1, 1, tzinfo=UTC)
    )

    assert _push(client, peer, forged).status_code == 400
    assert stored_peer.state == "chain_broken"
    assert db.session.scalar(select(RemoteEntry)) is None


def test_entry_with_a_wrong_prev_hash_is_refused(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    first = peer.entry("Create", peer.event("a", "A"))
    _push(client, peer, first)
    peer.entries[-1] = {**first, "seq": 1, "id": first["id"] + "x"}  # chain onto another first
    second = peer.entry("Create", peer.event("b", "B"))

    assert _push(client, peer, second).status_code == 400
    assert stored_peer.state == "chain_broken" and "wrong-prev-hash" in stored_peer.state_reason
    assert stored_peer.held_seq == 1


def test_a_different_entry_at_a_held_seq_is_a_fork(client, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    _push(client, peer, peer.entry("Create", peer.event("a", "A")))
    peer.entries = []
    other = peer.entry("Create", peer.event("b", "B"))

    assert _push(client, peer, {**other, "id": other["id"]}).status_code in (202, 400)
    assert stored_peer.state == "chain_broken"
    assert len(db.session.scalars(select(RemoteEntry)).all()) == 1


def test_apply_entry_is_the_pull_path_too(app, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    entries = [peer.entry("Create", peer.event(f"e{n}", f"E{n}")) for n in range(3)]

    results = [apply_entry(stored_peer, e, body_of(e).decode()) for e in entries]
    again = apply_entry(stored_peer, entries[0], body_of(entries[0]).decode())

    assert [r.outcome for r in results] == ["applied"] * 3
    assert again.outcome == "duplicate"
    assert stored_peer.held_hash.startswith("sha256:")


def test_stale_update_is_ignored_and_newer_update_applied(app, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    created = peer.event("rally", "Rally", updated="2030-02-01T00:00:00Z")
    newer = {**created, "name": "Rally, new time", "updated": "2030-03-01T00:00:00Z"}
    older = {**created, "name": "Rally, old news", "updated": "2030-01-15T00:00:00Z"}
    for kind, obj in (("Create", created), ("Update", newer), ("Update", older)):
        e = peer.entry(kind, obj)
        assert apply_entry(stored_peer, e, body_of(e).decode()).applied

    (event,) = _objects()
    assert event.title == "Rally, new time"


def test_delete_before_create_is_remembered(app, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    event = peer.event("rally", "Rally")
    for kind, obj in (("Delete", event["id"]), ("Create", event)):
        e = peer.entry(kind, obj)
        apply_entry(stored_peer, e, body_of(e).decode())

    (stored,) = _objects()
    assert stored.deleted and stored.title == ""


def test_plain_fediverse_note_is_kept_as_signature_only(client, remote):  # noqa: F811
    person = FakePeer(4, actor_type="Person", branchline=False)
    follow_peer(person, remote)
    note = {
        "id": f"{person.base}/notes/1",
        "type": "Note",
        "content": "<p>Canvassing on Saturday</p>",
        "attributedTo": person.actor,
        "published": "2030-01-01T10:00:00Z",
    }

    response = person.post(client, person.activity("Create", note))

    assert response.status_code == 202
    (stored,) = _objects()
    assert stored.verification == "signature-only" and stored.object_type == "Note"
    entry = db.session.scalar(select(RemoteEntry))
    assert entry.seq is None and json.loads(entry.body)["object"]["id"] == note["id"]


def test_a_plain_create_of_a_note_held_or_deleted_changes_nothing(client, remote):  # noqa: F811
    # The plain path inserts a new object first; a Create of one already held (sent again
    # under another activity id) or deleted must find the row and leave it as it is.
    person = FakePeer(5, actor_type="Person", branchline=False)
    follow_peer(person, remote)

    def note(n: int, content: str) -> dict:
        return {
            "id": f"{person.base}/notes/{n}",
            "type": "Note",
            "content": f"<p>{content}</p>",
            "attributedTo": person.actor,
            "published": "2030-01-01T10:00:00Z",
        }

    sent = [
        person.activity("Create", note(1, "Canvassing on Saturday"), name="first"),
        person.activity("Create", note(1, "Changed, same time"), name="again"),
        person.activity("Delete", note(2, "")["id"], name="gone"),
        person.activity("Create", note(2, "Back from the dead"), name="late"),
    ]
    for activity in sent:
        assert person.post(client, activity).status_code == 202

    kept = {o.object_id: o for o in _objects()}
    assert kept[note(1, "")["id"]].title == "<p>Canvassing on Saturday</p>"
    assert kept[note(2, "")["id"]].deleted and kept[note(2, "")["id"]].title == ""
    assert len(kept) == 2


def test_proof_key_of_another_actor_is_not_used(app, remote):  # noqa: F811
    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    lookup = peers.proof_key_lookup(stored_peer)
    assert lookup(peer.proof_key_id) is not None
    assert lookup("http://127.0.0.9/actor#ed25519-key") is None
    assert isinstance(peers.http_public_key(peer.key_id), type(peer.http_key.public_key()))
    assert keys.public_key_to_pem(peers.http_public_key(peer.key_id)) == stored_peer.public_key_pem


def test_same_entry_pushed_twice_at_once_is_stored_once_and_breaks_nothing(
    app,
    remote,  # noqa: F811
    monkeypatch,
):
    # A push racing a pull (or two workers) bring the same entry together. The second must
    # wait for the first and call it a duplicate: reading the chain before the first
    # committed, it would take the first's entry for a forgery and mark the chain broken.
    import threading
    import time

    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    body = body_of(peer.entry("Create", peer.event("rally", "Rally")))
    slow_verify = remote_feed._verify

    def verify_slowly(*args, **kwargs):
        time.sleep(0.3)  # widen the window between reading the chain and storing the entry
        return slow_verify(*args, **kwargs)

    monkeypatch.setattr(remote_feed, "_verify", verify_slowly)
    answers: list[tuple[int, dict]] = []

    def push(delay: float) -> None:
        time.sleep(delay)
        response = app.test_client().post("/inbox", data=body, headers=peer.signed_headers(body))
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=push, args=(delay,)) for delay in (0, 0.1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers) == [202, 202], answers
    db.session.expire_all()
    assert len(db.session.scalars(select(RemoteEntry)).all()) == 1
    db.session.refresh(stored_peer)
    assert (stored_peer.held_seq, stored_peer.state) == (1, "in_step"), stored_peer.state_reason


def test_a_proof_checked_ahead_is_used_while_the_chain_has_not_moved(
    app,
    remote,  # noqa: F811
    monkeypatch,
):
    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    entry = peer.entry("Create", peer.event("rally", "Rally"))
    checked = remote_feed.check_ahead(stored_peer, entry)
    assert checked is not None and checked.after == (0, "")

    def must_not_verify_again(*args, **kwargs):
        raise AssertionError("verified twice")

    monkeypatch.setattr(remote_feed, "_verify", must_not_verify_again)
    remote_feed.hold(stored_peer)
    assert apply_entry(stored_peer, entry, body_of(entry).decode(), checked).applied


def test_a_proof_checked_against_another_chain_is_checked_again(app, remote):  # noqa: F811
    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    good = peer.entry("Create", peer.event("rally", "Rally"))
    report = remote_feed.check_ahead(stored_peer, good).report
    tampered = {**good, "object": {**good["object"], "name": "Rally (forged)"}}
    stale = remote_feed.Checked((0, "sha256:" + "0" * 64), report)  # not the chain held

    result = apply_entry(stored_peer, tampered, body_of(tampered).decode(), stale)

    assert result.outcome == "refused" and stored_peer.state == "chain_broken"
    assert db.session.scalar(select(RemoteEntry)) is None


def test_check_ahead_declines_what_is_not_the_next_good_link(app, remote):  # noqa: F811
    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    first = peer.entry("Create", peer.event("a", "A"))
    second = peer.entry("Create", peer.event("b", "B"))
    forged = {**first, "object": {**first["object"], "name": "Forged"}}

    assert remote_feed.check_ahead(stored_peer, second) is None  # a gap
    assert remote_feed.check_ahead(stored_peer, forged) is None  # a bad proof
    assert remote_feed.check_ahead(stored_peer, first) is not None


def _announce_of(announcer: FakePeer, signer: FakePeer, obj: dict, *, proof_key=None) -> dict:
    signed = sign_object(
        obj,
        proof_key or signer.proof_key,
        signer.proof_key_id,
        datetime(2030, 1, 1, tzinfo=UTC),
    )
    return announcer.entry("Announce", signed)


def test_an_announced_object_with_its_groups_proof_is_shown(app, remote):  # noqa: F811
    announcer, signer = FakePeer(2), FakePeer(3)
    stored_announcer = follow_peer(announcer, remote)
    follow_peer(signer, remote)
    entry = _announce_of(announcer, signer, signer.event("march", "March on the council"))

    assert apply_entry(stored_announcer, entry, body_of(entry).decode()).applied
    db.session.commit()

    (shown,) = _objects()
    assert shown.title == "March on the council" and shown.verification == "announced"
    assert shown.peer_id == peers.find(signer.actor).id
    assert db.session.scalar(select(RemoteEntry)).verification == "verified"


def test_an_announced_object_with_a_bad_proof_is_not_shown_and_marked(app, remote):  # noqa: F811
    announcer, signer = FakePeer(2), FakePeer(3)
    stored_announcer = follow_peer(announcer, remote)
    follow_peer(signer, remote)
    obj = signer.event("march", "March on the council")
    entry = _announce_of(announcer, signer, obj, proof_key=FakePeer(5).proof_key)

    assert apply_entry(stored_announcer, entry, body_of(entry).decode()).applied
    db.session.commit()

    assert _objects() == []
    assert db.session.scalar(select(RemoteEntry)).verification == "announce-unverified"


def test_a_run_checked_ahead_is_stored_without_verifying_again(
    app,
    remote,  # noqa: F811
    monkeypatch,
):
    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    items = [
        (e, body_of(e).decode())
        for e in (peer.entry("Create", peer.event(f"e{n}", f"E{n}")) for n in range(3))
    ]
    checked = remote_feed.check_run_ahead(stored_peer, items)
    assert checked is not None and checked.count == 3

    def must_not_verify_again(*args, **kwargs):
        raise AssertionError("verified twice")

    monkeypatch.setattr(remote_feed, "_verify", must_not_verify_again)
    remote_feed.hold(stored_peer)
    results = remote_feed.apply_entries(stored_peer, items, checked)
    assert [r.outcome for r in results] == ["applied"] * 3


def test_a_run_checked_against_another_chain_is_checked_again(app, remote):  # noqa: F811
    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    entries = [peer.entry("Create", peer.event(f"e{n}", f"E{n}")) for n in range(2)]
    checked = remote_feed.check_run_ahead(stored_peer, [(e, body_of(e).decode()) for e in entries])
    forged = [entries[0], {**entries[1], "object": {**entries[1]["object"], "name": "Forged"}}]
    stale = remote_feed.Checked((0, "sha256:" + "1" * 64), checked.report, checked.count)

    results = remote_feed.apply_entries(
        stored_peer, [(e, body_of(e).decode()) for e in forged], stale
    )

    assert [r.outcome for r in results] == ["applied", "refused"]
    assert stored_peer.held_seq == 1 and stored_peer.state == "chain_broken"


def test_a_run_writing_one_object_several_times_keeps_its_last_state(app, remote):  # noqa: F811
    # A run's object writes are held back and sent together (remote_objects.write_held):
    # each object must end as it would had every entry been applied in turn.
    from node.services.peering import remote_feed

    peer = FakePeer(2)
    stored_peer = follow_peer(peer, remote)
    held_before = peer.entry("Create", peer.event("held", "Held before"))
    remote_feed.hold(stored_peer)
    remote_feed.apply_entries(stored_peer, [(held_before, body_of(held_before).decode())])
    db.session.commit()
    later = {"updated": "2030-02-01T10:00:00Z"}
    entries = [
        peer.entry("Create", peer.event("rally", "Rally")),
        peer.entry("Update", peer.event("rally", "Rally, moved", **later)),
        peer.entry("Create", peer.event("stall", "Stall")),
        peer.entry("Delete", peer.event("stall", "Stall")["id"]),
        peer.entry("Update", peer.event("held", "Held, renamed", **later)),
        peer.entry("Delete", peer.event("never", "Never created")["id"]),
    ]

    remote_feed.hold(stored_peer)
    results = remote_feed.apply_entries(stored_peer, [(e, body_of(e).decode()) for e in entries])
    db.session.commit()

    assert [r.outcome for r in results] == ["applied"] * len(entries)
    found = {o.object_id.rsplit("/", 1)[1]: o for o in _objects()}
    assert found["rally"].title == "Rally, moved" and not found["rally"].deleted
    assert found["rally"].source_entry_id is not None
    assert found["stall"].deleted and found["stall"].title == ""
    assert found["held"].title == "Held, renamed"
    assert found["never"].deleted and found["never"].object_type == "Tombstone"
    by_entry = {entry.id: entry.seq for entry in db.session.scalars(select(RemoteEntry))}
    assert by_entry[found["rally"].source_entry_id] == 3
    assert by_entry[found["held"].source_entry_id] == 6
