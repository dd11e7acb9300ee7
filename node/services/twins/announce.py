"""A twinned group's event, passed on to this group's own members as an announcement draft.

The organiser gets a draft to edit, choose the audience of and send like any announcement
(``/manage/messages/<id>``); nothing is sent from here. The draft's ``origin`` names the
twin's event (``twin-event:<its address>``), so a second click opens the same draft
rather than making another.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from ...extensions import db
from ...models import Announcement, Member
from ..messaging import announcements
from ..messaging.outbox import link, literal
from .outgoing_rsvps import TwinEvent

ORIGIN_MAX = 500  # Announcement.origin
SUBJECT_MAX = 200  # Announcement.subject


def origin_of(found: TwinEvent) -> str:
    """Name the twin's event as an announcement's origin."""
    return f"twin-event:{found.object_id}"[:ORIGIN_MAX]


def _when(found: TwinEvent) -> str:
    if found.starts_at is None:
        return ""
    try:
        zone = ZoneInfo(found.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{found.starts_at.astimezone(zone):%a %d %b %Y, %H:%M} ({zone.key} time)"


def body_of(found: TwinEvent) -> str:
    """Write the announcement's Markdown: what the event is, when, where, and its link."""
    twin = " ".join((found.peer.name or found.peer.actor_id).split())
    lines = [
        f"{literal(twin)}, the group we are twinned with, invites us to: "
        f"**{literal(found.title)}**",
        "",
    ]
    when = _when(found)
    if when:
        lines.append(f"When: {when}  ")
    if found.place:
        lines.append(f"Where: {literal(' '.join(found.place.split()))}  ")
    if found.url:
        lines.append(f"More, and how to say you are coming: {link(found.url)}")
    return "\n".join(lines).rstrip() + "\n"


def draft(found: TwinEvent, by: Member) -> Announcement:
    """Return the draft announcing ``found`` to this group's members, made if there is none.

    Until the announcements service is merged this makes the row itself; the lead switches
    it to ``announcements.draft``.
    """
    origin = origin_of(found)
    existing = db.session.scalar(
        select(Announcement)
        .where(Announcement.origin == origin, Announcement.status == "draft")
        .order_by(Announcement.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing
    twin = " ".join((found.peer.name or "Our twinned group").split())
    return announcements.draft(
        by,
        subject=f"{twin}: {' '.join(found.title.split())}"[:SUBJECT_MAX],
        body=body_of(found),
        origin=origin,
    )
