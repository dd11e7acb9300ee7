"""A twinned group's event, announced to this group's own members the way an ask is passed on:
a draft announcement the organisers edit and send from their own node."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ...extensions import db
from ...models import Announcement, Member
from ...models.types import utcnow
from ..errors import Conflict
from ..groups import current_group
from ..organising.records import commit
from ..twins import outgoing_rsvps

KIND = "announcement"


def announce(event_row_id: int, *, by: Member | None = None) -> Announcement:
    """Make a draft announcement of a twin's upcoming event to all members and commit."""
    found = outgoing_rsvps.twin_event(event_row_id, None)  # a 404 when it is no twin's event
    if not found.open:
        raise Conflict("This event is over or cancelled: there is nothing to announce.")
    twin = found.peer.name or found.peer.actor_id
    lines = [f"**{twin}**, the group we are twinned with, holds this event.", ""]
    if found.starts_at is not None:
        local = found.starts_at.astimezone(ZoneInfo(found.timezone))
        lines.append(f"**When:** {local:%A %d %B %Y, %H:%M} ({found.timezone} time)  ")
    if found.place:
        lines.append(f"**Where:** {found.place}")
    group = current_group()
    page = f"{group.base_url}/twins/events/{found.id}" if group is not None else found.url
    lines += ["", f"Say whether you are coming: {page}"]
    now = utcnow()
    announcement = Announcement(
        subject=found.title[:200],
        body="\n".join(lines) + "\n",
        kind=KIND,
        audience="members",
        status="draft",
        origin=f"twin-event:{found.object_id}"[:500],
        created_by_id=by.id if by is not None else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(announcement)
    commit()
    return announcement
