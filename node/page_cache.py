"""Visitors' copies of the group page, reused until the content changes.

Every visitor who is not logged in (and has no message waiting) sees the same group page,
so each worker keeps the rendered HTML and serves it again while the database's content
version is unchanged and the copy is younger than BRANCHLINE_PAGE_CACHE_SECONDS (upcoming
events and scheduled posts move with the clock, not only with edits). Each process has its
own copies; the version lives in the database, so a change made anywhere is seen at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, session

from .auth import current_member
from .services import content_version


@dataclass(frozen=True)
class Copy:
    version: int
    made_at: float
    html: str


def is_shareable() -> bool:
    """Say whether this request would get the page every visitor gets."""
    return current_member() is None and not session.get("_flashes")


def render(key: str, build: Callable[[], str]) -> str:
    """Return the visitors' copy of page ``key``, building it again when it is stale."""
    ttl = current_app.config["PAGE_CACHE_SECONDS"]
    if not ttl or not is_shareable():
        return build()
    copies: dict[str, Copy] = current_app.extensions.setdefault("page_cache", {})
    version, now = content_version.current(), time.monotonic()
    found = copies.get(key)
    if found is not None and found.version == version and now - found.made_at < ttl:
        return found.html
    html = build()
    copies[key] = Copy(version=version, made_at=now, html=html)
    return html
