"""The latest state of each campaign, event, candidate and post other groups published.

Every stored entry of a peer's feed (``remote_feed``) brings the object it describes up to
date here: a Create or Update writes the object's row unless it is older than what is held,
a Delete leaves a tombstone (remembered, so a late Create stays deleted), and an Announce
of another group's object counts only with that group's own valid proof.

Rows are read and written with Core statements built once: applying an entry is the inbox's
hot path, and the unit of work costs several times the statements it runs. A run of entries
(a page of a feed being pulled) looks its objects up in one query (``prefetch``) and holds
its writes back until ``write_held`` sends them, one statement per shape of row: an
aggregator pulling a million entries would otherwise wait on a round trip for each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from federation.errors import ProofError
from federation.proofs import verify_object
from federation.urls import same_origin
from schemas.common import in_range

from ...extensions import db
from ...models import Peer, RemoteEntry, RemoteObject
from ...models.types import utcnow
from .. import geo
from . import peers

# Object types the Network page shows; other objects (a group profile) update the peer.
CONTENT_TYPES = ("Campaign", "Event", "Candidate", "Note", "Article", "Question", "Page")
ACTOR_TYPES = ("Group", "Person", "Service", "Application", "Organization")

ANNOUNCED = "announced"
UNVERIFIED_ANNOUNCE = "announce-unverified"

CHUNK = 500  # values per IN (...): well within every database's limit on parameters

_objects = RemoteObject.__table__
_entries = RemoteEntry.__table__
_HELD_COLUMNS = (
    _objects.c.id,
    _objects.c.object_id,
    _objects.c.peer_id,
    _objects.c.deleted,
    _objects.c.updated_at,
    _objects.c.published_at,
)
_HELD_MANY = select(*_HELD_COLUMNS).where(
    _objects.c.object_id.in_(bindparam("ids", expanding=True))
)
_HELD_ONE = select(*_HELD_COLUMNS).where(_objects.c.object_id == bindparam("wanted"))
_INSERT = _objects.insert().returning(_objects.c.id)
_INSERT_MANY = _objects.insert()
_UPDATE = _objects.update().where(_objects.c.id == bindparam("row_id"))
_MARK_ENTRY = _entries.update().where(_entries.c.id == bindparam("entry_id"))
# Insert unless the object id is held, in each dialect's words (both say ON CONFLICT).
_INSERT_NEW = {
    name: dialect_insert(_objects)
    .on_conflict_do_nothing(index_elements=[_objects.c.object_id])
    .returning(_objects.c.id)
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


@dataclass
class Held:
    """What is stored of one object, as far as deciding on the next entry needs it."""

    id: int | None  # None: its row is still to be inserted (``Objects.inserts``)
    peer_id: int
    deleted: bool
    updated_at: datetime | None
    published_at: datetime | None


@dataclass
class Objects:
    """What a run of entries found of its objects, and the writes it holds back.

    ``held``: each object looked up, by object id (None: no row). The later entries of the
    run read what the earlier ones wrote from here; ``write_held`` sends the writes.
    """

    held: dict[str, Held | None] = field(default_factory=dict)
    inserts: dict[str, dict[str, Any]] = field(default_factory=dict)  # new rows, by object id
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)  # columns, by row id


def object_id_of(value: object) -> str | None:
    """Return the id of an activity's object (given inline or by reference), or None."""
    if isinstance(value, str):
        return value[:2000]
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"][:2000]
    return None


