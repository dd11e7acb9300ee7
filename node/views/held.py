"""``/held/entries``: a followed group's own entries, served back to that group alone.

Used by ``branchline recover --from URL`` on a group restored from an old backup. The page
splices the stored entries in as the exact text their group signed, as the outbox does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from federation import feed as signed_feed

from ..activitypub.negotiation import json_error, raw_activity_response
from ..services.errors import ServiceError
from ..services.groups import base_url as our_base_url
from ..services.recovery import held

bp = Blueprint("held", __name__)


def _number(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise ValueError("Must be a whole number.")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"Must be between {low} and {high}.")
    return number


def _requested_url() -> str:
    # Signatures cover the address the peer asked for: our public one, not the proxy's.
    ours = our_base_url()
    base = ours.rstrip("/") if ours else request.host_url.rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


@bp.get("/held/entries")
def entries() -> Response:
    """Serve the asking group the entries of its own feed this node holds, after ``after``."""
    actor = request.args.get("actor", "")
    if not actor.startswith(("https://", "http://")) or len(actor) > 2000:
        return json_error(400, "Name the group.", {"actor": ["Give the group's actor URL."]})
    fields: dict[str, list[str]] = {}
    numbers: dict[str, int] = {}
    for name, default, high in (("after", 0, 2**31), ("limit", held.DEFAULT_LIMIT, held.MAX_LIMIT)):
        try:
            numbers[name] = _number(name, default, 0 if name == "after" else 1, high)
        except ValueError as bad:
            fields[name] = [str(bad)]
    if fields:
        return json_error(400, "The page parameters are not valid.", fields)
    try:
        held.check_requester(_requested_url(), request.headers, actor)
        found = held.page(actor, numbers["after"], numbers["limit"])
    except ServiceError as refused:
        return json_error(refused.status, refused.message, refused.fields)
    here = _requested_url().split("?")[0]
    envelope: dict[str, Any] = {
        "@context": signed_feed.ACTIVITYSTREAMS_CONTEXT,
        "type": "OrderedCollectionPage",
        "attributedTo": actor,
        "heldSeq": found.held_seq,
        "heldHash": found.held_hash,
    }
    if found.more:
        query = {"actor": actor, "after": found.last_seq, "limit": numbers["limit"]}
        envelope["next"] = f"{here}?{urlencode(query)}"
    head = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    items = ",".join(found.bodies)
    return raw_activity_response(f'{head[:-1]},"orderedItems":[{items}]}}')
