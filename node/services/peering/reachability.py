"""Whether a peer answers: consecutive failed contacts, the unreachable mark, and recovery.

Deliveries and catch-up polls both report here. A timeout, a refused connection or a 5xx
is a failed contact; any other answer (2xx, and also a permanent 4xx: the server is up) is
a contact. After PEER_UNREACHABLE_AFTER failures in a row the peer is marked unreachable;
its queued deliveries are kept and keep retrying, and the first contact after failures
clears the mark, asks for a catch-up poll straight away and makes the peer's waiting
deliveries due now (it answers again: no reason to wait out their backoff).

Each change of state is one log line: a peer that stops answering (reachable → failing) and
one that answers again (failing → reachable); the failures in between are counted, not
logged one by one.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import update

from ...extensions import db
from ...models.federation import Delivery, Peer

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"
# States that say something an organiser must act on; "unreachable" never hides them.
STICKY_STATES = frozenset({"chain_broken", "key_changed"})


def pull_state(peer: Peer) -> str:
    """Return the state a reachable peer is in, judged from what we hold of its feed."""
    if peer.head_seq > peer.held_seq:
        return "behind"
    return "in_step" if peer.held_seq else "new"


def contact_made(peer_id: int | None, now: datetime) -> None:
    """Record that the peer answered; clear an unreachable mark and ask for a catch-up."""
    if peer_id is None:
        return
    peer = db.session.get(Peer, peer_id)
    if peer is None:
        return
    failures, down_since = peer.contact_failures, peer.unreachable_since
    peer.contact_failures = 0
    peer.last_contact_at = now
    if not failures and down_since is None and peer.state != UNREACHABLE:
        return
    if down_since is not None or peer.state == UNREACHABLE:
        log.warning(
            "peer %s answers again (failing → reachable) after %d failed contacts since %s",
            _name(peer),
            failures,
            down_since.isoformat() if down_since is not None else "earlier",
        )
    peer.unreachable_since = None
    peer.next_poll_at = now  # pull is for truth: fetch what push could not deliver
    if peer.state == UNREACHABLE:
        peer.state = pull_state(peer)
        peer.state_reason = ""
    # What waits for it was spaced out by backoff while it failed: send it now.
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.peer_id == peer_id,
            Delivery.state == "pending",
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def contact_failed(peer_id: int | None, now: datetime, error: str) -> bool:
    """Count a failed contact; mark the peer unreachable after too many; say if it is."""
    if peer_id is None:
        return False
    # Several workers may fail against one peer at once: count in SQL, not in Python.
    db.session.execute(
        update(Peer)
        .where(Peer.id == peer_id)
        .values(contact_failures=Peer.contact_failures + 1)
        .execution_options(synchronize_session=False)
    )
    peer = db.session.get(Peer, peer_id, populate_existing=True)
    if peer is None:
        return False
    threshold = int(current_app.config.get("PEER_UNREACHABLE_AFTER", 5))
    if peer.contact_failures < threshold:
        return peer.unreachable_since is not None
    if peer.unreachable_since is None:
        peer.unreachable_since = now
        log.warning(
            "peer %s is not answering (reachable → failing) after %d failed contacts: %s",
            _name(peer),
            peer.contact_failures,
            error[:500],
        )
    if peer.state not in STICKY_STATES:
        peer.state = UNREACHABLE
        peer.state_reason = error[:500]
    return True


def _name(peer: Peer) -> str:
    return peer.handle or peer.actor_id
