"""Shared copies of pages, reused until the content changes, with holes for what is personal.

Every visitor who is not logged in (and has no message waiting) sees the same public pages,
and every member sees the same home page but for a few pieces of their own: their name in
the menu, their form tokens and their answers to the events listed. So each worker keeps
the rendered HTML of a page per audience (visitors, members, organisers: organisers' menu
has one more link) and serves it again while the database's content version is unchanged
and the copy is younger than BRANCHLINE_PAGE_CACHE_SECONDS (upcoming events and scheduled
posts move with the clock, not only with edits). Each process has its own copies; the
version lives in the database: a change this process commits is seen on its next request,
one made by another process within content_version.RECHECK_SECONDS (1 s).

A copy never holds anything of the person it was rendered for: while a copy is built, each
personal piece is written as a hole, a marker carrying a random key of this process, and
every answer made from the copy fills the holes for the person asking (`fill`). Templates
ask `personal_holes()` before showing a member's own data, and ``csrf_token()`` gives a
hole while a copy is built.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, g, get_template_attribute, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .auth import current_member
from .services import content_version
from .services.organising import events

MOST_COPIES = 256  # per process: the least recently used copy goes first
VISITORS = "visitors"

_KEY = secrets.token_hex(8)  # user content cannot write a marker it does not know
KINDS = ("csrf", "name", "answer")
_HOLE = re.compile(rf"<!--hole {_KEY} ({'|'.join(KINDS)})(?: (\d+))?-->")
_lock = threading.Lock()


@dataclass(frozen=True)
class Copy:
    version: int
    made_at: float
    html: str


def audience(members_too: bool = False) -> str | None:
    """Name whom this request's page may be shared with, or None when it is its own."""
    if session.get("_flashes"):
        return None
    viewer = current_member()
    if viewer is None:
        return VISITORS
    if not members_too:
        return None
    return "organisers" if viewer.has_role("organiser") else "members"


def is_shareable() -> bool:
    """Say whether this request would get the page every visitor gets."""
    return audience() == VISITORS


def render(build: Callable[[], str], *, members_too: bool = False) -> str:
    """Return the shared copy of this address's page, building it again when it is stale.

    ``members_too``: members share a copy as well (the page marks their own pieces with
    `personal_holes`); otherwise only visitors do.
    """
    ttl = current_app.config["PAGE_CACHE_SECONDS"]
    who = audience(members_too) if ttl else None
    if who is None:
        return build()
    key = f"{who} {request.full_path}"
    copies: OrderedDict[str, Copy] = current_app.extensions.setdefault("page_cache", OrderedDict())
    version, now = content_version.at_start(), time.monotonic()
    with _lock:
        found = copies.get(key)
        if found is not None:
            copies.move_to_end(key)
    if found is None or found.version != version or now - found.made_at >= ttl:
        g.building_copy_for = who
        try:
            found = Copy(version=version, made_at=now, html=build())
        finally:
            g.pop("building_copy_for", None)
        with _lock:
            copies[key] = found
            copies.move_to_end(key)
            while len(copies) > MOST_COPIES:
                copies.popitem(last=False)
    return fill(found.html)


def personal_holes() -> bool:
    """Say whether a members' copy is being built: the page shows holes, not the viewer's data."""
    return g.get("building_copy_for", VISITORS) != VISITORS


def hole(kind: str, item_id: int | None = None) -> Markup:
    """Mark where the viewer's own ``kind`` of piece goes (e.g. "answer" to event ``item_id``)."""
    if kind not in KINDS:
        raise ValueError(f"A page has no hole {kind!r}; it has {KINDS}.")
    suffix = f" {int(item_id)}" if item_id is not None else ""
    return Markup("<!--hole {} {}{}-->").format(_KEY, kind, suffix)


def csrf_token() -> str:
    """Return this browser's form token, or a hole for it while a shared copy is built."""
    if "building_copy_for" in g:
        return hole("csrf")
    return generate_csrf()


def fill(html: str) -> str:
    """Fill a copy's holes with the pieces of the person asking."""
    found = _HOLE.findall(html)
    if not found:
        return html
    viewer = current_member()
    pieces: dict[tuple[str, str], str] = {}
    answer_ids = [int(item_id) for kind, item_id in found if kind == "answer"]
    if answer_ids:
        answers = events.rsvps_of(viewer, answer_ids)
        for item_id in answer_ids:
            pieces["answer", str(item_id)] = _answer_badge(answers.get(item_id))
    if ("csrf", "") in found:
        pieces["csrf", ""] = str(escape(generate_csrf()))
    if ("name", "") in found:
        pieces["name", ""] = str(escape(viewer.display_name if viewer else ""))
    return _HOLE.sub(lambda m: pieces[m.group(1), m.group(2) or ""], html)


def _answer_badge(answer: str | None) -> str:
    # The same few badges ("You: Going") for everyone, in the node's one language: made once.
    badges: dict[str | None, str] = current_app.extensions.setdefault("answer_badges", {})
    if answer not in badges:
        rsvp_state = get_template_attribute("pages/_items.html", "rsvp_state")
        badges[answer] = str(rsvp_state(answer))
    return badges[answer]
