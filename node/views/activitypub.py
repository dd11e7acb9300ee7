"""The group as other servers see it: the actor, the outbox, its collections, the context.

The group's page and item pages are also ActivityStreams ids: ``_negotiate`` answers them
with JSON when the client asks for it, before the page views (and the page cache) run.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, redirect, request

from federation import feed as signed_feed

from ..activitypub import documents
from ..activitypub.negotiation import (
    activity_response,
    asks_for_html,
    json_error,
    raw_activity_response,
    wants_activity_json,
)
from ..services import feed, groups, role, rotation
from ..services.errors import NotFound
from ..services.organising import campaigns, candidates, events, posts

bp = Blueprint("activitypub", __name__)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
ITEM_GETTERS = {
    "pages.event": events.get,
    "pages.campaign": campaigns.get,
    "pages.candidate": candidates.get,
    "pages.post": posts.get,
}
NEGOTIATED = {"pages.home", *ITEM_GETTERS}


@bp.before_app_request
def _negotiate() -> Response | None:
    """Answer ActivityStreams clients on the group's and items' page addresses."""
    if request.method not in ("GET", "HEAD") or request.endpoint not in NEGOTIATED:
        return None
    if not wants_activity_json():
        return None
    group = groups.current_group()
    if group is None:
        return json_error(404, "This node is not set up yet.")
    if request.endpoint == "pages.home":
        return _actor_response(group)
    try:
        # Asked for as ActivityStreams, members-only items do not exist, even for members.
        item = ITEM_GETTERS[request.endpoint](request.view_args["item_id"], None)
    except NotFound:
        return json_error(404, "There is nothing here.")
    return activity_response(_object_document(group, item))


@bp.after_app_request
def _vary_on_accept(response: Response) -> Response:
    # The same address serves a page or JSON: shared caches must keep them apart.
    if request.endpoint in NEGOTIATED:
        response.vary.add("Accept")
    return response


def _object_document(group, item) -> dict[str, Any]:
    campaign = None
    if getattr(item, "campaign_id", None) is not None:
        try:
            campaign = campaigns.get(item.campaign_id, None)
        except NotFound:
            campaign = None  # a members-only campaign stays unnamed
    document: dict[str, Any] = {"@context": signed_feed.entry_context()}
    document.update(documents.object_document(group, item, campaign))
    return document


def _group_or_404():
    group = groups.current_group()
    if group is None:
        return None, json_error(404, "This node is not set up yet.")
    return group, None


def _actor_response(group) -> Response:
    document = documents.actor_document(
        group,
        feed.head(),
        aggregator=role.is_aggregator(group),
        rotations=rotation.rotation_entries(),
    )
    return activity_response(document)


@bp.get("/actor")
def actor():
    group, missing = _group_or_404()
    if missing:
        return missing
    if asks_for_html():
        return redirect("/", code=302)
    return _actor_response(group)


@bp.get("/ns")
def context():
    response = Response(
        json.dumps(signed_feed.context_document(), separators=(",", ":")),
        content_type="application/ld+json",
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 86_400
    return response


def _count(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise _BadParameter(name, "Must be a whole number.")
    number = int(value)
    if not low <= number <= high:
        raise _BadParameter(name, f"Must be between {low} and {high}.")
    return number


class _BadParameter(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


@bp.get("/outbox")
def outbox():
    group, missing = _group_or_404()
    if missing:
        return missing
    base = f"{group.base_url}/outbox"
    wanted = {"after", "limit"} & set(request.args)
    if not wanted:
        total = feed.head_seq()
        return activity_response(
            {
                "@context": signed_feed.ACTIVITYSTREAMS_CONTEXT,
                "id": base,
                "type": "OrderedCollection",
                "totalItems": total,
                "first": f"{base}?after=0",
                "last": f"{base}?after={max(0, total - PAGE_SIZE)}",
            }
        )
    try:
        after = _count(request.args.get("after"), "after", 0, 0, 2**53)
        limit = _count(request.args.get("limit"), "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    except _BadParameter as bad:
        return json_error(400, "The page parameters are not valid.", {bad.name: [bad.message]})
    return _outbox_page(base, after, limit)


def _outbox_page(base: str, after: int, limit: int) -> Response:
    entries = feed.entries_after(after, limit)
    total = feed.head_seq()
    suffix = "" if limit == PAGE_SIZE else f"&limit={limit}"
    envelope: dict[str, Any] = {
        "@context": signed_feed.ACTIVITYSTREAMS_CONTEXT,
        "id": f"{base}?after={after}{suffix}",
        "type": "OrderedCollectionPage",
        "partOf": base,
        "totalItems": total,
    }
    if entries and entries[-1].seq < total:
        envelope["next"] = f"{base}?after={entries[-1].seq}{suffix}"
    if after > 0:
        envelope["prev"] = f"{base}?after={max(0, after - limit)}{suffix}"
    # The entries go in as the exact text that was signed: parsing and dumping them again
    # could change a number's or a string's spelling and break every proof.
    head = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    items = ",".join(found.body for found in entries)
    return raw_activity_response(f'{head[:-1]},"orderedItems":[{items}]}}')


@bp.get("/outbox/<int:seq>")
def outbox_entry(seq: int):
    group, missing = _group_or_404()
    if missing:
        return missing
    found = feed.entry(seq)
    if found is None:
        return json_error(404, "There is no entry with that seq.")
    return raw_activity_response(found.body)


def _collection(group, name: str, total: int) -> Response:
    # Counts only: who follows a group, or whom it follows, is not published.
    return activity_response(
        {
            "@context": signed_feed.ACTIVITYSTREAMS_CONTEXT,
            "id": f"{group.base_url}/{name}",
            "type": "OrderedCollection",
            "totalItems": total,
        }
    )


@bp.get("/followers")
def followers():
    group, missing = _group_or_404()
    if missing:
        return missing
    return _collection(group, "followers", feed.follower_count())


@bp.get("/following")
def following():
    group, missing = _group_or_404()
    if missing:
        return missing
    return _collection(group, "following", feed.following_count())
