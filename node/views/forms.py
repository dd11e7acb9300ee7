"""HTML forms: validate posted fields with a schema and collect errors per field."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import request
from marshmallow import Schema, ValidationError

from ..services.errors import ServiceError
from .input import form_data

Errors = dict[str, list[str]]


def flatten(messages: Any) -> Errors:
    """Turn marshmallow's or a service's messages into {field: [text, ...]}."""
    if not isinstance(messages, dict):
        return {"_form": [str(m) for m in (messages if isinstance(messages, list) else [messages])]}
    found: Errors = {}
    for name, problems in messages.items():
        key = "_form" if name == "_schema" else str(name)
        if isinstance(problems, dict):  # list fields report {index: [messages]}
            problems = [text for inner in problems.values() for text in inner]
        elif isinstance(problems, str):
            problems = [problems]
        found.setdefault(key, []).extend(str(p) for p in problems)
    return found


def read_form(
    schema: Schema, *, fields: list[str] | None = None, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, Errors]:
    """Load the posted form with ``schema``: (data, {}) when valid, (None, errors) when not."""
    data, _parsed, errors = read_form_partly(schema, fields=fields, extra=extra)
    return data, errors


def read_form_partly(
    schema: Schema, *, fields: list[str] | None = None, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any], Errors]:
    """Load the posted form: (data, data, {}) or (None, the fields that parsed, errors)."""
    raw = form_data(schema, fields=fields)
    raw.update(extra or {})
    try:
        data = schema.load(raw)
    except ValidationError as exc:
        parsed = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return None, parsed, flatten(exc.messages)
    return data, data, {}


def merge_errors(*found: Errors) -> Errors:
    """Put several sets of form errors together, each message once per field."""
    merged: Errors = {}
    for errors in found:
        for name, messages in errors.items():
            kept = merged.setdefault(name, [])
            kept.extend(m for m in messages if m not in kept)
    return merged


def service_errors(exc: ServiceError) -> Errors:
    """Show a service's refusal on its fields, or above the form when it names none."""
    return flatten(exc.fields) if exc.fields else {"_form": [exc.message]}


def submitted(*names: str) -> dict[str, str]:
    """Return what was typed into ``names`` (passwords excluded by the caller), for re-display."""
    return {name: request.form.get(name, "") for name in names}


def safe_next(target: str | None) -> str | None:
    """Accept a redirect target only if it is a relative path on this site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
