"""peers.refresh: storing a remote actor, also when another request stores it at the same time."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from node.extensions import db
from node.models import Peer
from node.services.peering import peers
from tests.node.federation_support import FakePeer, remote  # noqa: F401


def test_actor_stored_by_another_request_meanwhile_is_taken_not_a_failure(
    app,
    remote,  # noqa: F811
    monkeypatch,
):
    # Two deliveries from a group we have not met: both fetch its actor, both find no row,
    # the other one stores it first. This one must take that row, not fail.
    fake = FakePeer(2)
    fake.serve(remote)
    store = peers._store
    raced = []

    def other_request_stores_it_first(peer, document):
        if not raced:
            raced.append(True)

            def elsewhere() -> None:
                with app.app_context():
                    db.session.add(Peer(actor_id=fake.actor, name="stored elsewhere"))
                    db.session.commit()
                    db.session.remove()

            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
        store(peer, document)

    monkeypatch.setattr(peers, "_store", other_request_stores_it_first)

    peer = peers.refresh(fake.actor)
    db.session.commit()

    assert raced
    assert peer.actor_id == fake.actor and peer.name == "Group 2"  # brought up to date
    assert db.session.scalar(select(func.count(Peer.id))) == 1
