"""Followed groups with a seat and a place, publishing signed events, campaigns and candidates.

Everything goes through the production path: the group's actor is fetched (served by
`responses`) and its entries are applied by ``remote_feed.apply_entry``, so the Peer and
RemoteObject columns the national pages search are filled the way a real node fills them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from node.extensions import db
from node.models import Peer
from node.services.geo import EARTH_RADIUS_KM
from node.services.peering.remote_feed import apply_entry
from tests.node.federation_support import FakePeer, body_of, follow_peer

LEEDS = (53.7997, -1.5492)
MANCHESTER = (53.4808, -2.2426)
YORK = (53.9590, -1.0815)


@dataclass
class SeatGroup(FakePeer):
    """A Branchline group that publishes an area, a seat and a location on its actor."""

    profile: dict[str, Any] = field(default_factory=dict)

    def actor_document(self) -> dict[str, Any]:
        return {**super().actor_document(), **self.profile}

    def publish(self, stored: Peer, kind: str, obj: Any, *, published: str | None = None):
        """Sign the next entry of this group's feed (dated ``published``) and apply it."""
        entry = self.entry(kind, obj, created=_moment(published) if published else None)
        result = apply_entry(stored, entry, body_of(entry).decode())
        assert result.applied, result
        db.session.commit()
        return entry

    def event_at(
        self,
        slug: str,
        title: str,
        *,
        starts: datetime,
        place: tuple[float, float] | None = None,
        kind: str = "canvass",
        status: str = "scheduled",
        place_name: str = "Community hall",
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {
            "startTime": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endTime": (starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kind": kind,
            "status": status,
            "url": f"{self.base}/events/{slug}",
        }
        if place is not None:
            extra["location"] = {
                "type": "Place",
                "name": place_name,
                "latitude": place[0],
                "longitude": place[1],
            }
        return self.event(slug, title, **extra)

    def campaign(self, slug: str, title: str, *, kind: str, status: str) -> dict[str, Any]:
        return {
            "id": f"{self.base}/campaigns/{slug}",
            "type": "Campaign",
            "url": f"{self.base}/campaigns/{slug}",
            "name": title,
            "kind": kind,
            "status": status,
            "startDate": "2031-01-10",
            "attributedTo": self.actor,
            "published": "2030-01-01T10:00:00Z",
        }

    def candidate(
        self,
        slug: str,
        name: str,
        *,
        office: str,
        stage: str,
        endorsement: str = "endorsed",
        result: str | None = None,
        updated: str = "2030-01-01T10:00:00Z",
    ) -> dict[str, Any]:
        document = {
            "id": f"{self.base}/candidates/{slug}",
            "type": "Candidate",
            "url": f"{self.base}/candidates/{slug}",
            "name": name,
            "office": office,
            "area": "Headingley",
            "stage": stage,
            "endorsement": endorsement,
            "attributedTo": self.actor,
            "published": "2030-01-01T10:00:00Z",
            "updated": updated,
        }
        if result is not None:
            document["electionResult"] = result
        return document


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def profile(
    *,
    area: str = "",
    seat: str = "",
    majority: int | None = None,
    marginality: float | None = None,
    place: tuple[float, float] | None = None,
    updated: str | None = None,
) -> dict[str, Any]:
    """Return the profile terms an actor document carries (left out when empty)."""
    found: dict[str, Any] = {}
    if area:
        found["area"] = area
    if seat:
        found["seat"] = seat
    if majority is not None:
        found["seatMajority"] = majority
    if marginality is not None:
        found["seatMarginality"] = marginality
    if place is not None:
        found["location"] = {
            "type": "Place",
            "name": area or seat,
            "latitude": place[0],
            "longitude": place[1],
        }
    if updated is not None:
        found["updated"] = updated
    return found


def followed_group(mock, n: int, **fields: Any) -> tuple[SeatGroup, Peer]:
    """Make group ``n`` with the given profile, fetch its actor and follow it."""
    group = SeatGroup(n, profile=profile(**fields))
    stored = follow_peer(group, mock)
    return group, stored


def upcoming(days: float = 7) -> datetime:
    """A time ``days`` from now, on the second (as feeds date things)."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def point_at(origin: tuple[float, float], km: float, bearing_degrees: float) -> tuple[float, float]:
    """Return the point ``km`` from ``origin`` on the given bearing (great circle)."""
    lat1, lon1 = (math.radians(v) for v in origin)
    bearing = math.radians(bearing_degrees)
    delta = km / EARTH_RADIUS_KM
    lat2 = math.asin(
        math.sin(lat1) * math.cos(delta) + math.cos(lat1) * math.sin(delta) * math.cos(bearing)
    )
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(delta) * math.cos(lat1),
        math.cos(delta) - math.sin(lat1) * math.sin(lat2),
    )
    lon = (math.degrees(lon2) + 540) % 360 - 180
    return math.degrees(lat2), lon


def query_plan(query) -> str:
    """Return the plan the database makes for ``query`` (its index choices), as text."""
    compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        return "\n".join(str(row[-1]) for row in rows)
    # PostgreSQL plans from statistics (autovacuum keeps them in a live database), and a
    # handful of test rows would make reading the whole table cheapest: take statistics
    # and rule the plain scan out, then see which index it picks.
    db.session.execute(text("ANALYZE remote_object"))
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    rows = db.session.execute(text(f"EXPLAIN {compiled}")).all()
    return "\n".join(str(row[0]) for row in rows)
