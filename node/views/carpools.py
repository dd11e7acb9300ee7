"""Carpool pages: members offer seats or ask for a ride on the event page; organisers match.

The event page shows an event's carpools as its ``carpools`` section, whose loader this
module registers, so the event view need not know about carpools. A refused form renders
the event page again with a 400, its values and errors handed to the section's loader.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import fields, validate

from schemas.common import InputSchema, Text

from ..auth import current_member, role_required
from ..models import CarpoolRequest, Event, Member
from ..models.carpool import SEATS_MAX
from ..services.errors import NotFound
from ..services.organising import carpools, events
from . import event_page
from .attempt import attempt
from .forms import Errors, read_form, submitted

bp = Blueprint("carpools", __name__)

OFFER_FIELDS = ("from_place", "seats", "note")
ASK_FIELDS = ("from_place", "note")
NOT_LISTED = "Choose one of the drivers listed."


class OfferForm(InputSchema):
    """Seats offered to an event: where from, how many, and a note for riders."""

    from_place = Text(carpools.PLACE_MAX, required=True, min_length=1)
    seats = fields.Integer(
        required=True,
        strict=False,
        validate=validate.Range(min=1, max=SEATS_MAX, error=f"Offer from 1 to {SEATS_MAX} seats."),
    )
    note = Text(carpools.NOTE_MAX)


class AskForm(InputSchema):
    """A ride asked for: where from, and a note for the driver."""

    from_place = Text(carpools.PLACE_MAX, required=True, min_length=1)
    note = Text(carpools.NOTE_MAX)


class MatchForm(InputSchema):
    """The offer a ride request is matched with."""

    offer_id = fields.Integer(
        required=True,
        strict=False,
        # What an INTEGER column holds: a larger number would fail in the database, not here.
        validate=validate.Range(min=1, max=2**31 - 1, error="Choose a driver."),
        error_messages={"required": "Choose a driver.", "invalid": "Choose a driver."},
    )


@event_page.section("carpools")
def _event_carpools(
    event: Event, member: Member | None, refused: event_page.Refused | None
) -> dict[str, Any]:
    """Gather what the viewer may see of an event's carpools: only their own, and contacts."""
    if member is None:
        return {"shown": False}
    mine_offer = carpools.offer_of(event, member)
    mine_request = carpools.request_of(event, member)
    is_open = carpools.is_open(event)
    return {
        # An online-only event shows the section only to say why a carpool form was refused.
        "shown": is_open or mine_offer is not None or mine_request is not None or bool(refused),
        "open": is_open,
        "online_only": carpools.is_online_only(event),
        "offer": mine_offer,
        "request": mine_request,
        "seats_left": carpools.seats_left(mine_offer) if mine_offer else None,
        "contacts": carpools.contacts_for(member, event),
        "failed": refused.form if refused else None,
        "submitted": refused.values if refused else {},
        "errors": refused.errors if refused else {},
        "seats_max": SEATS_MAX,
    }


# Members -----------------------------------------------------------------------------


def _back(event: Event):
    return redirect(url_for("pages.event", item_id=event.id) + "#carpools")


def _refused(event: Event, form: str, names: tuple[str, ...], errors: Errors, status: int = 400):
    """Show the event page again with the carpool form's values and errors."""
    refused = event_page.Refused("carpools", form, submitted(*names), errors)
    return event_page.render(event, status, refused=refused)


def _to_log_in(item_id: int):
    # Back to the event after logging in, not to this POST-only address.
    return redirect(url_for("auth.login", next=url_for("pages.event", item_id=item_id)))


@bp.post("/events/<int:item_id>/carpool/offer")
def offer(item_id: int):
    """Offer seats to an event, change the offer, or withdraw it with action=withdraw."""
    member = current_member()
    if member is None:
        return _to_log_in(item_id)
    event = carpools.event_of(item_id, member)
    if request.form.get("action") == "withdraw":
        carpools.withdraw_offer(event, member)
        flash(gettext("Your offer is withdrawn; any riders matched with you are told."), "success")
        return _back(event)
    data, errors = read_form(OfferForm())
    if errors:
        return _refused(event, "offer", OFFER_FIELDS, errors)
    with attempt() as tried:
        carpools.offer(event, member, data["from_place"], data["seats"], data.get("note"))
    if tried.refusal:
        return _refused(event, "offer", OFFER_FIELDS, tried.errors, tried.status)
    flash(
        gettext("Thanks: your offer of seats is saved. An organiser will match riders with you."),
        "success",
    )
    return _back(event)


@bp.post("/events/<int:item_id>/carpool/ride")
def ask(item_id: int):
    """Ask for a ride to an event, change the request, or withdraw it with action=withdraw."""
    member = current_member()
    if member is None:
        return _to_log_in(item_id)
    event = carpools.event_of(item_id, member)
    if request.form.get("action") == "withdraw":
        carpools.withdraw_request(event, member)
        flash(gettext("Your request for a ride is withdrawn."), "success")
        return _back(event)
    data, errors = read_form(AskForm())
    if errors:
        return _refused(event, "ask", ASK_FIELDS, errors)
    with attempt() as tried:
        carpools.ask(event, member, data["from_place"], data.get("note"))
    if tried.refusal:
        return _refused(event, "ask", ASK_FIELDS, tried.errors, tried.status)
    flash(
        gettext("Your request for a ride is saved. We will e-mail you when you have a driver."),
        "success",
    )
    return _back(event)


# Organisers --------------------------------------------------------------------------


def _manage_page(event: Event, failed: int | None = None, errors: Errors | None = None, status=200):
    return render_template(
        "manage/carpools.html",
        event=event,
        offers=carpools.offers(event),
        requests=carpools.requests(event),
        is_open=carpools.is_open(event),
        failed=failed,
        errors=errors or {},
    ), status


@bp.get("/manage/events/<int:item_id>/carpools")
@role_required("organiser")
def manage(item_id: int):
    """List an event's offers with seats left and its ride requests, to match them."""
    return _manage_page(carpools.event_of(item_id, current_member()))


@bp.post("/manage/carpools/requests/<int:request_id>/match")
@role_required("organiser")
def match(request_id: int):
    """Match a ride request with an offer; both members are e-mailed each other's address."""
    viewer = current_member()
    asked = carpools.get_request(request_id, viewer)
    event = events.get(asked.event_id, viewer)
    data, errors = read_form(MatchForm())
    if errors:
        return _manage_page(event, asked.id, errors, 400)
    with attempt() as tried:
        carpools.match(asked, carpools.get_offer(data["offer_id"], viewer))
    if isinstance(tried.refusal, NotFound):
        return _manage_page(event, asked.id, {"offer_id": [NOT_LISTED]}, 400)
    if tried.refusal:
        errors = tried.errors
        if "offer_id" not in errors:  # "That car is full": shown on the form's field
            errors = {"offer_id": [tried.refusal.message]}
        return _manage_page(event, asked.id, errors, tried.status)
    flash(
        gettext("Matched: the driver and the rider have each been e-mailed the other's address."),
        "success",
    )
    return redirect(url_for("carpools.manage", item_id=event.id))


@bp.post("/manage/carpools/requests/<int:request_id>/unmatch")
@role_required("organiser")
def unmatch(request_id: int):
    """Undo a match: the rider waits for a driver again, and both are told."""
    asked: CarpoolRequest = carpools.get_request(request_id, current_member())
    event_id = asked.event_id
    carpools.unmatch(asked)
    flash(gettext("Unmatched: the driver and the rider have been told."), "success")
    return redirect(url_for("carpools.manage", item_id=event_id))
