"""The public "Join us" form: a visitor asks to join, and an organiser decides in Manage.

The form has its own page rather than living inside the group page, because visitors share
one cached copy of the group page (node/page_cache.py) and a form carries a per-visitor
CSRF token. Each request mails the address typed, so posts are counted per client address
and for the whole node (BRANCHLINE_JOIN_REQUESTS_PER_*_HOURLY). A field people never see
("website") catches form-filling robots: a post with it filled gets the usual answer and
nothing is stored or sent.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError, fields, validate, validates

from schemas.common import InputSchema, Text
from schemas.wording import N_

from .. import request_limits
from ..auth import current_member
from ..services import geo
from ..services.membership import joining
from .attempt import attempt
from .forms import Errors, read_form, submitted

bp = Blueprint("joining", __name__)

HONEYPOT = "website"
ANSWER_FIELDS = tuple(f"answer_{n}" for n in range(joining.MAX_QUESTIONS))
LABELS = {"name": "Your name", "email": "E-mail address", "postcode": "Postcode"}
THANKS = N_(
    "Thank you: we have your request to join, and have sent you an e-mail saying so. "
    "An organiser will look at it soon."
)
TOO_MANY = N_(
    "Too many requests to join have come from here, or to this group, in the last hour. "
    "Nothing was sent: please try again later."
)


class JoinForm(InputSchema):
    name = Text(80, min_length=1, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    postcode = Text(10, min_length=1, required=True)
    website = fields.String(load_default=None, allow_none=True)  # the robots' field
    answer_0 = Text(joining.MAX_ANSWER_LENGTH)
    answer_1 = Text(joining.MAX_ANSWER_LENGTH)
    answer_2 = Text(joining.MAX_ANSWER_LENGTH)
    answer_3 = Text(joining.MAX_ANSWER_LENGTH)
    answer_4 = Text(joining.MAX_ANSWER_LENGTH)

    @validates("postcode")
    def _a_postcode(self, value: str, **_kwargs: Any) -> None:
        if geo.outward_code(value) is None:
            raise ValidationError("Enter a postcode like LS7 3HB, or just its first part (LS7).")


def _page(status: int = 200, values: dict | None = None, errors: Errors | None = None):
    questions = joining.questions()
    return render_template(
        "pages/join.html",
        open=joining.is_open(),
        questions=list(zip(ANSWER_FIELDS, questions, strict=False)),
        values=values or {},
        errors=errors or {},
        labels={**LABELS, **dict(zip(ANSWER_FIELDS, questions, strict=False))},
        viewer_is_member=current_member() is not None,
    ), status


def _typed() -> dict[str, str]:
    return submitted("name", "email", "postcode", *ANSWER_FIELDS)


def _over_the_limit(_limit):
    """Answer a post over a limit with the form as typed; nothing is stored or sent."""
    return make_response(_page(429, _typed(), {"_form": [TOO_MANY]}))


_COUNTED = {"methods": ["POST"], "on_breach": _over_the_limit}


@bp.route("/join", methods=["GET", "POST"])
@request_limits.limit(request_limits.per_hour("JOIN_REQUESTS_PER_CLIENT_HOURLY"), **_COUNTED)
@request_limits.limit(
    request_limits.per_hour("JOIN_REQUESTS_PER_NODE_HOURLY"), key_func=lambda: "node", **_COUNTED
)
def join():
    """Show the "Join us" form, or take a request to join."""
    if request.method == "GET":
        return _page()
    if current_member() is not None:
        return redirect(url_for("joining.join"))  # a member is already in
    if not joining.is_open():
        return _page(403, errors={"_form": [gettext(joining.CLOSED)]})
    data, errors = read_form(JoinForm())
    if errors:
        return _page(400, _typed(), errors)
    if data.get(HONEYPOT):
        flash(gettext(THANKS), "success")  # the same answer, so a robot learns nothing
        return redirect(url_for("pages.home"))
    answers = [data.get(name) or "" for name in ANSWER_FIELDS]
    postcode = " ".join(data["postcode"].upper().split())
    with attempt() as tried:
        joining.ask(data["name"], data["email"], postcode, answers)
    if tried.refusal:
        return _page(tried.status, _typed(), tried.errors)
    flash(gettext(THANKS), "success")
    return redirect(url_for("pages.home"))
