"""Other servers' actors: find them (WebFinger, actor URL), fetch, check and remember them.

A peer's keys come only from its own actor document, fetched through the guarded client:
the RSA ``publicKey`` that signs its requests and the Ed25519 Multikeys in its
``assertionMethod`` that sign its feed entries. Each key must belong to the actor that
publishes it.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from flask import current_app, g
from marshmallow import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from federation import client
from federation.errors import FetchError, KeyFormatError
from federation.feed import NAMESPACE
from federation.keys import PublicKey, ed25519_public_key_from_multikey, load_public_key_pem
from federation.rotation import ROTATIONS_MEMBER, prove_rotations
from federation.urls import same_origin
from schemas.common import in_range
from schemas.remote_actor import ActorIn, WebFingerIn

from ...extensions import db
from ...models import Peer
from ...models.types import utcnow
from .. import geo
from ..errors import Invalid
from . import outbound

ACCT = re.compile(r"^(?:acct:|@)?([A-Za-z0-9_.~-]+)@([A-Za-z0-9.-]+(?::[0-9]{1,5})?)$")
ACTIVITYPUB_LINK_TYPES = ("application/activity+json", "application/ld+json")
# A key that fails to verify is refetched at most this often, so a stream of bad
# signatures cannot make us fetch a peer's actor on every request.
REFETCH_INTERVAL = timedelta(minutes=1)
KEY_CHANGED = "key_changed"


class PeerError(Invalid):
    """A peer could not be found, fetched or trusted; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"target": [message]})


def actor_of_key(key_id: str) -> str:
    """Return the actor a key id names by its fragment (``ACTOR#main-key`` → ``ACTOR``)."""
    return key_id.partition("#")[0]


# Finding and storing peers -----------------------------------------------------------


def resolve(target: str) -> Peer:
    """Find a peer by ``acct:handle@host``, ``@handle@host`` or actor URL; fetch and store it."""
    target = (target or "").strip()
    found = ACCT.match(target)
    if found:
        handle, host = found.groups()
        return refresh(webfinger(handle, host), handle=f"{handle}@{host}")
    if target.startswith(("https://", "http://")):
        return refresh(target)
    raise PeerError("Give a handle like acct:group@example.org or an actor URL.")


def webfinger(handle: str, host: str, *, fetch: client.Fetch | None = None) -> str:
    """Ask ``host`` which actor ``handle@host`` is; return its actor URL.

    ``fetch`` defaults to outbound.fetch (signed as this group); ``branchline verify``
    passes its own, which works before a group is set up.
    """
    resource = quote(f"acct:{handle}@{host}", safe=":@")
    scheme = "http" if _plain_http_allowed(host) else "https"
    url = f"{scheme}://{host}/.well-known/webfinger?resource={resource}"
    try:
        answer = (fetch or outbound.fetch)(url, accept=client.WEBFINGER_TYPES).document
        loaded = WebFingerIn().load(answer)
    except FetchError as error:
        raise PeerError(f"Could not look up {handle}@{host}: {error}") from error
    except ValidationError as error:
        raise PeerError(f"{host} sent a WebFinger answer we cannot read.") from error
    for link in loaded["links"]:
        media = link["type"].split(";")[0].strip()
        if link["rel"] == "self" and media in ACTIVITYPUB_LINK_TYPES and link["href"]:
            return link["href"]
    raise PeerError(f"{handle}@{host} has no ActivityPub actor.")


def _plain_http_allowed(host: str) -> bool:
    # Only a node that allows private addresses (tests, the demo) looks peers up over
    # plain HTTP, and then only on hosts given with a port, or by a loopback or private
    # address: real servers are reached over HTTPS.
    if not current_app.config.get("ALLOW_PRIVATE_ADDRESSES"):
        return False
    if host.startswith("[") or ":" in host or host == "localhost":
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def refresh(actor_url: str, *, handle: str = "") -> Peer:
    """Fetch the actor at ``actor_url``, check it and store it as a peer (new or updated)."""
    if not actor_url.startswith(("https://", "http://")):
        raise PeerError(f"{actor_url!r} is not an http(s) URL.")
    if actor_url.partition("#")[0] == outbound.actor_id():
        raise PeerError("That is this group's own actor.")
    try:
        fetched = outbound.fetch(actor_url.partition("#")[0])
    except FetchError as error:
        raise PeerError(f"Could not fetch {actor_url}: {error}") from error
    document = _actor_document(fetched)
    try:
        return _keep(document, fetched.document, handle)
    except IntegrityError:
        # Another request stored this actor since we looked (two deliveries from a group we
        # had not met): start again from its row. Nothing else is pending this early.
        db.session.rollback()
        return _keep(document, fetched.document, handle)


