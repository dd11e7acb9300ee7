"""Shift pages: members sign up on the event page; organisers set shifts up and see who is on.

The event page shows an event's shifts through the ``event_shifts`` template helper this
blueprint installs, so the event view need not know about shifts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import fields, validate

from schemas.common import InputSchema, Moment, Text
from schemas.shifts import CAPACITY_MAX

from ..auth import current_member, login_required, role_required
from ..extensions import db
from ..models import Event
from ..services.errors import ServiceError
from ..services.organising import events, shifts
from .forms import Errors, read_form, service_errors, submitted

bp = Blueprint("shifts", __name__)

FORM_FIELDS = ("label", "starts_at", "ends_at", "capacity")


class ShiftForm(InputSchema):
    """A shift from the organisers' form: datetime-local values, read in the event's zone."""

    label = Text(120)
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    capacity = fields.Integer(
        allow_none=True, strict=False, validate=validate.Range(min=1, max=CAPACITY_MAX)
    )


class CapacityForm(InputSchema):
    """A shift's places; blank for no limit."""

    capacity = fields.Integer(
        allow_none=True, strict=False, validate=validate.Range(min=1, max=CAPACITY_MAX)
    )


def _event_shifts(event: Event) -> dict[str, Any]:
    found = shifts.of_event(event)
    return {
        "shifts": found,
        "mine": shifts.signups_of(current_member(), found),
        "places_left": {shift.id: shifts.places_left(shift) for shift in found},
        "ended": {shift.id for shift in found if shifts.has_ended(shift)},
    }


@bp.app_context_processor
def _shift_helpers() -> dict[str, Any]:
    return {"event_shifts": _event_shifts}


# Members -----------------------------------------------------------------------------


@bp.post("/shifts/<int:shift_id>/signup")
@login_required
def signup(shift_id: int):
    """Sign up for a shift (or its waitlist), or cancel with action=withdraw."""
    member = current_member()
    shift = shifts.get(shift_id, member)
    back = url_for("pages.event", item_id=shift.event_id) + "#shifts"
    if request.form.get("action") == "withdraw":
        shifts.withdraw(shift, member)
        flash("You are off that shift. Thanks for letting us know.", "success")
        return redirect(back)
    try:
        taken = shifts.sign_up(shift, member)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    if taken.state == shifts.GOING:
        flash("You are signed up for that shift.", "success")
    else:
        position = shifts.waitlist_position(taken)
        flash(
            f"That shift is full: you are number {position} on its waitlist. "
            "We will e-mail you if a place comes free.",
            "success",
        )
    return redirect(back)


# Organisers --------------------------------------------------------------------------


def _manage_page(event: Event, values: dict[str, Any], errors: Errors, status: int = 200):
    found = shifts.of_event(event)
    return render_template(
        "manage/shifts.html",
        event=event,
        shifts=found,
        rosters={shift.id: shifts.roster(shift) for shift in found},
        places_left={shift.id: shifts.places_left(shift) for shift in found},
        values=values,
        errors=errors,
    ), status


@bp.route("/manage/events/<int:item_id>/shifts", methods=["GET", "POST"])
@role_required("organiser")
def manage(item_id: int):
    """List an event's shifts with who is on each; POST adds one."""
    event = events.get(item_id, current_member())
    if request.method == "GET":
        return _manage_page(event, {}, {})
    data, errors = read_form(ShiftForm())
    if not errors:
        try:
            shifts.create(event, data)
        except ServiceError as exc:
            db.session.rollback()
            errors = service_errors(exc)
    if errors:
        return _manage_page(event, submitted(*FORM_FIELDS), errors, 400)
    flash("Shift added.", "success")
    return redirect(url_for("shifts.manage", item_id=event.id))


@bp.post("/manage/shifts/<int:shift_id>/capacity")
@role_required("organiser")
def change_capacity(shift_id: int):
    """Change a shift's places: more room moves the waitlist up (and e-mails those promoted)."""
    shift = shifts.get(shift_id, current_member())
    event = shifts.event_of(shift)
    data, errors = read_form(CapacityForm())
    if not errors:
        try:
            shifts.update(shift, {"capacity": data.get("capacity")})
        except ServiceError as exc:
            db.session.rollback()
            errors = service_errors(exc)
    if errors:
        return _manage_page(event, {}, errors, 400)
    flash("Places changed.", "success")
    return redirect(url_for("shifts.manage", item_id=event.id))


@bp.post("/manage/shifts/<int:shift_id>/delete")
@role_required("organiser")
def delete(shift_id: int):
    """Remove a shift and its sign-ups."""
    shift = shifts.get(shift_id, current_member())
    event_id = shift.event_id
    shifts.delete(shift)
    flash("Shift removed.", "success")
    return redirect(url_for("shifts.manage", item_id=event_id))
