"""Twinning pages: organisers propose and answer twinnings (/manage/twins), members RSVP to
twinned groups' events (/twins/events/…), organisers record how many came to an event and
announce a twin's event to their own members.

The group page, the member's page and the attendance page load what they show of twins
themselves, from the twinning services.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import fields, validate

from schemas import vocab
from schemas.common import Choice, InputSchema, Text
from schemas.wording import N_

from ..auth import current_member, role_required
from ..services.organising import events
from ..services.twins import announce, outgoing_rsvps, remote_rsvp, twinning
from . import attendance_page
from .attempt import attempt
from .forms import Errors, read_form

bp = Blueprint("twins", __name__)


class ProposeForm(InputSchema):
    target = Text(twinning.TARGET_MAX, min_length=1, required=True)
    note = Text(twinning.NOTE_MAX)


class TwinRsvpForm(InputSchema):
    response = Choice(vocab.RSVP_RESPONSES, required=True)
    party_size = fields.Integer(
        required=True, validate=validate.Range(1, remote_rsvp.MAX_PARTY), strict=False
    )
    share = Choice(remote_rsvp.SHARE_CHOICES, required=True)


class AttendedForm(InputSchema):
    attended_count = fields.Integer(
        required=True, validate=validate.Range(0, events.MAX_ATTENDED), strict=False
    )


def _attempt(action) -> tuple[Any, Errors, int]:
    with attempt() as tried:
        return action(), {}, 200
    return None, tried.errors, tried.status


# Organisers: proposing and answering -------------------------------------------------


def _twins_page(values: dict, errors: Errors, status: int = 200):
    return render_template(
        "twins/index.html",
        found=twinning.listing(),
        candidates=twinning.candidates(),
        values=values,
        errors=errors,
    ), status


@bp.route("/manage/twins", methods=["GET", "POST"])
@role_required("organiser")
def index():
    """List this group's twinnings, and propose one to another group."""
    if request.method == "GET":
        return _twins_page({"target": request.args.get("target", "")[:2000], "note": ""}, {})
    values = {name: request.form.get(name, "") for name in ("target", "note")}
    data, errors = read_form(ProposeForm())
    if errors:
        return _twins_page(values, errors, 400)
    twin, errors, status = _attempt(
        lambda: twinning.propose(data["target"], data.get("note") or "", by=current_member())
    )
    if twin is None:
        return _twins_page(values, errors, status)
    flash(
        gettext("Proposed twinning to %(value)s.", value=twin.peer.name or twin.peer.actor_id),
        "success",
    )
    return redirect(url_for("twins.index"))


def _decide(twin_id: int, action, done: str):
    twin = twinning.get(twin_id)
    name = twin.peer.name or twin.peer.actor_id
    _, errors, _status = _attempt(lambda: action(twin, by=current_member()))
    if errors:
        flash(" ".join(message for messages in errors.values() for message in messages), "error")
    else:
        flash(gettext(done, name=name), "success")
    return redirect(url_for("twins.index"))


@bp.post("/manage/twins/<int:twin_id>/accept")
@role_required("organiser")
def accept(twin_id: int):
    return _decide(twin_id, twinning.accept, N_("This group is now twinned with %(name)s."))


@bp.post("/manage/twins/<int:twin_id>/decline")
@role_required("organiser")
def decline(twin_id: int):
    return _decide(twin_id, twinning.decline, N_("Declined %(name)s's proposal."))


@bp.post("/manage/twins/<int:twin_id>/end")
@role_required("organiser")
def end(twin_id: int):
    return _decide(twin_id, twinning.end, N_("Ended the twinning with %(name)s."))


# Organisers: how many came -----------------------------------------------------------


@bp.post("/manage/events/<int:item_id>/attended")
@role_required("organiser")
def record_attended(item_id: int):
    """Record how many came to an event; the number (never names) goes on the feed."""
    event = events.get(item_id, current_member())
    data, errors = read_form(AttendedForm())
    status = 400
    if not errors:
        _, errors, status = _attempt(lambda: events.record_attended(event, data["attended_count"]))
    if not errors:
        flash(
            gettext(
                "Recorded that %(attended_count)s came to “%(title)s”.",
                attended_count=event.attended_count,
                title=event.title,
            ),
            "success",
        )
        return redirect(url_for("manage.attendance", item_id=item_id))
    typed = request.form.get("attended_count", "")
    return attendance_page.render(
        event, attended_errors=errors, attended_value=typed, status=status
    )


# Members: answering a twin's event ---------------------------------------------------


def _twin_event_page(found, values: dict, errors: Errors, status: int = 200):
    return render_template(
        "twins/event.html",
        event=found,
        values=values,
        errors=errors,
        max_party=remote_rsvp.MAX_PARTY,
    ), status


def _current_values(found) -> dict[str, Any]:
    rsvp = found.rsvp
    if rsvp is None or rsvp.state == remote_rsvp.CANCELLED:
        return {"response": "going", "party_size": 1, "share": "name"}
    return {
        "response": rsvp.response,
        "party_size": rsvp.party_size,
        "share": "name" if rsvp.share_name else "count",
    }


@bp.route("/twins/events/<int:object_id>", methods=["GET", "POST"])
@role_required("member")
def event(object_id: int):
    """Show a twinned group's event and the member's answer; POST sends a new answer."""
    viewer = current_member()
    found = outgoing_rsvps.twin_event(object_id, viewer)
    if request.method == "GET":
        return _twin_event_page(found, _current_values(found), {})
    values = {name: request.form.get(name, "") for name in ("response", "party_size", "share")}
    data, errors = read_form(TwinRsvpForm())
    if errors:
        return _twin_event_page(found, values, errors, 400)
    rsvp, errors, status = _attempt(
        lambda: outgoing_rsvps.send(
            viewer, object_id, data["response"], data["party_size"], data["share"]
        )
    )
    if rsvp is None:
        return _twin_event_page(found, values, errors, status)
    flash(
        gettext(
            "Sent your answer to %(value)s.", value=found.peer.name or gettext("the twinned group")
        ),
        "success",
    )
    return redirect(url_for("twins.event", object_id=object_id))


@bp.post("/twins/events/<int:object_id>/cancel")
@role_required("member")
def cancel(object_id: int):
    """Cancel the member's answer to a twinned group's event, freeing their places there."""
    viewer = current_member()
    found = outgoing_rsvps.twin_event(object_id, viewer)
    _, errors, _status = _attempt(lambda: outgoing_rsvps.cancel(viewer, object_id))
    if errors:
        flash(" ".join(message for messages in errors.values() for message in messages), "error")
    else:
        flash(
            gettext(
                "Cancelled your answer; %(value)s is told.",
                value=found.peer.name or gettext("the twinned group"),
            ),
            "success",
        )
    return redirect(url_for("twins.event", object_id=object_id))


@bp.post("/twins/events/<int:object_id>/announce")
@role_required("organiser")
def announce_event(object_id: int):
    """Make a draft announcing a twin's event to this group's members, and open it."""
    found = outgoing_rsvps.twin_event(object_id, current_member())
    row = announce.draft(found, current_member())
    # The announcements page (endpoint messages.edit) edits, previews and sends it; its
    # path is written out so this page does not depend on that blueprint being registered.
    return redirect(f"/manage/messages/{row.id}")
