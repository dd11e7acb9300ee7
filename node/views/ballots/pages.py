"""Ballot pages: members vote and check their receipts; organisers set ballots up and close them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError

from schemas import vocab
from schemas.ballots import BallotIn, VoteIn
from schemas.wording import N_

from ...auth import current_member, role_required
from ...models import Ballot
from ...services.errors import ServiceError
from ...services.groups import current_group
from ...services.voting import ballot_tellers, ballots, charts, votes
from ..attempt import attempt
from ..forms import Errors, flatten, merge_errors, service_errors
from ..no_store import no_store
from .blueprint import bp

PAPERS_PER_PAGE = 100


def _page_number() -> int:
    return min(max(request.args.get("page", 1, type=int), 1), 100_000)


def _group_zone() -> str:
    group = current_group()
    return group.timezone if group else "UTC"


@bp.get("/ballots")
def index():
    viewer = current_member()
    found = ballots.listing(viewer, page=_page_number())
    voted = {b.id for b in found.items if votes.has_voted(b, viewer)} if viewer else set()
    states = {b.id: ballots.state(b) for b in found.items}
    return render_template("ballots/index.html", found=found, voted=voted, states=states)


def _ballot_page(ballot: Ballot, status: int = 200, errors: Errors | None = None, **extra: Any):
    viewer = current_member()
    where = ballots.state(ballot)
    result = ballots.result(ballot) if where == "closed" else None
    labels = [o.label for o in ballot.options]
    return render_template(
        "ballots/ballot.html",
        ballot=ballot,
        where=where,
        tellers=ballot_tellers.teller_status(ballot) if ballot.sealed else [],
        is_teller=ballot_tellers.is_teller(ballot, viewer),
        voted=votes.has_voted(ballot, viewer),
        barred=votes.ineligibility(ballot, viewer) if viewer else None,
        result=result,
        result_chart=charts.result_chart(labels, result, ballot.kind == "ranked")
        if result
        else None,
        round_charts=charts.round_charts(labels, result.get("rounds") or []) if result else [],
        turnout=ballots.turnout(ballot) if where in ("open", "closing", "counting") else None,
        endorses=ballots.endorsed_candidate(ballot),
        option_choices=[(o.position, o.label) for o in ballot.options],
        errors=errors or {},
        chosen=extra.pop("chosen", None) or {},
        **extra,
    ), status


@bp.get("/ballots/<int:ballot_id>")
def ballot(ballot_id: int):
    return _ballot_page(ballots.get(ballot_id, current_member()))


EMPTY_PAPER = N_("Choose before casting your vote: nothing is chosen.")
EMPTY_YES_NO = N_("Choose Yes, No or Abstain before casting your vote: nothing is chosen.")
ABSTAIN_AND_CHOOSE = N_("Either choose or abstain, not both.")


def _posted_form(ballot: Ballot) -> dict[str, Any]:
    """Keep the vote form as posted, to show it again or replay it from the review page."""
    if ballot.kind == "ranked":
        marks: Any = {
            str(o.position): request.form.get(f"rank_{o.position}", "").strip()[:4]
            for o in ballot.options
        }
    else:
        marks = [v[:4] for v in request.form.getlist("choice") if v != ""]
    return {"marks": marks, "abstain": request.form.get("abstain") == "yes"}


def _posted_choices(ballot: Ballot, chosen: dict[str, Any]) -> list[int]:
    """Read the vote form: radio or boxes named ``choice``, or a rank per option when ranked.

    An empty paper is refused: abstaining is the Abstain option (yes/no) or the abstain box.
    """
    choices = _marked(ballot, chosen["marks"])
    if chosen["abstain"]:
        if choices:
            raise ValidationError({"choices": [ABSTAIN_AND_CHOOSE]})
        return []
    if not choices:
        raise ValidationError(
            {"choices": [EMPTY_YES_NO if ballot.kind == "yes_no" else EMPTY_PAPER]}
        )
    return choices


def _marked(ballot: Ballot, marks: Any) -> list[int]:
    if ballot.kind != "ranked":
        try:
            return [int(v) for v in marks]
        except ValueError:
            raise ValidationError(
                {"choices": [gettext("Choose among the options shown.")]}
            ) from None
    ranks: dict[int, int] = {}
    for option in ballot.options:
        value = marks.get(str(option.position), "")
        if not value:
            continue
        if not value.isdigit() or not 1 <= int(value) <= len(ballot.options):
            raise ValidationError(
                {"choices": [gettext("Give each rank as a number from the list.")]}
            )
        if int(value) in ranks:
            raise ValidationError({"choices": [gettext("Give each rank to one candidate only.")]})
        ranks[int(value)] = option.position
    order = sorted(ranks)
    if order != list(range(1, len(order) + 1)):
        raise ValidationError(
            {"choices": [gettext("Number your preferences 1, 2, 3… without gaps.")]}
        )
    return [ranks[rank] for rank in order]


def _review(ballot: Ballot, chosen: dict[str, Any], choices: list[int], code: str | None):
    """Show what the member is about to vote, to confirm or go back and change."""
    labels = {o.position: o.label for o in ballot.options}
    return render_template(
        "ballots/review.html",
        ballot=ballot,
        chosen=chosen,
        picked=[labels[c] for c in choices],
        receipt_code=code,
        final=not ballot.allow_change,
    )


@bp.post("/ballots/<int:ballot_id>/vote")
@no_store
def vote(ballot_id: int):
    viewer = current_member()
    if viewer is None:
        return redirect(url_for("auth.login", next=url_for("ballots.ballot", ballot_id=ballot_id)))
    found = ballots.get(ballot_id, viewer)
    code = request.form.get("receipt_code", "").strip() or None
    chosen = _posted_form(found)
    if request.form.get("back"):
        return _ballot_page(found, chosen=chosen)  # back from the review, choices kept
    try:
        choices = _posted_choices(found, chosen)
        VoteIn().load({"choices": choices, "receipt_code": code})
    except ValidationError as exc:
        return _ballot_page(found, 400, flatten(exc.messages), chosen=chosen)
    if request.form.get("confirm") != "yes":
        with attempt() as tried:
            votes.check_may_vote(found, viewer, choices)  # refused now, not after the review
        if tried.refusal:
            return _ballot_page(found, tried.status, tried.errors, chosen=chosen)
        return _review(found, chosen, choices, code)
    with attempt() as tried:
        receipt = votes.cast(found, viewer, choices, code)
    if tried.refusal:
        found = ballots.get(ballot_id, viewer)
        return _ballot_page(found, tried.status, tried.errors, chosen=chosen)
    # Shown here, once: it is not stored anywhere a page could be rendered from again.
    return render_template("ballots/receipt.html", ballot=found, receipt=receipt)


@bp.get("/ballots/<int:ballot_id>/papers")
@no_store  # the receipt code may be in the address
def papers(ballot_id: int):
    viewer = current_member()
    if viewer is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    found = ballots.get(ballot_id, viewer)
    if not ballots.has_result(found):
        if found.sealed and found.closed_at is not None:
            flash(gettext("The papers are published when the tellers have counted them."), "info")
        else:
            flash(gettext("The papers are published when the ballot closes."), "info")
        return redirect(url_for("ballots.ballot", ballot_id=found.id))
    if found.sealed:
        # Opened papers in the count's shuffled order: nothing beside them to look up.
        listed = votes.papers(found, page=_page_number(), per_page=PAPERS_PER_PAGE)
        return render_template("ballots/opened.html", ballot=found, listed=listed)
    # Only the public part is looked up or shown back, even if the whole code was typed.
    receipt = votes.receipt_part(request.args.get("receipt", "")[:40]) or None
    listed = votes.papers(found, receipt, page=_page_number(), per_page=PAPERS_PER_PAGE)
    return render_template("ballots/papers.html", ballot=found, listed=listed, receipt=receipt)


# --- organisers ---------------------------------------------------------------------------

FIELDS = (
    "question",
    "description",
    "kind",
    "seats",
    "opens_at",
    "closes_at",
    "freeze_at",
    "quorum",
    "candidate_id",
    "visibility",
)


def _posted_ballot() -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FIELDS:
        value = request.form.get(name, "").strip()
        if value:
            data[name] = value
    data["allow_change"] = "allow_change" in request.form
    lines = [line.strip() for line in request.form.get("options", "").splitlines()]
    if data.get("kind") != "yes_no":
        data["options"] = [line for line in lines if line]
    return data


def _posted_tellers() -> dict[str, Any]:
    """Read the tellers picked (member ids) and how many of them must act together."""
    found: dict[str, Any] = {}
    try:
        found["tellers"] = [int(v) for v in request.form.getlist("tellers") if v.strip()]
    except ValueError:
        raise ValidationError({"tellers": [gettext("Pick the tellers from the list.")]}) from None
    needed = request.form.get("tellers_needed", "").strip()
    if needed:
        if not needed.isdigit():
            raise ValidationError({"tellers_needed": [gettext("Give a whole number, such as 2.")]})
        found["tellers_needed"] = int(needed)
    return found


def _read_ballot() -> tuple[dict[str, Any], Errors]:
    """Read the new-ballot form, collecting every error at once (not in batches): the
    fields', and the clock's and the database's on the fields that parsed."""
    errors: Errors = {}
    try:
        tellers = _posted_tellers()
    except ValidationError as exc:
        tellers, errors = {}, flatten(exc.messages)
    posted = _posted_ballot()
    try:
        parsed = data = {**BallotIn().load(posted), **tellers}
    except ValidationError as exc:
        data = {}
        parsed = {**(exc.valid_data if isinstance(exc.valid_data, dict) else {}), **tellers}
        errors = {**flatten(exc.messages), **errors}
    if not tellers.get("tellers") and "tellers" not in errors:
        errors["tellers"] = [gettext("Pick at least one teller.")]
    unparsed = set(errors) - set(parsed)
    errors = merge_errors(errors, ballots.problems(parsed, unreadable=unparsed))
    return data, errors


