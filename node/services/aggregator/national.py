"""The national view: the groups this node follows, their events near a place, where members
are needed, their campaigns, and their endorsed candidates with the win rate.

Everything here reads what the node already holds (Peer and RemoteObject rows, filled by
the verified feed path); nothing is fetched. On a group's node that is the groups it
follows; on an aggregator it is the whole network. A distance search narrows rows with a
bounding box on the indexed latitude/longitude columns and measures only those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from ...extensions import db
from ...models import Following, Listing, Peer, RemoteEntry, RemoteObject
from ...models.types import utcnow
from .. import geo
from ..errors import Invalid
from ..organising.records import Page
from ..peering import network
from ..peering.follows import REJECTED

# "Where am I needed": score = need × proximity, with
#   need      = max(0, 1 − marginality / NEED_FULL_MARGIN)   (marginality in points)
#   proximity = 1 / (1 + distance_km / PROXIMITY_SCALE_KM)
# A seat whose marginality is unknown gets UNKNOWN_NEED; with no place given every seat is
# equally near (proximity 1); a group with no location, when a place is given, gets
# UNKNOWN_PROXIMITY. Change them here: the pages and the API show these values.
NEED_FULL_MARGIN = 20.0
UNKNOWN_NEED = 0.5
PROXIMITY_SCALE_KM = 25.0
UNKNOWN_PROXIMITY = 0.0

DEFAULT_RADIUS_KM = 25.0
COORDINATES = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*,\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")

# Peer.state as people read it (schemas.network.SYNC_STATES lists the same states).
STATE_LABELS = {
    "in_step": "In step",
    "behind": "Behind",
    "unreachable": "Unreachable",
    "chain_broken": "Chain broken",
    "key_changed": "Key changed",
    "new": "Not synced yet",
}

AUDITED_STATES = ("chain_broken", "key_changed")

# Each list's sort keys and the direction each starts in; the first is the default sort.
# (schemas.network names the same keys, for validating the query string.)
SORTS: dict[str, dict[str, str]] = {
    "groups": {"name": "asc", "area": "asc", "marginality": "asc", "activity": "desc"},
    "events": {"when": "asc", "title": "asc", "group": "asc", "distance": "asc"},
    "needed": {"score": "desc", "marginality": "asc", "distance": "asc", "name": "asc"},
    "campaigns": {
        "newest": "desc",
        "title": "asc",
        "group": "asc",
        "kind": "asc",
        "status": "asc",
    },
    "candidates": {"name": "asc", "group": "asc", "office": "asc", "stage": "asc"},
}


def sorting(table: str, sort: str | None, direction: str | None) -> tuple[str, str]:
    """Return the sort key and direction a list uses, filling in its defaults."""
    orders = SORTS[table]
    key = sort if sort in orders else next(iter(orders))
    return key, direction if direction in ("asc", "desc") else orders[key]


def formula() -> dict[str, Any]:
    """Return the needed-score formula and its constants, as the page and the API show it."""
    return {
        "text": (
            f"score = need × proximity; need = max(0, 1 − marginality ÷ {NEED_FULL_MARGIN:g}) "
            f"(marginality in percentage points; unknown → {UNKNOWN_NEED:g}); "
            f"proximity = 1 ÷ (1 + distance_km ÷ {PROXIMITY_SCALE_KM:g}) "
            f"(no place given → 1; group without a location → {UNKNOWN_PROXIMITY:g})"
        ),
        "need_full_margin": NEED_FULL_MARGIN,
        "unknown_need": UNKNOWN_NEED,
        "proximity_scale_km": PROXIMITY_SCALE_KM,
        "unknown_proximity": UNKNOWN_PROXIMITY,
    }


def need_of(marginality: float | None) -> float:
    """Return how much a seat needs help from its marginality (percentage points)."""
    if marginality is None:
        return UNKNOWN_NEED
    return max(0.0, 1.0 - marginality / NEED_FULL_MARGIN)


def proximity_of(distance_km: float | None, *, place_given: bool) -> float:
    """Return how near a seat is: 1 beside you, ½ at PROXIMITY_SCALE_KM, falling off after."""
    if not place_given:
        return 1.0
    if distance_km is None:
        return UNKNOWN_PROXIMITY
    return 1.0 / (1.0 + distance_km / PROXIMITY_SCALE_KM)


def _followed() -> CompoundSelect:
    """The peers whose objects the national pages show: followed, or listed by an aggregator.

    An aggregator lists groups it learns from another aggregator's combined feed without
    following each one; their entries are verified all the same.
    """
    followed = select(Following.peer_id).where(Following.state != REJECTED)
    listed = select(Listing.peer_id).where(Listing.state == "listed", Listing.kind == "group")
    return followed.union(listed)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _page_of(rows: Sequence[Any], page: int, per_page: int) -> Page:
    start = (page - 1) * per_page
    return Page(list(rows[start : start + per_page]), page, per_page, len(rows))


# Places ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A point a search is made around, and what it was given as."""

    label: str
    latitude: float
    longitude: float
    source: str  # coordinates, group or postcode_district


