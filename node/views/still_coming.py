"""The "Still coming?" links of a reminder: a page that names the event and the answer, with
one button that records it.

The GET only shows the page, because mail scanners open every link in a message; the
button's POST records the answer (``services/messaging/still_coming.py``). A token that is
not ours, or names nobody now, is a 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template

from ..services.messaging import still_coming
from ..services.organising import events
from .attempt import attempt
from .no_store import no_store

bp = Blueprint("still_coming", __name__)


def _answer(token: str) -> still_coming.Answer:
    found = still_coming.read(token)
    if found is None:
        abort(404)
    return found


def _show(token: str, found: still_coming.Answer, status: int = 200, **extra):
    response = make_response(
        render_template(
            "mail/still_coming.html",
            found=found,
            token=token,
            is_over=events.is_over(found.event),
            **extra,
        ),
        status,
    )
    # The token is in the address: keep it out of Referer headers.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/still-coming/<token>", endpoint="page")
@no_store
def page(token: str):
    return _show(token, _answer(token))


@bp.post("/still-coming/<token>", endpoint="answer")
@no_store
def answer(token: str):
    found = _answer(token)
    with attempt() as tried:
        still_coming.apply(found)
    if tried.refusal:
        return _show(token, _answer(token), tried.status, error=tried.refusal.message)
    return _show(token, _answer(token), done=True)