def _keep(document: dict[str, Any], raw: dict[str, Any], handle: str) -> Peer:
    peer = db.session.scalar(select(Peer).where(Peer.actor_id == document["id"]))
    held: tuple[str, str, str] | None = None
    if peer is None:
        peer = Peer(actor_id=document["id"])
        db.session.add(peer)
    else:
        held = (peer.key_id, peer.public_key_pem, peer.assertion_keys)
    _store(peer, document)
    if held is not None:
        _keep_proven_keys(peer, held, raw)
    store_profile(peer, raw)
    if handle:
        peer.handle = handle
    db.session.flush()
    forget_signer(peer.actor_id)  # its key, or what it is, may have changed
    # Not kept again before this transaction commits: it may yet be rolled back.
    g.setdefault("refetched_actors", set()).add(peer.actor_id)
    return peer


def _actor_document(fetched: client.FetchResult) -> dict[str, Any]:
    try:
        document = ActorIn().load(fetched.document)
    except ValidationError as error:
        fields = ", ".join(sorted(str(name) for name in error.messages_dict))
        raise PeerError(f"{fetched.url} is not an actor we can use ({fields}).") from error
    actor = document["id"]
    # The actor's id must be the address we fetched (or one on its origin we were sent
    # to): anything else could be a document claiming to be someone else.
    if not same_origin(actor, fetched.url):
        raise PeerError(f"{fetched.url} claims to be {actor}, on another server.")
    for name in ("inbox", "outbox", "shared_inbox"):
        if document.get(name) and not same_origin(document[name], actor):
            if name == "shared_inbox":
                document[name] = None  # some servers share an inbox elsewhere; not ours to use
                continue
            raise PeerError(f"{actor} names an {name} on another server.")
    document["raw_context"] = fetched.document.get("@context")
    return document


def _store(peer: Peer, document: dict[str, Any]) -> None:
    actor = document["id"]
    peer.actor_type = document["type"]
    peer.name = document["name"] or document["preferred_username"] or actor
    peer.url = document["url"] or ""
    peer.inbox = document["inbox"]
    peer.shared_inbox = document["shared_inbox"] or ""
    peer.outbox = document["outbox"] or ""
    if not peer.handle and document["preferred_username"]:
        peer.handle = f"{document['preferred_username']}@{urlsplit(actor).netloc}"
    http_key = next(
        (
            key
            for key in document["public_key"]
            if key["owner"] == actor and same_origin(key["id"], actor) and _pem_ok(key)
        ),
        None,
    )
    peer.key_id = http_key["id"] if http_key else ""
    peer.public_key_pem = http_key["public_key_pem"] if http_key else ""
    assertion = {
        key["id"]: key["public_key_multibase"]
        for key in document["assertion_method"]
        if key["controller"] == actor
        and actor_of_key(key["id"]) == actor
        and key["id"] != actor
        and _multikey_ok(key["public_key_multibase"])
    }
    peer.assertion_keys = json.dumps(assertion, sort_keys=True)
    peer.is_branchline = _publishes_feed_terms(document.get("raw_context"))
    peer.fetched_at = utcnow()


def _keep_proven_keys(peer: Peer, held: tuple[str, str, str], raw: dict[str, Any]) -> None:
    """Take a Branchline peer's new keys only as far as its rotation entries prove them.

    A group that publishes a feed changes keys only through a rotation entry signed by
    its old key (federation.rotation). Its actor document embeds those entries, so a new
    RSA key is taken when they lead from an Ed25519 key we held to it; otherwise the key
    we held stays. A proof key we held keeps the value we held while we hold its feed:
    which key may sign the next entry is the feed's own business (remote_feed).
    """
    key_id, pem, assertion = held
    known = json.loads(assertion or "{}")
    if peer.held_seq:
        peer.assertion_keys = json.dumps(
            {**json.loads(peer.assertion_keys or "{}"), **known}, sort_keys=True
        )
    if not pem or (peer.key_id, peer.public_key_pem) == (key_id, pem) or not peer.is_branchline:
        return
    trusted = {}
    for method, value in known.items():
        try:
            trusted[method] = _parsed_multikey(value)
        except (KeyFormatError, ValueError):
            continue
    entries = raw.get(ROTATIONS_MEMBER)
    proven = prove_rotations(entries if isinstance(entries, list) else [], peer.actor_id, trusted)
    if (
        proven is not None
        and proven.http_key == peer.key_id
        and proven.http_pem.strip() == peer.public_key_pem.strip()
    ):
        current_app.logger.info("peer %s rotated its keys to %s", peer.actor_id, peer.key_id)
        return
    current_app.logger.warning(
        "peer %s offers signing key %s without a rotation proving it; kept %s",
        peer.actor_id,
        peer.key_id,
        key_id,
    )
    peer.key_id, peer.public_key_pem = key_id, pem
    peer.state = KEY_CHANGED
    peer.state_reason = "offered a new signing key that no rotation entry proves"


