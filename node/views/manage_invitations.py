"""Organisers' invitations under /manage/members: resend, revoke, import, export, mail problems."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from schemas import vocab

from ..auth import current_member, role_required
from ..extensions import db
from ..services.errors import Invalid
from ..services.membership import imports, invitations, roster_csv
from ..services.messaging import deliverability
from ..services.messaging.links import external_url
from .no_store import no_store

bp = Blueprint("invitations", __name__, url_prefix="/manage/members")


@bp.before_request
@role_required("organiser")
def _organisers_only() -> None:
    """Guard every route here: visitors log in first, members without the role get a 403."""


def show_invite(token: str, member=None, role: str = "member", mailed_to: str | None = None):
    """Answer a POST that made an invitation: say where it was mailed, and show the link.

    The link is shown in the response to the POST, never flashed: it must not sit in the
    session cookie, and it cannot be shown again (only its hash is stored). When it was
    mailed it is shown too, for when the mail does not arrive.
    """
    return render_template(
        "manage/invite_link.html",
        link=external_url("auth.accept_invite", token=token),
        member=member,
        role=role,
        mailed_to=mailed_to,
        lifetime_days=invitations.INVITE_LIFETIME.days,
    )


# Resend and revoke -------------------------------------------------------------------


@bp.post("/invitations/<int:invite_id>/resend")
@no_store  # the answer shows the new link
def resend(invite_id: int):
    found = invitations.get_sent(invite_id)  # a refusal gets the app's error page
    token = invitations.resend(found, current_member())
    return show_invite(token, role=found.role, mailed_to=found.email)


@bp.post("/invitations/<int:invite_id>/revoke")
def revoke(invite_id: int):
    found = invitations.get_sent(invite_id)
    email = found.email
    invitations.revoke(found, current_member())
    flash(
        gettext("Revoked the invitation to %(email)s: its link no longer works.", email=email),
        "success",
    )
    return redirect(url_for("manage.member_list"))


# Importing a list --------------------------------------------------------------------


def _import_page(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("max_rows", imports.MAX_ROWS)
    context.setdefault("max_kb", imports.MAX_BYTES // 1024)
    return render_template("manage/member_import.html", **context), status


@bp.route("/import", methods=["GET", "POST"])
def import_members():
    """Upload a CSV and see what each row would do (writes nothing)."""
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(400, errors={"file": [gettext("Choose a CSV file to upload.")]})
    try:
        text = imports.decode(upload.stream.read(imports.MAX_BYTES + 1))
        report = imports.check(text, current_member())
    except Invalid as exc:
        return _import_page(400, errors=exc.fields)
    return _import_page(report=report, text=text, preview=True)


@bp.post("/import/confirm")
@no_store
def import_confirm():
    """Invite the good rows of the previewed list and report on every row."""
    text = request.form.get("csv", "")
    try:
        report = imports.run(text, current_member())
    except Invalid as exc:
        return _import_page(400, errors=exc.fields)
    rejected = imports.rejected_csv(report.fixable) if report.fixable else ""
    return _import_page(report=report, rejected=rejected, preview=False)


@bp.post("/import/rejected.csv")
def import_rejected():
    """Hand back the rows to fix as a CSV file (the report page posts them; nothing is stored)."""
    text = request.form.get("csv", "")
    if len(text.encode()) > imports.MAX_BYTES:
        return _import_page(400, errors={"csv": ["Too big."]})
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="members-to-fix.csv"'},
    )


# Exporting the list ------------------------------------------------------------------


@bp.get("/export.csv")
@no_store  # members' personal data: no copy kept by a browser or a proxy
def export_members():
    """Download the members (of the role and status chosen on the list) as a CSV file."""
    role = request.args.get("role") if request.args.get("role") in vocab.ROLES else None
    status = request.args.get("status")
    status = status if status in vocab.MEMBER_STATUSES else None
    return Response(
        roster_csv.members_csv(role=role, status=status),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="members.csv"'},
    )


# Addresses with delivery problems ----------------------------------------------------


@bp.get("/mail-problems")
def mail_problems():
    return render_template("manage/mail_problems.html", troubled=deliverability.troubled())


@bp.post("/mail-problems/clear")
def clear_problem():
    address = request.form.get("address", "").strip().lower()
    if not address:
        errors = {"address": [gettext("Say which address to clear.")]}
        page = render_template(
            "manage/mail_problems.html", troubled=deliverability.troubled(), errors=errors
        )
        return page, 400
    if deliverability.clear(address):
        db.session.commit()
        flash(gettext("Cleared %(address)s: mail goes to it again.", address=address), "success")
    else:
        flash(gettext("%(address)s was not held back.", address=address), "info")
    return redirect(url_for("invitations.mail_problems"))