class PlaceError(Invalid):
    """A place that could not be understood; the message says what to give instead."""

    def __init__(self, message: str, field: str = "near") -> None:
        super().__init__(message, {field: [message]})


PLACE_HINT = (
    "Give a latitude,longitude (e.g. 53.80,-1.55), a group we follow (acct:group@host) "
    "or a postcode district (e.g. LS6)."
)


def parse_place(text: str) -> Place:
    """Read a place: ``lat,lon``, a followed group's handle or actor URL, or a postcode district."""
    text = (text or "").strip()
    found = COORDINATES.match(text)
    if found:
        latitude, longitude = float(found.group(1)), float(found.group(2))
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise PlaceError("A latitude lies within ±90 and a longitude within ±180.")
        return Place(f"{latitude:g}, {longitude:g}", latitude, longitude, "coordinates")
    if "@" in text or text.startswith(("https://", "http://")):
        return _group_place(text)
    if geo.outward_code(text) is not None:
        return _district_place(text)
    raise PlaceError(f"That is not a place we can find. {PLACE_HINT}")


def _group_place(text: str) -> Place:
    handle = text.removeprefix("acct:").lstrip("@")
    peer = db.session.scalar(
        select(Peer).where(
            Peer.id.in_(_followed()),
            or_(Peer.actor_id == text, Peer.handle == handle),
        )
    )
    if peer is None:
        raise PlaceError(f"{text} is not a group this node follows. {PLACE_HINT}")
    if peer.latitude is None or peer.longitude is None:
        raise PlaceError(f"{peer.name or text} publishes no location. {PLACE_HINT}")
    return Place(peer.name or peer.handle, peer.latitude, peer.longitude, "group")


def _district_place(text: str) -> Place:
    if not geo.districts_loaded():
        raise PlaceError(
            "This node has no postcode table loaded, so postcodes cannot be looked up: "
            "give a latitude,longitude or a group instead."
        )
    district = geo.find_district(text)
    if district is None:
        raise PlaceError(f"No postcode district {geo.outward_code(text)} is known here.")
    return Place(district.district, district.latitude, district.longitude, "postcode_district")


def _box_filter(box: geo.Box) -> Any:
    """The WHERE clause of a bounding box: index ranges on latitude, then longitude."""
    ranges = [RemoteObject.longitude.between(west, east) for west, east in box.longitude_ranges()]
    return and_(
        RemoteObject.latitude.between(box.south, box.north),
        ranges[0] if len(ranges) == 1 else or_(*ranges),
    )


def day_range(
    first: date | None, last: date | None, zone: str | None
) -> tuple[datetime | None, datetime | None]:
    """Turn a first and last day (in ``zone``) into [start, end) times in UTC."""
    tz = ZoneInfo(zone or "Europe/London")
    start = datetime.combine(first, time(), tz).astimezone(UTC) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC) if last else None
    return start, end


