"""Events and RSVPs, with capacity enforced atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext, ngettext
from sqlalchemy import and_, bindparam, case, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Campaign, Event, Member, Rsvp, Shift, utcnow
from .. import feed
from ..errors import Conflict, Invalid
from ..groups import current_group
from . import event_notices, waitlist
from .records import Page, assign, commit, get_visible, paginate, visible


def listing(
    viewer: Member | None,
    page: int = 1,
    per_page: int = 20,
    when: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    campaign_id: int | None = None,
) -> Page[Event]:
    """List events the viewer may see: upcoming soonest first, past most recent first."""
    now = utcnow()
    query = visible(select(Event), Event, viewer)
    ends = Event.ends_at
    still_on = or_(
        and_(ends.is_not(None), ends >= now), and_(ends.is_(None), Event.starts_at >= now)
    )
    if when == "upcoming":
        query = query.where(still_on).order_by(Event.starts_at, Event.id)
    elif when == "past":
        query = query.where(~still_on).order_by(Event.starts_at.desc(), Event.id.desc())
    else:
        query = query.order_by(Event.starts_at.desc(), Event.id.desc())
    if kind:
        query = query.where(Event.kind == kind)
    if status:
        query = query.where(Event.status == status)
    if campaign_id:
        query = query.where(Event.campaign_id == campaign_id)
    return paginate(query, page, per_page)


def get(event_id: int, viewer: Member | None) -> Event:
    return get_visible(Event, event_id, viewer)


def _in_utc(value: datetime | None, zone: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(ZoneInfo("UTC"))


# Dates a person is unlikely to mean (defect 18): a start more than five years ahead (year
# 9999) and an event of more than 14 days (a "week of action" is a campaign, or a recurring
# event) are refused; a new event that has already started is saved only when confirmed.
FAR_AHEAD = timedelta(days=5 * 365 + 1)
LONGEST = timedelta(days=14)
# An event without an end is taken to last a day: shifts later than that need an end.
OPEN_ENDED = timedelta(hours=24)
CONFIRM_FIELD = "confirm_dates"


Problems = dict[str, list[str]]


def _date_problems(
    data: dict[str, Any], starts: datetime | None, ends: datetime | None, creating: bool
) -> Problems:
    """Refuse implausible dates; a past start on a new event needs ``confirm_dates``."""
    now = utcnow()
    errors: Problems = {}
    if starts and ends and ends <= starts:
        errors["ends_at"] = [gettext("Must be after the start.")]
    for key, value in (("starts_at", starts), ("ends_at", ends)):
        if key in data and value is not None and value > now + FAR_AHEAD:
            errors.setdefault(key, []).append(
                gettext("Must be within five years from now. Check the year.")
            )
    changed = "starts_at" in data or "ends_at" in data
    if changed and starts and ends and ends - starts > LONGEST:
        errors.setdefault("ends_at", []).append(
            gettext(
                "An event lasts at most 14 days. For longer, make a campaign or a recurring event."
            )
        )
    # Only callers that take dates from a person (the form, the API) pass the confirmation;
    # the service's own callers (series, imports, tests) may create past events freely.
    asked = creating and CONFIRM_FIELD in data and not data[CONFIRM_FIELD]
    if asked and not errors and starts and starts < now:
        errors["starts_at"] = [gettext("This start is in the past. Check the date.")]
        errors[CONFIRM_FIELD] = [gettext("Confirm to create an event that has already started.")]
    return errors


def _zoned(event: Event, data: dict[str, Any]) -> dict[str, Any]:
    """Name the event's time zone in ``data`` and put its times into UTC."""
    data = dict(data)
    zone = data.get("timezone") or event.timezone or current_group().timezone
    data["timezone"] = zone
    for key in ("starts_at", "ends_at"):
        if key in data:
            data[key] = _in_utc(data[key], zone)
    return data


