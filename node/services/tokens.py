"""API credentials: personal bearer tokens and OAuth 2 clients, both acting as a member."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select

from schemas import vocab

from ..extensions import db
from ..models import ApiClient, ApiToken, Member, digest, utcnow
from .errors import Invalid, NotFound
from .records import commit

TOKEN_PREFIX = "blt_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


def allowed_scopes(member: Member) -> tuple[str, ...]:
    """Return the scopes a member's role allows."""
    return vocab.SCOPES_BY_ROLE.get(member.role, ())


def _check_scopes(member: Member, scopes: Iterable[str] | None) -> list[str]:
    allowed = allowed_scopes(member)
    wanted = list(dict.fromkeys(scopes)) if scopes else list(allowed)
    unknown = [s for s in wanted if s not in vocab.TOKEN_SCOPES]
    if unknown:
        raise Invalid.on("scope", f"Unknown scope: {', '.join(unknown)}.")
    beyond = [s for s in wanted if s not in allowed]
    if beyond:
        raise Invalid.on("scope", f"A {member.role} cannot hold: {', '.join(beyond)}.")
    return wanted


def create_personal(
    member: Member, scopes: Iterable[str] | None = None, name: str = "", days: int | None = None
) -> str:
    """Issue a personal token for ``member`` and return it (it is stored only hashed)."""
    granted = _check_scopes(member, scopes)
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            token_hash=digest(value),
            name=name or "personal token",
            scope=" ".join(granted),
            member_id=member.id,
            expires_at=utcnow() + timedelta(days=days) if days else None,
        )
    )
    commit()
    return value


def create_client(
    member: Member, name: str, scopes: Iterable[str] | None = None
) -> tuple[str, str]:
    """Register an OAuth 2 client that acts as ``member``; return its id and secret."""
    granted = _check_scopes(member, scopes)
    client_id = secrets.token_urlsafe(18)
    secret = secrets.token_urlsafe(32)
    db.session.add(
        ApiClient(
            client_id=client_id,
            secret_hash=digest(secret),
            name=name,
            scope=" ".join(granted),
            member_id=member.id,
        )
    )
    commit()
    return client_id, secret


def find(value: str) -> ApiToken | None:
    """Look up a presented bearer token by its hash."""
    return db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(value)))


def for_member(member: Member) -> list[ApiToken]:
    """List a member's tokens that still work, newest first."""
    query = (
        select(ApiToken)
        .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return [t for t in db.session.scalars(query) if not t.is_expired()]


def revoke(member: Member, token_id: int) -> None:
    """Revoke one of ``member``'s tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.member_id != member.id:
        raise NotFound("No such token.")
    token.revoked_at = utcnow()
    commit()
