"""A member's own page: profile, password, where they are logged in, upcoming RSVPs, their
calendar, API tokens, the messages they were sent, their data (to read and download) and
leaving the group."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from schemas.account import LeaveForm, PasswordChangeForm, PersonalTokenIn, ProfileForm
from schemas.member_data import MemberDataOut

from .. import auth
from ..auth import current_member, login_required
from ..services.errors import ServiceError
from ..services.membership import member_data, members, resets, sessions, tokens
from ..services.messaging import history
from ..services.organising import events
from ..services.twins import outgoing_rsvps
from .feeds import member_calendar_address
from .forms import Errors, read_form, service_errors, submitted
from .no_store import no_store

bp = Blueprint("account", __name__)
RECENT_MESSAGES = 5  # on the account page; the rest are on /account/messages
MESSAGES_PER_PAGE = 30


def _page(status: int = 200, **forms: Any):
    """Render the account page; ``forms`` carries one form's submitted values and errors."""
    viewer = current_member()
    context: dict[str, Any] = {
        "profile": {"display_name": viewer.display_name},
        "profile_errors": {},
        "password_errors": {},
        "token_values": {"name": "", "scopes": list(tokens.allowed_scopes(viewer)), "days": ""},
        "token_errors": {},
    }
    context.update(forms)
    calendar = member_calendar_address(viewer)
    return render_template(
        "account/home.html",
        answers=events.upcoming_answers(viewer),
        calendar_address=calendar,
        # webcal:// makes browsers hand the address to the calendar app, as a subscription.
        calendar_subscribe="webcal://" + calendar.partition("://")[2],
        api_tokens=tokens.for_member(viewer),
        member_sessions=sessions.for_member(viewer),
        this_session_id=auth.current_session_id(),
        allowed_scopes=tokens.allowed_scopes(viewer),
        twin_events=outgoing_rsvps.twin_events(viewer),
        messages=history.sent_to(viewer, per_page=RECENT_MESSAGES),
        **context,
    ), status


@bp.get("/account", endpoint="home")
@no_store  # the account page shows the secret address of the member's calendar
@login_required
def home():
    return _page()


@bp.get("/account/messages", endpoint="messages")
@no_store
@login_required
def messages():
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    found = history.sent_to(current_member(), page=page, per_page=MESSAGES_PER_PAGE)
    return render_template("account/messages.html", found=found)


@bp.post("/account/profile")
@no_store
@login_required
def profile():
    data, errors = read_form(ProfileForm())
    if not errors:
        try:
            members.change(current_member(), data, actor=current_member())
        except ServiceError as exc:
            errors = service_errors(exc)
    if errors:
        return _page(400, profile=submitted("display_name"), profile_errors=errors)
    flash(gettext("Your profile is saved."), "success")
    return redirect(url_for("account.home"))


@bp.post("/account/password")
@no_store
@login_required
def password():
    viewer = current_member()
    data, errors = read_form(PasswordChangeForm())
    if not errors:
        try:
            resets.change_password(viewer, data["current_password"], data["new_password"])
        except ServiceError as exc:
            errors = service_errors(exc)
    if errors:
        return _page(400, password_errors=errors)
    # Changing the password ends every other session; this one carries on.
    auth.log_in(viewer)
    flash(gettext("Your password is changed. Other devices have been logged out."), "success")
    return redirect(url_for("account.home"))


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int):
    if session_id == auth.current_session_id():
        auth.log_out()
        flash(gettext("You are logged out."), "success")
        return redirect(url_for("pages.home"))
    sessions.end_one(current_member(), session_id)  # someone else's session is a 404
    flash(gettext("That device is logged out."), "success")
    return redirect(url_for("account.home"))


@bp.post("/account/sessions/end-all")
@login_required
def end_all_sessions():
    sessions.end_everywhere(current_member())
    auth.log_out()
    flash(gettext("You are logged out everywhere, on this device too."), "success")
    return redirect(url_for("pages.home"))


@bp.post("/account/tokens")
@no_store
@login_required
def create_token():
    viewer = current_member()
    chosen = request.form.getlist("scopes")
    data, errors = read_form(PersonalTokenIn(), fields=["name", "days"], extra={"scopes": chosen})
    values = {**submitted("name", "days"), "scopes": chosen}
    if not errors:
        try:
            value = tokens.create_personal(
                viewer, data["scopes"], name=data.get("name") or "", days=data.get("days")
            )
        except ServiceError as exc:
            errors = service_errors(exc)
    if errors:
        errors = _scope_errors_on_field(errors)
        return _page(400, token_values=values, token_errors=errors)
    # The token is shown on this response only: it is stored hashed, and putting it in a
    # flash message would park the secret in the session cookie. So no redirect here.
    return render_template("account/token_created.html", token=value, scopes=data["scopes"])


def _scope_errors_on_field(errors: Errors) -> Errors:
    """The service reports scope problems as ``scope``; the form's field is ``scopes``."""
    if "scope" in errors:
        errors = {**errors, "scopes": errors["scope"]}
        del errors["scope"]
    return errors


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    tokens.revoke(current_member(), token_id)  # someone else's token is a 404
    flash(gettext("The token is revoked and stops working now."), "success")
    return redirect(url_for("account.home"))


# Your data and leaving ------------------------------------------------------------------


@bp.get("/account/data", endpoint="data")
@no_store
@login_required
def data():
    # The rows themselves, not the JSON dump: the page says in words and local times what the
    # download (account.data_download) gives as ISO times and field names.
    return render_template("account/data.html", data=member_data.export(current_member()))


@bp.get("/account/data.json", endpoint="data_download")
@no_store
@login_required
def data_download():
    document = MemberDataOut().dump(member_data.export(current_member()))
    response = make_response(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    response.mimetype = "application/json"
    response.headers["Content-Disposition"] = 'attachment; filename="my-branchline-data.json"'
    return response


def _leave_page(status: int = 200, errors: Errors | None = None):
    """Render the leave page; the group's last admin is told why they cannot leave (409)."""
    refusal = None
    try:
        member_data.check_can_leave(current_member())
    except ServiceError as exc:
        refusal, status = exc.message, 409
    return render_template("account/leave.html", errors=errors or {}, refusal=refusal), status


@bp.get("/account/leave", endpoint="leave")
@login_required
def leave_form():
    return _leave_page()


@bp.post("/account/leave", endpoint="leave_confirm")
@login_required
def leave_confirm():
    data, errors = read_form(LeaveForm())
    if not errors:
        try:
            member_data.leave(current_member(), data["password"])
        except ServiceError as exc:
            errors = service_errors(exc)
    if errors:
        return _leave_page(400, errors)
    auth.log_out()  # the member row is gone; this drops the session cookie's contents too
    flash(
        gettext("You have left the group and your personal data has been deleted. Goodbye."),
        "success",
    )
    return redirect(url_for("pages.home"))
