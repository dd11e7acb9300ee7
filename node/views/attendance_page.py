"""The organisers' attendance page: members' answers, twinned groups', guests', how many came.

Two views render it: the page itself (manage) and the form that records how many came
(twins), which shows its refusal on the page.
"""

from __future__ import annotations

from flask import render_template

from ..models import Event
from ..services.organising import events, guests, waitlist
from ..services.twins import incoming_rsvps
from .forms import Errors

PER_PAGE = 100


def render(
    event: Event,
    *,
    response: str | None = None,
    page: int = 1,
    attended_errors: Errors | None = None,
    attended_value: str | None = None,
    status: int = 200,
):
    """Render the page; ``attended_*`` are the refused how-many-came form's."""
    return render_template(
        "manage/attendance.html",
        event=event,
        found=events.responses_listing(event, page=page, per_page=PER_PAGE, response=response),
        counts=events.attendance(event),
        response=response,
        twins=incoming_rsvps.attendance(event),
        visitors={"going": guests.going(event), "counts": guests.counts(event)},
        waiting=waitlist.queue(event),
        has_begun=events.has_begun(event),
        attended_errors=attended_errors,
        attended_value=attended_value,
    ), status
