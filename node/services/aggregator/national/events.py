"""The followed groups' upcoming events, by kind, dates and distance from a place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from ....extensions import db
from ....models import Peer, RemoteObject
from ....models.types import utcnow
from ... import geo
from ...organising.records import Page
from ...peering import network
from .lists import followed, page_of, paginate, sorting
from .places import DEFAULT_RADIUS_KM, Place, box_filter, day_range, parse_place
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
    every event), then only those within ``within`` km (default 25) are kept and measured.
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
    return _events_near(query, place, radius, sort, direction, page, per_page)


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


NAMED_SORTS = ("title", "group")  # the sorts of events near a place that read names


def _events_near(
    query: Select,
    place: Place,
    radius: float,
    sort: str,
    direction: str,
    page: int,
    per_page: int,
) -> Page[EventRow]:
    # Every event in the box is measured (at a million entries, thousands of rows): the
    # loop is kept to plain tuples, and the titles and group names are read only for the
    # sorts that need them.
    distance_to = geo.distances_from(place.latitude, place.longitude)
    within = geo.within
    near = []
    if sort in NAMED_SORTS:
        for row_id, latitude, longitude, starts_at, title, group_name in db.session.execute(query):
            distance = distance_to(latitude, longitude)
            if within(distance, radius):
                near.append((row_id, distance, starts_at, title or "", group_name or ""))
    else:
        lean = query.with_only_columns(*query.selected_columns[:4])
        for row_id, latitude, longitude, starts_at in db.session.execute(lean):
            distance = distance_to(latitude, longitude)
            if within(distance, radius):
                near.append((row_id, distance, starts_at, "", ""))
    keys = {
        "when": lambda row: (row[2], row[1]),
        "distance": lambda row: (row[1], row[2]),
        "title": lambda row: (row[3].lower(), row[2]),
        "group": lambda row: (row[4].lower(), row[2]),
    }
    near.sort(key=keys[sort], reverse=(direction == "desc"))
    shown = page_of(near, page, per_page)
    stored = by_ids([row[0] for row in shown.items])
    rows = [_event_row(stored[row[0]], row[1]) for row in shown.items if row[0] in stored]
    return replace(shown, items=rows)


def box_query(place: Place, radius: float, conditions: Sequence[Any] | None = None) -> Select:
    """Return the query for the events in the box around ``place`` (tests EXPLAIN it).

    Left to itself SQLite would rather walk every upcoming event by (object_type,
    starts_at), having no statistics to tell it that a box a few kilometres wide holds far
    fewer; so the other terms are written so that only the box's index can serve them.
    PostgreSQL plans from its statistics.
    """
    if conditions is None:
        conditions = _event_conditions(boxed=True)
    box = geo.bounding_box(place.latitude, place.longitude, radius)
    return (
        select(
            RemoteObject.id,
            RemoteObject.latitude,
            RemoteObject.longitude,
            RemoteObject.starts_at,
            RemoteObject.title,
            Peer.name,
        )
        .join(Peer, RemoteObject.peer_id == Peer.id)
        .where(box_filter(box), *conditions)
    )


def event_search(filters: dict[str, Any], zone: str | None) -> tuple[Page[EventRow], Place | None]:
    """Run an events search from validated filters (``from_``/``to`` days read in ``zone``)."""
    filters = dict(filters)
    place = parse_place(filters.pop("near")) if filters.get("near") else None
    filters.pop("near", None)
    start, end = day_range(filters.pop("from_", None), filters.pop("to", None), zone)
    return events(place=place, start=start, end=end, **filters), place
