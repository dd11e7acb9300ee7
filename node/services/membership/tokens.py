"""API credentials: personal bearer tokens and OAuth 2 clients, both acting as a member."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import timedelta

from flask_babel import gettext
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from schemas import vocab

from ...extensions import db
from ...models import ApiClient, ApiToken, Member, digest, utcnow
from ..errors import Invalid, NotFound
from ..organising.records import commit
from .use_stamps import UseStamp

TOKEN_PREFIX = "blt_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


def allowed_scopes(member: Member) -> tuple[str, ...]:
    """Return the scopes a member's role allows."""
    return vocab.SCOPES_BY_ROLE.get(member.role, ())


def _check_scopes(member: Member, scopes: Iterable[str] | None) -> list[str]:
    allowed = allowed_scopes(member)
    wanted = list(dict.fromkeys(scopes)) if scopes else list(allowed)
    unknown = [s for s in wanted if s not in vocab.TOKEN_SCOPES]
    if unknown:
        raise Invalid.on("scope", gettext("Unknown scope: %(join)s.", join=", ".join(unknown)))
    beyond = [s for s in wanted if s not in allowed]
    if beyond:
        raise Invalid.on(
            "scope",
            gettext("A %(role)s cannot hold: %(join)s.", role=member.role, join=", ".join(beyond)),
        )
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


# Built once (every API request runs it); its member comes in the same query, since every
# check on a token reads it.
_BY_HASH = (
    select(ApiToken)
    .options(joinedload(ApiToken.member))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def find(value: str) -> ApiToken | None:
    """Look up a presented bearer token by its hash."""
    return db.session.scalar(_BY_HASH, {"token_hash": digest(value)})


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
        raise NotFound(gettext("No such token."))
    token.revoked_at = utcnow()
    commit()


# The API's side: what a presented token may do, and tokens issued to OAuth clients ----

# last_used_at is written at most this often per token, so reads do not cost a write each.
LAST_USED_GRANULARITY = timedelta(minutes=5)


def new_token_value() -> str:
    """Return a fresh bearer token value, in the same format as personal tokens."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def effective_scopes(token: ApiToken) -> frozenset[str]:
    """Return what ``token`` may do now: its scopes that its member's current role allows."""
    member = token.member
    if member is None or not member.is_active:
        return frozenset()
    return frozenset(token.scope.split()) & frozenset(allowed_scopes(member))


def client_by_id(client_id: str) -> ApiClient | None:
    """Look up an OAuth client by its public client id."""
    return db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))


def grantable_scope(client: ApiClient, requested: str | None) -> str:
    """Narrow a client's requested scope to what it was registered with and its member holds."""
    registered = client.scope.split()
    wanted = requested.split() if requested else registered
    held = set(allowed_scopes(client.member)) if client.member.is_active else set()
    return " ".join(s for s in dict.fromkeys(wanted) if s in registered and s in held)


def store_issued(client: ApiClient, value: str, scope: str, expires_in: int) -> ApiToken:
    """Store a token issued to ``client`` through the client-credentials grant (hashed)."""
    issued = ApiToken(
        token_hash=digest(value),
        name=f"client: {client.name}"[:120],
        scope=scope,
        member_id=client.member_id,
        client_id=client.id,
        expires_at=utcnow() + timedelta(seconds=expires_in),
    )
    db.session.add(issued)
    commit()
    return issued


_USE = UseStamp(ApiToken.last_used_at, LAST_USED_GRANULARITY, "token_use")
USE_NOTED = _USE.noted_key


def touch(token: ApiToken) -> None:
    """Note that ``token`` was used, to store with the request's commit (use_stamps)."""
    _USE.note(token.id, token.last_used_at)


settle_touch = _USE.settle
