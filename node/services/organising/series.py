"""Recurring events: an event made to repeat by an RFC 5545 RRULE, with dates taken out.

Every occurrence is an ordinary Event row, made ahead of time up to a horizon
(SERIES_HORIZON_DAYS) when the series is created and then by the worker, so each is
RSVPed, edited, cancelled and federated on its own. The rule is read in the series' time
zone on the first occurrence's wall-clock time, so the Saturday stall at 10:00 stays at
10:00 when the clocks change. An occurrence is never made twice: each row keeps the start
the rule gave it (``occurrence_at``, unique per series), even when it is moved later.

Skipping a date records an exception (so the date is not made again) and removes the
occurrence: deleted when nobody answered it, otherwise cancelled, which e-mails those who
did. Restoring the date brings it back. Stopping the series ends the rule at a date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from flask import current_app
from flask_babel import gettext
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError

from schemas.common import FIRST_YEAR, LAST_YEAR

from ...extensions import db
from ...models import (
    Campaign,
    Event,
    EventSeries,
    GuestRsvp,
    RemoteRsvp,
    Rsvp,
    SeriesException,
    Shift,
    utcnow,
)
from .. import feed
from ..errors import Conflict, Invalid, NotFound
from . import events
from .records import commit, visible

# The fields an occurrence is made with: everything but its times, status and counts.
DETAILS = (
    "title",
    "description",
    "kind",
    "timezone",
    "place_name",
    "address",
    "latitude",
    "longitude",
    "online_url",
    "capacity",
    "campaign_id",
    "accessibility",
    "visibility",
)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST")
MAX_COUNT = 520  # ten years of a weekly event
MAX_PER_PASS = 400  # occurrences one call makes, so a daily rule cannot stall a request
RULE_TEXT = re.compile(r"[A-Z0-9=;,+\-]+")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# Rules --------------------------------------------------------------------------------


def _refuse(message: str) -> Invalid:
    return Invalid.on("rule", message)


def normalise_rule(text: str) -> str:
    """Upper-case a rule, drop an ``RRULE:`` prefix and blanks, and check its parts."""
    rule = re.sub(r"\s+", "", text or "").upper().removeprefix("RRULE:")
    if not rule:
        raise _refuse(gettext("Give a repeat rule."))
    if len(rule) > 300 or not RULE_TEXT.fullmatch(rule):
        raise _refuse(
            gettext("Write the rule as RRULE parts, for example FREQ=WEEKLY;BYDAY=SA;COUNT=10.")
        )
    parts: dict[str, str] = {}
    for piece in rule.split(";"):
        name, _, value = piece.partition("=")
        if name not in PARTS or not value or name in parts:
            raise _refuse(
                gettext("“%(piece)s” is not a part this node repeats events by.", piece=piece)
            )
        parts[name] = value
    if parts.get("FREQ") not in FREQUENCIES:
        raise _refuse(gettext("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY."))
    if "COUNT" in parts and "UNTIL" in parts:
        raise _refuse(gettext("Give COUNT or UNTIL, not both."))
    if "COUNT" in parts and not (
        parts["COUNT"].isdigit() and 1 <= int(parts["COUNT"]) <= MAX_COUNT
    ):
        raise _refuse(
            gettext("COUNT must be a number from 1 to %(max_count)s.", max_count=MAX_COUNT)
        )
    if "INTERVAL" in parts and not (
        parts["INTERVAL"].isdigit() and 1 <= int(parts["INTERVAL"]) <= 99
    ):
        raise _refuse(gettext("INTERVAL must be a number from 1 to 99."))
    if "UNTIL" in parts:
        if not re.fullmatch(r"\d{8}(T\d{6})?", parts["UNTIL"]):
            raise _refuse(
                gettext("Give UNTIL as a local date, YYYYMMDD (or YYYYMMDDTHHMMSS), without Z.")
            )
        if not FIRST_YEAR <= int(parts["UNTIL"][:4]) <= LAST_YEAR:
            raise _refuse(
                gettext(
                    ("UNTIL must fall between the years %(first_year)s and %(last_year)s."),
                    first_year=FIRST_YEAR,
                    last_year=LAST_YEAR,
                )
            )
        if len(parts["UNTIL"]) == 8:
            parts["UNTIL"] += "T235959"  # a day: the whole of it, in the series' zone
    return ";".join(f"{name}={value}" for name, value in parts.items())


def parse_rule(rule: str, starts_local: datetime) -> rrule:
    """Turn a normalised rule into dateutil's rrule from ``starts_local`` (naive, local)."""
    try:
        parsed = rrulestr(rule, dtstart=starts_local)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _refuse(gettext("That rule cannot be read: %(exc)s.", exc=exc)) from None
    if not isinstance(parsed, rrule):
        raise _refuse(gettext("Give one rule."))
    return parsed