def problems(
    data: dict[str, Any],
    event: Event | None = None,
    *,
    creating: bool = False,
    unreadable: frozenset[str] | set[str] = frozenset(),
) -> Problems:
    """Return what the clock and the database refuse in ``data``: {field: [messages]}.

    Dates too far ahead, too long or already past; shifts a move would leave outside the
    event; an unknown campaign; fewer places than people going.

    Forms call it on the fields that parsed, beside their field errors (``unreadable`` names
    the fields given but not parsed, whose checks are left out); saving checks it again.
    """
    event = event if event is not None else Event(going_count=0)
    data = _zoned(event, data)
    starts = None if "starts_at" in unreadable else data.get("starts_at", event.starts_at)
    ends = None if "ends_at" in unreadable else data.get("ends_at", event.ends_at)
    errors = _date_problems(data, starts, ends, creating)
    if event.id is not None and starts and not errors:
        try:
            _shift_moves(event, starts, ends)  # a shift left outside the moved event
        except Invalid as refused:
            errors.update(refused.fields)
    campaign_id = data.get("campaign_id")
    if campaign_id is not None and db.session.get(Campaign, campaign_id) is None:
        errors["campaign_id"] = [gettext("No campaign has that id.")]
    capacity = None if "capacity" in unreadable else data.get("capacity", event.capacity)
    if capacity is not None and event.going_count and capacity < event.going_count:
        errors["capacity"] = [
            ngettext(
                "%(num)d person is already going; capacity cannot be lower.",
                "%(num)d people are already going; capacity cannot be lower.",
                event.going_count,
            )
        ]
    return errors


def _normalise(event: Event, data: dict[str, Any], creating: bool = False) -> dict[str, Any]:
    """Check the rules that span fields, the clock and the database; put times into UTC."""
    found = problems(data, event, creating=creating)
    if found:
        raise Invalid("Some fields are not valid.", found)
    data = _zoned(event, data)
    data.pop(CONFIRM_FIELD, None)
    return data


def create(data: dict[str, Any]) -> Event:
    """Create an event from validated fields (``confirm_dates`` accepts a past start)."""
    event = Event(status="scheduled", visibility="public", going_count=0)
    assign(event, _normalise(event, data, creating=True))
    db.session.add(event)
    feed.record(event, "create")
    commit()
    return event


@dataclass
class Plan:
    """What saving a change to an event would do: who is told, which shifts move where."""

    data: dict[str, Any]
    change: str | None  # "moved", "cancelled", "postponed", "back on" or None
    told: event_notices.Audience
    moves: list[tuple[Shift, datetime, datetime]] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return self.change is not None and self.told.total > 0


def _shift_moves(
    event: Event, starts: datetime, ends: datetime | None
) -> list[tuple[Shift, datetime, datetime]]:
    """Move the event's shifts by as much as its start moves; refuse any left outside it."""
    if starts == event.starts_at and ends == event.ends_at:
        return []  # nothing about the times changes: shifts stay as they are
    delta = starts - event.starts_at
    found = db.session.scalars(
        select(Shift).where(Shift.event_id == event.id).order_by(Shift.starts_at, Shift.id)
    )
    moves, outside = [], []
    for shift in found:
        moved = (shift, shift.starts_at + delta, shift.ends_at + delta)
        if delta:
            moves.append(moved)
        too_late = moved[2] > ends if ends else moved[1] >= starts + OPEN_ENDED
        if moved[1] < starts or too_late:
            outside.append(moved)
    if outside:
        zone = ZoneInfo(event.timezone)
        named = ", ".join(
            f"{shift.label or 'a shift'} ({a.astimezone(zone):%a %d %b %H:%M}"
            f"–{b.astimezone(zone):%H:%M})"
            for shift, a, b in outside
        )
        latest = max(b for _, _, b in outside).astimezone(zone)
        raise Invalid.on(
            "ends_at",
            ngettext(
                "%(num)d shift would fall outside the event: %(named)s. Either end the event "
                "at %(latest)s or later, or change or remove that shift on the Shifts page "
                "first.",
                "%(num)d shifts would fall outside the event: %(named)s. Either end the event "
                "at %(latest)s or later, or change or remove those shifts on the Shifts page "
                "first.",
                len(outside),
                named=named,
                latest=format(latest, "%a %d %b %H:%M"),
            ),
        )
    return moves


