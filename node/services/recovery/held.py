"""Serving a group its own entries back: what this node holds of a followed group's feed.

Followers, twins and aggregators keep every entry of the groups they follow verbatim
(``remote_entry``). A group restored from an old backup asks one of them for the entries
after its own head (``branchline recover --from URL``). Only the group itself may ask, with
a request signed by its own key: which groups a node follows is not published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from federation.errors import MalformedSignature, SignatureError
from federation.httpsig import Verified
from federation.keys import PublicKey
from federation.signed_requests import verify_signed_request
from federation.urls import authority

from ...extensions import db
from ...models import Peer, RemoteEntry
from ...models.types import utcnow
from ..errors import Forbidden, Invalid, NotFound, Unauthorised
from ..groups import base_url
from ..peering import peers, remote_feed

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class HeldPage:
    """A page of a group's entries as held here, and how far this node holds its feed."""

    actor: str
    held_seq: int
    held_hash: str
    bodies: list[str]
    last_seq: int
    more: bool


def check_requester(url: str, headers: Mapping[str, str], actor: str) -> None:
    """Check that the GET of ``url`` is signed by ``actor`` itself; raise 400/401/403."""
    names = {str(name).lower() for name, _value in headers.items()}
    if not names & {"signature", "signature-input"}:
        raise Unauthorised("Sign the request with the group's own key.")

    def lookup(key_id: str) -> PublicKey | None:
        _owner, key = peers.http_key_owner(key_id)
        return key

    try:
        verified = verify_signed_request(
            "GET", url, list(headers.items()), b"", lookup_key=lookup, now=utcnow()
        )
    except MalformedSignature as error:
        raise Invalid(f"Malformed signature: {error}") from None
    except SignatureError as error:
        raise Unauthorised(f"Signature refused: {error}") from None
    finally:
        db.session.commit()  # keep any actor fetched to find the key
    if isinstance(verified, Verified) and "host" not in verified.covered_headers:
        raise Unauthorised("The signature must cover the host.")
    ours = base_url() or ""
    host = headers.get("Host") or headers.get("host") or ""
    if authority(f"{urlsplit(ours).scheme}://{host.strip()}") != authority(ours):
        raise Unauthorised("The request was signed for another host.")
    owner, _key = peers.http_key_owner(verified.key_id)
    if owner is None or owner.actor_id != actor:
        raise Forbidden("Only the group itself may fetch its entries back.")


def page(actor: str, after: int, limit: int) -> HeldPage:
    """Return up to ``limit`` held entries of ``actor``'s feed after seq ``after``."""
    peer = db.session.scalar(select(Peer).where(Peer.actor_id == actor))
    if peer is None or not peer.held_seq:
        raise NotFound("This node holds no entries of that group.")
    rows = db.session.execute(
        select(RemoteEntry.seq, RemoteEntry.body)
        .where(
            RemoteEntry.peer_id == peer.id,
            RemoteEntry.seq > after,
            RemoteEntry.seq <= peer.held_seq,
            RemoteEntry.verification != remote_feed.SIGNATURE_ONLY,
        )
        .order_by(RemoteEntry.seq)
        .limit(limit + 1)
    ).all()
    shown = rows[:limit]
    return HeldPage(
        actor=actor,
        held_seq=peer.held_seq,
        held_hash=peer.held_hash or "",
        bodies=[body for _seq, body in shown],
        last_seq=shown[-1][0] if shown else after,
        more=len(rows) > limit,
    )
