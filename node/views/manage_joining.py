"""Organisers' side of the "Join us" form under /manage/joining: requests waiting, settings."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from ..auth import current_member, role_required
from ..services import groups
from ..services.membership import joining
from .attempt import attempt

bp = Blueprint("manage_joining", __name__, url_prefix="/manage/joining")


@bp.before_request
@role_required("organiser")
def _organisers_only() -> None:
    """Guard every route here: visitors log in first, members without the role get a 403."""


def _page(status: int = 200, values: dict | None = None, errors: dict | None = None):
    group = groups.current_group()
    waiting = joining.pending()
    return render_template(
        "manage/joining.html",
        waiting=[(found, joining.answers_of(found)) for found in waiting],
        values=values
        or {"joining_open": group.joining_open, "join_questions": group.join_questions or ""},
        errors=errors or {},
        max_questions=joining.MAX_QUESTIONS,
    ), status


@bp.get("/")
def requests():
    """List the requests to join waiting for a decision, and the form's settings."""
    return _page()


@bp.post("/settings")
def settings():
    values = {
        "joining_open": "joining_open" in request.form,
        "join_questions": request.form.get("join_questions", ""),
    }
    with attempt() as tried:
        joining.save_settings(
            groups.current_group(), values["joining_open"], values["join_questions"]
        )
    if tried.refusal:
        return _page(tried.status, values, tried.errors)
    flash(gettext("Saved the joining settings."), "success")
    return redirect(url_for("manage_joining.requests"))


@bp.post("/<int:join_request_id>/approve")
def approve(join_request_id: int):
    found = joining.get(join_request_id)  # decided already: the app's 404 page says so
    name, email = found.name, found.email
    with attempt() as tried:
        joining.approve(found, current_member())
    if tried.refusal:
        flash(
            gettext(
                "Could not approve %(name)s: %(message)s", name=name, message=tried.refusal.message
            ),
            "error",
        )
        return redirect(url_for("manage_joining.requests"))
    flash(
        gettext(
            "Approved %(name)s: the invitation to finish joining is mailed to %(email)s.",
            name=name,
            email=email,
        ),
        "success",
    )
    return redirect(url_for("manage_joining.requests"))


@bp.post("/<int:join_request_id>/decline")
def decline(join_request_id: int):
    found = joining.get(join_request_id)
    tell = request.form.get("tell") != "no"
    name = found.name
    joining.decline(found, tell=tell)
    said = "and told them by e-mail" if tell else "without a mail"
    flash(gettext("Declined the request from %(name)s, %(said)s.", name=name, said=said), "success")
    return redirect(url_for("manage_joining.requests"))
