"""What the organisers' event form adds to the shared item form: the clock's and the
database's refusals beside the field errors; whom a save e-mails, said beforehand; the second
press that confirms it; and the question before deleting an event people answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_babel import gettext

from ..models import Event
from ..services.organising import event_notices, events
from .attempt import attempt
from .forms import Errors

CONFIRM_NOTICE = "confirm_notice"


def context(item: Event | None, plan: events.Plan | None) -> dict[str, Any]:
    """Return what the event form's end shows: whom a change e-mails, and a pending plan."""
    audience = event_notices.audience(item) if item is not None else None
    return {"audience": audience, "plan": plan, "describe": event_notices.describe}


def ask_first(item: Event, data: dict[str, Any]) -> tuple[events.Plan | None, Errors, int] | None:
    """Check a change before saving it: (plan, errors, status) to show, or None to save now."""
    if request.form.get(CONFIRM_NOTICE) == "yes":
        return None  # asked and confirmed
    with attempt() as tried:
        planned = events.plan(item, data)
    if tried.refusal:
        return None, tried.errors, tried.status
    return (planned, {}, 200) if planned.needs_confirmation else None


def problems(item: Event | None) -> Callable[[dict[str, Any], set[str]], Errors]:
    """Check the posted event against the clock and the database, beside its field errors."""

    def check(parsed: dict[str, Any], unparsed: set[str]) -> Errors:
        if item is None:
            parsed = {**parsed, events.CONFIRM_FIELD: past_start_confirmed()}
        return events.problems(parsed, item, creating=item is None, unreadable=unparsed)

    return check


def past_start_confirmed() -> bool:
    """Say whether the organiser ticked "These dates are right" for a start in the past."""
    return request.form.get(events.CONFIRM_FIELD) == "yes"


def delete_warning(item: Event) -> str:
    """Say what deleting the event does, with how many are told when it is still to come."""
    warning = gettext("This cannot be undone.")
    if item.status == "cancelled" or events.is_over(item):
        return warning
    told = event_notices.audience(item)
    if not told.total:
        return warning
    return gettext(
        "%(people)s will be e-mailed that it is cancelled. This cannot be undone.",
        people=event_notices.describe(told),
    )
