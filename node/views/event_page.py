"""The event page: the event and its RSVP form, and the sections other view modules add.

The sections are named here; the view module that owns each one (series, shifts,
carpools, the guests' RSVP form) registers the loader that returns its data. The page
loads every section before it renders, so the template only shows what it is given. A
section's form that was refused comes back to its own loader as ``Refused``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import render_template

from ..auth import current_member
from ..models import Event, Member
from ..services.errors import NotFound
from ..services.organising import campaigns, events
from .forms import Errors

SECTIONS = ("series", "shifts", "carpools", "guests", "waitlist")


@dataclass(frozen=True)
class Refused:
    """A section's form the page shows again: which form, what was typed, and why not."""

    section: str
    form: str
    values: dict[str, str] = field(default_factory=dict)
    errors: Errors = field(default_factory=dict)


Loader = Callable[[Event, Member | None, Refused | None], Any]

_loaders: dict[str, Loader] = {}


def section(name: str) -> Callable[[Loader], Loader]:
    """Register the decorated function as the loader of the page's section ``name``."""
    if name not in SECTIONS:
        raise ValueError(f"The event page has no section {name!r}; it has {SECTIONS}.")

    def register(loader: Loader) -> Loader:
        _loaders[name] = loader
        return loader

    return register


def _campaign(event: Event, viewer: Member | None):
    if event.campaign_id is None:
        return None
    try:
        return campaigns.get(event.campaign_id, viewer)
    except NotFound:
        return None  # a members-only campaign stays unnamed to visitors


def render(
    event: Event, status: int = 200, errors: Errors | None = None, refused: Refused | None = None
):
    """Render the event page: ``errors`` are the RSVP form's, ``refused`` a section's form."""
    viewer = current_member()
    page = {
        "event": event,
        "campaign": _campaign(event, viewer),
        "answer": events.rsvps_of(viewer, [event.id]).get(event.id),
        "spaces_left": events.spaces_left(event),
        "is_over": events.is_over(event),
        "errors": errors or {},
    }
    sections = {
        name: _loaders[name](
            event, viewer, refused if refused and refused.section == name else None
        )
        for name in SECTIONS
    }
    return render_template("pages/event.html", **page, sections=sections), status