def build_rule(event: Event, frequency: str, count: int | None, until: date | None) -> str:
    """Write the rule for one of the form's plain choices, from the event's own date."""
    local = _local(event.starts_at, event.timezone)
    day = WEEKDAYS[local.weekday()]
    nth = (local.day - 1) // 7 + 1
    by_weekday = f"-1{day}" if nth == 5 else f"{nth}{day}"
    rules = {
        "daily": "FREQ=DAILY",
        "weekly": f"FREQ=WEEKLY;BYDAY={day}",
        "fortnightly": f"FREQ=WEEKLY;INTERVAL=2;BYDAY={day}",
        "monthly_weekday": f"FREQ=MONTHLY;BYDAY={by_weekday}",
        "monthly_date": f"FREQ=MONTHLY;BYMONTHDAY={local.day}",
    }
    if frequency not in rules:
        raise Invalid.on("frequency", gettext("Choose how often it repeats."))
    rule = rules[frequency]
    if count is not None:
        rule += f";COUNT={count}"
    elif until is not None:
        rule += f";UNTIL={until:%Y%m%d}T235959"
    return rule


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}.get(n, f"{n}th")


def _every(interval: int, unit: str) -> str:
    if interval == 1:
        return f"every {unit}"
    if (interval, unit) == (2, "week"):
        return "every other week"
    return f"every {interval} {unit}s"


