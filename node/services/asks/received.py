"""Asks from the groups this one follows: kept when they concern this group, then decided.

``keep`` is called for every verified entry of a followed group's feed (pushed or pulled,
``peering.remote_feed``): an ``Offer`` of an ``Ask`` is kept in the organisers' queue when
it asks all the asker's followers, or when this group's own location (its profile) lies
within the ask's area; anything else is left on the feed, unqueued. Organisers then pass an
ask on (a draft announcement to this group's members, attributed to the asker, that they
may edit before sending) or decline it; ``replies`` tells the asker, with counts only.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from federation.urls import same_origin
from schemas.asks import BODY_MAX, PLACE_MAX, SUBJECT_MAX
from schemas.common import CONTROL_CHARS

from ...extensions import db
from ...models import Announcement, Group, InboundAsk, Member, Peer
from ...models.types import utcnow
from .. import geo
from ..errors import Conflict, NotFound
from ..messaging import announcements
from ..organising.records import commit
from ..peering.remote_objects import moment

NEW = "new"
SEEN = "seen"
PASSED_ON = "passed_on"
DECLINED = "declined"
STATES = (NEW, SEEN, PASSED_ON, DECLINED)
OPEN = (NEW, SEEN)
ASK_KIND = "network_ask"  # the kind of message an ask passed on is (messaging.kinds)
TAGS = re.compile(r"<[^>]*>")


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return CONTROL_CHARS.sub("", value).strip()[:limit]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def keep(peer: Peer, entry: dict[str, Any], group: Group | None) -> InboundAsk | None:
    """Queue the ask ``entry`` carries if it concerns ``group``; return the row kept, if any.

    The caller has verified the entry (its proof, its place in the chain, that it comes
    from ``peer``'s own server) and does not commit here.
    """
    if entry.get("type") != "Offer" or group is None:
        return None
    obj = entry.get("object")
    if not isinstance(obj, dict) or obj.get("type") != "Ask":
        return None
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not same_origin(object_id, peer.actor_id):
        return None
    if obj.get("attributedTo") not in (None, peer.actor_id):
        return None
    offer_id = entry.get("id")
    if not isinstance(offer_id, str):
        return None
    everyone = obj.get("askReach") == "followers"
    radius = distance = None
    area_name = ""
    if not everyone:
        place = obj.get("location")
        latitude, longitude = geo.place_of(place)
        radius = _number(place.get("radius")) if isinstance(place, dict) else None
        units = place.get("units", "km") if isinstance(place, dict) else None
        if latitude is None or radius is None or radius < 0 or units != "km":
            return None  # an area this node cannot read: not ours to act on
        if group.latitude is None or group.longitude is None:
            return None  # a group with no location is inside no area
        distance = geo.distance_km(latitude, longitude, group.latitude, group.longitude)
        if not geo.within(distance, radius):
            return None
        area_name = _text(place.get("name"), PLACE_MAX)
    held = db.session.scalar(select(InboundAsk).where(InboundAsk.offer_activity_id == offer_id))
    if held is not None:
        return held
    source = obj.get("source")
    body = source.get("content") if isinstance(source, dict) else None
    if not isinstance(body, str):
        # No Markdown source: keep the words of the HTML, never its tags.
        body = (
            unescape(TAGS.sub("", obj.get("content") or ""))
            if isinstance(obj.get("content"), str)
            else ""
        )
    ask = InboundAsk(
        peer_id=peer.id,
        offer_activity_id=offer_id[:2000],
        object_id=object_id[:2000],
        subject=_text(obj.get("name"), SUBJECT_MAX) or "(an ask with no subject)",
        body=CONTROL_CHARS.sub("", body)[:BODY_MAX],
        when_text=_text(obj.get("askWhen"), PLACE_MAX),
        where_text=_text(obj.get("askWhere"), PLACE_MAX),
        all_followers=everyone,
        area_name=area_name,
        radius_km=radius,
        distance_km=None if distance is None else round(distance, 1),
        respond_by=moment(obj.get("respondBy")),
        published_at=moment(obj.get("published")) or moment(entry.get("published")),
        received_at=utcnow(),
        state=NEW,
    )
    db.session.add(ask)
    return ask


# The organisers' queue ----------------------------------------------------------------


def queue(state: str | None = None, limit: int = 200) -> list[InboundAsk]:
    """List the asks received, open ones first, newest first within each."""
    query = select(InboundAsk).order_by(InboundAsk.received_at.desc(), InboundAsk.id.desc())
    if state:
        query = query.where(InboundAsk.state == state)
    found = list(db.session.scalars(query.limit(limit)))
    return sorted(found, key=lambda ask: ask.state not in OPEN)


def get(ask_id: int) -> InboundAsk:
    """Return one received ask (a 404 when there is none)."""
    found = db.session.get(InboundAsk, ask_id)
    if found is None:
        raise NotFound(gettext("No such ask."))
    return found


def asker_name(ask: InboundAsk) -> str:
    """Return the asking group's public name."""
    return ask.peer.name or ask.peer.handle or ask.peer.actor_id


def mark_seen(ask: InboundAsk) -> InboundAsk:
    """Mark a new ask as seen by the organisers (a POST: a GET changes nothing)."""
    if ask.state == NEW:
        ask.state = SEEN
        commit()
    return ask


def _announcement_body(ask: InboundAsk) -> str:
    lines = [f"**Asked by {asker_name(ask)}**, a group this group follows.", ""]
    if ask.when_text:
        lines.append(f"**When:** {ask.when_text}  ")
    if ask.where_text:
        lines.append(f"**Where:** {ask.where_text}")
    if ask.when_text or ask.where_text:
        lines.append("")
    lines.append(ask.body)
    return "\n".join(lines).strip() + "\n"


def pass_on(ask: InboundAsk, *, by: Member | None = None) -> Announcement:
    """Make a draft announcement of the ask to this group's members and commit; return it."""
    if ask.state not in OPEN:
        raise Conflict(gettext("This ask has already been passed on or declined."))
    now = utcnow()
    announcement = announcements.stage(
        by,
        subject=ask.subject[:200],
        body=_announcement_body(ask),
        kind=ASK_KIND,
        origin=f"ask:{ask.id}",
    )
    ask.announcement_id = announcement.id
    ask.state = PASSED_ON
    ask.decided_by_id = by.id if by is not None else None
    ask.decided_at = now
    commit()
    return announcement


def decline(ask: InboundAsk, *, by: Member | None = None) -> InboundAsk:
    """Decline an ask and commit; the worker tells the asker (no reason, no names)."""
    if ask.state not in OPEN:
        raise Conflict(gettext("This ask has already been passed on or declined."))
    ask.state = DECLINED
    ask.decided_by_id = by.id if by is not None else None
    ask.decided_at = utcnow()
    commit()
    return ask
