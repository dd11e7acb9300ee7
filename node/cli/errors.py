"""How a command reports what went wrong: one ClickException with the fields at fault."""

from __future__ import annotations

from typing import NoReturn

import click
from marshmallow import ValidationError

from ..services.errors import ServiceError


def explain(exc: Exception) -> str:
    """Say in one line what ``exc`` found wrong, naming each field at fault."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages.items())
    if isinstance(exc, ServiceError):
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
        return f"{exc.message} {details}".strip()
    return str(exc)


def fail(problem: Exception | str) -> NoReturn:
    """Stop the command with ``problem`` explained, and exit status 1."""
    message = problem if isinstance(problem, str) else explain(problem)
    raise click.ClickException(message)
