"""First-run setup, logging in and out, invitations and password resets."""

from __future__ import annotations

import hmac

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from schemas.account import (
    InviteAcceptIn,
    JoinConfirmIn,
    LoginIn,
    NewPasswordIn,
    ResetRequestIn,
    SetupForm,
)
from schemas.wording import N_

from .. import auth, request_limits
from ..errors import error_response, wants_json
from ..services import groups
from ..services.errors import ServiceError, TooManyAttempts
from ..services.membership import invitations, logins, resets, sessions
from .forms import merge_errors, read_form, read_form_partly, safe_next, service_errors, submitted
from .no_store import no_store

bp = Blueprint("auth", __name__)

SETUP_CODE_HELP = N_(
    "To set up this node you need the link with its one-time code. "
    "`branchline run` prints it when the node starts (it ends in /setup?code=…); "
    "the code is also in the file setup_code in the node's instance folder."
)
RESET_SENT = N_(
    "If that address belongs to a member, we have sent it a link to choose a new password. "
    "The link works for two hours."
)


@bp.after_app_request
def _store_session_seen(response):
    sessions.settle_touch()  # "last seen" of a page that wrote nothing (see sessions.touch)
    return response


@bp.before_app_request
def _send_to_setup_until_set_up():
    """Until the node has its group, every page leads to the first-run form."""
    if request.endpoint in (None, "static", "auth.setup") or wants_json():
        return None
    if not groups.is_set_up():
        return redirect(url_for("auth.setup"))
    return None


# First run -----------------------------------------------------------------------


def _setup_code_ok(code: str | None) -> bool:
    return bool(code) and hmac.compare_digest(code.encode(), groups.setup_code().encode())


@bp.route("/setup", methods=["GET", "POST"])
@no_store
def setup():
    if groups.is_set_up():
        return redirect(url_for("pages.home"))
    code = request.values.get("code", "")
    if not _setup_code_ok(code):
        return error_response(403, SETUP_CODE_HELP)
    values = {"base_url": request.host_url, "name": "", "handle": ""}
    errors: dict = {}
    if request.method == "POST":
        values = submitted("name", "handle", "base_url", "admin_email", "admin_name")
        data, parsed, errors = read_form_partly(SetupForm())
        # Every error at once, not in batches: the policy's beside the fields'.
        errors = merge_errors(errors, groups.problems(parsed))
        if not errors:
            try:
                _group, admin = groups.set_up(data)
            except ServiceError as exc:
                errors = service_errors(exc)
            else:
                auth.log_in(admin)
                flash(
                    gettext("Your group is set up and you are logged in as its admin."), "success"
                )
                # The dashboard opens with the "what next" checklist (services/checklist).
                return redirect(url_for("manage.dashboard"))
    status = 400 if errors else 200
    return render_template("auth/setup.html", values=values, errors=errors, code=code), status


# Log-in and log-out --------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@no_store  # its form takes a password
def login():
    target = safe_next(request.values.get("next"))
    if auth.current_member() is not None and request.method == "GET":
        return redirect(target or url_for("pages.home"))
    values = {"email": request.form.get("email", "")}
    errors: dict = {}
    status = 200
    if request.method == "POST":
        data, errors = read_form(LoginIn())
        status = 400
        if not errors:
            try:
                member = logins.authenticate(
                    data["email"], data["password"], request.remote_addr or "unknown"
                )
            except TooManyAttempts as exc:
                response = make_response(error_response(429, exc.message))
                response.headers["Retry-After"] = str(exc.retry_after or 60)
                return response
            except ServiceError as exc:
                errors, status = {"_form": [exc.message]}, exc.status
            else:
                auth.log_in(member)
                flash(
                    gettext("Welcome back, %(display_name)s.", display_name=member.display_name),
                    "success",
                )
                return redirect(target or url_for("pages.home"))
    return render_template(
        "auth/login.html", values=values, errors=errors, next=target or ""
    ), status


@bp.post("/logout")
def logout():
    auth.log_out()
    flash(gettext("You are logged out."), "success")
    return redirect(url_for("pages.home"))


# Invitations ---------------------------------------------------------------------


def _typed_address() -> str:
    return "address:" + request.form.get("email", "").strip().lower()


# Both forms below send e-mail to an address a visitor types, so their POSTs are counted per
# client address and for the whole node (BRANCHLINE_MAIL_FORMS_PER_*_HOURLY), and reset
# requests per address asked for too; the answer over a limit is the same for every address.
_MAIL_FORM = {"methods": ["POST"]}
_mail_form_limits = [
    request_limits.limit(request_limits.per_hour("MAIL_FORMS_PER_CLIENT_HOURLY"), **_MAIL_FORM),
    request_limits.limit(
        request_limits.per_hour("MAIL_FORMS_PER_NODE_HOURLY"),
        key_func=lambda: "node",
        **_MAIL_FORM,
    ),
]


