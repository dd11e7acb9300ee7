"""The national view as JSON: what the groups this node follows publish, across the network.

Public like the national pages: this is what the groups published for everyone, so no
token is needed (a token that is sent must still be valid). Filters, sorting and paging
are the pages' own, from the same schemas.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from schemas import network as shapes

from ...services import geo
from ...services.aggregator.national import campaigns, candidates, events, groups, needed, places
from ...services.groups import current_group
from .access import PUBLIC, operation
from .blueprint import bp
from .exchange import page_response, query_args

NOTE = (
    "Public: no token needed. Covers the groups this node follows (on an aggregator, the "
    "whole network), from what it holds of their signed feeds; nothing is fetched."
)


def _place(place: places.Place | None) -> dict[str, Any] | None:
    return None if place is None else shapes.NetworkPlaceOut().dump(place)


@bp.get("/network/groups")
@operation(
    "Groups across the network",
    PUBLIC,
    query=shapes.NetworkGroupQuery,
    response=shapes.NetworkGroupPage,
    description=f"Area, seat, marginality, sync state and last activity of each. {NOTE}",
)
def network_groups():
    found = groups.groups(**query_args(shapes.NetworkGroupQuery()))
    return page_response(found, shapes.NetworkGroupOut())


@bp.get("/network/events")
@operation(
    "Events across the network",
    PUBLIC,
    query=shapes.NetworkEventQuery,
    response=shapes.NetworkEventPage,
    description="From now on (or `from`), soonest first; with `near`, only those within "
    f"`within` km (default {places.DEFAULT_RADIUS_KM:g}), each with its distance. {NOTE}",
)
def network_events():
    filters = query_args(shapes.NetworkEventQuery())
    group = current_group()
    found, place = events.event_search(filters, group.timezone if group else None)
    body = page_response(found, shapes.NetworkEventOut())
    body["place"] = _place(place)
    body["within_km"] = (filters.get("within") or places.DEFAULT_RADIUS_KM) if place else None
    body["postcode_districts_loaded"] = geo.districts_loaded()
    return body


@bp.get("/network/needed")
@operation(
    "Where am I needed",
    PUBLIC,
    query=shapes.NeededQuery,
    response=shapes.NeededPage,
    description="Seats ranked by need × proximity from `near`, each with the inputs of its "
    f"score; `formula` gives the rule and its constants. {NOTE}",
)
def network_needed():
    found, place = needed.needed_search(query_args(shapes.NeededQuery()))
    body = page_response(found, shapes.NeededOut())
    body["place"] = _place(place)
    body["formula"] = shapes.NeededFormulaOut().dump(needed.formula())
    return body


@bp.get("/network/campaigns")
@operation(
    "Campaigns across the network",
    PUBLIC,
    query=shapes.NetworkCampaignQuery,
    response=shapes.NetworkCampaignPage,
    description=f"Newest first; `counts` gives every kind and status. {NOTE}",
)
def network_campaigns():
    found = campaigns.campaigns(**query_args(shapes.NetworkCampaignQuery()))
    body = page_response(found, shapes.NetworkCampaignOut())
    body["counts"] = [
        {"kind": kind, "status": status, "count": count}
        for kind, status, count in campaigns.campaign_counts()
    ]
    return body


@bp.get("/network/candidates")
@operation(
    "Endorsed candidates and the win rate",
    PUBLIC,
    query=shapes.NetworkCandidateQuery,
    response=shapes.NetworkCandidatePage,
    description="Every endorsed candidate with the signed entry it was read from; "
    "`win_rates` overall and by office, each linking to the candidates it counts. "
    f"{NOTE}",
)
def network_candidates():
    found = candidates.candidates(**query_args(shapes.NetworkCandidateQuery()))
    body = page_response(found, shapes.NetworkCandidateOut())
    rates = candidates.win_rates()
    body["win_rates"] = {
        "overall": _figure(rates.overall),
        "by_office": [_figure(rate) for rate in rates.by_office],
    }
    return body


def _figure(rate: candidates.WinRate) -> dict[str, Any]:
    office = {"office": rate.office} if rate.office else {}
    return {
        **shapes.WinRateOut(only=("office", "won", "decided", "rate")).dump(rate),
        "evidence": url_for("api.network_candidates", outcome="decided", _external=True, **office),
        "evidence_page": url_for("national.evidence", outcome="decided", _external=True, **office),
    }