def plan(event: Event, data: dict[str, Any]) -> Plan:
    """Check a change without saving it, saying who would be told and which shifts move."""
    data = _normalise(event, data)
    starts = data.get("starts_at", event.starts_at)
    ends = data.get("ends_at", event.ends_at)
    status = data.get("status", event.status)
    moves = _shift_moves(event, starts, ends)
    change = event_notices.change_between(event.status, event.starts_at, status, starts)
    return Plan(data, change, event_notices.audience(event), moves)


def update(event: Event, data: dict[str, Any]) -> Event:
    """Apply validated changes; shifts move with the start, and those who answered are told."""
    planned = plan(event, data)
    before = (event.status, event.starts_at)
    assign(event, planned.data)
    for shift, starts, ends in planned.moves:
        shift.starts_at, shift.ends_at = starts, ends
    feed.record(event, "update")
    event_notices.changed(event, *before)
    if "capacity" in data:
        db.session.flush()
        waitlist.promote(event.id)  # more room: the waiting list moves up
    commit()
    return event


def cancel(event: Event) -> Event:
    """Mark an event cancelled; RSVPs are kept, and everyone who answered is e-mailed."""
    before = (event.status, event.starts_at)
    event.status = "cancelled"
    feed.record(event, "cancel")
    event_notices.changed(event, *before)
    commit()
    return event


def delete(event: Event) -> int:
    """Delete an event; everyone who answered a still-coming one is told; return how many."""
    told = 0
    if event.status != "cancelled" and not is_over(event):
        told = event_notices.deleted(event)
    feed.record(event, "delete")
    db.session.delete(event)
    commit()
    return told


def is_over(event: Event) -> bool:
    """Say whether an event has finished (or started, when it has no end)."""
    return (event.ends_at or event.starts_at) < utcnow()


def has_begun(event: Event) -> bool:
    """Say whether an event has started (so how many came can be recorded)."""
    return event.starts_at <= utcnow()


def spaces_left(event: Event) -> int | None:
    """Return how many more can say they are going, or None without a capacity."""
    if event.capacity is None:
        return None
    return max(0, event.capacity - event.going_count)


def rsvp_of(event: Event, member: Member | None) -> Rsvp | None:
    if member is None:
        return None
    return db.session.scalar(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.member_id == member.id)
    )


_RSVP = Rsvp.__table__.c
# Built once, run on the connection: a member's every view of a page of events asks it.
_ANSWERS = select(_RSVP.event_id, _RSVP.response).where(
    _RSVP.member_id == bindparam("member_id"), _RSVP.event_id.in_(bindparam("ids", expanding=True))
)


def rsvps_of(member: Member | None, event_ids: list[int]) -> dict[int, str]:
    """Map event id to the member's response for the given events, in one query."""
    if member is None or not event_ids:
        return {}
    rows = db.session.connection().execute(_ANSWERS, {"member_id": member.id, "ids": event_ids})
    return {row[0]: row[1] for row in rows}


