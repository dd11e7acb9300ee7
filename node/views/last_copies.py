"""The last good copy of each public page a visitor was shown, to serve while the database is away.

A page that every visitor gets alike (the group page, events, campaigns, candidates, news, the
public calendar and news feed) is kept in this process's memory each time it is answered to
someone who is not logged in. When the database cannot be reached, node/views/unavailable.py
answers the same address from here, marked as a copy that may be out of date, instead of an
error. Nothing rendered for a logged-in member is kept, and the form tokens of the visitor the
copy was made for are blanked, so no copy carries anything of one person to another.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, g, request, session

# Endpoints whose anonymous answer is the same for every visitor. The member's own calendar
# (feeds.member_calendar) is left out: its address is a secret of one member.
PUBLIC_BLUEPRINTS = frozenset({"pages"})
PUBLIC_ENDPOINTS = frozenset({"feeds.events_calendar", "feeds.news"})
NOT_KEPT = frozenset({"pages.logo"})  # a file with its own long cache lifetime

COPY_HEADER = "X-Branchline-Copy"  # on a copy served: when it was saved
MOST_COPIES = 256  # addresses; the least recently answered goes first
LARGEST_COPY = 1_000_000  # bytes: a page larger than this is not kept

_CSRF_VALUE = re.compile(rb'(name="csrf_token"[^>]*value=")[^"]*(")')
_lock = threading.Lock()


@dataclass(frozen=True)
class Copy:
    body: bytes
    mimetype: str
    content_type: str  # the header, with its charset
    saved_at: float  # wall clock: shown to the visitor


def _copies(app: Flask) -> OrderedDict[str, Copy]:
    return app.extensions.setdefault("last_copies", OrderedDict())


def is_public_page() -> bool:
    """Say whether this request asks, with GET, for a page every visitor gets alike."""
    if request.method not in ("GET", "HEAD") or request.endpoint in NOT_KEPT:
        return False
    return request.blueprint in PUBLIC_BLUEPRINTS or request.endpoint in PUBLIC_ENDPOINTS


def is_anonymous_by_cookie() -> bool:
    """Say, without the database, whether the browser session names no logged-in member."""
    return session.get("key") is None and session.get("member_id") is None


def _key() -> str:
    # The Accept header is part of the key: one address may answer HTML or another format.
    return f"{request.full_path}\n{request.headers.get('Accept', '')[:200]}"


def keep(app: Flask, response):
    """Keep ``response`` as the last copy of this address when it is a visitor's public page."""
    if (
        request.method != "GET"
        or response.status_code != 200
        or response.direct_passthrough
        or COPY_HEADER in response.headers  # a copy served while the database is away
        or not is_public_page()
        or not is_anonymous_by_cookie()
        or g.get("member") is not None
        or session.get("_flashes")
    ):
        return response
    body = response.get_data()
    if len(body) > LARGEST_COPY:
        return response
    copy = Copy(
        _CSRF_VALUE.sub(rb"\1\2", body), response.mimetype, response.content_type, time.time()
    )
    with _lock:
        copies = _copies(app)
        copies[_key()] = copy
        copies.move_to_end(_key())
        while len(copies) > MOST_COPIES:
            copies.popitem(last=False)
    return response


def find(app: Flask) -> Copy | None:
    """Return the last copy of the page this visitor asks for, if there is one to show them."""
    if not is_public_page() or not is_anonymous_by_cookie():
        return None
    with _lock:
        return _copies(app).get(_key())


def init_app(app: Flask) -> None:
    """Keep the last copy of every public page answered to a visitor."""
    app.after_request(lambda response: keep(app, response))