def moment(value: object) -> datetime | None:
    """Read an ISO 8601 timestamp (UTC when it names no zone); None if it is not one.

    A date outside the years our own input allows (``0001-01-01``, year 9999 with a
    negative offset) is dropped too: the entry is kept as sent, but a column holding it
    would overflow when converted to UTC or to a reader's zone, and break every page.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not in_range(parsed):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _held(row: Any) -> Held:
    return Held(
        id=row.id,
        peer_id=row.peer_id,
        deleted=bool(row.deleted),
        updated_at=as_aware(row.updated_at),
        published_at=as_aware(row.published_at),
    )


def prefetch(entries: Sequence[dict[str, Any]]) -> Objects:
    """Look up the stored objects a run of entries names, with one query per CHUNK ids."""
    ids = list(dict.fromkeys(filter(None, (object_id_of(e.get("object")) for e in entries))))
    if len(ids) == 1:  # the inbox's case: a plain comparison, no IN list to render
        return Objects({ids[0]: _stored(ids[0], None)})
    objects = Objects(dict.fromkeys(ids))
    connection = db.session.connection()
    for start in range(0, len(ids), CHUNK):
        rows = connection.execute(_HELD_MANY, {"ids": ids[start : start + CHUNK]})
        objects.held.update((row.object_id, _held(row)) for row in rows)
    return objects


def _stored(object_id: str, objects: Objects | None) -> Held | None:
    if objects is not None and object_id in objects.held:
        return objects.held[object_id]
    row = db.session.connection().execute(_HELD_ONE, {"wanted": object_id}).first()
    held = _held(row) if row is not None else None
    if objects is not None:
        objects.held[object_id] = held
    return held


def _write(
    peer: Peer, object_id: str, stored: Held | None, values: dict[str, Any], objects: Objects | None
) -> None:
    """Write ``values`` to the object's row (inserting it if there is none) and remember it.

    With ``objects`` the write waits there for ``write_held``; a later write of the same
    row in the run merges into it (each sets whole columns, so the last value stands, as it
    would had each been sent in turn).
    """
    if objects is None:
        connection = db.session.connection()
        if stored is None:
            new = {"peer_id": peer.id, "object_id": object_id, **values}
            row_id = connection.execute(_INSERT, new).scalar_one()
            stored = Held(row_id, peer.id, False, None, None)
        else:
            connection.execute(_UPDATE, {"row_id": stored.id, **values})
    elif stored is None:
        objects.inserts[object_id] = {"peer_id": peer.id, "object_id": object_id, **values}
        stored = Held(None, peer.id, False, None, None)
    elif stored.id is None:
        objects.inserts[object_id].update(values)
    else:
        objects.updates.setdefault(stored.id, {}).update(values)
    stored.deleted = values.get("deleted", stored.deleted)
    stored.updated_at = values.get("updated_at")
    stored.published_at = values.get("published_at")
    if objects is not None:
        objects.held[object_id] = stored


def write_held(objects: Objects) -> None:
    """Send the writes a run held back: one statement for each shape of row (its columns)."""
    connection = db.session.connection()
    for shape, rows in _by_shape(list(objects.inserts.values())).items():
        connection.execute(_INSERT_MANY, [dict(zip(shape, row, strict=True)) for row in rows])
    updates = [{"row_id": row_id, **values} for row_id, values in objects.updates.items()]
    for shape, rows in _by_shape(updates).items():
        connection.execute(_UPDATE, [dict(zip(shape, row, strict=True)) for row in rows])
    objects.inserts.clear()
    objects.updates.clear()


def _by_shape(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[tuple[Any, ...]]]:
    # An executemany needs the same columns in every row: a tombstone sets other columns
    # than an object's new state does.
    shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        shape = tuple(sorted(row))
        shapes.setdefault(shape, []).append(tuple(row[name] for name in shape))
    return shapes


def apply(
    peer: Peer,
    activity: dict[str, Any],
    entry_id: int,
    *,
    verification: str,
    objects: Objects | None = None,
) -> None:
    """Bring the stored objects up to date with one checked Create, Update, Delete or Announce.

    ``objects`` holds the rows already looked up (see ``prefetch``) when a run is applied.
    """
    kind = activity.get("type")
    obj = activity.get("object")
    if kind in ("Create", "Update") and isinstance(obj, dict):
        _upsert(peer, obj, entry_id, verification, create=kind == "Create", objects=objects)
    elif kind == "Delete":
        object_id = object_id_of(obj)
        if object_id and same_origin(object_id, peer.actor_id):
            _tombstone(peer, object_id, entry_id, objects)
    elif kind == "Announce" and isinstance(obj, dict):
        _announced(peer, obj, entry_id, objects)


def _upsert(
    peer: Peer,
    obj: dict[str, Any],
    entry_id: int,
    verification: str,
    *,
    create: bool,
    objects: Objects | None = None,
) -> None:
    object_id = object_id_of(obj)
    object_type = obj.get("type")
    if not object_id or not isinstance(object_type, str):
        return
    if not same_origin(object_id, peer.actor_id):
        return  # nobody writes another server's objects
    if object_type in ACTOR_TYPES:
        # An Update of the group itself: its name and profile (area, seat, place), unless
        # it is older than the profile held.
        fresh = object_id == peer.actor_id and peers.store_profile(peer, obj)
        if fresh and isinstance(obj.get("name"), str):
            peer.name = obj["name"][:300]
        return
    if object_type not in CONTENT_TYPES:
        return
    updated = moment(obj.get("updated")) or moment(obj.get("published"))
    if create and objects is None:
        # A Create applied alone (the inbox) is nearly always of a new object: insert first,
        # and look for the stored row only if the insert met one.
        values = _values(obj, object_type, updated, None, verification, entry_id)
        if _inserted_new(peer, object_id, values):
            return
    stored = _stored(object_id, objects)
    if stored is not None:
        if stored.peer_id != peer.id or stored.deleted:
            return  # a Delete came first (or the id is another peer's): remembered, ignored
        held = stored.updated_at
        if held is not None and (updated is None or updated < held):
            return  # older than what we show
        if create and held is not None and updated == held:
            return
    values = _values(obj, object_type, updated, stored, verification, entry_id)
    _write(peer, object_id, stored, values, objects)


def _values(
    obj: dict[str, Any],
    object_type: str,
    updated: datetime | None,
    stored: Held | None,
    verification: str,
    entry_id: int,
) -> dict[str, Any]:
    """Return the columns an object's row takes from its latest state."""
    published = moment(obj.get("published")) or (stored and stored.published_at) or utcnow()
    return {
        "object_type": object_type[:40],
        "data": json.dumps(obj, ensure_ascii=False, sort_keys=True),
        "title": _title(obj),
        "starts_at": moment(obj.get("startTime")),
        **searchable(obj),
        "published_at": published,
        "updated_at": updated,
        "verification": verification,
        "source_entry_id": entry_id,
        "received_at": utcnow(),
    }