def _form(
    values: dict[str, Any],
    errors: Errors,
    status: int = 200,
    preview: ballots.SetupPreview | None = None,
):
    if preview is None:
        members = ballots.eligible_members()[1]
    return render_template(
        "ballots/form.html",
        values=values,
        errors=errors,
        preview=preview,
        members=members if preview is None else preview.members,
        candidates=ballots.candidate_choices(),
        teller_choices=ballot_tellers.choices(),
        zone=_group_zone(),
        kinds=[(k, KIND_LABELS[k]) for k in vocab.BALLOT_KINDS],
    ), status


KIND_LABELS = {
    "yes_no": "Yes / no / abstain (a motion)",
    "choose_one": "Choose one option",
    "choose_many": "Choose up to N options",
    "ranked": "Ranked choice: single transferable vote for N seats",
}


@bp.get("/manage/ballots")
@role_required("organiser")
def manage_list():
    found = ballots.listing(current_member(), page=_page_number())
    states = {b.id: ballots.state(b) for b in found.items}
    turnouts = {
        b.id: ballots.turnout(b)
        for b in found.items
        if states[b.id] in ("open", "closing", "counting")
    }
    return render_template("ballots/manage.html", found=found, states=states, turnouts=turnouts)


@bp.route("/manage/ballots/new", methods=["GET", "POST"])
@role_required("organiser")
def new():
    if request.method == "GET":
        return _form({"kind": "yes_no", "visibility": "public", "seats": 1}, {})
    values = {
        **{name: request.form.get(name, "").strip() for name in FIELDS},
        "allow_change": "allow_change" in request.form,
        "options": request.form.get("options", ""),
        "tellers": request.form.getlist("tellers"),
        "tellers_needed": request.form.get("tellers_needed", "").strip(),
    }
    data, errors = _read_ballot()
    if errors:
        return _form(values, errors, 400)
    try:
        seen = ballots.preview(data)
        checking = "preview" in request.form
        if checking or (seen.warnings and "accept_warnings" not in request.form):
            # Nothing is set up yet: the organiser reads who may vote, and any warning, first.
            return _form(values, {}, 200, preview=seen)
        created = ballots.create(data, current_member())
    except ServiceError as exc:
        return _form(values, service_errors(exc), exc.status)
    flash(
        gettext("Ballot set up. It opens once every teller has taken and kept their code."),
        "success",
    )
    if created.tellers_needed == 1:
        flash(
            gettext(
                "Warning: one teller alone can open the papers, so that "
                "teller can read every paper and how each member voted. Name "
                "more tellers and need two of them to prevent it."
            ),
            "error",
        )
    return redirect(url_for("ballots.ballot", ballot_id=created.id))


