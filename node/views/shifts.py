"""Shift pages: members sign up on the event page; organisers set shifts up and see who is on.

The event page shows an event's shifts as its ``shifts`` section, whose loader this module
registers, so the event view need not know about shifts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import fields, validate

from schemas.common import InputSchema, Moment, Text
from schemas.shifts import CAPACITY_MAX

from ..auth import current_member, login_required, role_required
from ..models import Event, Member
from ..services.organising import events, shifts
from . import event_page
from .attempt import attempt
from .forms import Errors, read_form, submitted

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


@event_page.section("shifts")
def _event_shifts(
    event: Event, viewer: Member | None, _refused: event_page.Refused | None
) -> dict[str, Any]:
    found = shifts.of_event(event)
    return {
        "shifts": found,
        "mine": shifts.signups_of(viewer, found),
        "places_left": {shift.id: shifts.places_left(shift) for shift in found},
        "ended": {shift.id for shift in found if shifts.has_ended(shift)},
    }


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
        flash(gettext("You are off that shift. Thanks for letting us know."), "success")
        return redirect(back)
    with attempt() as tried:
        taken = shifts.sign_up(shift, member)
    if tried.refusal:
        flash(tried.refusal.message, "error")
        return redirect(back)
    if taken.state == shifts.GOING:
        flash(gettext("You are signed up for that shift."), "success")
    else:
        position = shifts.waitlist_position(taken)
        flash(
            gettext(
                (
                    "That shift is full: you are number %(position)s on its "
                    "waitlist. We will e-mail you if a place comes free."
                ),
                position=position,
            ),
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
        with attempt() as tried:
            shifts.create(event, data)
        errors = tried.errors
    if errors:
        return _manage_page(event, submitted(*FORM_FIELDS), errors, 400)
    flash(gettext("Shift added."), "success")
    return redirect(url_for("shifts.manage", item_id=event.id))


@bp.post("/manage/shifts/<int:shift_id>/capacity")
@role_required("organiser")
def change_capacity(shift_id: int):
    """Change a shift's places: more room moves the waitlist up (and e-mails those promoted)."""
    shift = shifts.get(shift_id, current_member())
    event = shifts.event_of(shift)
    data, errors = read_form(CapacityForm())
    if not errors:
        with attempt() as tried:
            shifts.update(shift, {"capacity": data.get("capacity")})
        errors = tried.errors
    if errors:
        return _manage_page(event, {}, errors, 400)
    flash(gettext("Places changed."), "success")
    return redirect(url_for("shifts.manage", item_id=event.id))


def _names(people: list[str]) -> str:
    if len(people) <= 1:
        return "".join(people)
    return f"{', '.join(people[:-1])} and {people[-1]}"


@bp.route("/manage/shifts/<int:shift_id>/delete", methods=["GET", "POST"])
@role_required("organiser")
def delete(shift_id: int):
    """Remove a shift and its sign-ups, telling those on it; GET asks first, naming them."""
    shift = shifts.get(shift_id, current_member())
    event_id = shift.event_id
    if request.method == "GET":
        people = [member.display_name for _, member in shifts.roster(shift)]
        warning = "Nobody is signed up for it."
        if people:
            warning = (
                f"{_names(people)} {'is' if len(people) == 1 else 'are'} signed up "
                f"(or waiting) and will be e-mailed that the shift is removed."
            )
        return render_template(
            "manage/confirm.html",
            heading=f"Remove the shift “{shift.label or 'Shift'}”?",
            warning=f"{warning} This cannot be undone.",
            button="Remove the shift",
            back=url_for("shifts.manage", item_id=event_id),
        )
    told = shifts.delete(shift)
    flash(
        f"Shift removed. {told} {'person was' if told == 1 else 'people were'} e-mailed."
        if told
        else "Shift removed.",
        "success",
    )
    return redirect(url_for("shifts.manage", item_id=event_id))
