"""Reading request input through marshmallow schemas, for the API and for HTML forms."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema
from werkzeug.exceptions import BadRequest, UnsupportedMediaType


def json_body() -> Any:
    """Return the parsed JSON body; 415 if it is not JSON, 400 if it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaType()
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The body is not valid JSON.")
    return data


def load_json(schema: Schema, *, partial: bool = False) -> dict[str, Any]:
    """Validate the JSON body with ``schema`` (a 400 with field errors if it is wrong)."""
    data = json_body()
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return schema.load(data, partial=partial)


def form_data(schema: Schema, *, fields: list[str] | None = None) -> dict[str, Any]:
    """Turn posted form fields into what ``schema`` expects: blanks become None, boxes booleans."""
    names = fields or list(schema.load_fields)
    data: dict[str, Any] = {}
    for name in names:
        field = schema.load_fields.get(name)
        if field is None:
            continue
        type_name = type(field).__name__
        if type_name == "Boolean":
            data[name] = name in request.form
            continue
        if name not in request.form:
            continue
        value = request.form.get(name, "")
        if value.strip() == "":
            if field.required:
                continue  # left out, so the schema says "Fill this in." whatever the type
            value = None
        data[name] = value
    return data