def upcoming_answers(member: Member, limit: int = 50) -> list[tuple[Event, str]]:
    """List the member's answers to events still to come, soonest first, in one query."""
    now = utcnow()
    still_on = or_(
        and_(Event.ends_at.is_not(None), Event.ends_at >= now),
        and_(Event.ends_at.is_(None), Event.starts_at >= now),
    )
    rows = db.session.execute(
        select(Event, Rsvp.response)
        .join(Rsvp, Rsvp.event_id == Event.id)
        .where(Rsvp.member_id == member.id, still_on)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def take_places(event_id: int, places: int) -> bool:
    """Take ``places`` places at once if there is room for all of them; say whether it did.

    One UPDATE that only succeeds while there is room: atomic on both databases, so two
    people (or a member and a twinned group's RSVP) racing for the last place cannot both
    get it. Nothing is committed or rolled back here.
    """
    taken = db.session.execute(
        sql_update(Event)
        .where(
            Event.id == event_id,
            or_(Event.capacity.is_(None), Event.going_count + places <= Event.capacity),
        )
        .values(going_count=Event.going_count + places)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def free_places(event_id: int, places: int) -> None:
    """Give back ``places`` places (never below zero), without committing.

    The places go first to whoever waits for one, in the same transaction.
    """
    db.session.execute(
        sql_update(Event)
        .where(Event.id == event_id, Event.going_count > 0)
        .values(
            going_count=case((Event.going_count >= places, Event.going_count - places), else_=0)
        )
        .execution_options(synchronize_session=False)
    )
    waitlist.promote(event_id)


def _take_place(event: Event) -> None:
    if not take_places(event.id, 1):
        db.session.rollback()
        raise Conflict(gettext("This event is full."), {"response": [gettext("No places left.")]})


def _free_place(event: Event) -> None:
    free_places(event.id, 1)


def respond(event: Event, member: Member, response: str) -> Rsvp:
    """Record a member's RSVP, taking or freeing a place as the answer changes."""
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    if is_over(event):
        raise Conflict(gettext("This event is over."))
    for attempt in range(2):
        existing = rsvp_of(event, member)
        before = existing.response if existing else None
        if before == "going" and response != "going":
            _free_place(event)
        elif response == "going" and before != "going":
            _take_place(event)
        if response == "going":
            waitlist.leave(event, member=member)
        if existing is None:
            existing = Rsvp(event_id=event.id, member_id=member.id, response=response)
            db.session.add(existing)
        else:
            existing.response = response
        try:
            db.session.commit()
        except IntegrityError:
            # The same member answered twice at once: the other answer won; apply ours over it.
            db.session.rollback()
            if attempt == 1:
                raise Conflict(
                    gettext("Your answer changed while this one was saved; try again.")
                ) from None
            continue
        db.session.refresh(event)
        return existing
    raise AssertionError("unreachable")


def withdraw(event: Event, member: Member) -> None:
    """Remove a member's RSVP, freeing their place."""
    waitlist.leave(event, member=member)
    existing = rsvp_of(event, member)
    if existing is None:
        db.session.commit()
        return
    if existing.response == "going":
        _free_place(event)
    db.session.execute(sql_delete(Rsvp).where(Rsvp.id == existing.id))
    db.session.commit()
    db.session.refresh(event)


MAX_ATTENDED = 1_000_000


def record_attended(event: Event, attended: int) -> Event:
    """Record how many came to an event once it has begun; the number goes on the feed."""
    if isinstance(attended, bool) or not isinstance(attended, int):
        raise Invalid.on("attended_count", gettext("Give a whole number."))
    if not 0 <= attended <= MAX_ATTENDED:
        raise Invalid.on(
            "attended_count",
            gettext(
                "Give a number from 0 to %(max_attended)s.", max_attended=format(MAX_ATTENDED, ",")
            ),
        )
    if event.status == "cancelled":
        raise Conflict(
            gettext("This event is cancelled."), {"attended_count": [gettext("It was cancelled.")]}
        )
    if not has_begun(event):
        raise Conflict(
            gettext("Attendance can be recorded once the event has begun."),
            {"attended_count": [gettext("The event has not begun yet.")]},
        )
    event.attended_count = attended
    feed.record(event, "update")  # an Update carrying attendedCount (a number, never names)
    commit()
    return event


def attendance(event: Event) -> dict[str, int]:
    """Count responses for an event."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(Rsvp.response, func.count()).where(Rsvp.event_id == event.id).group_by(Rsvp.response)
    )
    counts = {"going": 0, "maybe": 0, "not_going": 0}
    counts.update({row[0]: row[1] for row in rows})
    return counts


def responses_listing(
    event: Event, page: int = 1, per_page: int = 20, response: str | None = None
) -> Page[Rsvp]:
    """List one page of who answered, with their member loaded, for organisers."""
    from sqlalchemy.orm import selectinload

    query = select(Rsvp).where(Rsvp.event_id == event.id).options(selectinload(Rsvp.member))
    if response:
        query = query.where(Rsvp.response == response)
    return paginate(query.order_by(Rsvp.response, Rsvp.created_at, Rsvp.id), page, per_page)


def responses(event: Event) -> list[Rsvp]:
    """List who answered, for organisers."""
    from sqlalchemy.orm import selectinload

    query = (
        select(Rsvp)
        .where(Rsvp.event_id == event.id)
        .options(selectinload(Rsvp.member))
        .order_by(Rsvp.response, Rsvp.created_at)
    )
    return list(db.session.scalars(query))
