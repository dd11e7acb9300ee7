"""Events as an iCalendar (RFC 5545) document, for calendar apps to subscribe to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from icalendar import Calendar, vDuration
from icalendar import Event as VEvent

from schemas import vocab

from ..activitypub.documents import ICAL_STATUS, object_id
from ..models import Event, Group
from ..text import markdown_to_plain_text

PRODID = "-//Branchline//Branchline node//EN"
REFRESH = timedelta(hours=1)  # how often we ask calendar apps to fetch the feed again


def calendar(group: Group, events: Iterable[Event], name: str) -> bytes:
    """Return ``events`` as one VCALENDAR named ``name``, one VEVENT each."""
    document = Calendar()
    document.add("prodid", PRODID)
    document.add("version", "2.0")
    document.add("calscale", "GREGORIAN")
    # RFC 7986 names and refresh hints, and the older X-WR-/X-PUBLISHED- ones that
    # Apple, Google and Outlook read.
    document.add("name", name)
    document.add("x-wr-calname", name)
    document.add("x-wr-timezone", group.timezone)
    document.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    document.add("x-published-ttl", vDuration(REFRESH))  # X- values are text unless typed
    for event in events:
        document.add_component(_vevent(group, event))
    return document.to_ical()


def _vevent(group: Group, event: Event) -> VEvent:
    address = object_id(group, event)
    entry = VEvent()
    # The ActivityPub id is the event page's address: stable, and unique across groups.
    entry.add("uid", address)
    # Without METHOD, DTSTAMP is when the event was last revised (RFC 5545 3.8.7.2):
    # the feed stays byte-identical between edits, so ETags work.
    entry.add("dtstamp", event.updated_at or event.created_at)
    entry.add("created", event.created_at)
    entry.add("last-modified", event.updated_at or event.created_at)
    # Stored in UTC, so written in UTC ("...Z"): right in every app without a VTIMEZONE.
    entry.add("dtstart", event.starts_at)
    if event.ends_at is not None:
        entry.add("dtend", event.ends_at)
    entry.add("summary", _summary(event))
    description = _description(event)
    if description:
        entry.add("description", description)
    location = _location(event)
    if location:
        entry.add("location", location)
    if event.latitude is not None and event.longitude is not None:
        entry.add("geo", (event.latitude, event.longitude))
    entry.add("url", address)
    entry.add("status", ICAL_STATUS.get(event.status, "CONFIRMED"))
    entry.add("categories", [vocab.label(event.kind)])
    entry.add("class", "PUBLIC" if event.visibility == "public" else "PRIVATE")
    return entry


def _summary(event: Event) -> str:
    # Several apps (Google's among them) ignore STATUS in subscribed calendars: say it
    # in the title too, as the pages do with their badge.
    if event.status in ("cancelled", "postponed"):
        return f"{vocab.label(event.status)}: {event.title}"
    return event.title


def _description(event: Event) -> str:
    parts = [markdown_to_plain_text(event.description)]
    if event.online_url:
        parts.append(f"Online: {event.online_url}")
    if event.accessibility:
        parts.append(f"Accessibility: {markdown_to_plain_text(event.accessibility)}")
    return "\n\n".join(part for part in parts if part)


def _location(event: Event) -> str:
    place, address = event.place_name.strip(), event.address.strip()
    if place and address and not address.startswith(place):
        return f"{place}, {address}"
    return address or place or event.online_url
