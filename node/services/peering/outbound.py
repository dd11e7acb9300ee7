"""Every request this node sends to another server: signed, guarded, capped.

A thin layer over federation.client that supplies what only the node knows: its signing
key and key id, the operator's private-address policy (BRANCHLINE_ALLOW_PRIVATE_ADDRESSES),
timeouts, and the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app

from federation import client
from federation.addresses import AddressPolicy

from ...keys import node_keys
from ...models.types import utcnow
from ..groups import base_url

ACTIVITY_TYPES = client.ACTIVITYPUB_TYPES


def address_policy() -> AddressPolicy:
    """Return the operator's private-address policy (nothing private unless allowed)."""
    setting = current_app.config.get("ALLOW_PRIVATE_ADDRESSES")
    return AddressPolicy.from_setting(None if setting is None else str(setting))


def actor_id() -> str:
    """Return this node's actor id."""
    address = base_url()
    if address is None:
        raise RuntimeError("this node has no group yet")
    return f"{address}/actor"


def http_key_id() -> str:
    """Return the id of the RSA key that signs this node's requests."""
    return f"{actor_id()}#{node_keys().http_fragment}"


def proof_key_id() -> str:
    """Return the id of the Ed25519 key that signs this node's feed entries."""
    return f"{actor_id()}#{node_keys().proof_fragment}"


def signer() -> client.HttpSignatureAuth:
    """Return the auth that signs a request as this node (draft-cavage, rsa-sha256)."""
    keys = node_keys()  # the id and the key from one read: a rotation may swap them
    return client.HttpSignatureAuth(f"{actor_id()}#{keys.http_fragment}", keys.http, utcnow)


def _timeouts() -> client.Timeouts:
    config = current_app.config
    return client.Timeouts(
        connect=float(config.get("FETCH_CONNECT_TIMEOUT", 5)),
        read=float(config.get("FETCH_READ_TIMEOUT", 20)),
        total=float(config.get("FETCH_TOTAL_TIMEOUT", 60)),
    )


def fetch(url: str, *, accept: Sequence[str] = ACTIVITY_TYPES) -> client.FetchResult:
    """GET a JSON document from another server, signed, through the guarded client."""
    return client.fetch_json(
        url,
        sign=signer(),
        accept=accept,
        policy=address_policy(),
        timeouts=_timeouts(),
        clock=utcnow,
    )


@dataclass(frozen=True)
class DeliveryRun:
    """What one batch of deliveries shares: who signs, where it may connect, kept connections."""

    sign: client.HttpSignatureAuth
    policy: AddressPolicy
    timeouts: client.Timeouts
    sessions: client.SessionPool


@contextmanager
def delivery_run() -> Iterator[DeliveryRun]:
    """Read the signing key, policy and timeouts once for a batch; close its connections after.

    The run may be used from other threads (it needs no app context): the key, the policy
    and the timeouts are plain values, and the pool lends each session to one request.
    """
    policy = address_policy()
    with client.SessionPool(policy=policy) as sessions:
        yield DeliveryRun(signer(), policy, _timeouts(), sessions)


def deliver(inbox: str, body: bytes, *, run: DeliveryRun | None = None) -> client.DeliveryResult:
    """POST an activity to an inbox, signed, through the guarded client (and ``run``'s pool)."""
    if run is None:
        return client.post_json(
            inbox, body, sign=signer(), policy=address_policy(), timeouts=_timeouts(), clock=utcnow
        )
    return client.post_json(
        inbox,
        body,
        sign=run.sign,
        policy=run.policy,
        timeouts=run.timeouts,
        clock=utcnow,
        sessions=run.sessions,
    )
