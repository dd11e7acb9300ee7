"""Feeds for people's own tools: the group's events and news, and a member's own calendar."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request, url_for

from ..auth import current_member
from ..models import Member
from ..services import groups
from ..services.organising import calendar_feeds, events, posts
from ..syndication import atom, ical

bp = Blueprint("feeds", __name__)

ICALENDAR = "text/calendar; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
NEWS_ENTRIES = 20


def _group():
    group = groups.current_group()
    if group is None:
        abort(404)
    return group


def public_address(endpoint: str, **values: str) -> str:
    """Return the address of one of this node's routes under the group's public base URL."""
    # The base URL is the one the operator gave, the one ids are made from; the request's
    # own host can be an internal one behind a proxy.
    return _group().base_url + url_for(endpoint, **values)


def member_calendar_address(member: Member) -> str:
    """Return the secret address of ``member``'s own calendar, for their account page."""
    return public_address("feeds.member_calendar", calendar_token=calendar_feeds.token_for(member))


def _feed(body: bytes, content_type: str, cache: str) -> Response:
    response = Response(body, content_type=content_type)
    # Calendar apps and feed readers poll: let them ask "changed?" and get a 304.
    response.headers["Cache-Control"] = cache
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/events.ics")
def events_calendar():
    group = _group()
    body = ical.calendar(group, calendar_feeds.public_events(), name=f"{group.name}: events")
    return _feed(body, ICALENDAR, "no-cache")


@bp.get("/calendar/<calendar_token>.ics")
def member_calendar(calendar_token: str):
    group = _group()
    member = calendar_feeds.member_for(calendar_token)
    if member is None:
        abort(404)  # forged, revoked, or its member suspended or gone: all look alike
    events = calendar_feeds.answered_events(member)
    body = ical.calendar(group, events, name=f"{group.name}: my events")
    response = _feed(body, ICALENDAR, "private, no-cache")
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/events/<int:item_id>.ics")
def event_calendar(item_id: int):
    """Give one event as an .ics file, for "Add to calendar"."""
    group = _group()
    event = events.get(item_id, current_member())  # a 404 for whom may not see it
    body = ical.calendar(group, [event], name=event.title)
    private = event.visibility != "public"
    response = _feed(body, ICALENDAR, "private, no-cache" if private else "no-cache")
    response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}.ics"'
    return response


@bp.get("/news.atom")
def news():
    group = _group()
    latest = posts.listing(None, per_page=NEWS_ENTRIES).items  # public and already out
    body = atom.news_feed(group, latest, self_url=public_address("feeds.news"))
    return _feed(body, ATOM, "no-cache")