def _limited_as_mail_form(view):
    for mark in reversed(_mail_form_limits):
        view = mark(view)
    return view


@bp.route("/invite/<token>", methods=["GET", "POST"], endpoint="accept_invite")
@no_store
@_limited_as_mail_form
def accept_invite(token: str):
    invite = invitations.find_invite(token)  # an unknown or used link is a 404 page saying so
    if invite.password_hash is not None:
        return _confirm_join(token, invite)
    if invite.email is None:
        return _join_by_link(token, invite)
    values = {"email": invite.email, "display_name": invite.display_name or ""}
    errors: dict = {}
    if request.method == "POST":
        values = {**submitted("display_name"), "email": invite.email}  # fixed by the inviter
        data, errors = read_form(InviteAcceptIn(), extra={"email": invite.email})
        if not errors:
            try:
                member = invitations.accept_invite(
                    token, data["email"], data["display_name"], data["password"]
                )
            except ServiceError as exc:
                errors = service_errors(exc)
            else:
                return _welcome(member)
    return _invite_page(invite, values, errors, token)


def _join_by_link(token: str, invite):
    """An open link: the address typed is confirmed by e-mail before any account exists."""
    values = {"email": "", "display_name": invite.display_name or ""}
    errors: dict = {}
    if request.method == "POST":
        values = submitted("email", "display_name")
        data, errors = read_form(InviteAcceptIn())
        if not errors:
            try:
                invitations.join_by_link(
                    token,
                    data["email"],
                    data["display_name"],
                    data["password"],
                    confirm_link=lambda value: url_for(
                        "auth.accept_invite", token=value, _external=True
                    ),
                    reset_link=lambda value: url_for(
                        "auth.reset_password", token=value, _external=True
                    ),
                )
            except ServiceError as exc:
                errors = service_errors(exc)
            else:
                # The same answer for every address: whether it is a member's is only told
                # to its owner, by e-mail.
                flash(gettext(invitations.JOIN_MAIL_SENT, email=data["email"]), "success")
                return redirect(url_for("pages.home"))
    return _invite_page(invite, values, errors, token)


def _confirm_join(token: str, invite):
    errors: dict = {}
    if request.method == "POST":
        data, errors = read_form(JoinConfirmIn())
        if not errors:
            try:
                member = invitations.confirm_join(token, data["password"])
            except ServiceError as exc:
                errors = service_errors(exc)
            else:
                return _welcome(member)
    return render_template("auth/confirm_join.html", invite=invite, errors=errors, token=token), (
        400 if errors else 200
    )


def _invite_page(invite, values: dict, errors: dict, token: str):
    return render_template(
        "auth/invite.html", invite=invite, values=values, errors=errors, token=token
    ), (400 if errors else 200)


def _welcome(member):
    auth.log_in(member)
    flash(gettext("Welcome to %(name)s!", name=groups.current_group().name), "success")
    return redirect(url_for("pages.home"))


# Password resets -----------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@no_store
@_limited_as_mail_form
@request_limits.limit(
    request_limits.per_hour("RESET_MAILS_PER_ADDRESS_HOURLY"), key_func=_typed_address, **_MAIL_FORM
)
def request_reset():
    values = {"email": ""}
    errors: dict = {}
    if request.method == "POST":
        values = submitted("email")
        data, errors = read_form(ResetRequestIn())
        if not errors:
            resets.request_reset(
                data["email"],
                lambda value: url_for("auth.reset_password", token=value, _external=True),
            )
            # The same reply whether or not the address is known, so nobody can probe it.
            flash(gettext(RESET_SENT), "success")
            return redirect(url_for("auth.request_reset"))
    return render_template("auth/reset_request.html", values=values, errors=errors), (
        400 if errors else 200
    )


@bp.route("/reset/<token>", methods=["GET", "POST"], endpoint="reset_password")
@no_store
def reset_password(token: str):
    errors: dict = {}
    if request.method == "POST":
        data, errors = read_form(NewPasswordIn())
        if not errors:
            try:
                member = resets.reset_password(token, data["password"])
            except ServiceError as exc:
                if exc.status == 404:
                    raise
                errors = service_errors(exc)
            else:
                auth.log_in(member)
                flash(gettext("Your password has been changed and you are logged in."), "success")
                return redirect(url_for("pages.home"))
    return render_template("auth/reset_password.html", errors=errors, token=token), (
        400 if errors else 200
    )
