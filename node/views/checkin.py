"""The door: organisers check people in from a phone, add walk-ins and publish the count;
and the attendance as CSV (answers, shifts, check-ins) for after the event.

Plain forms (no JavaScript): each tap is a POST that comes back to the same place in the
list, with the search kept.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import fields, validate

from schemas.common import InputSchema, Text

from ..auth import current_member, role_required
from ..models import Event
from ..services.organising import attendance_export, checkin, events, guests
from .attempt import attempt
from .forms import Errors, read_form, submitted
from .no_store import no_store

bp = Blueprint("checkin", __name__, url_prefix="/manage/events/<int:item_id>")


class WalkInForm(InputSchema):
    name = Text(120, required=True, min_length=1)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))


def _search() -> str:
    return (request.values.get("q") or "").strip()[:120]


def _back(event: Event, anchor: str = "") -> str:
    search = _search()
    target = url_for("checkin.door", item_id=event.id, **({"q": search} if search else {}))
    return target + (f"#{anchor}" if anchor else "")


def _page(event: Event, status: int = 200, errors: Errors | None = None, values=None):
    search = _search()
    return render_template(
        "manage/checkin.html",
        event=event,
        people=checkin.attendees(event, search),
        search=search,
        here=checkin.here_count(event),
        guest_counts=guests.counts(event),
        is_open=checkin.is_open(event),
        has_begun=events.has_begun(event),
        errors=errors or {},
        values=values or {},
    ), status


@bp.get("/checkin")
@role_required("organiser")
def door(item_id: int):
    """The list at the door: who is expected, who is here, a search and the walk-in form."""
    return _page(events.get(item_id, current_member()))


@bp.post("/checkin/<kind>/<int:attendee_id>")
@role_required("organiser")
def mark(item_id: int, kind: str, attendee_id: int):
    """Check one person in, or out again with present=0."""
    event = events.get(item_id, current_member())
    present = request.form.get("present", "1") != "0"
    with attempt() as tried:
        checkin.check_in(event, kind, attendee_id, present)
    if tried.refusal:
        flash(tried.refusal.message, "error")
        return redirect(_back(event))
    return redirect(_back(event, f"{kind}-{attendee_id}"))


@bp.post("/walk-in")
@role_required("organiser")
def walk_in(item_id: int):
    """Add someone who came without an RSVP, checked in at once."""
    event = events.get(item_id, current_member())
    data, errors = read_form(WalkInForm())
    if not errors:
        with attempt() as tried:
            guest = checkin.walk_in(event, data["name"], data.get("email"))
        if tried.refusal:
            errors = {"_form": [tried.refusal.message], **tried.errors}
    if errors:
        return _page(event, 400, errors, submitted("name", "email"))
    flash(gettext("%(value)s is checked in.", value=guest.name or gettext("A walk-in")), "success")
    return redirect(_back(event))


@bp.post("/checkin/publish")
@role_required("organiser")
def publish(item_id: int):
    """Record the check-in count as how many came: it goes on the feed as a number."""
    event = events.get(item_id, current_member())
    with attempt() as tried:
        checkin.publish(event)
    if tried.refusal:
        flash(tried.refusal.message, "error")
        return redirect(_back(event))
    flash(
        gettext(
            "Published: %(attended_count)s came to “%(title)s”.",
            attended_count=event.attended_count,
            title=event.title,
        ),
        "success",
    )
    return redirect(_back(event))


@bp.get("/attendance.csv")
@role_required("organiser")
@no_store  # names and e-mail addresses
def attendance_csv(item_id: int):
    """Download an event's attendance (answers, shifts, check-ins) as CSV, for organisers."""
    event = events.get(item_id, current_member())
    response = Response(attendance_export.as_csv(event), content_type="text/csv; charset=utf-8")
    name = f"attendance-event-{event.id}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
