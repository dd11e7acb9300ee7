"""Recurring events: organisers make an event repeat, skip and restore dates, stop a series.

The event page says how an occurrence repeats and lists the next dates: its ``series``
section, whose loader this module registers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from schemas.common import AwareMoment, Day, InputSchema, Text

from ..auth import current_member, role_required
from ..models import Event, EventSeries, Member
from ..services.organising import events, series
from . import event_page
from .attempt import attempt
from .forms import Errors, read_form, submitted

bp = Blueprint("series", __name__, url_prefix="/manage")

FREQUENCIES = {
    "weekly": "Every week",
    "fortnightly": "Every other week",
    "monthly_weekday": "Every month, on the same weekday (e.g. the second Saturday)",
    "monthly_date": "Every month, on the same date",
    "daily": "Every day",
    "custom": "By a rule I write (RRULE)",
}
FORM_FIELDS = ("frequency", "count", "until", "rule")


class RepeatForm(InputSchema):
    frequency = fields.String(required=True, validate=validate.OneOf(list(FREQUENCIES)))
    count = fields.Integer(
        allow_none=True, strict=False, validate=validate.Range(min=2, max=series.MAX_COUNT)
    )
    until = Day(allow_none=True)
    rule = Text(300)

    @validates_schema
    def _one_end(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("count") is not None and data.get("until") is not None:
            raise ValidationError("Give a number of times or a last date, not both.", "until")
        if data["frequency"] == "custom" and not data.get("rule"):
            raise ValidationError("Write the rule, or choose how often above.", "rule")


class StopForm(InputSchema):
    last = Day(required=True)


class RestoreForm(InputSchema):
    # The page sends the date back as it showed it: in UTC, with its offset.
    occurrence_at = AwareMoment(
        required=True, error_messages={"required": "Choose a date to restore."}
    )


@event_page.section("series")
def _event_series(
    event: Event, viewer: Member | None, _refused: event_page.Refused | None
) -> series.Summary | None:
    return series.summary(event, viewer)


def _rule(event: Event, data: dict[str, Any]) -> str:
    if data["frequency"] == "custom":
        return data["rule"]
    return series.build_rule(event, data["frequency"], data.get("count"), data.get("until"))


def _repeat_page(event: Event, values: dict[str, Any], errors: Errors, status: int = 200):
    return render_template(
        "manage/repeat.html", event=event, values=values, errors=errors, choices=FREQUENCIES
    ), status


@bp.route("/events/<int:item_id>/repeat", methods=["GET", "POST"])
@role_required("organiser")
def repeat(item_id: int):
    """Make an event repeat; an event that already does shows its series."""
    event = events.get(item_id, current_member())
    if event.series_id is not None:
        return redirect(url_for("series.manage", series_id=event.series_id))
    if request.method == "GET":
        return _repeat_page(event, {"frequency": "weekly"}, {})
    data, errors = read_form(RepeatForm())
    if errors:
        return _repeat_page(event, submitted(*FORM_FIELDS), errors, 400)
    with attempt() as tried:
        made = series.repeat(event, _rule(event, data))
    if tried.refusal:
        return _repeat_page(event, submitted(*FORM_FIELDS), tried.errors, tried.status)
    flash(
        gettext(
            "“%(title)s” now repeats: %(lower)s.",
            title=event.title,
            lower=series.describe(made).lower(),
        ),
        "success",
    )
    return redirect(url_for("series.manage", series_id=made.id))


def _series_page(found: EventSeries, errors: Errors | None = None, status: int = 200):
    coming = series.upcoming(found, organiser=True)
    return render_template(
        "manage/series.html",
        series=found,
        description=series.describe(found),
        coming=coming,
        skipped=series.skipped(found),
        errors=errors or {},
        values=submitted("last") if errors else {},
    ), status


@bp.get("/series/<int:series_id>")
@role_required("organiser")
def manage(series_id: int):
    """A series: its dates to come, the dates taken out, and stopping it."""
    return _series_page(series.get(series_id))


def _occurrence(item_id: int) -> Event:
    event = events.get(item_id, current_member())
    if event.series_id is None:
        abort(404)
    return event


@bp.post("/events/<int:item_id>/skip")
@role_required("organiser")
def skip(item_id: int):
    """Take one date out of its series (those who answered it are told it is cancelled)."""
    event = _occurrence(item_id)
    series_id, when = event.series_id, event.starts_at
    with attempt() as tried:
        series.skip(event)
    if tried.refusal:
        flash(tried.refusal.message, "error")
    else:
        flash(gettext("Took %(when)s out of the series.", when=format(when, "%d %b %Y")), "success")
    return redirect(url_for("series.manage", series_id=series_id))


@bp.post("/series/<int:series_id>/restore")
@role_required("organiser")
def restore(series_id: int):
    """Put a date taken out back into the series."""
    found = series.get(series_id)
    data, errors = read_form(RestoreForm())
    if errors:
        return _series_page(found, errors, 400)
    with attempt() as tried:
        series.restore(found, data["occurrence_at"])
    if tried.refusal:
        return _series_page(found, tried.errors, tried.status)
    flash(gettext("The date is back in the series."), "success")
    return redirect(url_for("series.manage", series_id=series_id))


@bp.post("/series/<int:series_id>/stop")
@role_required("organiser")
def stop(series_id: int):
    """End the series after a day: later dates go (cancelled if anyone answered)."""
    found = series.get(series_id)
    data, errors = read_form(StopForm())
    if errors:
        return _series_page(found, errors, 400)
    with attempt() as tried:
        gone = series.stop(found, data["last"])
    if tried.refusal:
        return _series_page(found, tried.errors, tried.status)
    flash(
        gettext(
            "The series ends on %(last)s; %(gone)s later dates removed.",
            last=format(data["last"], "%d %b %Y"),
            gone=gone,
        ),
        "success",
    )
    return redirect(url_for("series.manage", series_id=series_id))


@bp.post("/events/<int:item_id>/apply-to-series")
@role_required("organiser")
def apply_details(item_id: int):
    """Use this date's title, place, places and notes for every date still to come."""
    event = _occurrence(item_id)
    changed = series.apply_details(series.get(event.series_id), event)
    flash(
        gettext("Updated %(changed)s dates to come with the details of this one.", changed=changed),
        "success",
    )
    return redirect(url_for("series.manage", series_id=event.series_id))
