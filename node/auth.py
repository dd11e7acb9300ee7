"""Who is asking: the logged-in member of a browser session, and page guards."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for

from .extensions import db
from .models import Member


def log_in(member: Member) -> None:
    """Start a fresh session for ``member`` (the old session's contents are dropped)."""
    session.clear()
    session.permanent = True
    session["member_id"] = member.id
    session["version"] = member.session_version
    g.member = member


def log_out() -> None:
    session.clear()
    g.member = None


def current_member() -> Member | None:
    """Return the active member behind this browser session, once per request."""
    if "member" not in g:
        member = None
        member_id = session.get("member_id")
        if member_id is not None:
            member = db.session.get(Member, member_id)
            stale = member is None or member.session_version != session.get("version")
            if stale or not member.is_active:
                session.clear()
                member = None
        g.member = member
    return g.member


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send visitors who are not logged in to the log-in page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_member() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def role_required(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow only members holding ``role`` or higher; others get a 403 page."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            member = current_member()
            if member is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not member.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate
