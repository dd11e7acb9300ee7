"""Public content brought back from recovered feed entries: posts, events, campaigns and
candidates.

An entry's object id is the item's own page (``{base}/news/7``), so its segment names the
table and its number the row. A Create or Update writes the published fields onto that row
(made with the same id when the backup did not have it); a Delete hides the row
(``visibility = "members"``) rather than erasing it, since a Delete also means "no longer
public" and the backup's copy may hold what was never published. Ballots, the group's own
profile and everything private (members, RSVPs, votes) are not in entries' objects as the
node stores them: those come from backups only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import text

from ...extensions import db
from ...models import Campaign, Candidate, Event, Group, Post
from ..peering.remote_objects import moment

SEGMENTS: dict[str, type] = {
    "news": Post,
    "events": Event,
    "campaigns": Campaign,
    "candidates": Candidate,
}
MEMBERS_ONLY = "members"


def _source(document: Mapping[str, Any]) -> str:
    source = document.get("source")
    if isinstance(source, Mapping) and isinstance(source.get("content"), str):
        return source["content"]
    return ""


def _string(document: Mapping[str, Any], name: str, limit: int, default: str = "") -> str:
    value = document.get(name)
    return value[:limit] if isinstance(value, str) else default


def _day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dates(row: Any, document: Mapping[str, Any]) -> None:
    created = moment(document.get("published"))
    updated = moment(document.get("updated")) or created
    if created is not None and getattr(row, "created_at", None) is None:
        row.created_at = created
    if updated is not None:
        row.updated_at = updated


def _post(row: Post, document: Mapping[str, Any], _base: str) -> None:
    row.title = _string(document, "name", 200, row.title or "")
    row.body = _source(document)
    published = moment(document.get("published"))
    if published is not None:
        row.published_at = published
    updated = moment(document.get("updated"))
    row.updated_at = updated or published or row.updated_at


def _event(row: Event, document: Mapping[str, Any], base: str) -> None:
    row.title = _string(document, "name", 200, row.title or "")
    row.description = _source(document)
    row.kind = _string(document, "kind", 32, row.kind or "other")
    row.status = _string(document, "status", 16, row.status or "scheduled")
    row.starts_at = moment(document.get("startTime")) or row.starts_at
    row.ends_at = moment(document.get("endTime"))
    row.timezone = _string(document, "timezone", 64, row.timezone or "Europe/London")
    row.capacity = _count(document.get("maximumAttendeeCapacity"))
    row.attended_count = _count(document.get("attendedCount"))
    row.accessibility = _string(document, "accessibility", 10_000)
    if row.going_count is None:
        row.going_count = 0  # RSVPs (who) come from backups only; the count follows them
    places = document.get("location")
    places = places if isinstance(places, list) else [places] if places else []
    row.place_name = row.address = row.online_url = ""
    row.latitude = row.longitude = None
    for place in places:
        if not isinstance(place, Mapping):
            continue
        if place.get("url"):
            row.online_url = _string(place, "url", 500)
            continue
        row.place_name = _string(place, "name", 200)
        row.address = _string(place, "address", 500)
        latitude, longitude = place.get("latitude"), place.get("longitude")
        if isinstance(latitude, int | float) and isinstance(longitude, int | float):
            row.latitude, row.longitude = float(latitude), float(longitude)
    campaign = document.get("campaign")
    row.campaign_id = _local_id(base, campaign, "campaigns")
    _dates(row, document)


def _campaign(row: Campaign, document: Mapping[str, Any], _base: str) -> None:
    row.title = _string(document, "name", 200, row.title or "")
    row.body = _source(document)
    row.summary = row.summary or ""  # published only as HTML: the backup's text stays
    row.kind = _string(document, "kind", 32, row.kind or "community")
    row.status = _string(document, "status", 16, row.status or "planned")
    row.starts_on = _day(document.get("startDate"))
    row.ends_on = _day(document.get("endDate"))
    _dates(row, document)


def _candidate(row: Candidate, document: Mapping[str, Any], _base: str) -> None:
    row.name = _string(document, "name", 120, row.name or "")
    row.statement = _source(document)
    row.office = _string(document, "office", 32, row.office or "other")
    row.area = _string(document, "area", 120)
    row.stage = _string(document, "stage", 16, row.stage or "interested")
    row.endorsement = _string(document, "endorsement", 16, row.endorsement or "none")
    row.contest_date = _day(document.get("contestDate"))
    row.result = _string(document, "electionResult", 500)
    _dates(row, document)


FILL: dict[type, Callable[[Any, Mapping[str, Any], str], None]] = {
    Post: _post,
    Event: _event,
    Campaign: _campaign,
    Candidate: _candidate,
}


def _local_id(base: str, object_id: object, segment: str) -> int | None:
    prefix = f"{base}/{segment}/"
    if not isinstance(object_id, str) or not object_id.startswith(prefix):
        return None
    number = object_id[len(prefix) :]
    return int(number) if number.isascii() and number.isdigit() and len(number) < 10 else None


def _locate(group: Group, object_id: object) -> tuple[type, int] | None:
    if not isinstance(object_id, str) or not object_id.startswith(f"{group.base_url}/"):
        return None
    segment, _, number = object_id[len(group.base_url) + 1 :].partition("/")
    model = SEGMENTS.get(segment)
    if model is None or not number.isascii() or not number.isdigit() or len(number) > 9:
        return None
    return model, int(number)


def apply(group: Group, entry: Mapping[str, Any]) -> str | None:
    """Bring the local row ``entry``'s object names to what the entry published; return the
    table it changed, or None for an object that is not restored this way."""
    obj = entry.get("object")
    if not isinstance(obj, Mapping):
        return None
    found = _locate(group, obj.get("id"))
    if found is None:
        return None
    model, number = found
    row = db.session.get(model, number)
    if entry.get("type") == "Delete":
        if row is not None:
            row.visibility = MEMBERS_ONLY
        return model.__tablename__
    if entry.get("type") not in ("Create", "Update"):
        return None
    if row is None:
        row = model(id=number, visibility="public")
        db.session.add(row)
    row.visibility = "public"
    FILL[model](row, obj, group.base_url)
    return model.__tablename__


def advance_id_sequences(tables: set[str]) -> None:
    """On PostgreSQL, move each table's id sequence past the ids written by hand."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in sorted(tables):
        if table not in {model.__tablename__ for model in SEGMENTS.values()}:
            continue
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - names from SEGMENTS
                f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )
        )
