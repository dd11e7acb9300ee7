"""Who is asking, and the one decorator that both guards an API route and documents it.

Each route says once what access it needs (``PUBLIC``, ``CLIENT`` or ``token(...)``);
the same record drives the check here and the OpenAPI document, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Literal

from flask import g, request
from marshmallow import Schema

from ... import oauth
from ...models import ApiToken, Member
from ...services.membership import tokens
from . import idempotency


@dataclass(frozen=True)
class Access:
    """What a route needs: nothing (public), a client's credentials, or a bearer token."""

    kind: Literal["public", "token", "client"]
    scope: str | None = None
    role: str | None = None


PUBLIC = Access("public")  # a token is optional; with scope 'read' it shows members-only items
CLIENT = Access("client")  # the token endpoint: client credentials, not a bearer token


def token(scope: str | None = None, role: str | None = None) -> Access:
    """Need a bearer token holding ``scope`` whose member holds ``role`` (or higher)."""
    return Access("token", scope, role)


@dataclass(frozen=True)
class Operation:
    """The documented contract of one route."""

    summary: str
    access: Access
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    description: str = ""
    errors: tuple[int, ...] = field(default=())


def operation(
    summary: str,
    access: Access,
    *,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    description: str = "",
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Check ``access`` before the view runs, and record the route for the OpenAPI document."""
    record = Operation(summary, access, query, body, response, status, description, errors)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            _authenticate(access)
            return idempotency.run_once(g.get("api_member"), lambda: view(*args, **kwargs))

        wrapped.operation = record  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _authenticate(access: Access) -> None:
    """Set who is asking; authlib errors (401/403) propagate to the blueprint's handler."""
    g.api_member = g.api_viewer = None
    if access.kind == "client":
        return
    if access.kind == "public":
        if "Authorization" not in request.headers:
            return  # anonymous; but a token that is sent must be valid, or callers are misled
        presented = oauth.token_for_request()
        g.api_member = presented.member
        if "read" in tokens.effective_scopes(presented):
            g.api_viewer = presented.member
        return
    presented = oauth.token_for_request([access.scope] if access.scope else [], access.role)
    g.api_member = g.api_viewer = presented.member


def viewer() -> Member | None:
    """Return the member whose eyes the content is read with: None means the public's."""
    return g.get("api_viewer")


def presented_token() -> ApiToken:
    """Return the bearer token this request was authorised with."""
    return g.api_token


def caller() -> Member:
    """Return the member the bearer token acts for (only on routes that need a token)."""
    member = g.get("api_member")
    if member is None:  # a route declared PUBLIC but calling this is a programming error
        raise RuntimeError("caller() used on a route that does not need a token")
    return member
