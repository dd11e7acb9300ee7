"""The places a national search is made around: coordinates, a followed group, or a postcode
district; and the days a search covers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from ....extensions import db
from ....models import Peer, RemoteObject
from ... import geo
from ...errors import Invalid
from .lists import followed

DEFAULT_RADIUS_KM = 25.0
COORDINATES = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*,\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Place:
    """A point a search is made around, and what it was given as."""

    label: str
    latitude: float
    longitude: float
    source: str  # coordinates, group, town, postcode_district or postcode_area
    note: str = ""


class PlaceError(Invalid):
    """A place that could not be understood; the message says what to give instead."""

    def __init__(self, message: str, field: str = "near") -> None:
        super().__init__(message, {field: [message]})


PLACE_HINT = (
    "Give a town (e.g. Leeds), a postcode or postcode district (e.g. LS7), "
    "a latitude,longitude (e.g. 53.80,-1.55) or a group we follow (acct:group@host)."
)


def parse_place(text: str) -> Place:
    """Read a place: ``lat,lon``, a followed group, a town, a postcode or postcode district."""
    text = (text or "").strip()
    found = COORDINATES.match(text)
    if found:
        latitude, longitude = float(found.group(1)), float(found.group(2))
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise PlaceError("A latitude lies within ±90 and a longitude within ±180.")
        return Place(f"{latitude:g}, {longitude:g}", latitude, longitude, "coordinates")
    if "@" in text or text.startswith(("https://", "http://")):
        return _group_place(text)
    if not text:
        raise PlaceError(f"Type a place. {PLACE_HINT}")
    found = geo.find_place(text)
    if found is None:
        raise PlaceError(f"We cannot find “{text}”. {PLACE_HINT}")
    return Place(found.label, found.latitude, found.longitude, found.source, found.note)


def _group_place(text: str) -> Place:
    handle = text.removeprefix("acct:").lstrip("@")
    peer = db.session.scalar(
        select(Peer).where(
            Peer.id.in_(followed()),
            or_(Peer.actor_id == text, Peer.handle == handle),
        )
    )
    if peer is None:
        raise PlaceError(f"{text} is not a group this node follows. {PLACE_HINT}")
    if peer.latitude is None or peer.longitude is None:
        raise PlaceError(f"{peer.name or text} publishes no location. {PLACE_HINT}")
    return Place(peer.name or peer.handle, peer.latitude, peer.longitude, "group")


def box_filter(box: geo.Box) -> Any:
    """Return the WHERE clause of a bounding box: index ranges on latitude, then longitude."""
    ranges = [RemoteObject.longitude.between(west, east) for west, east in box.longitude_ranges()]
    return and_(
        RemoteObject.latitude.between(box.south, box.north),
        ranges[0] if len(ranges) == 1 else or_(*ranges),
    )


def haversine(
    place: Place, latitude: Any = RemoteObject.latitude, longitude: Any = RemoteObject.longitude
) -> ColumnElement[float]:
    """Return each row's haversine ``h`` from ``place`` in SQL (see ``geo.haversine_limit``).

    The same operations in the same order as ``geo.distances_from``, so the database keeps
    the rows Python would: a smaller ``h`` is a shorter distance.
    """
    to_radians = math.pi / 180  # what math.radians multiplies by
    phi1 = math.radians(place.latitude)
    lambda1 = math.radians(place.longitude)
    phi2 = latitude * to_radians
    # Halved by multiplying by 0.5 (the same float as dividing by 2): SQLAlchemy would cast
    # a division by 2 to NUMERIC, whose arithmetic is slow and not the floats Python uses.
    half_phi = func.sin((phi2 - phi1) * 0.5)
    half_lambda = func.sin((longitude * to_radians - lambda1) * 0.5)
    return half_phi * half_phi + math.cos(phi1) * func.cos(phi2) * half_lambda * half_lambda


def distance_km(place: Place, latitude: Any, longitude: Any) -> ColumnElement[float]:
    """Return the great-circle distance from ``place`` in SQL, as ``geo.distance_km`` works it."""
    h = haversine(place, latitude, longitude)
    clamped = case((h > 1.0, 1.0), else_=h)  # rounding may pass 1 at the antipode
    return 2 * geo.EARTH_RADIUS_KM * func.asin(func.sqrt(clamped))


def within_filter(place: Place, radius_km: float) -> Any:
    """Return the WHERE clause of the rows within ``radius_km`` of ``place``: box, then circle."""
    box = box_filter(geo.bounding_box(place.latitude, place.longitude, radius_km))
    limit = geo.haversine_limit(radius_km)
    return box if limit is None else and_(box, haversine(place) <= limit)


def day_range(
    first: date | None, last: date | None, zone: str | None
) -> tuple[datetime | None, datetime | None]:
    """Turn a first and last day (in ``zone``) into [start, end) times in UTC."""
    tz = ZoneInfo(zone or "Europe/London")
    start = datetime.combine(first, time(), tz).astimezone(UTC) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC) if last else None
    return start, end
