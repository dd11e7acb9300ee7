"""Organisers' messages under /manage/messages: write, preview, test, confirm, send, history."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from schemas.wording import N_

from ..auth import current_member, role_required
from ..services.groups import current_group
from ..services.messaging import announcements, audiences
from .attempt import attempt
from .no_store import no_store

bp = Blueprint("messages", __name__, url_prefix="/manage/messages")

LABELS = {
    "subject": N_("Subject"),
    "body": N_("Message"),
    "kind": N_("Kind of message"),
    "audience": N_("Send to"),
    "audience_ref": N_("Event, shift or ballot number"),
    "rules_require": N_("The group's rules require this message"),
    "when": N_("When"),
    "send_at": N_("Send at"),
}
KIND_CHOICES = (
    ("announcement", N_("An announcement: members who turned announcements off are not sent it")),
    (
        "required",
        N_("Required by the group's rules (such as a general meeting's notice): sent to all"),
    ),
)


def _labels() -> dict[str, str]:
    return {name: gettext(label) for name, label in LABELS.items()}


FIELDS = ("subject", "body", "kind", "audience", "audience_ref")


@bp.before_request
@role_required("organiser")
def _organisers_only() -> None:
    """Guard every route here: visitors log in first, members without the role get a 403."""


def _zone() -> str:
    group = current_group()
    return group.timezone if group else "Europe/London"


def _read_form() -> tuple[dict, dict[str, list[str]]]:
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    values["body"] = request.form.get("body", "")
    errors: dict[str, list[str]] = {}
    ref = values["audience_ref"]
    if values["audience"] == audiences.MEMBERS or not ref:
        values["audience_ref"] = None
    elif ref.isdigit() and int(ref) < 2**31:
        values["audience_ref"] = int(ref)
    else:
        errors["audience_ref"] = [gettext("Give the number of the event, shift or ballot.")]
    values["kind"] = values["kind"] or announcements.ANNOUNCEMENT
    if errors:
        # Say at once what else is wrong, not one field per try.
        others = announcements.problems(**{**values, "audience_ref": None})
        others.pop("audience_ref", None)
        errors = {**others, **errors}
    return values, errors


def _form(values: dict, errors: dict, status: int = 200, found=None):
    reach = None
    if found is not None and found.status == announcements.DRAFT and not errors:
        reach = announcements.reach(found)
    return render_template(
        "manage/messages/form.html",
        found=found,
        values=values,
        errors=errors,
        labels=_labels(),
        kind_choices=[(name, gettext(label)) for name, label in KIND_CHOICES],
        audience_choices=[(name, gettext(label)) for name, label in audiences.LABELS.items()],
        preview=announcements.preview(found) if found is not None else None,
        reach=reach,
        describe=announcements.describe(found) if found is not None else "",
    ), status


@bp.get("/")
@no_store
def index():
    """List every announcement with how its messages fared, and the automatic mail."""
    return render_template(
        "manage/messages/index.html",
        lines=announcements.history(),
        automatic=announcements.automatic_summary(),
    )


@bp.get("/new")
@no_store
def new():
    """Show an empty message form, its audience prefilled from ?audience=&ref=."""
    audience = request.args.get("audience", audiences.MEMBERS)
    values = {
        "kind": announcements.ANNOUNCEMENT,
        "audience": audience if audience in audiences.LABELS else audiences.MEMBERS,
        "audience_ref": request.args.get("ref", type=int),
    }
    return _form(values, {})


@bp.post("/new")
def create():
    """Save a new draft and go to its page."""
    values, errors = _read_form()
    if errors:
        return _form(values, errors, 400)
    with attempt() as tried:
        found = announcements.draft(current_member(), **values)
    if tried.refusal:
        return _form(values, tried.errors, tried.status)
    flash(gettext("Draft saved. Check the preview, send yourself a test, then send it."), "success")
    return redirect(url_for("messages.edit", announcement_id=found.id))


@bp.get("/<int:announcement_id>")
@no_store
def edit(announcement_id: int):
    """Show a message: its form and preview while a draft, how it went once sent."""
    found = announcements.get(announcement_id)
    if found.status != announcements.DRAFT:
        [line] = [
            announcements.Line(found, announcements.describe(found), counts)
            for counts in [announcements.counts([found.id])[found.id]]
        ]
        return render_template("manage/messages/sent.html", line=line, found=found)
    return _form({name: getattr(found, name) for name in FIELDS}, {}, found=found)


@bp.post("/<int:announcement_id>")
def save(announcement_id: int):
    """Save changes to a draft."""
    found = announcements.get(announcement_id)
    values, errors = _read_form()
    if errors:
        return _form(values, errors, 400, found=found)
    with attempt() as tried:
        announcements.update(found, **values)
    if tried.refusal:
        found = announcements.get(announcement_id)
        return _form(values, tried.errors, tried.status, found=found)
    flash(gettext("Draft saved."), "success")
    return redirect(url_for("messages.edit", announcement_id=found.id))


@bp.post("/<int:announcement_id>/test")
def test(announcement_id: int):
    """Send the draft to the organiser alone, marked as a test."""
    found = announcements.get(announcement_id)
    me = current_member()
    announcements.test_send(found, me)
    flash(gettext("A test is on its way to %(email)s.", email=me.email), "success")
    return redirect(url_for("messages.edit", announcement_id=found.id))


def _confirm_page(found, errors=None, values=None, status: int = 200):
    return render_template(
        "manage/messages/confirm.html",
        found=found,
        reach=announcements.reach(found),
        describe=announcements.describe(found),
        errors=errors or {},
        values=values or {"when": "now"},
        labels=_labels(),
        zone=_zone(),
    ), status


@bp.get("/<int:announcement_id>/confirm")
@no_store
def confirm(announcement_id: int):
    """Say how many people it will reach, and ask when to send it."""
    found = announcements.get(announcement_id)
    if found.status != announcements.DRAFT:
        return redirect(url_for("messages.edit", announcement_id=found.id))
    return _confirm_page(found)


@bp.post("/<int:announcement_id>/send")
def send(announcement_id: int):
    """Send the draft now, or schedule it for the time given (in the group's time zone)."""
    found = announcements.get(announcement_id)
    values = {
        "when": request.form.get("when", "now"),
        "send_at": request.form.get("send_at", "").strip(),
        "rules_require": bool(request.form.get("rules_require")),
    }
    send_at = None
    if values["when"] not in ("now", "later"):
        return _confirm_page(found, {"when": [gettext("Choose now or later.")]}, values, 400)
    if values["when"] == "later":
        try:
            send_at = datetime.fromisoformat(values["send_at"])
        except ValueError:
            return _confirm_page(
                found, {"send_at": [gettext("Give a date and time.")]}, values, 400
            )
        if send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=ZoneInfo(_zone()))
    with attempt() as tried:
        announcements.schedule(found, send_at=send_at, rules_require=values["rules_require"])
    if tried.refusal:
        found = announcements.get(announcement_id)
        if found.status != announcements.DRAFT:
            flash(tried.refusal.message, "error")
            return redirect(url_for("messages.edit", announcement_id=found.id)), 303
        return _confirm_page(found, tried.errors, values, tried.status)
    if found.status == announcements.SENT:
        flash(
            ngettext(
                "Sent: %(num)d message queued.", "Sent: %(num)d messages queued.", found.recipients
            ),
            "success",
        )
    else:
        flash(gettext("Scheduled."), "success")
    return redirect(url_for("messages.edit", announcement_id=found.id))


@bp.post("/<int:announcement_id>/cancel")
def cancel(announcement_id: int):
    """Withdraw a scheduled message before it goes."""
    found = announcements.get(announcement_id)
    with attempt() as tried:
        announcements.cancel(found)
    if tried.refusal:
        flash(tried.refusal.message, "error")
    else:
        flash(gettext("Cancelled: it will not be sent."), "success")
    return redirect(url_for("messages.edit", announcement_id=found.id))
