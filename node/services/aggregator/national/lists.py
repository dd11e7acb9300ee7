"""What every national list shares: whose objects it shows, its sort keys, and its paging."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Select, func, select

from ....extensions import db
from ....models import Following, Listing
from ...organising.records import Page
from ...peering.follows import REJECTED

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


def followed() -> CompoundSelect:
    """Select the peers whose objects the national pages show: followed, or listed.

    An aggregator lists groups it learns from another aggregator's combined feed without
    following each one; their entries are verified all the same.
    """
    following = select(Following.peer_id).where(Following.state != REJECTED)
    listed = select(Listing.peer_id).where(Listing.state == "listed", Listing.kind == "group")
    return following.union(listed)


def like(text: str) -> str:
    """Return a LIKE pattern finding ``text`` anywhere, its wildcards escaped with ``\\``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_of(rows: Sequence[Any], page: int, per_page: int) -> Page:
    """Cut one page out of rows already read and sorted."""
    start = (page - 1) * per_page
    return Page(list(rows[start : start + per_page]), page, per_page, len(rows))


def paginate(query: Select, page: int, per_page: int, count: Select | None = None) -> Page:
    """Run one page of ``query``; ``count`` counts the same rows more cheaply (no joins)."""
    if count is None:
        count = select(func.count()).select_from(query.order_by(None).subquery())
    total = db.session.scalar(count)
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def counted_page(query: Select, page: int, per_page: int) -> tuple[list[Any], int]:
    """Run one page of ``query``, whose last column is ``count(*) OVER ()``.

    Return the page's rows and how many rows there are in all: read off the page, or
    counted apart only when the page is empty (past the end).
    """
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        return rows, rows[0][-1]
    every = select(func.count()).select_from(query.order_by(None).subquery())
    return rows, db.session.scalar(every) or 0
