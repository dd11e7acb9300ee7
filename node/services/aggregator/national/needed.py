"""Where am I needed: the followed groups' seats ranked by need × proximity, with every input
of each score shown, and each seat's upcoming events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select

from ....extensions import db
from ....models import Peer, RemoteObject
from ....models.types import utcnow
from ... import geo
from ...organising.records import Page
from .groups import GROUP_COLUMNS, GroupRow, group_row
from .lists import followed, page_of, sorting
from .places import Place, parse_place
from .remote import Unindexed, base_fields, by_ids

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

    A seat is a group that names one or publishes its marginality. Every seat is scored
    (there are as many as groups, not events), then the page's upcoming events are counted.
    """
    query = select(*SEAT_COLUMNS).where(
        Peer.id.in_(followed()),
        Peer.actor_type == "Group",
        or_(Peer.seat_name != "", Peer.seat_marginality.is_not(None)),
    )
    # Every seat is scored from plain tuples of the few columns the score needs; only the
    # page shown is read in full and becomes NeededRows.
    scored = []
    given = place is not None
    distance_to = geo.distances_from(place.latitude, place.longitude) if given else None
    for peer_id, name, handle, actor, seat_name, area, marginality, lat, lon in db.session.execute(
        query
    ):
        distance = None
        if distance_to is not None and lat is not None and lon is not None:
            distance = round(distance_to(lat, lon), 2)
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
    shown = page_of(scored, page, per_page)
    ids = [row.peer_id for row in shown.items]
    groups = {
        row.id: row for row in db.session.execute(select(*GROUP_COLUMNS).where(Peer.id.in_(ids)))
    }
    rows = [
        NeededRow(
            group=group_row(groups[row.peer_id]),
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
        Unindexed(RemoteObject.object_type) == "Event",
        RemoteObject.deleted.is_(False),
        Unindexed(RemoteObject.starts_at) >= utcnow(),
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


def needed_search(filters: dict[str, Any]) -> tuple[Page[NeededRow], Place | None]:
    """Rank the seats from validated filters; ``near`` is the member's place."""
    filters = dict(filters)
    near = filters.pop("near", None)
    place = parse_place(near) if near else None
    return needed(place, **filters), place
