"""The national pages: groups, events near a place, where members are needed, campaigns and
endorsed candidates across the groups this node follows. Public and read-only; filters are
GET forms and sorting is by links, so every view of the data has its own address.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext
from marshmallow import EXCLUDE, Schema, ValidationError

from schemas import network as shapes
from schemas import vocab

from ..services import geo
from ..services.aggregator.national import campaigns as national_campaigns
from ..services.aggregator.national import candidates as national_candidates
from ..services.aggregator.national import events as national_events
from ..services.aggregator.national import groups as national_groups
from ..services.aggregator.national import lists, places
from ..services.aggregator.national import needed as national_needed
from ..services.errors import Invalid
from ..services.groups import current_group

bp = Blueprint("national", __name__, url_prefix="/network")


def _filters(schema: Schema) -> dict[str, Any]:
    """Validate the query string (a ValidationError is a 400 page naming each argument).

    Arguments this page does not know are ignored, so a shared link with tracking
    arguments still opens; a repeated argument counts once, as browsers send forms.
    """
    return schema.load(request.args.to_dict(), unknown=EXCLUDE)


def _kept(schema: Schema, *, leave_out: tuple[str, ...] = ("page",)) -> dict[str, str]:
    """The query string as given (known, non-blank arguments), for sort and page links."""
    known = {field.data_key or name for name, field in schema.load_fields.items()}
    return {
        name: value
        for name, value in request.args.to_dict().items()
        if name in known and name not in leave_out and value.strip()
    }


def _zone() -> str:
    group = current_group()
    return group.timezone if group else "Europe/London"


@bp.get("/groups")
def groups():
    """List followed groups with area, seat, marginality, sync state and last activity."""
    schema = shapes.NetworkGroupQuery()
    filters = _filters(schema)
    found = national_groups.groups(**filters)
    sort, direction = lists.sorting("groups", filters.get("sort"), filters.get("dir"))
    return render_template(
        "national/groups.html",
        found=found,
        filters=filters,
        query=_kept(schema),
        sort=sort,
        direction=direction,
        states=national_groups.STATE_LABELS,
    )


def _search(schema: Schema, run: Any) -> tuple[dict[str, Any], Any, Any, dict[str, Any], int]:
    """Validate the filters and run the search; errors come back by field, for the form.

    A mistyped place or radius is shown inside the form with what was typed kept, as a
    400 page, instead of a bare error page.
    """
    try:
        filters = _filters(schema)
        found, place = run(filters)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {}
        return {}, None, None, messages or {"_form": [gettext("Check the filters.")]}, 400
    except Invalid as error:
        return {}, None, None, error.fields or {"_form": [error.message]}, 400
    return filters, found, place, {}, 200


@bp.get("/events")
def events():
    """List upcoming events across the network, by kind, dates and distance from a place."""
    schema = shapes.NetworkEventQuery()
    filters, found, place, errors, status = _search(
        schema, lambda filters: national_events.event_search(filters, _zone())
    )
    sort, direction = lists.sorting("events", filters.get("sort"), filters.get("dir"))
    return render_template(
        "national/events.html",
        found=found,
        place=place,
        filters=filters,
        errors=errors,
        query=_kept(schema),
        typed=request.args.to_dict(),
        sort=sort,
        direction=direction,
        radius=filters.get("within") or places.DEFAULT_RADIUS_KM,
        default_radius=places.DEFAULT_RADIUS_KM,
        districts_loaded=geo.districts_loaded(),
    ), status


@bp.get("/needed")
def needed():
    """Rank seats by need and distance, showing every input and the formula."""
    schema = shapes.NeededQuery()
    filters, found, place, errors, status = _search(schema, national_needed.needed_search)
    sort, direction = lists.sorting("needed", filters.get("sort"), filters.get("dir"))
    return render_template(
        "national/needed.html",
        found=found,
        place=place,
        filters=filters,
        errors=errors,
        query=_kept(schema),
        typed=request.args.to_dict(),
        sort=sort,
        direction=direction,
        formula=national_needed.formula(),
        districts_loaded=geo.districts_loaded(),
    ), status


HOME_EVENTS = 5


def home():
    """Show an aggregator's front page: events near a place, and the way to every view."""
    upcoming = national_events.events(per_page=HOME_EVENTS)
    return render_template(
        "national/home.html",
        upcoming=upcoming,
        default_radius=places.DEFAULT_RADIUS_KM,
        groups=national_groups.groups(per_page=1).total,
        campaign_total=national_campaigns.campaigns(per_page=1).total,
        candidate_total=national_candidates.candidates(per_page=1).total,
    )


@bp.get("/campaigns")
def campaigns():
    """List campaigns across the network, with counts by kind and status."""
    schema = shapes.NetworkCampaignQuery()
    filters = _filters(schema)
    found = national_campaigns.campaigns(**filters)
    sort, direction = lists.sorting("campaigns", filters.get("sort"), filters.get("dir"))
    return render_template(
        "national/campaigns.html",
        found=found,
        counts=national_campaigns.campaign_counts(),
        filters=filters,
        query=_kept(schema),
        sort=sort,
        direction=direction,
    )


@bp.get("/candidates")
def candidates():
    """List endorsed candidates and the win rate, each figure linked to its evidence."""
    schema = shapes.NetworkCandidateQuery()
    filters = _filters(schema)
    found = national_candidates.candidates(**filters)
    sort, direction = lists.sorting("candidates", filters.get("sort"), filters.get("dir"))
    return render_template(
        "national/candidates.html",
        found=found,
        rates=national_candidates.win_rates(),
        filters=filters,
        query=_kept(schema),
        sort=sort,
        direction=direction,
    )


@bp.get("/candidates/evidence")
def evidence():
    """List the signed entries a win-rate figure was computed from."""
    schema = shapes.NetworkEvidenceQuery()
    filters = _filters(schema)
    outcome = filters.get("outcome") or "decided"
    found = national_candidates.candidates(
        office=filters.get("office"),
        outcome=outcome,
        sort="group",
        page=filters["page"],
        per_page=filters["per_page"],
    )
    return render_template(
        "national/evidence.html",
        found=found,
        office=filters.get("office"),
        outcome=outcome,
        query=_kept(schema),
        offices=vocab.CANDIDATE_OFFICES,
    )
