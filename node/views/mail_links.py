"""Mail choices: one-click unsubscribe links (no log-in) and a member's preferences page.

``/mail/unsubscribe/<token>`` answers GET with a page naming what the link stops and one
button; the button, or a mail client's RFC 8058 one-click POST (body
``List-Unsubscribe=One-Click``), turns it off. A GET changes nothing, because mail
scanners open every link in a message. The POST needs no CSRF token: the signed token in
the address is the proof, and a forged request could only do what the link itself does.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from ..auth import current_member, login_required
from ..services.errors import ServiceError
from ..services.messaging import kinds, preferences, unsubscribe
from .forms import service_errors
from .no_store import no_store

bp = Blueprint("mail_links", __name__)


def _subscription(token: str) -> unsubscribe.Subscription:
    found = unsubscribe.read(token)
    if found is None:
        abort(404)
    return found


@bp.get("/mail/unsubscribe/<token>", endpoint="unsubscribe")
@no_store
def unsubscribe_page(token: str):
    found = _subscription(token)
    return render_template("mail/unsubscribe.html", subscription=found, token=token, done=False)


@bp.post("/mail/unsubscribe/<token>", endpoint="unsubscribe_confirm")
@no_store
def unsubscribe_confirm(token: str):
    found = _subscription(token)
    if request.form.get("undo") == "1":
        unsubscribe.revert(found)
        return render_template(
            "mail/unsubscribe.html", subscription=found, token=token, done=False, undone=True
        )
    unsubscribe.confirm(found)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204  # a mail client's one-click POST: no page to show
    return render_template("mail/unsubscribe.html", subscription=found, token=token, done=True)


@bp.get("/account/mail", endpoint="preferences")
@no_store
@login_required
def preferences_page():
    return _preferences(200, {})


@bp.post("/account/mail", endpoint="preferences_save")
@no_store
@login_required
def preferences_save():
    member = current_member()
    # A kind left out of the form keeps its choice.
    chosen = {
        name: request.form[name]
        for name in kinds.MEMBER_KINDS
        if name in request.form and not kinds.get(name).required
    }
    try:
        preferences.save(member, chosen)
    except ServiceError as exc:
        return _preferences(400, service_errors(exc), chosen)
    flash(gettext("Your mail choices are saved."), "success")
    return redirect(url_for("mail_links.preferences"))


def _preferences(status: int, errors: dict, chosen: dict[str, str] | None = None):
    member = current_member()
    current = preferences.choices_for(member)
    current.update(chosen or {})
    return render_template(
        "mail/preferences.html",
        kinds=[kinds.get(name) for name in kinds.MEMBER_KINDS],
        current=current,
        errors=errors,
    ), status