def store_profile(peer: Peer, document: dict[str, Any]) -> bool:
    """Keep the group profile an actor document gives (area, seat, place); say if it did.

    A document older (by ``updated``) than the profile held changes nothing: an Update
    entry applied late must not undo a newer fetch. A field the document leaves out is
    cleared, since our actors leave out what is empty.
    """
    updated = _moment(document.get("updated"))
    held = peer.profile_updated_at
    if held is not None and held.tzinfo is None:
        held = held.replace(tzinfo=UTC)
    if updated is not None and held is not None and updated < held:
        return False
    peer.area = _label(document.get("area"))
    peer.seat_name = _label(document.get("seat"))
    majority = document.get("seatMajority")
    valid_majority = isinstance(majority, int) and not isinstance(majority, bool)
    peer.seat_majority = majority if valid_majority and 0 <= majority <= 2**31 - 1 else None
    peer.seat_marginality = geo.coordinate(document.get("seatMarginality"), 100)
    if peer.seat_marginality is not None and peer.seat_marginality < 0:
        peer.seat_marginality = None
    peer.latitude, peer.longitude = geo.place_of(document.get("location"))
    peer.profile_updated_at = updated or held
    return True


def _label(value: object) -> str:
    # Read like ActorIn's labels: a string, a one-item list, or a language map.
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, str)), "")
    return value.strip()[:300] if isinstance(value, str) else ""


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not in_range(moment):  # as remote_objects.moment: it would overflow in a column
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pem_ok(key: dict[str, Any]) -> bool:
    try:
        load_public_key_pem(key["public_key_pem"])
    except (KeyFormatError, ValueError, TypeError):
        return False
    return True


def _multikey_ok(value: str) -> bool:
    try:
        ed25519_public_key_from_multikey(value)
    except (KeyFormatError, ValueError):
        return False
    return True


def _publishes_feed_terms(context: object) -> bool:
    items = context if isinstance(context, list) else [context]
    return any(isinstance(item, dict) and NAMESPACE in item.values() for item in items)


# Built once: every inbox request looks its sender up (building costs more than running).
_BY_ACTOR = select(Peer).where(Peer.actor_id == bindparam("actor_id"))
_BY_KEY = select(Peer).where(Peer.key_id == bindparam("key_id"))
_BY_ID = select(Peer).where(Peer.id == bindparam("peer_id"))


def by_id(peer_id: int) -> Peer | None:
    """Return the stored peer with this row id: ``session.get``'s answer in half its time
    (its identity look-up builds a statement every call; a feed entry's inbox request
    loads the peer so)."""
    return db.session.scalar(_BY_ID, {"peer_id": peer_id})


def find(actor_id: str) -> Peer | None:
    """Return the stored peer with this actor id, without fetching anything."""
    return db.session.scalar(_BY_ACTOR, {"actor_id": actor_id})


def find_by_key(key_id: str) -> Peer | None:
    """Return the stored peer whose HTTP-signature key has this id."""
    return db.session.scalar(_BY_KEY, {"key_id": key_id})


# Keys --------------------------------------------------------------------------------


def peer_for_key(key_id: str, *, refetch: bool = False) -> Peer | None:
    """Return the peer owning the HTTP-signature key ``key_id``, fetching its actor if needed.

    With ``refetch`` the actor is fetched again (at most once a minute) in case its key
    changed; the peer is then marked with the change.
    """
    actor_url = actor_of_key(key_id)
    peer = find_by_key(key_id) or find(actor_url)
    recent = peer is not None and peer.fetched_at and utcnow() - peer.fetched_at < REFETCH_INTERVAL
    if peer is not None and peer.key_id == key_id and not refetch:
        return peer
    if peer is not None and refetch and recent:
        return peer if peer.key_id == key_id else None
    previous = peer.public_key_pem if peer is not None else None
    try:
        peer = refresh(actor_url)
    except PeerError as error:
        current_app.logger.info("cannot fetch the owner of key %s: %s", key_id, error)
        return None
    if previous is not None and peer.public_key_pem != previous:
        current_app.logger.warning("peer %s changed its signing key", peer.actor_id)
        # Sticky until the next entry that verifies: organisers see that it happened.
        peer.state = KEY_CHANGED
        peer.state_reason = f"key changed on {utcnow():%Y-%m-%d %H:%M} UTC"
    return peer if peer.key_id == key_id else None