def _inserted_new(peer: Peer, object_id: str, values: dict[str, Any]) -> bool:
    """Insert an object's row unless one holds its id; tell whether it was inserted."""
    connection = db.session.connection()
    statement = _INSERT_NEW.get(connection.dialect.name)
    if statement is None:
        return False  # a database with no ON CONFLICT: the look-up first, as for a run
    new = {"peer_id": peer.id, "object_id": object_id, **values}
    return connection.execute(statement, new).first() is not None


def _title(obj: dict[str, Any]) -> str:
    for name in ("name", "summary", "content"):
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return ""


def searchable(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields the national pages filter on, out of the object (None when absent)."""
    latitude, longitude = geo.place_of(obj.get("location"))
    result = obj.get("electionResult")
    return {
        "ends_at": moment(obj.get("endTime")),
        "kind": _term(obj.get("kind")),  # campaigns and events
        "status": _term(obj.get("status")),
        "latitude": latitude,
        "longitude": longitude,
        "office": _term(obj.get("office")),  # candidates
        "stage": _term(obj.get("stage")),
        "endorsement": _term(obj.get("endorsement")),
        "election_result": (result.strip()[:500] or None) if isinstance(result, str) else None,
    }


def _term(value: object) -> str | None:
    """Return a vocabulary value (``canvass``, ``endorsed``) as stored, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:40]


def _tombstone(peer: Peer, object_id: str, entry_id: int, objects: Objects | None = None) -> None:
    stored = _stored(object_id, objects)
    if stored is not None and stored.peer_id != peer.id:
        return
    values = {
        "deleted": True,
        "data": "{}",
        "title": "",
        "starts_at": None,
        **searchable({}),
        "updated_at": stored.updated_at if stored else None,
        "published_at": stored.published_at if stored else None,
        "source_entry_id": entry_id,
        "received_at": utcnow(),
    }
    if stored is None:
        values["object_type"] = "Tombstone"
    _write(peer, object_id, stored, values, objects)


def _announced(peer: Peer, obj: dict[str, Any], entry_id: int, objects: Objects | None) -> None:
    # An announced object from another group counts only if it carries that group's own
    # valid proof; Fedify does not check it, we must. Its origin's actor signs it.
    proof = obj.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    object_id = object_id_of(obj)
    if not isinstance(method, str) or not object_id:
        return
    signer_id = peers.actor_of_key(method)
    if not same_origin(signer_id, object_id):
        return
    signer = peers.find(signer_id)
    if signer is None:
        return  # not a group we know; the announce alone vouches for nothing
    try:
        verify_object(obj, peers.proof_key_lookup(signer), now=utcnow())
    except ProofError:
        marked = {"entry_id": entry_id, "verification": UNVERIFIED_ANNOUNCE}
        db.session.connection().execute(_MARK_ENTRY, marked)
        return
    inner = obj.get("object") if obj.get("type") in ("Create", "Update") else obj
    if isinstance(inner, dict):
        _upsert(signer, inner, entry_id, ANNOUNCED, create=True, objects=objects)
