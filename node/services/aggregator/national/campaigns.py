"""The followed groups' campaigns, by kind and status, and how many there are of each."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

from ....extensions import db
from ....models import Peer, RemoteObject
from ...organising.records import Page
from .lists import paginate, sorting
from .remote import ItemBase, base_fields, data_of, live


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
    data = data_of(stored)
    return CampaignRow(
        **base_fields(stored),
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
    conditions = [live("Campaign")]
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
    found = paginate(query, page, per_page, count)
    return replace(found, items=[_campaign_row(stored) for stored in found.items])


def campaign_counts() -> list[tuple[str | None, str | None, int]]:
    """Count the followed groups' campaigns by kind and status."""
    query = (
        select(RemoteObject.kind, RemoteObject.status, func.count(RemoteObject.id))
        .where(live("Campaign"))
        .group_by(RemoteObject.kind, RemoteObject.status)
        .order_by(RemoteObject.kind, RemoteObject.status)
    )
    return [(kind, status, count) for kind, status, count in db.session.execute(query)]
