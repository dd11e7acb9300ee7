"""Entries that fail their checks are quarantined on an aggregator: kept, shown to admins,
never served in the combined feed nor shown as fact."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from federation import feed
from federation.proofs import sign_object
from node.extensions import db
from node.models import RemoteObject
from node.services.aggregator import combined_feed, directory, listings
from tests.conftest import log_in
from tests.node.aggregate_support import (
    AGGREGATOR,
    FakeGroup,
    listing,
    quarantined,
    web,  # noqa: F401 - a fixture
)
from tests.node.federation_support import FakePeer


@pytest.fixture
def app_config(app_config):
    return {**app_config, **AGGREGATOR}


@pytest.fixture
def hull(group, web):  # noqa: F811
    """A listed group whose first entry the aggregator already serves."""
    found = FakeGroup(2)
    found.create("canvass")
    found.serve(web)
    directory.add(found.actor)
    combined_feed.admit()
    return found


def _served_seqs() -> list[int]:
    combined_feed.admit()
    rows, _more = combined_feed.page(0, 100)
    return [json.loads(body)["seq"] for _cursor, _at, body in rows]


def _push_text(client, peer: FakePeer, text: str):
    body = text.encode()
    return client.post("/inbox", data=body, headers=peer.signed_headers(body))


def test_a_tampered_pushed_entry_is_quarantined_verbatim_and_never_served(client, hull):
    entry = hull.create("stall")
    entry["object"]["name"] = "Stall (moved to the market)"
    text = json.dumps(entry, indent=1)  # not canonical: kept exactly as it came

    response = _push_text(client, hull, text)

    assert response.status_code == 400
    (kept,) = quarantined()
    assert (kept.peer.actor_id, kept.seq, kept.body) == (hull.actor, 2, text)
    assert kept.reason.startswith("bad-proof") and kept.via_peer_id is None
    assert kept.first_seen_at is not None and kept.times_seen == 1
    assert _served_seqs() == [1]
    assert (
        db.session.scalar(select(RemoteObject).where(RemoteObject.title.contains("market"))) is None
    )
    assert listings.sync_state(listing(hull.actor)).label.startswith("chain broken at seq 2")


def test_the_same_bad_entry_twice_is_kept_once(client, hull):
    entry = hull.create("stall")
    entry["object"]["name"] = "Forged"
    text = json.dumps(entry)

    _push_text(client, hull, text)
    _push_text(client, hull, text)

    (kept,) = quarantined()
    assert kept.times_seen == 2


def test_a_wrong_prev_hash_served_by_the_outbox_is_quarantined(hull):
    from node.services.peering import sync

    first = hull.entries[0]
    hull.entries[0] = {**first, "id": first["id"] + "x"}  # chain the next onto another first
    hull.create("stall")  # properly signed, but its prevHash names that other entry
    hull.entries[0] = first
    report = sync.catch_up(listing(hull.actor).peer)

    assert report.refused
    (kept,) = quarantined()
    assert kept.seq == 2 and json.loads(kept.body) == hull.entries[1]
    assert kept.reason.startswith("wrong-prev-hash")
    assert _served_seqs() == [1]


def test_an_entry_signed_with_another_key_is_quarantined(client, hull):
    forger = FakePeer(9)
    entry = hull.create("stall")
    unsigned = {name: value for name, value in entry.items() if name != "proof"}
    forged = sign_object(
        unsigned, forger.proof_key, hull.proof_key_id, datetime(2030, 1, 1, tzinfo=UTC)
    )

    assert hull.post(client, forged).status_code == 400

    (kept,) = quarantined()
    assert kept.seq == 2 and "bad-proof" in kept.reason
    assert _served_seqs() == [1]


def test_an_entry_reusing_an_activity_id_is_quarantined(client, hull):
    first = hull.entries[0]
    reused = feed.build_entry(
        {"id": first["id"], "type": "Create", "actor": hull.actor, "object": first["object"]},
        seq=2,
        previous=first,
        signing_key=hull.proof_key,
        verification_method=hull.proof_key_id,
        created=datetime(2030, 1, 2, tzinfo=UTC),
    )

    assert hull.post(client, reused).status_code == 400

    (kept,) = quarantined()
    assert kept.seq == 2 and "already used" in kept.reason
    assert _served_seqs() == [1]


def test_a_fork_at_a_held_seq_is_quarantined(client, hull):
    hull.entries = []
    other = hull.create("other")  # a second seq 1, properly signed

    hull.post(client, other)

    (kept,) = quarantined()
    assert kept.seq == 1 and "different entry" in kept.reason
    assert _served_seqs() == [1]


def test_an_ordinary_node_quarantines_nothing(app, client, hull):
    app.config["ROLE"] = "node"
    entry = hull.create("stall")
    entry["object"]["name"] = "Forged"

    assert hull.post(client, entry).status_code == 400
    assert quarantined() == []


def test_admins_see_quarantined_entries_on_the_directory_page(client, hull, admin):
    entry = hull.create("stall")
    entry["object"]["name"] = "<b>Forged</b>"
    hull.post(client, entry)
    log_in(client, admin)

    page = client.get("/manage/aggregate").get_data(as_text=True)

    assert "Quarantined entries" in page
    assert "bad-proof" in page
    assert "&lt;b&gt;Forged&lt;/b&gt;" in page and "<b>Forged</b>" not in page
