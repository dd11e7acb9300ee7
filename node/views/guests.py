"""RSVPs without an account: the form on the event page and the page the e-mailed link opens.

The form is the event page's ``guests`` section, whose loader this module registers: it
carries what a visitor typed and why it was refused. The link's page only shows the RSVP
and its two buttons; confirming and cancelling are POSTs, so a mail scanner that fetches
every link in a message changes nothing.
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
from flask_babel import gettext
from marshmallow import fields, validate

from schemas.common import InputSchema, Text

from .. import request_limits
from ..auth import current_member
from ..models import Event, Member
from ..services.organising import events, guests, shifts, waitlist
from . import event_page
from .attempt import attempt
from .forms import Errors, read_form, submitted
from .no_store import no_store

bp = Blueprint("guests", __name__)


class GuestForm(InputSchema):
    name = Text(120, min_length=1, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))


@event_page.section("guests")
def _guest_form(
    _event: Event, _viewer: Member | None, refused: event_page.Refused | None
) -> dict[str, Any]:
    if refused is None:
        return {"values": {}, "errors": {}}
    return {"values": refused.values, "errors": refused.errors}


def _refused_form(event: Event, status: int, errors: Errors):
    """Show the event page again with the guest form's values and errors."""
    refused = event_page.Refused("guests", "ask", submitted("name", "email"), errors)
    return event_page.render(event, status, refused=refused)


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


def _over_the_limit(_limit) -> Response:
    """Answer an ask over a limit on the event's page; the view does not run, nothing is sent."""
    event = events.get(request.view_args["item_id"], current_member())
    return make_response(_refused_form(event, 429, {"_form": [TOO_MANY]}))


# Each ask e-mails the address typed in, so asks are counted, in this order, per client
# address, per event and for the whole node (BRANCHLINE_GUEST_RSVP_PER_*_HOURLY). A refused
# ask spends no count further down the list.
_COUNTED = {"exempt_when": _member_asking, "on_breach": _over_the_limit}


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
    if errors:
        return _refused_form(event, 400, errors)
    with attempt() as tried:
        guests.ask(event, data["name"], data["email"])
    if tried.refusal:
        return _refused_form(
            event, tried.status, {"_form": [tried.refusal.message], **tried.errors}
        )
    flash(
        gettext(
            "Nearly there: we have e-mailed %(email)s a link. Open it to confirm your place.",
            email=data["email"],
        ),
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
    at_event = shifts.of_event(event)
    response = make_response(
        render_template(
            "pages/guest_rsvp.html",
            guest=guest,
            event=event,
            token=token,
            is_over=events.is_over(event),
            spaces_left=events.spaces_left(event),
            waiting_place=waitlist.position(event, guest=guest),
            shifts=at_event,
            places_left={s.id: shifts.places_left(s) for s in at_event},
            ended={s.id for s in at_event if shifts.has_ended(s)},
            my_shifts=shifts.guest_signups(guest),
            error=error,
        ),
        status,
    )
    return _private(response)


@bp.post("/rsvp/<token>")
@no_store
def answer(token: str):
    """Confirm (action=confirm), join the waiting list (action=waitlist) or cancel."""
    guest = guests.by_token(token)
    action = request.form.get("action")
    if action not in ("confirm", "waitlist", "cancel"):
        return _show(token, guest, 400, "Choose to confirm or to cancel.")
    with attempt() as tried:
        if action == "confirm":
            guests.confirm(guest)
            flash(gettext("You are going. See you there!"), "success")
        elif action == "waitlist":
            waitlist.join_guest(guest)
            place = waitlist.position(guests.event_of(guest), guest=guest)
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
            guests.cancel(guest)
            flash(gettext("Your place is cancelled. Thanks for letting us know."), "success")
    if tried.refusal:
        return _show(token, guests.by_token(token), tried.status, tried.refusal.message)
    return _private(redirect(url_for("guests.link", token=token)))


@bp.post("/rsvp/<token>/shifts/<int:shift_id>")
@no_store
def shift(token: str, shift_id: int):
    """Take (action=take) or give up (action=leave) a shift, by the guest's e-mailed link."""
    guest = guests.by_token(token)
    found = shifts.get(shift_id, None)
    if found.event_id != guest.event_id:
        return _show(token, guest, 404, "That shift is not at this event.")
    action = request.form.get("action")
    if action not in ("take", "leave"):
        return _show(token, guest, 400, "Choose to take the shift or to give it up.")
    with attempt() as tried:
        if action == "take":
            signup = shifts.sign_up_guest(found, guest)
            if signup.state == shifts.GOING:
                flash(gettext("You are on the shift. Thank you!"), "success")
            else:
                place = shifts.waitlist_position(signup)
                flash(
                    gettext(
                        "The shift is full: you are number %(place)s on its waitlist.", place=place
                    ),
                    "success",
                )
        else:
            shifts.withdraw_guest(found, guest)
            flash(gettext("You are off the shift."), "success")
    if tried.refusal:
        return _show(token, guests.by_token(token), tried.status, tried.refusal.message)
    return _private(redirect(url_for("guests.link", token=token) + "#shifts"))
