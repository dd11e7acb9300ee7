"""Which events the calendar feeds carry, and the secret address of a member's own calendar.

A member's calendar is fetched by calendar apps, which cannot log in, so its address
carries a signed token naming the member and their session version: bumping the version
(a password change, a suspension) revokes the address along with every session.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import and_, or_, select

from ...extensions import db
from ...models import Event, Member, Rsvp, utcnow
from .records import visible

# Calendars keep the last month (so "what did we do" still shows) and everything ahead.
WINDOW = timedelta(days=30)
MAX_EVENTS = 500
ANSWERS_SHOWN = ("going", "maybe")
# Keeps these tokens apart from anything else signed with the secret key; not a secret.
TOKEN_SALT = "branchline.member-calendar"  # noqa: S105


def _from(since: datetime):
    """Events that finish (or start, without an end) at or after ``since``."""
    return or_(
        and_(Event.ends_at.is_not(None), Event.ends_at >= since),
        and_(Event.ends_at.is_(None), Event.starts_at >= since),
    )


def public_events() -> list[Event]:
    """List public events from a month ago on, soonest first, for the group's calendar."""
    query = (
        visible(select(Event), Event, None)
        .where(_from(utcnow() - WINDOW))
        .order_by(Event.starts_at, Event.id)
        .limit(MAX_EVENTS)
    )
    return list(db.session.scalars(query))


def answered_events(member: Member) -> list[Event]:
    """List the events ``member`` answered going or maybe to, from a month ago on, soonest first."""
    query = (
        select(Event)
        .join(Rsvp, Rsvp.event_id == Event.id)
        .where(
            Rsvp.member_id == member.id,
            Rsvp.response.in_(ANSWERS_SHOWN),
            _from(utcnow() - WINDOW),
        )
        .order_by(Event.starts_at, Event.id)
        .limit(MAX_EVENTS)
    )
    return list(db.session.scalars(query))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(
        current_app.secret_key,
        salt=TOKEN_SALT,
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def token_for(member: Member) -> str:
    """Return the token of ``member``'s calendar address (the same until it is revoked)."""
    return _serializer().dumps([member.id, member.session_version])


def member_for(token: str) -> Member | None:
    """Return the active member a calendar token belongs to; None if forged, revoked or gone."""
    try:
        payload = _serializer().loads(token)
    except BadData:
        return None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(type(value) is int for value in payload)
    ):
        return None
    member_id, version = payload
    member = db.session.get(Member, member_id)
    if member is None or not member.is_active or member.session_version != version:
        return None
    return member
