"""The followed groups' upcoming events, by kind, dates and distance from a place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from ....models import Peer, RemoteObject
from ....models.types import utcnow
from ... import geo
from ...organising.records import Page
from ...peering import network
from . import places
from .lists import counted_page, followed, paginate, sorting
from .places import DEFAULT_RADIUS_KM, Place, day_range, parse_place
from .remote import ItemBase, Unindexed, base_fields, by_ids, data_of


@dataclass(frozen=True)
class EventRow(ItemBase):
    starts_at: datetime | None
    ends_at: datetime | None
    kind: str | None
    status: str | None
    place_name: str
    latitude: float | None
    longitude: float | None
    distance_km: float | None


def _place_name(data: dict[str, Any]) -> str:
    location = data.get("location")
    places = location if isinstance(location, list) else [location]
    names = [
        network.plain_text(place.get("name"), 120)
        for place in places
        if isinstance(place, dict) and isinstance(place.get("name"), str)
    ]
    return " · ".join(name for name in names if name)


def _event_row(stored: RemoteObject, distance: float | None) -> EventRow:
    return EventRow(
        **base_fields(stored),
        starts_at=stored.starts_at,
        ends_at=stored.ends_at,
        kind=stored.kind,
        status=stored.status,
        place_name=_place_name(data_of(stored)),
        latitude=stored.latitude,
        longitude=stored.longitude,
        distance_km=None if distance is None else round(distance, 2),
    )


EVENT_ORDER = {
    "when": RemoteObject.starts_at,
    "title": func.lower(RemoteObject.title),
    "group": func.lower(Peer.name),
}


def events(
    *,
    kind: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    place: Place | None = None,
    within: float | None = None,
    sort: str | None = None,
    dir: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[EventRow]:
    """Page through followed groups' events from ``start`` (default now), near ``place``.

    With a place, rows come from a bounding box on the indexed latitude/longitude (never
    every event), and the database keeps those within ``within`` km (default 25), sorts
    them and returns one page: the rows in the box never come to Python.
    """
    sort, direction = sorting("events", sort, dir)
    where = dict(kind=kind, status=status, start=start, end=end)
    if place is None:
        conditions = _event_conditions(**where)
        column = EVENT_ORDER[sort if sort != "distance" else "when"]
        ordered = column.desc() if direction == "desc" else column.asc()
        query = (
            select(RemoteObject)
            .join(Peer, RemoteObject.peer_id == Peer.id)
            .where(*conditions)
            .order_by(ordered, RemoteObject.id)
        )
        count = select(func.count(RemoteObject.id)).where(*conditions)
        found = paginate(query, page, per_page, count)
        return replace(found, items=[_event_row(stored, None) for stored in found.items])
    radius = within or DEFAULT_RADIUS_KM
    query = box_query(place, radius, _event_conditions(**where, boxed=True))
    return _events_near(query, place, sort, direction, page, per_page)


def _event_conditions(
    *,
    kind: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    boxed: bool = False,
) -> list[Any]:
    """The WHERE terms of an events search; ``boxed``: the bounding box's index serves it."""
    column = Unindexed if boxed else (lambda found: found)
    starts_at = column(RemoteObject.starts_at)
    conditions = [
        column(RemoteObject.object_type) == "Event",
        RemoteObject.deleted.is_(False),
        column(RemoteObject.peer_id).in_(followed()),
        starts_at >= (start or utcnow()),
    ]
    if end is not None:
        conditions.append(starts_at < end)
    if kind:
        conditions.append(column(RemoteObject.kind) == kind)
    if status:
        conditions.append(column(RemoteObject.status) == status)
    return conditions


def _events_near(
    query: Select,
    place: Place,
    sort: str,
    direction: str,
    page: int,
    per_page: int,
) -> Page[EventRow]:
    # The database keeps the circle, sorts and cuts the page (a window counts every row
    # kept); only the page's rows are measured in Python and read in full.
    shown, total = counted_page(near_page(query, place, sort, direction), page, per_page)
    stored = by_ids([row_id for row_id, _ in shown])
    distance_to = geo.distances_from(place.latitude, place.longitude)
    rows = [
        _event_row(found, distance_to(found.latitude, found.longitude))
        for found in (stored.get(row_id) for row_id, _ in shown)
        if found is not None
    ]
    return Page(rows, page, per_page, total)


def near_page(query: Select, place: Place, sort: str, direction: str) -> Select:
    """Return ``query``'s event ids in ``sort`` order, each beside the count of all of them.

    Ties are broken as the page reads: by time, then distance, then the order stored. The
    rows kept are gathered first, as a materialised CTE: else PostgreSQL, seeing the page's
    LIMIT, may walk every upcoming event in time order hoping to stop early (seconds, at a
    million entries), although the count needs every row anyway. SQLite is kept to the
    box's index by ``Unindexed`` on the sort columns.
    """
    columns = [
        RemoteObject.id,
        Unindexed(RemoteObject.starts_at).label("starts_at"),
        places.haversine(place).label("closeness"),
    ]
    if sort == "title":
        columns.append(func.lower(RemoteObject.title).label("name"))
    elif sort == "group":
        columns.append(func.lower(func.coalesce(Peer.name, "")).label("name"))
        query = query.join(Peer, RemoteObject.peer_id == Peer.id)
    near = (
        query.with_only_columns(*columns)
        .cte("near")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    first = {
        "when": (near.c.starts_at, near.c.closeness),
        "distance": (near.c.closeness, near.c.starts_at),
    }.get(sort) or (near.c.name, near.c.starts_at)
    keys = (*first, near.c.id)
    ordered = [key.desc() if direction == "desc" else key.asc() for key in keys]
    return select(near.c.id, func.count().over()).order_by(*ordered)


def box_query(place: Place, radius: float, conditions: Sequence[Any] | None = None) -> Select:
    """Return the query for the events within ``radius`` km of ``place`` (tests EXPLAIN it).

    The rows come from a bounding box on the indexed latitude and longitude, and the
    database keeps those inside the circle. Left to itself SQLite would rather walk every
    upcoming event by (object_type, starts_at), having no statistics to tell it that a box
    a few kilometres wide holds far fewer; so the other terms are written so that only the
    box's index can serve them. PostgreSQL plans from its statistics.
    """
    if conditions is None:
        conditions = _event_conditions(boxed=True)
    return select(RemoteObject.id, RemoteObject.title).where(
        places.within_filter(place, radius), *conditions
    )


def event_search(filters: dict[str, Any], zone: str | None) -> tuple[Page[EventRow], Place | None]:
    """Run an events search from validated filters (``from_``/``to`` days read in ``zone``)."""
    filters = dict(filters)
    place = parse_place(filters.pop("near")) if filters.get("near") else None
    filters.pop("near", None)
    start, end = day_range(filters.pop("from_", None), filters.pop("to", None), zone)
    return events(place=place, start=start, end=end, **filters), place
