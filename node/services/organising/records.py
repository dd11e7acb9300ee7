"""Shared mechanics for the content services: visibility, paging, applying validated fields."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask_babel import gettext
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Member
from ..errors import Conflict, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def can_see_members_only(viewer: Member | None) -> bool:
    """Say whether ``viewer`` may read members-only items."""
    return viewer is not None and viewer.is_active


def visible(query: Select, model: type, viewer: Member | None) -> Select:
    """Restrict ``query`` to the items ``viewer`` may read."""
    if can_see_members_only(viewer):
        return query
    return query.where(model.visibility == "public")


def paginate(query: Select, page: int, per_page: int) -> Page:
    """Run ``query`` for one page, with the total, in two statements."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)


def get_visible(model: type[T], item_id: int, viewer: Member | None) -> T:
    """Fetch one item, as a 404 when it is missing or hidden from ``viewer``."""
    item = db.session.get(model, item_id)
    if item is None:
        raise NotFound(gettext("No such %(lower)s.", lower=model.__name__.lower()))
    if getattr(item, "visibility", "public") != "public" and not can_see_members_only(viewer):
        # Hidden items look exactly like missing ones, so their existence does not leak.
        raise NotFound(gettext("No such %(lower)s.", lower=model.__name__.lower()))
    return item


def assign(item: Any, data: dict[str, Any]) -> None:
    """Copy validated fields onto ``item``; None clears a text column to ''."""
    table = item.__table__
    for key, value in data.items():
        column = table.columns.get(key)
        if value is None and column is not None and not column.nullable:
            value = ""
        setattr(item, key, value)


def commit() -> None:
    """Commit the unit of work, turning a uniqueness clash into a 409 with nothing written."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(gettext("That clashes with something already stored.")) from exc