def describe(series: EventSeries) -> str:
    """Say in words how a series repeats, for the common rules (the rule itself otherwise)."""
    parts = dict(piece.partition("=")[::2] for piece in series.rule.split(";"))
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[parts["FREQ"]]
    words = _every(int(parts.get("INTERVAL", "1")), unit)
    byday = parts.get("BYDAY", "")
    match = re.fullmatch(r"([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)", byday)
    if match and match.group(1) and unit == "month":
        day = DAY_NAMES[WEEKDAYS.index(match.group(2))]
        words = f"the {_ordinal(int(match.group(1)))} {day} of {words}"
    elif match and not match.group(1):
        words += f" on {DAY_NAMES[WEEKDAYS.index(match.group(2))]}"
    elif byday or set(parts) - {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTHDAY"}:
        return f"By the rule {series.rule}"
    elif "BYMONTHDAY" in parts and unit == "month":
        words = f"on day {parts['BYMONTHDAY']} of {words}"
    if "COUNT" in parts:
        words += f", {parts['COUNT']} times"
    elif "UNTIL" in parts:
        words += f", until {datetime.strptime(parts['UNTIL'][:8], '%Y%m%d'):%d %b %Y}"
    return words[0].upper() + words[1:]


# Times --------------------------------------------------------------------------------


def _local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _utc(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def horizon(now: datetime | None = None) -> datetime:
    days = float(current_app.config.get("SERIES_HORIZON_DAYS", 90))
    return (now or utcnow()) + timedelta(days=days)


# Reading ------------------------------------------------------------------------------


def get(series_id: int) -> EventSeries:
    found = db.session.get(EventSeries, series_id)
    if found is None:
        raise NotFound(gettext("No such series."))
    return found


def of_event(event: Event) -> EventSeries | None:
    return db.session.get(EventSeries, event.series_id) if event.series_id else None


def upcoming(
    series: EventSeries, viewer=None, limit: int = 100, organiser: bool = False
) -> list[Event]:
    """The series' occurrences still to come, soonest first (as ``viewer`` may see them)."""
    query = select(Event).where(Event.series_id == series.id, Event.starts_at >= utcnow())
    if not organiser:
        query = visible(query, Event, viewer)
    return list(db.session.scalars(query.order_by(Event.starts_at, Event.id).limit(limit)))


def skipped(series: EventSeries) -> list[datetime]:
    """The dates taken out of the series that are still to come."""
    return list(
        db.session.scalars(
            select(SeriesException.occurrence_at)
            .where(
                SeriesException.series_id == series.id, SeriesException.occurrence_at >= utcnow()
            )
            .order_by(SeriesException.occurrence_at)
        )
    )


# Making occurrences --------------------------------------------------------------------


def _snapshot(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in DETAILS}


def _details(series: EventSeries) -> dict[str, Any]:
    details = json.loads(series.details)
    campaign_id = details.get("campaign_id")
    if campaign_id is not None and db.session.get(Campaign, campaign_id) is None:
        details["campaign_id"] = None  # the campaign was deleted since
    return details


def _make(series: EventSeries, start: datetime) -> Event:
    duration = series.duration_seconds
    event = Event(
        **_details(series),
        starts_at=start,
        ends_at=start + timedelta(seconds=duration) if duration is not None else None,
        status="scheduled",
        going_count=0,
        series_id=series.id,
        occurrence_at=start,
    )
    db.session.add(event)
    db.session.flush()
    feed.record(event, "create")
    return event


def _extend(series: EventSeries, until: datetime) -> int:
    """Make the occurrences starting after ``made_until`` and up to ``until``; return how many."""
    zone = series.timezone
    rule = parse_rule(series.rule, series.starts_local)
    after = max(series.made_until, utcnow())
    taken = set(
        db.session.scalars(
            select(SeriesException.occurrence_at).where(SeriesException.series_id == series.id)
        )
    ) | set(db.session.scalars(select(Event.occurrence_at).where(Event.series_id == series.id)))
    made = 0
    reached = until
    for local in rule.between(_local(after, zone), _local(until, zone), inc=True):
        start = _utc(local, zone)
        if start <= series.made_until or start in taken:
            continue
        if made == MAX_PER_PASS:
            reached = start - timedelta(seconds=1)  # the rest next time
            break
        _make(series, start)
        made += 1
    series.made_until = max(series.made_until, reached)
    return made


def repeat(event: Event, rule_text: str) -> EventSeries:
    """Make ``event`` the first occurrence of a series repeating by ``rule_text``."""
    if event.series_id is not None:
        raise Conflict(gettext("This event already repeats."))
    if event.status == "cancelled":
        raise Conflict(gettext("This event is cancelled."))
    rule = normalise_rule(rule_text)
    local = _local(event.starts_at, event.timezone)
    parsed = parse_rule(rule, local)
    first = parsed.after(local, inc=True)
    if first != local:
        raise _refuse(
            gettext(
                "The rule must give the event's own date first (an event on "
                "a Saturday repeats on Saturdays)."
            )
        )
    duration = event.ends_at - event.starts_at if event.ends_at else None
    series = EventSeries(
        rule=rule,
        starts_local=local,
        timezone=event.timezone,
        duration_seconds=int(duration.total_seconds()) if duration is not None else None,
        details=json.dumps(_snapshot(event)),
        made_until=event.starts_at,
    )
    db.session.add(series)
    db.session.flush()
    event.series_id = series.id
    event.occurrence_at = event.starts_at
    _extend(series, horizon())
    commit()
    return series


def extend_due(now: datetime | None = None) -> int:
    """Make every series' occurrences up to the horizon (the worker's step); return how many."""
    now = now or utcnow()
    until = horizon(now)
    due = list(
        db.session.scalars(
            select(EventSeries.id).where(EventSeries.made_until < until - timedelta(hours=12))
        )
    )
    made = 0
    for series_id in due:
        series = db.session.scalar(
            select(EventSeries)
            .where(EventSeries.id == series_id)
            .with_for_update(skip_locked=True)  # another worker has it: leave it to them
        )
        if series is None:
            db.session.rollback()
            continue
        try:
            made += _extend(series, until)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another worker made the same occurrence first
    return made


# Changing a series ---------------------------------------------------------------------


def _answered(event: Event) -> bool:
    """Say whether anybody answered an occurrence (so it is cancelled, not deleted)."""
    checks = (
        select(Rsvp.id).where(Rsvp.event_id == event.id),
        select(GuestRsvp.id).where(GuestRsvp.event_id == event.id),
        select(RemoteRsvp.id).where(RemoteRsvp.event_id == event.id),
        select(Shift.id).where(Shift.event_id == event.id),
    )
    return bool(db.session.scalar(select(or_(*(exists(check) for check in checks)))))


def _take_out(event: Event) -> None:
    """Remove an occurrence: cancel it (telling those who answered) or, unanswered, delete it."""
    if _answered(event):
        if event.status != "cancelled":
            events.cancel(event)
        else:
            commit()
    else:
        events.delete(event)


def skip(event: Event) -> None:
    """Take one occurrence's date out of its series."""
    if event.series_id is None or event.occurrence_at is None:
        raise Conflict(gettext("This event does not repeat."))
    if events.is_over(event):
        raise Conflict(gettext("This date is over."))
    db.session.add(SeriesException(series_id=event.series_id, occurrence_at=event.occurrence_at))
    _take_out(event)


def restore(series: EventSeries, occurrence_at: datetime) -> Event | None:
    """Put a skipped date back: its cancelled occurrence is back on, or it is made again."""
    exception = db.session.scalar(
        select(SeriesException).where(
            SeriesException.series_id == series.id, SeriesException.occurrence_at == occurrence_at
        )
    )
    if exception is None:
        raise NotFound(gettext("That date was not taken out of the series."))
    if occurrence_at < utcnow():
        raise Conflict(gettext("That date is over."))
    db.session.delete(exception)
    event = db.session.scalar(
        select(Event).where(Event.series_id == series.id, Event.occurrence_at == occurrence_at)
    )
    if event is not None:
        events.update(event, {"status": "scheduled"})  # e-mails those who answered: back on
        return event
    made = _make(series, occurrence_at) if occurrence_at <= series.made_until else None
    commit()
    return made


def stop(series: EventSeries, last: date) -> int:
    """End the series after the day ``last`` (local); later occurrences go. Return how many."""
    if _utc(datetime.combine(last, time.max), series.timezone) < utcnow():
        raise Invalid.on("last", gettext("Choose today or a later day."))
    if last < series.starts_local.date():
        raise Invalid.on("last", gettext("Choose a day on or after the first date."))
    parts = [p for p in series.rule.split(";") if not p.startswith(("COUNT=", "UNTIL="))]
    series.rule = ";".join([*parts, f"UNTIL={last:%Y%m%d}T235959"])
    end = _utc(datetime.combine(last, time.max), series.timezone)
    later = list(
        db.session.scalars(
            select(Event).where(Event.series_id == series.id, Event.occurrence_at > end)
        )
    )
    commit()
    for event in later:
        if not events.is_over(event):
            _take_out(event)
    return len(later)


def apply_details(series: EventSeries, source: Event) -> int:
    """Use ``source``'s details (title, place, capacity…) for the series' occurrences to come
    and for those made from now on; return how many were changed."""
    details = _snapshot(source)
    series.details = json.dumps(details)
    changed = 0
    for event in upcoming(series, organiser=True, limit=MAX_COUNT):
        if event.id == source.id or event.status == "cancelled":
            continue
        data = dict(details)
        if data["capacity"] is not None and data["capacity"] < event.going_count:
            data["capacity"] = event.going_count  # never fewer places than people going
        events.update(event, data)
        changed += 1
    commit()
    return changed


@dataclass(frozen=True)
class Summary:
    """What the event page says of an occurrence's series."""

    series: EventSeries
    description: str
    others: list[Event]


def summary(event: Event, viewer) -> Summary | None:
    series = of_event(event)
    if series is None:
        return None
    others = [e for e in upcoming(series, viewer, limit=7) if e.id != event.id][:6]
    return Summary(series, describe(series), others)
