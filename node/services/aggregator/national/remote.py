"""How a followed group's object (a RemoteObject row) is read for the national lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from ....extensions import db
from ....models import RemoteObject
from ...peering import network
from .lists import followed


def data_of(stored: RemoteObject) -> dict[str, Any]:
    """Return the object's stored document, or an empty dict if it is not a JSON object."""
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


def base_fields(stored: RemoteObject) -> dict[str, Any]:
    """Return the ItemBase fields of an object, read as the Network page reads it."""
    item = network.remote_item(stored)  # plain text, safe links
    return {
        "object_id": stored.object_id,
        "url": item.url,
        "title": item.title,
        "group": stored.peer.actor_id,
        "group_name": item.group_name,
        "group_url": item.group_url,
        "verification": item.verification,
    }


def live(object_type: str) -> Any:
    """Return the condition for the live (not deleted) objects of one type of followed groups."""
    return and_(
        RemoteObject.object_type == object_type,
        RemoteObject.deleted.is_(False),
        RemoteObject.peer_id.in_(followed()),
    )


class Unindexed(ColumnElement):
    """A column SQLite must not look up by its index, written ``+column``: a no-op there."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _plain(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(Unindexed, "sqlite")
def _unary_plus(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)


def by_ids(ids: Sequence[int]) -> dict[int, RemoteObject]:
    """Read the objects of the given ids, keyed by id."""
    if not ids:
        return {}
    found = db.session.scalars(select(RemoteObject).where(RemoteObject.id.in_(ids)))
    return {stored.id: stored for stored in found}
