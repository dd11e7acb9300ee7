"""Idempotency keys on API writes: claim a key, keep the first answer, replay it for a day.

A client that sends ``Idempotency-Key`` with a write and loses the answer sends the same
request again with the same key; it gets the first answer back instead of a second post.
The key is claimed in a transaction of its own before the write runs, so a duplicate sent
while the first is still running finds the claim and is told so (409), and the answer is
stored once the write is done. A key reused for a different request is refused (422), as in
draft-ietf-httpapi-idempotency-key-header. Rows older than a day are deleted as keys are
claimed, a few at a time.

A claim that never got its answer (the process died during the write) stays a 409 until it
expires: whether the write happened is unknown, so it is never run a second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import IdempotentRequest
from ..write_lock import writing
from .errors import Conflict, ServiceError

REPLAYED_FOR = timedelta(hours=24)
PRUNED_AT_ONCE = 100  # expired rows deleted per claim: pruning never makes a write slow


class KeyReused(ServiceError):
    """The key was used before for a different request."""

    status = 422


@dataclass(frozen=True)
class Answer:
    """A stored answer, to send again as it was."""

    status: int
    headers: dict[str, str]
    body: bytes


def claim(member_id: int, key: str, fingerprint: str, now: datetime) -> int | Answer:
    """Claim ``key`` for this request and return the claim's id, or the answer stored for it.

    Raise KeyReused when the key was used for another request, and Conflict while the first
    request with the key is still running (or died without an answer).
    """
    for _ in range(2):  # a second pass when an expired row was in the way
        try:
            with writing():
                _prune(now)
                row = IdempotentRequest(
                    member_id=member_id, key=key, fingerprint=fingerprint, created_at=now
                )
                db.session.add(row)
                db.session.flush()
                claimed = row.id
            return claimed
        except IntegrityError:
            db.session.rollback()
        found = db.session.scalar(select(IdempotentRequest).filter_by(member_id=member_id, key=key))
        if found is None:
            continue  # released meanwhile: the key is free again
        if found.created_at <= now - REPLAYED_FOR:
            with writing():  # expired: the key is free again
                db.session.execute(
                    delete(IdempotentRequest).where(IdempotentRequest.id == found.id)
                )
            continue
        if found.fingerprint != fingerprint:
            raise KeyReused(
                "This Idempotency-Key was already used for a different request.",
                {"Idempotency-Key": ["Use a new key for a new request."]},
            )
        if found.status is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed (or ended "
                "without an answer). Wait and retry, or check whether it took effect.",
                {"Idempotency-Key": ["In use by a request that has no answer yet."]},
            )
        return Answer(found.status, json.loads(found.headers or "{}"), found.body or b"")
    raise Conflict("This Idempotency-Key is in use.", {"Idempotency-Key": ["Try again."]})


def record(claim_id: int, answer: Answer) -> None:
    """Store the answer to the claimed request, to be replayed to its retries."""
    with writing():
        row = db.session.get(IdempotentRequest, claim_id)
        if row is not None:
            row.status, row.body = answer.status, answer.body
            row.headers = json.dumps(answer.headers)


def release(claim_id: int) -> None:
    """Give the key up after a failure, so a retry runs the request afresh."""
    db.session.rollback()
    with writing():
        db.session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == claim_id))


def _prune(now: datetime) -> None:
    expired = (
        select(IdempotentRequest.id)
        .where(IdempotentRequest.created_at <= now - REPLAYED_FOR)
        .limit(PRUNED_AT_ONCE)
    )
    ids = list(db.session.scalars(expired))
    if ids:
        db.session.execute(delete(IdempotentRequest).where(IdempotentRequest.id.in_(ids)))