# Groups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupRow:
    """A followed group with its profile and sync state."""

    id: int
    actor_id: str
    name: str
    handle: str
    url: str
    area: str
    seat_name: str
    seat_majority: int | None
    seat_marginality: float | None
    latitude: float | None
    longitude: float | None
    state: str
    state_reason: str
    behind_by: int
    last_activity_at: datetime | None

    @property
    def state_label(self) -> str:
        if self.state == "behind":
            return f"Behind {self.behind_by}"
        return STATE_LABELS.get(self.state, self.state.replace("_", " ").capitalize())


# What a GroupRow is read from, as columns (named like Peer's attributes).
GROUP_COLUMNS = (
    Peer.id,
    Peer.actor_id,
    Peer.name,
    Peer.handle,
    Peer.url,
    Peer.area,
    Peer.seat_name,
    Peer.seat_majority,
    Peer.seat_marginality,
    Peer.latitude,
    Peer.longitude,
    Peer.state,
    Peer.state_reason,
    Peer.head_seq,
    Peer.held_seq,
    Peer.last_activity_at,
)


def _group_row(peer: Any) -> GroupRow:
    """Read a GroupRow from a Peer or a row of GROUP_COLUMNS."""
    return GroupRow(
        id=peer.id,
        actor_id=peer.actor_id,
        name=peer.name or peer.handle or peer.actor_id,
        handle=peer.handle,
        url=peer.url or peer.actor_id,
        area=peer.area,
        seat_name=peer.seat_name,
        seat_majority=peer.seat_majority,
        seat_marginality=peer.seat_marginality,
        latitude=peer.latitude,
        longitude=peer.longitude,
        state=peer.state,
        # Why a feed stopped verifying is for anyone to audit; why a server did not answer
        # (connection errors, addresses) is the operator's business, not the public's.
        state_reason=peer.state_reason if peer.state in AUDITED_STATES else "",
        behind_by=max(0, peer.head_seq - peer.held_seq),
        last_activity_at=peer.last_activity_at,
    )


GROUP_ORDER = {
    "name": func.lower(Peer.name),
    "area": func.lower(Peer.area),
    "marginality": Peer.seat_marginality,
    "activity": Peer.last_activity_at,
}


def groups(
    *,
    q: str | None = None,
    state: str | None = None,
    sort: str | None = None,
    dir: str | None = None,  # the query argument's name: asc or desc
    page: int = 1,
    per_page: int = 20,
) -> Page[GroupRow]:
    """Page through the followed groups, filtered by words and state, sorted by a column."""
    query = select(Peer).where(Peer.id.in_(_followed()), Peer.actor_type == "Group")
    if q:
        pattern = _like(q)
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (Peer.name, Peer.handle, Peer.area, Peer.seat_name)
                )
            )
        )
    if state:
        query = query.where(Peer.state == state)
    sort, direction = sorting("groups", sort, dir)
    column = GROUP_ORDER[sort]
    # Empty and unknown values sort last whichever way the column is sorted.
    blank = column.is_(None) if sort in ("marginality", "activity") else column == ""
    ordered = column.desc() if direction == "desc" else column.asc()
    query = query.order_by(blank, ordered, func.lower(Peer.name), Peer.id)
    found = _paginate(query, page, per_page)
    return replace(found, items=[_group_row(peer) for peer in found.items])


def _paginate(query: Select, page: int, per_page: int, count: Select | None = None) -> Page:
    """Run one page of ``query``; ``count`` counts the same rows more cheaply (no joins)."""
    if count is None:
        count = select(func.count()).select_from(query.order_by(None).subquery())
    total = db.session.scalar(count)
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


# Remote items ------------------------------------------------------------------------------


