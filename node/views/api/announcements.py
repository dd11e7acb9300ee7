"""Announcements: organisers draft, count, send or schedule, and cancel messages to members."""

from __future__ import annotations

from typing import Any

from schemas import api as shapes
from schemas.announcements import AnnouncementIn, AnnouncementOut, ReachOut, SendIn
from schemas.common import PageArgs

from ...models import Announcement
from ...services.messaging import announcements
from .access import caller, operation, token
from .blueprint import bp
from .content import ID
from .exchange import body, created, page_response, query_args

ANNOUNCE = token("announce", "organiser")
ALL = "/announcements"
ONE = f"/announcements/<{ID}:announcement_id>"


def _full(found: Announcement) -> dict[str, Any]:
    document = AnnouncementOut().dump(found)
    document["audience_description"] = announcements.describe(found)
    document["counts"] = announcements.counts([found.id])[found.id]
    document["reach"] = announcements.reach(found) if found.status == announcements.DRAFT else None
    return document


@bp.get(ALL)
@operation(
    "List announcements",
    ANNOUNCE,
    query=PageArgs,
    response=shapes.page_of(AnnouncementOut),
    description="Newest first, each with its messages counted by status.",
)
def list_announcements():
    args = query_args(PageArgs())
    found = announcements.page(args["page"], args["per_page"])
    document = page_response(found, AnnouncementOut())
    numbers = announcements.counts([a.id for a in found.items])
    for item, announcement in zip(document["items"], found.items, strict=True):
        item["audience_description"] = announcements.describe(announcement)
        item["counts"] = numbers[announcement.id]
    return document


@bp.post(ALL)
@operation(
    "Draft an announcement",
    ANNOUNCE,
    body=AnnouncementIn,
    response=AnnouncementOut,
    status=201,
    description="The audience is `members` (all active members), `event_going`, "
    "`event_waitlist` or `event_guests` (audience_ref: an event), `event_shift` (a shift) "
    "or `ballot_not_voted` (an open ballot: members who may vote and have not; never how "
    "anyone voted). Guests are sent it as guest mail, so it cannot be `required`.",
)
def create_announcement():
    data = body(AnnouncementIn())
    found = announcements.draft(caller(), **data)
    return created(_full(found), "api.get_announcement", announcement_id=found.id)


@bp.get(ONE)
@operation(
    "Get an announcement",
    ANNOUNCE,
    response=AnnouncementOut,
    description="With its messages counted by status and, for a draft, how many it "
    "would reach now.",
    errors=(404,),
)
def get_announcement(announcement_id: int):
    return _full(announcements.get(announcement_id))


@bp.patch(ONE)
@operation(
    "Change a draft announcement",
    ANNOUNCE,
    body=AnnouncementIn,
    response=AnnouncementOut,
    description="Send only the fields to change. Only a draft can be changed (409).",
    errors=(404, 409),
)
def update_announcement(announcement_id: int):
    found = announcements.get(announcement_id)
    data = body(AnnouncementIn(), partial=True)
    return _full(announcements.update(found, **data))


@bp.get(f"{ONE}/reach")
@operation(
    "Count whom an announcement would reach now",
    ANNOUNCE,
    response=ReachOut,
    description="After members' choices, stopped and suppressed addresses.",
    errors=(404,),
)
def announcement_reach(announcement_id: int):
    return {"reach": announcements.reach(announcements.get(announcement_id))}


@bp.post(f"{ONE}/send")
@operation(
    "Send or schedule a draft announcement",
    ANNOUNCE,
    body=SendIn,
    response=AnnouncementOut,
    description="Without send_at it is queued to its audience now (status `sent`, "
    "`recipients` the number queued); with send_at (at least a minute ahead, within a "
    "year) it is `scheduled` and the worker queues it then. A `required` message needs "
    "rules_require true. The node's MAIL_RATE_PER_MINUTE paces the sending.",
    errors=(404, 409),
)
def send_announcement(announcement_id: int):
    found = announcements.get(announcement_id)
    data = body(SendIn())
    announcements.schedule(
        found, send_at=data.get("send_at"), rules_require=data.get("rules_require", False)
    )
    return _full(found)


@bp.post(f"{ONE}/cancel")
@operation(
    "Cancel an announcement before it is sent",
    ANNOUNCE,
    response=AnnouncementOut,
    description="A draft or a scheduled announcement; one already sent answers 409.",
    errors=(404, 409),
)
def cancel_announcement(announcement_id: int):
    return _full(announcements.cancel(announcements.get(announcement_id)))
