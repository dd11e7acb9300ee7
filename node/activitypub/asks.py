"""The ask this group publishes to other groups, and the counts a group answers it with.

An ask is an ``Offer`` (on the asker's signed feed) of a Branchline ``Ask``: a subject
(``name``), a Markdown body (``source``, with sanitised HTML ``content``), when and where as
words (``askWhen``, ``askWhere``), its reach (``askReach``: ``area``, with a ``location``
Place carrying a ``radius`` in ``units`` km, or ``followers``) and an optional
``respondBy``. It names no person: not who wrote it, not who will go.
A receiving group answers with an ``Accept`` of the Offer whose ``result`` is an
``AskOutcome`` with ``reachedCount`` (a count), or a ``Reject``; never names, addresses
or the text it sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Group, OutboundAsk
from ..text import render_markdown
from .documents import MARKDOWN, PUBLIC, actor_id, followers_id, timestamp

ASK_TYPE = "Ask"
OUTCOME_TYPE = "AskOutcome"
AREA = "area"
FOLLOWERS = "followers"


def ask_document(group: Group, ask: OutboundAsk, published: datetime) -> dict[str, Any]:
    """Return the ``Ask`` object of an ask this group publishes."""
    document: dict[str, Any] = {
        "id": ask.object_id,
        "type": ASK_TYPE,
        "attributedTo": actor_id(group),
        "name": ask.subject,
        "askReach": FOLLOWERS if ask.all_followers else AREA,
        "published": timestamp(published),
        "to": [PUBLIC],
        "cc": [followers_id(group)],
    }
    if ask.body:
        document["content"] = str(render_markdown(ask.body))
        document["source"] = {"content": ask.body, "mediaType": MARKDOWN}
    if ask.when_text:
        document["askWhen"] = ask.when_text
    if ask.where_text:
        document["askWhere"] = ask.where_text
    if not ask.all_followers:
        place = {
            "type": "Place",
            "latitude": ask.latitude,
            "longitude": ask.longitude,
            "radius": ask.radius_km,
            "units": "km",
        }
        if ask.area_name:
            place["name"] = ask.area_name
        document["location"] = place
    if ask.respond_by is not None:
        document["respondBy"] = timestamp(ask.respond_by)
    return document


def offer(group: Group, ask_object: dict[str, Any], published: datetime) -> dict[str, Any]:
    """Wrap an ``Ask`` in the public ``Offer`` to the group's followers (the feed signs it)."""
    return {
        "type": "Offer",
        "actor": actor_id(group),
        "published": timestamp(published),
        "to": [PUBLIC],
        "cc": [followers_id(group)],
        "object": ask_object,
    }


def answer(
    kind: str, actor: str, asker: str, offer_id: str, ask_id: str, members: int | None
) -> dict[str, Any]:
    """Return a group's answer to an ask (``Accept`` with a count, or ``Reject``), unsigned."""
    document: dict[str, Any] = {
        "type": kind,
        "actor": actor,
        "object": {"id": offer_id, "type": "Offer", "actor": asker, "object": ask_id},
        "to": [asker],
        "result": {"type": OUTCOME_TYPE, "reachedCount": members or 0},
    }
    return document