# Parsing a key costs more than the signature check it serves; a key's text never changes
# its meaning, and a rotated key is new text, so the parsed keys are kept by text.
_parsed_pem = functools.lru_cache(maxsize=1024)(load_public_key_pem)
_parsed_multikey = functools.lru_cache(maxsize=1024)(ed25519_public_key_from_multikey)


def http_public_key(key_id: str, *, refetch: bool = False) -> PublicKey | None:
    """Return the public key that verifies requests signed with ``key_id``, or None."""
    return http_key_owner(key_id, refetch=refetch)[1]


@dataclass(frozen=True)
class KnownSigner:
    """The peer owning an HTTP-signature key, as far as checking a request needs it.

    ``id`` and ``actor_id`` are the peer row's, so the inbox's plain path can write a
    post for it without loading the row.
    """

    id: int
    actor_id: str
    key_id: str
    is_branchline: bool
    public_key: PublicKey


# Every request from a peer looks its key up: each process keeps the answer, per app, for
# at most SIGNER_LIFETIME seconds. A refetch of the actor in this process forgets it at
# once (``_keep``); a key that stops verifying makes the inbox look again with ``refetch``
# (not from here). What another process stored (a rotation it saw first) reaches this one
# when its own copy fails to verify, or within SIGNER_LIFETIME at the latest: a replaced
# key stays usable in another worker for at most that long.
SIGNER_LIFETIME = 60.0
SIGNERS_KEPT = 4096
_SIGNERS_KEY = "branchline.signers"
_clock = time.monotonic  # tests replace it
_signers_lock = threading.Lock()  # gthread workers share the kept keys between threads


def _signers() -> OrderedDict[str, tuple[KnownSigner, float]]:
    return current_app.extensions.setdefault(_SIGNERS_KEY, OrderedDict())


def signer_for_key(key_id: str, *, refetch: bool = False) -> tuple[KnownSigner | None, Peer | None]:
    """Return the owner of ``key_id`` and its key, kept per process; and the peer row if read.

    Without ``refetch`` a kept answer younger than SIGNER_LIFETIME is used (the row is then
    None: the caller loads it if it needs more than the signer); otherwise as
    ``http_key_owner``, and the answer is kept.
    """
    kept = _signers()
    now = _clock()
    if not refetch:
        found = kept.get(key_id)
        if found is not None and found[1] > now:
            return found[0], None
    peer, key = http_key_owner(key_id, refetch=refetch)
    if peer is None or key is None:
        with _signers_lock:
            kept.pop(key_id, None)
        return None, None
    signer = KnownSigner(peer.id, peer.actor_id, peer.key_id, bool(peer.is_branchline), key)
    if peer.actor_id in g.get("refetched_actors", ()):
        return signer, peer  # kept from the next request on, once it is committed
    with _signers_lock:
        kept[key_id] = (signer, now + SIGNER_LIFETIME)
        kept.move_to_end(key_id)
        while len(kept) > SIGNERS_KEPT:
            kept.popitem(last=False)
    return signer, peer


def forget_signer(actor_id: str) -> None:
    """Forget the kept keys of ``actor_id`` in this process (its actor was fetched again)."""
    kept = current_app.extensions.get(_SIGNERS_KEY)
    if kept:
        with _signers_lock:
            for key_id in [k for k, (signer, _) in kept.items() if signer.actor_id == actor_id]:
                del kept[key_id]


def http_key_owner(key_id: str, *, refetch: bool = False) -> tuple[Peer | None, PublicKey | None]:
    """Return the peer owning ``key_id`` and the public key it verifies with (None, None)."""
    if not isinstance(key_id, str) or not key_id.startswith(("https://", "http://")):
        return None, None
    peer = peer_for_key(key_id, refetch=refetch)
    if peer is None or not peer.public_key_pem:
        return None, None
    try:
        return peer, _parsed_pem(peer.public_key_pem)
    except (KeyFormatError, ValueError):
        return None, None


def proof_key_lookup(peer: Peer) -> Callable[[str], PublicKey | None]:
    """Return a key look-up for proofs by ``peer``: only its own ``actor#…`` Multikeys."""
    keys = json.loads(peer.assertion_keys or "{}")

    def lookup(key_id: str) -> PublicKey | None:
        if actor_of_key(key_id) != peer.actor_id or key_id not in keys:
            return None
        try:
            return _parsed_multikey(keys[key_id])
        except (KeyFormatError, ValueError):
            return None

    return lookup
