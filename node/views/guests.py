"""RSVPs without an account: the form on the event page and the page the e-mailed link opens.

The link's page only shows the RSVP and its two buttons; confirming and cancelling are
POSTs, so a mail scanner that fetches every link in a message changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import fields, validate

from schemas.common import InputSchema, Text

from .. import request_limits
from ..auth import current_member
from ..extensions import db
from ..services.errors import ServiceError
from ..services.organising import events, guests
from .forms import read_form, service_errors, submitted
from .no_store import no_store
from .pages import render_event_page

bp = Blueprint("guests", __name__)


class GuestForm(InputSchema):
    name = Text(120, min_length=1, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))


def _event_guests(event) -> dict[str, Any]:
    return {"going": guests.going(event), "counts": guests.counts(event)}


@bp.app_context_processor
def _guest_helpers() -> dict[str, Any]:
    """``event_guests(event)`` for the organisers' attendance page."""
    return {"event_guests": _event_guests}


TOO_MANY = (
    "Too many people have asked for a place from here, or for this event, in the last hour. "
    "Nothing was sent: please try again later."
)


def _event_key() -> str:
    return f"event:{request.view_args['item_id']}"


def _node_key() -> str:
    return "node"


def _member_asking() -> bool:
    return current_member() is not None  # members are sent to their own form, uncounted


def _refused(_limit) -> Response:
    """Answer an ask over a limit on the event's page; the view does not run, nothing is sent."""
    event = events.get(request.view_args["item_id"], current_member())
    page = render_event_page(
        event, 429, guest_errors={"_form": [TOO_MANY]}, guest_values=submitted("name", "email")
    )
    return make_response(page)


# Each ask e-mails the address typed in, so asks are counted, in this order, per client
# address, per event and for the whole node (BRANCHLINE_GUEST_RSVP_PER_*_HOURLY). A refused
# ask spends no count further down the list.
_COUNTED = {"exempt_when": _member_asking, "on_breach": _refused}


@bp.post("/events/<int:item_id>/guest-rsvp")
@request_limits.limit(request_limits.per_hour("GUEST_RSVP_PER_CLIENT_HOURLY"), **_COUNTED)
@request_limits.limit(
    request_limits.per_hour("GUEST_RSVP_PER_EVENT_HOURLY"), key_func=_event_key, **_COUNTED
)
@request_limits.limit(
    request_limits.per_hour("GUEST_RSVP_PER_NODE_HOURLY"), key_func=_node_key, **_COUNTED
)
def ask(item_id: int):
    """A visitor asks to come: the link to confirm goes to the address they gave."""
    event = events.get(item_id, current_member())  # members-only events are a 404 here
    back = url_for("pages.event", item_id=event.id) + "#rsvp-title"
    if current_member() is not None:
        return redirect(back)  # members answer with their own form
    data, errors = read_form(GuestForm())
    status = 400
    if not errors:
        try:
            guests.ask(event, data["name"], data["email"])
        except ServiceError as exc:
            db.session.rollback()
            errors, status = {"_form": [exc.message], **service_errors(exc)}, exc.status
    if errors:
        values = submitted("name", "email")
        return render_event_page(event, status, guest_errors=errors, guest_values=values)
    flash(
        f"Nearly there: we have e-mailed {data['email']} a link. Open it to confirm your place.",
        "success",
    )
    return redirect(back)


def _private(response):
    # The token is in this page's address: keep it out of Referer headers (and, by
    # no_store on the routes, out of caches).
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/rsvp/<token>")
@no_store
def link(token: str):
    """The page the e-mailed link opens: the guest's RSVP with Confirm and Cancel."""
    return _show(token, guests.by_token(token))


def _show(token: str, guest, status: int = 200, error: str | None = None):
    event = guests.event_of(guest)
    response = make_response(
        render_template(
            "pages/guest_rsvp.html",
            guest=guest,
            event=event,
            token=token,
            is_over=events.is_over(event),
            spaces_left=events.spaces_left(event),
            error=error,
        ),
        status,
    )
    return _private(response)


@bp.post("/rsvp/<token>")
@no_store
def answer(token: str):
    """Confirm (action=confirm) or cancel (action=cancel) from the link's page."""
    guest = guests.by_token(token)
    action = request.form.get("action")
    if action not in ("confirm", "cancel"):
        return _show(token, guest, 400, "Choose to confirm or to cancel.")
    try:
        if action == "confirm":
            guests.confirm(guest)
            flash("You are going. See you there!", "success")
        else:
            guests.cancel(guest)
            flash("Your place is cancelled. Thanks for letting us know.", "success")
    except ServiceError as exc:
        db.session.rollback()
        return _show(token, guests.by_token(token), exc.status, exc.message)
    return _private(redirect(url_for("guests.link", token=token)))