@bp.route("/manage/ballots/<int:ballot_id>/close", methods=["GET", "POST"])
@role_required("organiser")
def close(ballot_id: int):
    """Ask first (a GET, or a POST without the confirmation), then close early."""
    found = ballots.get(ballot_id, current_member())
    if request.method == "GET" or request.form.get("confirm") != "yes":
        if ballots.state(found) not in ("open", "closing", "waiting_for_tellers"):
            flash(gettext("Only a ballot that has opened and not closed can be closed."), "error")
            return redirect(url_for("ballots.ballot", ballot_id=ballot_id))
        voted, eligible = ballots.turnout(found)
        return render_template("ballots/close.html", ballot=found, voted=voted, eligible=eligible)
    with attempt() as tried:
        ballots.close(found, early=True)
    if tried.refusal:
        flash(tried.refusal.message, "error")
        return redirect(url_for("ballots.ballot", ballot_id=ballot_id))
    if found.sealed and not ballots.has_result(found):
        flash(
            gettext("Voting is closed. The count waits for the tellers to give their shares."),
            "success",
        )
    else:
        flash(gettext("The ballot is closed and counted."), "success")
    return redirect(url_for("ballots.ballot", ballot_id=ballot_id))


@bp.post("/manage/ballots/<int:ballot_id>/delete")
@role_required("organiser")
def delete(ballot_id: int):
    found = ballots.get(ballot_id, current_member())
    with attempt() as tried:
        ballots.delete(found)
    if tried.refusal:
        flash(tried.refusal.message, "error")
        return redirect(url_for("ballots.ballot", ballot_id=ballot_id))
    flash(gettext("Ballot deleted."), "success")
    return redirect(url_for("ballots.index"))
