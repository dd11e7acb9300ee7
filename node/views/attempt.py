"""Service calls a page answers in place: a refusal undoes what the call wrote, then is shown.

A view that lets a ``ServiceError`` propagate gets the app's error page (and its rollback)
from ``node.errors``; a view that shows the refusal on its own page runs the call in
``attempt()`` instead, so nothing half written stays in the session it renders from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..extensions import db
from ..services.errors import ServiceError
from .forms import Errors, service_errors


@dataclass
class Attempt:
    """What came of a block of service calls: the service's refusal, if it refused."""

    refusal: ServiceError | None = None

    @property
    def errors(self) -> Errors:
        """Return the refusal as form errors: on its fields, or above the form."""
        return service_errors(self.refusal) if self.refusal is not None else {}

    @property
    def status(self) -> int:
        """Return the refusal's status, or 200 when the service did not refuse."""
        return self.refusal.status if self.refusal is not None else 200


@contextmanager
def attempt() -> Iterator[Attempt]:
    """Run the block; on a ServiceError roll the session back and keep the refusal."""
    tried = Attempt()
    try:
        yield tried
    except ServiceError as exc:
        db.session.rollback()  # nothing half written stays in the session
        tried.refusal = exc
