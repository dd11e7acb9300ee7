"""The waiting list on an event's page: a member joins or leaves it; the page shows the place.

Guests join from the page their e-mailed link opens (``views.guests``); this module gives
the event page its ``waitlist`` section, read by both the members' and the visitors' part.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext

from ..auth import current_member
from ..models import Event, Member
from ..services.organising import events, waitlist
from . import event_page
from .attempt import attempt

bp = Blueprint("waitlist", __name__)


@event_page.section("waitlist")
def _waitlist(event: Event, viewer: Member | None, _refused) -> dict[str, Any]:
    return {
        "full": waitlist.is_full(event),
        "position": waitlist.position(event, member=viewer) if viewer else None,
        "length": waitlist.length(event) if event.capacity is not None else 0,
    }


@bp.post("/events/<int:item_id>/waitlist")
def join_or_leave(item_id: int):
    """Join (action=join) or leave (action=leave) a full event's waiting list."""
    viewer = current_member()
    if viewer is None:
        return redirect(url_for("auth.login", next=url_for("pages.event", item_id=item_id)))
    event = events.get(item_id, viewer)
    action = request.form.get("action")
    if action not in ("join", "leave"):
        return event_page.render(event, 400, {"_form": [gettext("Choose to join or to leave.")]})
    with attempt() as tried:
        if action == "join":
            waitlist.join(event, viewer)
        else:
            waitlist.withdraw(event, viewer)
    if tried.refusal:
        return event_page.render(
            events.get(item_id, viewer), tried.status, {"_form": [tried.refusal.message]}
        )
    if action == "join":
        place = waitlist.position(event, member=viewer)
        flash(
            gettext(
                (
                    "You are on the waiting list: number %(place)s. We will "
                    "e-mail you if a place frees."
                ),
                place=place,
            ),
            "success",
        )
    else:
        flash(gettext("You have left the waiting list."), "success")
    return redirect(url_for("pages.event", item_id=event.id) + "#rsvp-title")
