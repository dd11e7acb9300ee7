"""The followed groups as the national pages list them: profile, seat and sync state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from ....models import Peer
from ...organising.records import Page
from .lists import followed, like, paginate, sorting

# Peer.state as people read it (schemas.network.SYNC_STATES lists the same states).
STATE_LABELS = {
    "in_step": "In step",
    "behind": "Behind",
    "unreachable": "Unreachable",
    "chain_broken": "Chain broken",
    "key_changed": "Key changed",
    "new": "Not synced yet",
}

AUDITED_STATES = ("chain_broken", "key_changed")


@dataclass(frozen=True)
class GroupRow:
    """A followed group with its profile and sync state."""

    id: int
    actor_id: str
    name: str
    handle: str
    url: str
    area: str
    seat_name: str
    seat_majority: int | None
    seat_marginality: float | None
    latitude: float | None
    longitude: float | None
    state: str
    state_reason: str
    behind_by: int
    last_activity_at: datetime | None

    @property
    def state_label(self) -> str:
        if self.state == "behind":
            return f"Behind {self.behind_by}"
        return STATE_LABELS.get(self.state, self.state.replace("_", " ").capitalize())


# What a GroupRow is read from, as columns (named like Peer's attributes).
GROUP_COLUMNS = (
    Peer.id,
    Peer.actor_id,
    Peer.name,
    Peer.handle,
    Peer.url,
    Peer.area,
    Peer.seat_name,
    Peer.seat_majority,
    Peer.seat_marginality,
    Peer.latitude,
    Peer.longitude,
    Peer.state,
    Peer.state_reason,
    Peer.head_seq,
    Peer.held_seq,
    Peer.last_activity_at,
)


def group_row(peer: Any) -> GroupRow:
    """Read a GroupRow from a Peer or a row of GROUP_COLUMNS."""
    return GroupRow(
        id=peer.id,
        actor_id=peer.actor_id,
        name=peer.name or peer.handle or peer.actor_id,
        handle=peer.handle,
        url=peer.url or peer.actor_id,
        area=peer.area,
        seat_name=peer.seat_name,
        seat_majority=peer.seat_majority,
        seat_marginality=peer.seat_marginality,
        latitude=peer.latitude,
        longitude=peer.longitude,
        state=peer.state,
        # Why a feed stopped verifying is for anyone to audit; why a server did not answer
        # (connection errors, addresses) is the operator's business, not the public's.
        state_reason=peer.state_reason if peer.state in AUDITED_STATES else "",
        behind_by=max(0, peer.head_seq - peer.held_seq),
        last_activity_at=peer.last_activity_at,
    )


GROUP_ORDER = {
    "name": func.lower(Peer.name),
    "area": func.lower(Peer.area),
    "marginality": Peer.seat_marginality,
    "activity": Peer.last_activity_at,
}


def groups(
    *,
    q: str | None = None,
    state: str | None = None,
    sort: str | None = None,
    dir: str | None = None,  # the query argument's name: asc or desc
    page: int = 1,
    per_page: int = 20,
) -> Page[GroupRow]:
    """Page through the followed groups, filtered by words and state, sorted by a column."""
    query = select(Peer).where(Peer.id.in_(followed()), Peer.actor_type == "Group")
    if q:
        pattern = like(q)
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (Peer.name, Peer.handle, Peer.area, Peer.seat_name)
                )
            )
        )
    if state:
        query = query.where(Peer.state == state)
    sort, direction = sorting("groups", sort, dir)
    column = GROUP_ORDER[sort]
    # Empty and unknown values sort last whichever way the column is sorted.
    blank = column.is_(None) if sort in ("marginality", "activity") else column == ""
    ordered = column.desc() if direction == "desc" else column.asc()
    query = query.order_by(blank, ordered, func.lower(Peer.name), Peer.id)
    found = paginate(query, page, per_page)
    return replace(found, items=[group_row(peer) for peer in found.items])
