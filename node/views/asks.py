"""Asks across the network, for organisers: the queue of asks received (/manage/asks/) with
pass on and decline, writing an ask (/manage/asks/new) and the counts of those sent."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from schemas.asks import RADIUS_MAX_KM, AskIn

from ..auth import current_member, role_required
from ..services.asks import published, received
from ..services.groups import current_group
from .attempt import attempt
from .forms import Errors, read_form

bp = Blueprint("asks", __name__, url_prefix="/manage/asks")

FORM_FIELDS = (
    "subject",
    "body",
    "when",
    "where",
    "reach",
    "postcode",
    "latitude",
    "longitude",
    "radius_km",
    "area_name",
    "respond_by",
)


@bp.before_request
@role_required("organiser")
def _organisers_only() -> None:
    """Guard every route here: visitors log in first, members without the role get a 403."""


@bp.get("/")
def queue():
    """List the asks received, open ones first."""
    return render_template(
        "asks/queue.html", found=received.queue(), asker_name=received.asker_name
    )


@bp.get("/<int:ask_id>")
def show(ask_id: int):
    """Show one ask received, with what can be done with it."""
    ask = received.get(ask_id)
    return render_template("asks/show.html", ask=ask, asker=received.asker_name(ask))


def _decided(action, ask_id: int):
    ask = received.get(ask_id)
    with attempt() as tried:
        return action(ask, by=current_member())
    flash(" ".join(m for ms in tried.errors.values() for m in ms), "error")
    return None


@bp.post("/<int:ask_id>/seen")
def seen(ask_id: int):
    """Mark an ask as seen."""
    received.mark_seen(received.get(ask_id))
    return redirect(url_for("asks.queue"))


@bp.post("/<int:ask_id>/pass-on")
def pass_on(ask_id: int):
    """Make a draft announcement of the ask to the members and open it for editing."""
    announcement = _decided(received.pass_on, ask_id)
    if announcement is None:
        return redirect(url_for("asks.show", ask_id=ask_id))
    flash(
        gettext("A draft announcement to your members is ready: edit it, then send it."), "success"
    )
    # The announcement page (helper A's messages.edit) lives at this address.
    return redirect(f"/manage/messages/{announcement.id}")


@bp.post("/<int:ask_id>/decline")
def decline(ask_id: int):
    """Decline an ask; the asker is told, with no reason and no names."""
    if _decided(received.decline, ask_id) is not None:
        flash(gettext("Declined the ask; the group that asked will be told."), "success")
    return redirect(url_for("asks.queue"))


# Writing an ask, and what came of those sent ---------------------------------------------


def _form_page(values: dict, errors: Errors, status: int = 200):
    return render_template(
        "asks/new.html", values=values, errors=errors, radius_max=RADIUS_MAX_KM
    ), status


def _in_zone(value: str) -> str:
    """Read a datetime-local value in the group's zone; leave anything else to the schema."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        group = current_group()
        moment = moment.replace(tzinfo=ZoneInfo(group.timezone if group else "UTC"))
    return moment.isoformat()


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Write an ask to the groups that follow this one (all, or those in an area)."""
    if request.method == "GET":
        return _form_page({"reach": "area", "radius_km": "30"}, {})
    values = {name: request.form.get(name, "") for name in FORM_FIELDS}
    extra = {}
    if values["respond_by"].strip():
        extra["respond_by"] = _in_zone(values["respond_by"].strip())
    data, errors = read_form(AskIn(), extra=extra)
    if errors:
        return _form_page(values, errors, 400)
    with attempt() as tried:
        published.publish(data, by=current_member())
        flash(gettext("Published the ask to the groups that follow this one."), "success")
        return redirect(url_for("asks.sent"))
    return _form_page(values, tried.errors, tried.status)


@bp.get("/sent")
def sent():
    """List the asks this group published, with how many groups passed each on, to how many."""
    return render_template("asks/sent.html", found=published.sent())
