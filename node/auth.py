"""Who is asking: the logged-in member of a browser session, and page guards.

The signed cookie carries the member's id and the key of a session stored on the server
(services/sessions.py): logging out deletes that session, so a copy of the cookie taken
before stops working at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for

from .models import Member
from .services.membership import sessions


def log_in(member: Member) -> None:
    """Start a fresh session for ``member`` (the old session's contents are dropped)."""
    old_key = session.get("key")
    if old_key is not None:
        sessions.end(old_key)  # whoever was logged in on this browser is logged out
    session.clear()
    session.permanent = True
    session["member_id"] = member.id
    session["key"] = sessions.start(member, sessions.describe_device(request.user_agent.string))
    g.member = member
    g.member_session_id = None


def log_out() -> None:
    """End this browser's session on the server and empty its cookie."""
    key = session.get("key")
    if key is not None:
        sessions.end(key)
    session.clear()
    g.member = None


def current_session_id() -> int | None:
    """Return the id of this browser's stored session, if a member is logged in."""
    current_member()
    return g.get("member_session_id")


def current_member() -> Member | None:
    """Return the active member behind this browser session, once per request."""
    if "member" not in g:
        member, session_id = None, None
        key = session.get("key")
        found = sessions.find(key) if isinstance(key, str) else None
        mine = found is not None and found.member_id == session.get("member_id")
        if mine and found.member.is_active:
            member, session_id = found.member, found.id
            sessions.touch(found)
        if member is None and session.get("member_id") is not None:
            session.clear()  # ended, run out, or a cookie from before sessions were stored
        g.member, g.member_session_id = member, session_id
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
