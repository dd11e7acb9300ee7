"""An aggregator's pages: its combined feed (public) and its directory (admins).

Only an aggregator node answers here; any other node answers 404, after the admin check
on the directory's pages. The combined feed's entries are spliced into the page as the
exact text their groups signed: parsing and dumping them again could change a number's or
a string's spelling and break every proof.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from federation.feed import entry_context

from ..activitypub.negotiation import json_error, raw_activity_response
from ..auth import role_required
from ..services.aggregator import combined_feed, listings, quarantine
from ..services.aggregator import directory as group_directory
from ..services.groups import current_group
from ..services.role import is_aggregator
from .attempt import attempt

bp = Blueprint("aggregate", __name__)

MAX_AFTER = 2**53
QUARANTINE_SHOWN = 50


@bp.app_context_processor
def _role() -> dict[str, Any]:
    # The manage menu shows the directory to admins of an aggregator.
    return {"aggregator_node": is_aggregator()}


def _aggregator_base() -> str | None:
    group = current_group()
    if group is None or not is_aggregator(group):
        return None
    return group.base_url


# The combined feed -------------------------------------------------------------------


class _BadParameter(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _number(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 16:
        raise _BadParameter(name, "Must be a whole number.")
    number = int(value)
    if not low <= number <= high:
        raise _BadParameter(name, f"Must be between {low} and {high}.")
    return number


@bp.get("/aggregate/feed")
def feed() -> Response:
    """Serve the combined feed: every listed group's entries, as each group signed them."""
    return _collection("feed")


@bp.get("/aggregate/outbox")
def outbox() -> Response:
    """Serve the combined feed as an outbox: each entry wrapped in an Announce."""
    return _collection("outbox")


def _collection(name: str) -> Response:
    base = _aggregator_base()
    if base is None:
        return json_error(404, "This node is not an aggregator.")
    here = f"{base}/aggregate/{name}"
    try:
        after = _number("after", 0, 0, MAX_AFTER)
        limit = _number("limit", combined_feed.DEFAULT_LIMIT, 1, combined_feed.MAX_LIMIT)
    except _BadParameter as bad:
        return json_error(400, "The page parameters are not valid.", {bad.name: [bad.message]})
    if not {"after", "limit"} & set(request.args):
        return _dump(
            {
                "@context": _context(),
                "id": here,
                "type": "OrderedCollection",
                "totalItems": combined_feed.total(),
                "first": f"{here}?after=0&limit={combined_feed.DEFAULT_LIMIT}",
                "groups": combined_feed.groups(),
            }
        )
    rows, more = combined_feed.page(after, limit)
    envelope: dict[str, Any] = {
        "@context": _context(),
        "id": f"{here}?after={after}&limit={limit}",
        "type": "OrderedCollectionPage",
        "partOf": here,
    }
    if more:
        envelope["next"] = f"{here}?after={rows[-1][0]}&limit={limit}"
    if name == "feed":
        items = ",".join(body for _cursor, _at, body in rows)
    else:
        items = ",".join(_announce(base, *row) for row in rows)
    head = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return raw_activity_response(f'{head[:-1]},"orderedItems":[{items}]}}')


@bp.get("/aggregate/announce/<int:cursor>")
def announce(cursor: int) -> Response:
    """Serve one Announce of the combined outbox (its id is this address)."""
    base = _aggregator_base()
    if base is None:
        return json_error(404, "This node is not an aggregator.")
    found = combined_feed.one(cursor) if cursor <= MAX_AFTER else None
    if found is None:
        return json_error(404, "There is no entry with that cursor.")
    context = json.dumps(_context(), ensure_ascii=False, separators=(",", ":"))
    return raw_activity_response(f'{{"@context":{context},{_announce(base, *found)[1:]}')


def _context() -> list[Any]:
    return entry_context()


def _announce(base: str, cursor: int, admitted, body: str) -> str:
    """Wrap one stored entry in an Announce by this aggregator, without re-serialising it."""
    wrapper = {
        "id": f"{base}/aggregate/announce/{cursor}",
        "type": "Announce",
        "actor": f"{base}/actor",
        "published": combined_feed.published(admitted),
    }
    head = json.dumps(wrapper, ensure_ascii=False, separators=(",", ":"))
    return f'{head[:-1]},"object":{body}}}'


def _dump(document: dict[str, Any]) -> Response:
    return raw_activity_response(json.dumps(document, ensure_ascii=False, separators=(",", ":")))


# The directory (admins) --------------------------------------------------------------


def _require_aggregator() -> None:
    if not is_aggregator():
        abort(404)


def _page(errors: dict[str, list[str]] | None = None, target: str = "", status: int = 200):
    quarantined = quarantine.entries(QUARANTINE_SHOWN)
    return render_template(
        "manage/aggregate.html",
        rows=group_directory.rows((listings.LISTED, listings.REFUSED, listings.REMOVED)),
        waiting=group_directory.requests(),
        quarantined=quarantined,
        quarantined_bodies={entry.id: quarantine.pretty(entry.body) for entry in quarantined},
        quarantined_total=quarantine.count(),
        served=combined_feed.total(),
        errors=errors or {},
        target=target,
    ), status


@bp.get("/manage/aggregate")
@role_required("admin")
def directory():
    """Show the directory: groups and their sync states, requests, quarantined entries."""
    _require_aggregator()
    return _page()


@bp.post("/manage/aggregate")
@role_required("admin")
def add():
    """List a group (or follow another aggregator) by handle or actor URL."""
    _require_aggregator()
    target = request.form.get("target", "").strip()
    with attempt() as tried:
        # The worker back-fills it: a request must not wait for a whole feed.
        added = group_directory.add(target, backfill=False)
    if tried.refusal:
        fields = tried.refusal.fields.get("target") or [tried.refusal.message]
        return _page({"target": fields}, target[:2000], tried.status)
    kind = gettext("Pulling") if added.listing.kind == listings.SOURCE_KIND else gettext("Listed")
    flash(gettext("%(kind)s %(name)s.", kind=kind, name=added.name), "success")
    return redirect(url_for("aggregate.directory"))


def _decide(listing_id: int, action: str):
    _require_aggregator()
    with attempt() as tried:
        listing = group_directory.get(listing_id)
        name = listing.peer.name or listing.peer.actor_id
        reason = request.form.get("reason", "")
        if action == "approve":
            group_directory.approve(listing)
            message = gettext("%(name)s is listed.", name=name)
        elif action == "refuse":
            group_directory.refuse(listing, reason)
            message = gettext("%(name)s was refused.", name=name)
        else:
            group_directory.remove(listing, reason)
            message = gettext("%(name)s was removed from the directory.", name=name)
    if tried.refusal:
        fields, message = tried.refusal.fields, tried.refusal.message
        problems = [text for texts in fields.values() for text in texts] or [message]
        return _page({"_form": problems}, status=tried.status)
    flash(message, "success")
    return redirect(url_for("aggregate.directory"))


@bp.post("/manage/aggregate/<int:listing_id>/approve")
@role_required("admin")
def approve(listing_id: int):
    """List a group that asked (or list it again, trusting its current key)."""
    return _decide(listing_id, "approve")


@bp.post("/manage/aggregate/<int:listing_id>/refuse")
@role_required("admin")
def refuse(listing_id: int):
    """Turn down a group's request to be listed."""
    return _decide(listing_id, "refuse")


@bp.post("/manage/aggregate/<int:listing_id>/remove")
@role_required("admin")
def remove(listing_id: int):
    """Take a group out of the directory."""
    return _decide(listing_id, "remove")
