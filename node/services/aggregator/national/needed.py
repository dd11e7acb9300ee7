"""Where am I needed: the followed groups' seats ranked by need × proximity, with every input
of each score shown, and each seat's upcoming events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from ....extensions import db
from ....models import Peer, RemoteObject
from ....models.types import utcnow
from ... import geo
from ...organising.records import Page
from . import places
from .groups import GROUP_COLUMNS, GroupRow, group_row
from .lists import counted_page, followed, sorting
from .places import Place, parse_place
from .remote import base_fields, by_ids

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

    A seat is a group that names one or publishes its marginality. The database scores
    every seat (there are as many as groups, not events), sorts them and returns one page
    with the count of all; the page's scores are then worked again here, exactly as
    ``need_of`` and ``proximity_of`` give them, and its upcoming events are counted.
    """
    sort, direction = sorting("needed", sort, dir)
    # Unknown values last either way; ties by group name, as the page reads them.
    order = [func.lower(_label_sql()), Peer.id]
    value = _sort_value(sort, place)
    if value is not None:
        order.insert(0, (value.desc() if direction == "desc" else value.asc()).nulls_last())
    query = (
        select(*SEAT_COLUMNS, func.count().over())
        .where(
            Peer.id.in_(followed()),
            Peer.actor_type == "Group",
            or_(Peer.seat_name != "", Peer.seat_marginality.is_not(None)),
        )
        .order_by(*order)
    )
    found, total = counted_page(query, page, per_page)
    given = place is not None
    distance_to = geo.distances_from(place.latitude, place.longitude) if given else None
    ids = [row[0] for row in found]
    groups = {
        row.id: row for row in db.session.execute(select(*GROUP_COLUMNS).where(Peer.id.in_(ids)))
    }
    rows = []
    for peer_id, name, handle, actor, seat_name, area, marginality, lat, lon, _ in found:
        distance = None
        if distance_to is not None and lat is not None and lon is not None:
            distance = round(distance_to(lat, lon), 2)
        need = need_of(marginality)
        proximity = proximity_of(distance, place_given=given)
        rows.append(
            NeededRow(
                group=group_row(groups[peer_id]),
                seat=seat_name or area or name or handle or actor,
                marginality=marginality,
                need=need,
                need_known=marginality is not None,
                distance_km=distance,
                proximity=proximity,
                score=need * proximity,
            )
        )
    return Page(_with_events(rows), page, per_page, total)


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


def _sort_value(sort: str, place: Place | None) -> Any:
    """The SQL value a sort orders seats by; None when every seat's is unknown."""
    if sort == "score":
        return _score_sql(place)
    if sort == "marginality":
        return Peer.seat_marginality
    if sort == "distance":
        return None if place is None else _distance_sql(place)
    return func.lower(_seat_sql())


def _label_sql() -> Any:
    """A group's label as ``name or handle or actor`` gives it: empty text counts as none."""
    return func.coalesce(func.nullif(Peer.name, ""), func.nullif(Peer.handle, ""), Peer.actor_id)


def _seat_sql() -> Any:
    """A seat's name as the page shows it: the seat, else the area, else the group."""
    return func.coalesce(func.nullif(Peer.seat_name, ""), func.nullif(Peer.area, ""), _label_sql())


def _distance_sql(place: Place) -> Any:
    located = and_(Peer.latitude.is_not(None), Peer.longitude.is_not(None))
    return case((located, places.distance_km(place, Peer.latitude, Peer.longitude)), else_=None)


def _score_sql(place: Place | None) -> Any:
    """The score in SQL: ``need_of`` × ``proximity_of``, term by term (for the order only).

    The order uses the distance before ``needed`` rounds it to 10 m, so two seats whose
    rounded distances are equal may be ordered by distance rather than by name.
    """
    falling = 1.0 - Peer.seat_marginality / NEED_FULL_MARGIN
    need = case(
        (Peer.seat_marginality.is_(None), UNKNOWN_NEED),
        (falling < 0.0, 0.0),
        else_=falling,
    )
    if place is None:
        return need
    proximity = case(
        (or_(Peer.latitude.is_(None), Peer.longitude.is_(None)), UNKNOWN_PROXIMITY),
        else_=1.0
        / (1.0 + places.distance_km(place, Peer.latitude, Peer.longitude) / PROXIMITY_SCALE_KM),
    )
    return need * proximity


def _with_events(rows: list[NeededRow]) -> list[NeededRow]:
    """Add each seat's upcoming events: how many, and the next (two queries for the page)."""
    if not rows:
        return rows
    counts: dict[int, int] = {}
    next_ids: dict[int, int] = {}
    for peer_id, object_id, count in db.session.execute(
        upcoming_events([row.group.id for row in rows])
    ):
        counts[peer_id] = count
        next_ids[peer_id] = object_id
    stored = by_ids(list(next_ids.values()))
    result = []
    for row in rows:
        found = stored.get(next_ids.get(row.group.id, -1))
        following = None
        if found is not None and found.starts_at is not None:
            base = base_fields(found)
            following = NextEvent(base["title"], base["url"], found.starts_at)
        result.append(
            replace(row, upcoming_events=counts.get(row.group.id, 0), next_event=following)
        )
    return result


def upcoming_events(ids: list[int]) -> Any:
    """Select each group's count of upcoming events and its next one (tests EXPLAIN it).

    The page's groups are followed already; their upcoming events are ranges of the
    (peer_id, object_type, starts_at, id) index, in the order the window wants, not a walk
    through every upcoming event of the network in time order. One pass gives both: each
    group's count (a window over its events) beside the rank of each; the first is kept.
    """
    upcoming = and_(
        RemoteObject.peer_id.in_(ids),
        RemoteObject.object_type == "Event",
        RemoteObject.deleted.is_(False),
        RemoteObject.starts_at >= utcnow(),
        or_(RemoteObject.status.is_(None), RemoteObject.status != "cancelled"),
    )
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
    return select(ranked.c.peer_id, ranked.c.id, ranked.c.upcoming).where(ranked.c.n == 1)


def needed_search(filters: dict[str, Any]) -> tuple[Page[NeededRow], Place | None]:
    """Rank the seats from validated filters; ``near`` is the member's place."""
    filters = dict(filters)
    near = filters.pop("near", None)
    place = parse_place(near) if near else None
    return needed(place, **filters), place