def _data(stored: RemoteObject) -> dict[str, Any]:
    try:
        data = json.loads(stored.data or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class ItemBase:
    object_id: str
    url: str
    title: str
    group: str
    group_name: str
    group_url: str
    verification: str

    @property
    def verification_label(self) -> str:
        return network.VERIFICATION_LABELS.get(self.verification, self.verification)


def _base(stored: RemoteObject) -> dict[str, Any]:
    item = network._item(stored)  # the Network page's reading: plain text, safe links
    return {
        "object_id": stored.object_id,
        "url": item.url,
        "title": item.title,
        "group": stored.peer.actor_id,
        "group_name": item.group_name,
        "group_url": item.group_url,
        "verification": item.verification,
    }


def _live(object_type: str) -> Any:
    """The live (not deleted) objects of one type that followed groups published."""
    return and_(
        RemoteObject.object_type == object_type,
        RemoteObject.deleted.is_(False),
        RemoteObject.peer_id.in_(_followed()),
    )


class _Unindexed(ColumnElement):
    """A column SQLite must not look up by its index, written ``+column``: a no-op there."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(_Unindexed)
def _plain(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_Unindexed, "sqlite")
def _unary_plus(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


def _by_ids(ids: Sequence[int]) -> dict[int, RemoteObject]:
    if not ids:
        return {}
    found = db.session.scalars(select(RemoteObject).where(RemoteObject.id.in_(ids)))
    return {stored.id: stored for stored in found}


# Events ------------------------------------------------------------------------------------


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
        **_base(stored),
        starts_at=stored.starts_at,
        ends_at=stored.ends_at,
        kind=stored.kind,
        status=stored.status,
        place_name=_place_name(_data(stored)),
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
        found = _paginate(query, page, per_page, count)
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
    column = _Unindexed if boxed else (lambda found: found)
    starts_at = column(RemoteObject.starts_at)
    conditions = [
        column(RemoteObject.object_type) == "Event",
        RemoteObject.deleted.is_(False),
        column(RemoteObject.peer_id).in_(_followed()),
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
    radius: float,
    sort: str,
    direction: str,
    page: int,
    per_page: int,
) -> Page[EventRow]:
    near = []
    for row_id, latitude, longitude, starts_at, title, group_name in db.session.execute(query):
        distance = geo.distance_km(place.latitude, place.longitude, latitude, longitude)
        if geo.within(distance, radius):
            near.append((row_id, distance, starts_at, title or "", group_name or ""))
    keys = {
        "when": lambda row: (row[2], row[1]),
        "distance": lambda row: (row[1], row[2]),
        "title": lambda row: (row[3].lower(), row[2]),
        "group": lambda row: (row[4].lower(), row[2]),
    }
    near.sort(key=keys[sort], reverse=(direction == "desc"))
    shown = _page_of(near, page, per_page)
    stored = _by_ids([row[0] for row in shown.items])
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
        .where(_box_filter(box), *conditions)
    )


# Where am I needed -------------------------------------------------------------------------


@dataclass(frozen=True)
class NextEvent:
    title: str
    url: str
    starts_at: datetime


@dataclass(frozen=True)
class NeededRow:
    """One seat's place in the ranking, with every input of its score."""

    group: GroupRow
    seat: str
    marginality: float | None
    need: float
    need_known: bool
    distance_km: float | None
    proximity: float
    score: float
    upcoming_events: int = 0
    next_event: NextEvent | None = None


def needed(
    place: Place | None = None,
    *,
    sort: str | None = None,
    dir: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[NeededRow]:
    """Rank the followed groups' seats by need × proximity (see ``formula``), highest first.

    A seat is a group that names one or publishes its marginality. Every seat is scored
    (there are as many as groups, not events), then the page's upcoming events are counted.
    """
    query = select(*SEAT_COLUMNS).where(
        Peer.id.in_(_followed()),
        Peer.actor_type == "Group",
        or_(Peer.seat_name != "", Peer.seat_marginality.is_not(None)),
    )
    # Every seat is scored from plain tuples of the few columns the score needs; only the
    # page shown is read in full and becomes NeededRows.
    scored = []
    given = place is not None
    for peer_id, name, handle, actor, seat_name, area, marginality, lat, lon in db.session.execute(
        query
    ):
        distance = None
        if given and lat is not None and lon is not None:
            distance = round(geo.distance_km(place.latitude, place.longitude, lat, lon), 2)
        need = need_of(marginality)
        proximity = proximity_of(distance, place_given=given)
        label = name or handle or actor
        seat = seat_name or area or label
        scored.append(
            _Scored(peer_id, label, seat, marginality, distance, need, proximity, need * proximity)
        )
    scored.sort(key=lambda row: (row.name.lower(), row.peer_id))  # ties: by group name
    sort, direction = sorting("needed", sort, dir)
    scored = _ordered(scored, NEEDED_ORDER[sort], direction == "desc")
    shown = _page_of(scored, page, per_page)
    ids = [row.peer_id for row in shown.items]
    groups = {
        row.id: row for row in db.session.execute(select(*GROUP_COLUMNS).where(Peer.id.in_(ids)))
    }
    rows = [
        NeededRow(
            group=_group_row(groups[row.peer_id]),
            seat=row.seat,
            marginality=row.marginality,
            need=row.need,
            need_known=row.marginality is not None,
            distance_km=row.distance_km,
            proximity=row.proximity,
            score=row.score,
        )
        for row in shown.items
    ]
    return replace(shown, items=_with_events(rows))


# What a seat's score is worked from.
SEAT_COLUMNS = (
    Peer.id,
    Peer.name,
    Peer.handle,
    Peer.actor_id,
    Peer.seat_name,
    Peer.area,
    Peer.seat_marginality,
    Peer.latitude,
    Peer.longitude,
)


class _Scored(NamedTuple):
    peer_id: int
    name: str
    seat: str
    marginality: float | None
    distance_km: float | None
    need: float
    proximity: float
    score: float


NEEDED_ORDER: dict[str, Callable[[_Scored], Any]] = {
    "score": lambda row: row.score,
    "marginality": lambda row: row.marginality,
    "distance": lambda row: row.distance_km,
    "name": lambda row: row.seat.lower(),
}


def _ordered(rows: list[Any], value: Callable[[Any], Any], descending: bool) -> list[Any]:
    """Sort by ``value`` either way, unknown (None) values last; ties keep their order."""
    known = [row for row in rows if value(row) is not None]
    known.sort(key=value, reverse=descending)  # stable: equal values keep the order given
    return known + [row for row in rows if value(row) is None]


def _with_events(rows: list[NeededRow]) -> list[NeededRow]:
    """Add each seat's upcoming events: how many, and the next (two queries for the page)."""
    if not rows:
        return rows
    ids = [row.group.id for row in rows]
    # The page's groups are followed already; their events are found by peer_id, not by
    # walking every upcoming event of the network in time order.
    upcoming = and_(
        RemoteObject.peer_id.in_(ids),
        _Unindexed(RemoteObject.object_type) == "Event",
        RemoteObject.deleted.is_(False),
        _Unindexed(RemoteObject.starts_at) >= utcnow(),
        or_(RemoteObject.status.is_(None), RemoteObject.status != "cancelled"),
    )
    # One pass over the page's upcoming events gives both: each group's count (a window
    # over its events) beside the rank of each, of which the first is kept.
    ranked = (
        select(
            RemoteObject.id,
            RemoteObject.peer_id,
            func.row_number()
            .over(
                partition_by=RemoteObject.peer_id,
                order_by=(RemoteObject.starts_at, RemoteObject.id),
            )
            .label("n"),
            func.count().over(partition_by=RemoteObject.peer_id).label("upcoming"),
        )
        .where(upcoming)
        .subquery()
    )
    counts: dict[int, int] = {}
    next_ids: dict[int, int] = {}
    for peer_id, object_id, count in db.session.execute(
        select(ranked.c.peer_id, ranked.c.id, ranked.c.upcoming).where(ranked.c.n == 1)
    ):
        counts[peer_id] = count
        next_ids[peer_id] = object_id
    stored = _by_ids(list(next_ids.values()))
    result = []
    for row in rows:
        found = stored.get(next_ids.get(row.group.id, -1))
        following = None
        if found is not None and found.starts_at is not None:
            base = _base(found)
            following = NextEvent(base["title"], base["url"], found.starts_at)
        result.append(
            replace(row, upcoming_events=counts.get(row.group.id, 0), next_event=following)
        )
    return result


# Campaigns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignRow(ItemBase):
    kind: str | None
    status: str | None
    start_date: str | None
    end_date: str | None
    published_at: datetime | None


def _day_text(value: object) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    return None


def _campaign_row(stored: RemoteObject) -> CampaignRow:
    data = _data(stored)
    return CampaignRow(
        **_base(stored),
        kind=stored.kind,
        status=stored.status,
        start_date=_day_text(data.get("startDate")),
        end_date=_day_text(data.get("endDate")),
        published_at=stored.published_at,
    )


CAMPAIGN_ORDER = {
    "newest": RemoteObject.published_at,
    "title": func.lower(RemoteObject.title),
    "group": func.lower(Peer.name),
    "kind": RemoteObject.kind,
    "status": RemoteObject.status,
}


def campaigns(
    *,
    kind: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    dir: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[CampaignRow]:
    """Page through the followed groups' campaigns, by kind and status."""
    conditions = [_live("Campaign")]
    if kind:
        conditions.append(RemoteObject.kind == kind)
    if status:
        conditions.append(RemoteObject.status == status)
    sort, direction = sorting("campaigns", sort, dir)
    column = CAMPAIGN_ORDER[sort]
    ordered = column.desc() if direction == "desc" else column.asc()
    query = (
        select(RemoteObject)
        .join(Peer, RemoteObject.peer_id == Peer.id)
        .where(*conditions)
        .order_by(ordered, RemoteObject.id.desc())
    )
    count = select(func.count(RemoteObject.id)).where(*conditions)
    found = _paginate(query, page, per_page, count)
    return replace(found, items=[_campaign_row(stored) for stored in found.items])


def campaign_counts() -> list[tuple[str | None, str | None, int]]:
    """Count the followed groups' campaigns by kind and status."""
    query = (
        select(RemoteObject.kind, RemoteObject.status, func.count(RemoteObject.id))
        .where(_live("Campaign"))
        .group_by(RemoteObject.kind, RemoteObject.status)
        .order_by(RemoteObject.kind, RemoteObject.status)
    )
    return [(kind, status, count) for kind, status, count in db.session.execute(query)]


# Candidates and the win rate ---------------------------------------------------------------


def outcome_of(stage: str | None, result: str | None) -> str | None:
    """Say whether a candidate won, was defeated, or is undecided (None).

    The published election result decides when its first word is "elected" or
    "defeated" (``Elected with 2,345 votes``); otherwise the stage does.
    """
    word = re.match(r"\s*([A-Za-z]+)", result or "")
    for said in (word.group(1).lower() if word else None, stage):
        if said == "elected":
            return "won"
        if said == "defeated":
            return "defeated"
    return None


def _matches(outcome: str | None, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "decided":
        return outcome is not None
    if wanted == "undecided":
        return outcome is None
    return outcome == wanted


@dataclass(frozen=True)
class SourceEntry:
    """The signed feed entry a candidate's current state was taken from."""

    activity_id: str
    seq: int | None
    hash: str
    group: str
    verification: str
    received_at: datetime | None


@dataclass(frozen=True)
class CandidateRow(ItemBase):
    office: str | None
    area: str
    stage: str | None
    endorsement: str | None
    election_result: str | None
    outcome: str | None
    entry: SourceEntry | None


def _entries(stored: Sequence[RemoteObject]) -> dict[int, SourceEntry]:
    ids = [found.source_entry_id for found in stored if found.source_entry_id is not None]
    if not ids:
        return {}
    query = (
        select(RemoteEntry, Peer.actor_id)
        .join(Peer, RemoteEntry.peer_id == Peer.id)
        .where(RemoteEntry.id.in_(ids))
    )
    return {
        entry.id: SourceEntry(
            activity_id=entry.activity_id,
            seq=entry.seq,
            hash=entry.entry_hash,
            group=actor,
            verification=entry.verification,
            received_at=entry.received_at,
        )
        for entry, actor in db.session.execute(query)
    }


def _endorsed(office: str | None = None, stage: str | None = None) -> list[tuple]:
    """The endorsed candidates' (id, office, stage, result, name, group) from one index range."""
    query = (
        select(
            RemoteObject.id,
            RemoteObject.office,
            RemoteObject.stage,
            RemoteObject.election_result,
            RemoteObject.title,
            Peer.name,
        )
        .join(Peer, RemoteObject.peer_id == Peer.id)
        .where(_live("Candidate"), RemoteObject.endorsement == "endorsed")
    )
    if office:
        query = query.where(RemoteObject.office == office)
    if stage:
        query = query.where(RemoteObject.stage == stage)
    return list(db.session.execute(query).all())


CANDIDATE_KEYS = {
    "name": lambda row: ((row[4] or "").lower(), row[0]),
    "group": lambda row: ((row[5] or "").lower(), (row[4] or "").lower(), row[0]),
    "office": lambda row: (row[1] or "", (row[4] or "").lower(), row[0]),
    "stage": lambda row: (row[2] or "", (row[4] or "").lower(), row[0]),
}


def candidates(
    *,
    office: str | None = None,
    stage: str | None = None,
    outcome: str | None = None,
    sort: str | None = None,
    dir: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[CandidateRow]:
    """Page through every endorsed candidate of the followed groups, with the entry behind it."""
    rows = [
        row for row in _endorsed(office, stage) if _matches(outcome_of(row[2], row[3]), outcome)
    ]
    sort, direction = sorting("candidates", sort, dir)
    rows.sort(key=CANDIDATE_KEYS[sort], reverse=direction == "desc")
    shown = _page_of(rows, page, per_page)
    stored = _by_ids([row[0] for row in shown.items])
    found = [stored[row[0]] for row in shown.items if row[0] in stored]
    entries = _entries(found)
    items = []
    for candidate in found:
        data = _data(candidate)
        area = data.get("area")
        items.append(
            CandidateRow(
                **_base(candidate),
                office=candidate.office,
                area=network.plain_text(area, 120) if isinstance(area, str) else "",
                stage=candidate.stage,
                endorsement=candidate.endorsement,
                election_result=candidate.election_result,
                outcome=outcome_of(candidate.stage, candidate.election_result),
                entry=entries.get(candidate.source_entry_id or -1),
            )
        )
    return replace(shown, items=items)


@dataclass(frozen=True)
class WinRate:
    """Endorsed candidates elected out of those decided, overall (office None) or by office."""

    office: str | None
    won: int
    decided: int

    @property
    def rate(self) -> float | None:
        return self.won / self.decided if self.decided else None


@dataclass(frozen=True)
class WinRates:
    overall: WinRate
    by_office: list[WinRate]


def win_rates() -> WinRates:
    """Compute the win rate of endorsed candidates, overall and by office."""
    tally: dict[str | None, list[int]] = {}
    for _id, office, stage, result, _name, _group in _endorsed():
        outcome = outcome_of(stage, result)
        counts = tally.setdefault(office, [0, 0])
        counts[0] += outcome == "won"
        counts[1] += outcome is not None
    by_office = [
        WinRate(office, won, decided)
        for office, (won, decided) in sorted(tally.items(), key=lambda item: item[0] or "")
    ]
    overall = WinRate(
        None, sum(rate.won for rate in by_office), sum(rate.decided for rate in by_office)
    )
    return WinRates(overall, by_office)


# Searches as the pages and the API ask for them -------------------------------------------


def event_search(filters: dict[str, Any], zone: str | None) -> tuple[Page[EventRow], Place | None]:
    """Run an events search from validated filters (``from_``/``to`` days read in ``zone``)."""
    filters = dict(filters)
    place = parse_place(filters.pop("near")) if filters.get("near") else None
    filters.pop("near", None)
    start, end = day_range(filters.pop("from_", None), filters.pop("to", None), zone)
    return events(place=place, start=start, end=end, **filters), place


def needed_search(filters: dict[str, Any]) -> tuple[Page[NeededRow], Place | None]:
    """Rank the seats from validated filters; ``near`` is the member's place."""
    filters = dict(filters)
    near = filters.pop("near", None)
    place = parse_place(near) if near else None
    return needed(place, **filters), place
