"""A sealed ballot's own pages: a teller's code, the count, the ballot box.

A teller takes their code once (shown on a page nobody may keep a copy of, with a file
to save) and types it back to show they kept it; after the close they give their share
with it on the count page. Every member can look through the ballot box's trackers for
their own. Every page that shows or takes a code is ``no-store``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from ...auth import current_member, login_required
from ...models import Ballot
from ...services.errors import Forbidden, NotFound
from ...services.groups import current_group
from ...services.voting import ballot_box, ballot_tellers, ballots
from ..attempt import attempt
from ..forms import Errors
from ..no_store import no_store
from .blueprint import bp

TRACKERS_PER_PAGE = 100
TRACKER = re.compile(r"[0-9a-f]{64}")
CODE_LIMIT = 200  # a teller code is about 60 characters; anything longer is not one


def _sealed(ballot_id: int) -> Ballot:
    found = ballots.get(ballot_id, current_member())
    if not found.sealed:
        raise NotFound(
            gettext("This ballot was set up before papers were sealed: it has no tellers.")
        )
    return found


def _posted_code() -> str:
    return request.form.get("code", "")[:CODE_LIMIT]


def _still_needed(ballot: Ballot) -> int:
    given = sum(1 for t in ballot.tellers if t.submitted_at is not None)
    return max((ballot.tellers_needed or 1) - given, 0)


def _code_file(ballot: Ballot, code: str) -> str:
    """Return a data: address for a small text file holding the code and what it is for."""
    group = current_group()
    text = (
        f"Teller code for the ballot: {ballot.question}\n"
        f"Group: {group.name if group else ''}\n"
        f"Ballot number {ballot.id}, {ballot.tellers_needed} of {len(ballot.tellers)} "
        "tellers needed to count.\n\n"
        f"{code}\n\n"
        "Keep this safe and private. After the ballot closes, give this code on the "
        "ballot's count page (or at a count held in a room) to open the papers.\n"
        "Nobody else has it: if it is lost, the count needs the other tellers.\n"
    )
    return "data:text/plain;charset=utf-8," + quote(text)


# --- the teller's code ---------------------------------------------------------------------


def _tellers_page(
    template: str, ballot: Ballot, status: int = 200, errors: Errors | None = None, **extra
):
    """Render a page about the ballot's tellers: the teller's own (code) or the count."""
    viewer = current_member()
    mine = next((t for t in ballot.tellers if t.member_id == viewer.id), None)
    return render_template(
        template,
        ballot=ballot,
        mine=mine,
        where=ballots.state(ballot),
        tellers=ballot_tellers.teller_status(ballot),
        still_needed=_still_needed(ballot),
        errors=errors or {},
        **extra,
    ), status


def _teller_page(ballot: Ballot, status: int = 200, errors: Errors | None = None, **extra):
    if not ballot_tellers.is_teller(ballot, current_member()):
        raise Forbidden(gettext(ballot_tellers.NOT_A_TELLER))
    return _tellers_page("ballots/teller.html", ballot, status, errors, **extra)


@bp.get("/ballots/<int:ballot_id>/teller")
@login_required
@no_store
def teller(ballot_id: int):
    return _teller_page(_sealed(ballot_id))


@bp.post("/ballots/<int:ballot_id>/teller/code")
@login_required
@no_store  # the page shows the teller's code, once
def take_code(ballot_id: int):
    found = _sealed(ballot_id)
    with attempt() as tried:
        code = ballot_tellers.take_code(found, current_member())
    if tried.refusal:
        return _teller_page(_sealed(ballot_id), tried.status, tried.errors)
    return _teller_page(found, code=code, code_file=_code_file(found, code))


@bp.post("/ballots/<int:ballot_id>/teller/confirm")
@login_required
@no_store
def confirm_code(ballot_id: int):
    found = _sealed(ballot_id)
    with attempt() as tried:
        ballot_tellers.confirm_code(found, current_member(), _posted_code())
    if tried.refusal:
        # The code typed is not shown back: it may be the real one, mistyped by a letter.
        return _teller_page(_sealed(ballot_id), tried.status, tried.errors)
    if found.public_key:
        flash(
            gettext(
                "Thank you: you have kept your code. Every teller has now, "
                "so the ballot's key is made and voting opens at the time "
                "set."
            ),
            "success",
        )
    else:
        flash(
            gettext("Thank you: you have kept your code. Keep it safe until the count."), "success"
        )
    return redirect(url_for("ballots.teller", ballot_id=ballot_id))


# --- the count -----------------------------------------------------------------------------


def _count_page(ballot: Ballot, status: int = 200, errors: Errors | None = None):
    return _tellers_page("ballots/count.html", ballot, status, errors)


@bp.get("/ballots/<int:ballot_id>/count")
@login_required
@no_store
def count(ballot_id: int):
    found = _sealed(ballot_id)
    if ballots.has_result(found):
        return redirect(url_for("ballots.ballot", ballot_id=ballot_id, _anchor="result"))
    return _count_page(found)


@bp.post("/ballots/<int:ballot_id>/count")
@login_required
@no_store  # takes a teller's code
def give_share(ballot_id: int):
    found = _sealed(ballot_id)
    with attempt() as tried:
        ballot_tellers.submit_share(found, current_member(), _posted_code())
    if tried.refusal:
        return _count_page(_sealed(ballot_id), tried.status, tried.errors)
    if ballots.has_result(found):
        flash(
            gettext("Thank you: your share was the last one needed. The papers are counted."),
            "success",
        )
        return redirect(url_for("ballots.ballot", ballot_id=ballot_id, _anchor="result"))
    more = _still_needed(found)
    flash(
        ngettext(
            "Thank you: your share is in. The count needs %(num)d more teller.",
            "Thank you: your share is in. The count needs %(num)d more tellers.",
            more,
        ),
        "success",
    )
    return redirect(url_for("ballots.count", ballot_id=ballot_id))


# --- the ballot box ------------------------------------------------------------------------


@bp.get("/ballots/<int:ballot_id>/box")
@login_required
def box(ballot_id: int):
    found = _sealed(ballot_id)
    wanted = request.args.get("tracker", "").strip().lower()[:100]
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    status, problem, listed = 200, None, None
    if wanted and not TRACKER.fullmatch(wanted):
        status, problem = 400, "A tracker is 64 characters, the digits 0–9 and letters a–f."
    else:
        try:
            listed = ballot_box.trackers(found, page, TRACKERS_PER_PAGE, wanted or None)
        except NotFound as exc:
            status, problem = 404, exc.message
    return render_template(
        "ballots/box.html",
        ballot=found,
        where=ballots.state(found),
        listed=listed,
        wanted=wanted,
        problem=problem,
    ), status
