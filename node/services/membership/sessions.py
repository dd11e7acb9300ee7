"""Browser sessions kept on the server, so that logging out (here or everywhere) ends them.

The session cookie holds a random key; the database holds only its SHA-256, the member,
when it started, when it was last seen and a short label of the browser ("Firefox on
Linux"). Every page finds the session and its member in one indexed look-up. A session
unused for PERMANENT_SESSION_LIFETIME is over, like its cookie.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Member, MemberSession, digest, utcnow
from ..errors import NotFound
from ..organising.records import commit
from .use_stamps import UseStamp

# last_seen_at is written at most this often per session, so pages do not cost a write each.
SEEN_GRANULARITY = timedelta(minutes=5)

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
_BROWSERS += (("Safari/", "Safari"),)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str | None) -> str:
    """Name a browser and its system from a User-Agent header, e.g. "Firefox on Linux"."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    # Keep only letters, digits and a few marks of anything else: the label is shown back.
    return (browser or system or re.sub(r"[^\w ./-]", "", agent)[:60] or "Unknown browser")[:120]


def _lifetime() -> timedelta:
    return timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])


def start(member: Member, device: str) -> str:
    """Store a new session for ``member`` and return its key (it goes in the cookie only)."""
    value = secrets.token_urlsafe(32)
    db.session.add(MemberSession(key_hash=digest(value), member_id=member.id, device=device))
    # The member's sessions that ran out are forgotten when they next log in.
    db.session.execute(
        delete(MemberSession).where(
            MemberSession.member_id == member.id,
            MemberSession.last_seen_at < utcnow() - _lifetime(),
        )
    )
    commit()
    return value


# Built once (every page of a logged-in member runs it), with the member in the same query.
_BY_KEY = (
    select(MemberSession)
    .options(joinedload(MemberSession.member))
    .where(MemberSession.key_hash == bindparam("key_hash"))
)


def find(value: str) -> MemberSession | None:
    """Return the live session whose key is ``value``, its member loaded with it."""
    found = db.session.scalar(_BY_KEY, {"key_hash": digest(value)})
    if found is None or utcnow() - found.last_seen_at > _lifetime():
        return None
    return found


def end(value: str) -> None:
    """End the session whose key is ``value`` (logging out); an unknown key is no error."""
    db.session.execute(delete(MemberSession).where(MemberSession.key_hash == digest(value)))
    commit()


def end_all(member: Member, keep_id: int | None = None) -> None:
    """Delete ``member``'s sessions but ``keep_id``, in the caller's transaction."""
    query = delete(MemberSession).where(MemberSession.member_id == member.id)
    if keep_id is not None:
        query = query.where(MemberSession.id != keep_id)
    db.session.execute(query)


def end_everywhere(member: Member) -> None:
    """Log ``member`` out of every browser, this one included."""
    end_all(member)
    commit()


def end_one(member: Member, session_id: int) -> None:
    """End one of ``member``'s sessions; someone else's is a NotFound."""
    found = db.session.get(MemberSession, session_id)
    if found is None or found.member_id != member.id:
        raise NotFound(gettext("No such session."))
    db.session.delete(found)
    commit()


def for_member(member: Member) -> list[MemberSession]:
    """List ``member``'s live sessions, the most recently seen first."""
    query = (
        select(MemberSession)
        .where(
            MemberSession.member_id == member.id,
            MemberSession.last_seen_at >= utcnow() - _lifetime(),
        )
        .order_by(MemberSession.last_seen_at.desc(), MemberSession.id.desc())
    )
    return list(db.session.scalars(query))


_SEEN = UseStamp(MemberSession.last_seen_at, SEEN_GRANULARITY, "session_seen")


def touch(found: MemberSession) -> None:
    """Note that ``found`` was used, to store with the request's commit (use_stamps)."""
    _SEEN.note(found.id, found.last_seen_at)


settle_touch = _SEEN.settle
