"""Organisers' forms (views/manage.py and its neighbours): stored values shown the way the
form's controls take them, posted values read with a schema, services called."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import request
from marshmallow import Schema

from schemas import wording

from ..services.errors import Invalid
from ..templating import input_time
from .attempt import attempt
from .forms import Errors, merge_errors, read_form_partly
from .manage_forms import place_box


def as_form_values(item: Any, fields: Iterable[Any], zone: str) -> dict[str, Any]:
    """Show stored values the way the form's controls take them (times in ``zone``)."""
    values: dict[str, Any] = {}
    for spec in fields:
        value = getattr(item, spec.name, None)  # None for a box that is not stored
        if isinstance(value, datetime):
            value = input_time(value, zone)
        elif isinstance(value, date):
            value = value.isoformat()
        values[spec.name] = value
    return values


def _with_zone(value: str, zone: str) -> str:
    """Read a datetime-local value in ``zone``; leave anything unreadable to the schema."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.isoformat()


# What a service refuses that only the clock or the database can tell (events.problems):
# given the fields that parsed and the names of those that did not.
Problems = Callable[[dict[str, Any], set[str]], Errors]


def read_posted(
    schema: Schema,
    fields: Iterable[Any],
    naive_zone: str | None = None,
    problems: Problems | None = None,
):
    """Load the posted form: (data, {}) or (None, per-field errors).

    ``problems`` is asked about the fields that parsed even when others did not, so its
    refusals (a date in the past, an unknown campaign) come with the field errors at once.
    """
    usable = [f for f in fields if not (f.attrs or {}).get("disabled")]
    specs = schema.load_fields
    blanks = {
        f.name for f in usable if f.type != "checkbox" and not request.form.get(f.name, "").strip()
    }
    # A blank optional field the schema cannot store as null (a time zone, a visibility)
    # is left out, so it keeps its current value or the default.
    unstorable = {
        name
        for name in blanks
        if name in specs and not specs[name].required and not specs[name].allow_none
    }
    extra = {
        f.name: _with_zone(request.form[f.name].strip(), naive_zone)
        for f in usable
        if f.type == "datetime-local" and naive_zone and f.name not in blanks
    }
    names = [f.name for f in usable if f.name not in unstorable]
    located, place_errors = place_box(request.form, usable)  # a typed place sets lat/long
    data, parsed, errors = read_form_partly(schema, fields=names, extra={**extra, **located})
    # The form asks for some fields the schema leaves optional (a name when editing).
    missing = {f.name: [wording.FILL_THIS_IN] for f in usable if f.required and f.name in blanks}
    errors = {**errors, **place_errors, **missing}
    if problems is not None:
        unparsed = set(errors) - set(parsed)
        errors = merge_errors(errors, problems(parsed, unparsed))
    return (None, errors) if errors else (data, {})


def try_service(action: Callable[[], Any]) -> tuple[Any, Errors, int]:
    """Run a service call: (result, {}, 200) or (None, errors, the refusal's status)."""
    with attempt() as tried:
        return action(), {}, 200
    refusal, errors = tried.refusal, tried.errors
    if refusal.fields and not isinstance(refusal, Invalid):
        errors = {"_form": [refusal.message], **errors}  # "already exists" says more than "Taken."
    return None, errors, tried.status


def save_if_valid(errors: Errors, action: Callable[[], Any]) -> tuple[Any, Errors, int]:
    """Call the service only when the form was valid; answers as ``try_service`` does."""
    return (None, errors, 400) if errors else try_service(action)
