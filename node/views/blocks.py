"""The Blocked page (admins): the block list, add and remove, CSV import and export."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from ..auth import current_member, role_required
from ..services.peering import blocking, blocks
from .attempt import attempt

bp = Blueprint("blocks", __name__, url_prefix="/manage/blocks")

MAX_FILE = 1024 * 1024  # a Mastodon export of thousands of domains is well under this
LABELS = {
    "target": "Actor URL or domain",
    "public_comment": "Public comment",
    "private_comment": "Private comment",
    "file": "Block list file",
}


def _page(errors: dict[str, list[str]] | None = None, values=None, status: int = 200, report=None):
    return render_template(
        "manage/blocks.html",
        found=blocks.listing(),
        errors=errors or {},
        values=values or {},
        labels=LABELS,
        report=report,
    ), status


@bp.get("/")
@role_required("admin")
def index():
    """List the blocks, with forms to add one, remove one, import and export the list."""
    return _page()


@bp.post("/")
@role_required("admin")
def add():
    """Block an actor or a domain, and cut every tie with it."""
    values = {
        name: request.form.get(name, "").strip()
        for name in ("target", "public_comment", "private_comment")
    }
    if not values["target"]:
        return _page({"target": [gettext("Give an actor URL or a domain.")]}, values, 400)
    with attempt() as tried:
        severed = blocking.block(
            values["target"],
            public_comment=values["public_comment"],
            private_comment=values["private_comment"],
            by=current_member(),
            notify=not request.form.get("quiet"),
        )
    if tried.refusal:
        return _page(tried.errors, values, tried.status)
    flash(
        gettext(
            "Blocked %(target)s: %(summary)s.",
            target=severed.block.target,
            summary=severed.summary(),
        ),
        "success",
    )
    return redirect(url_for("blocks.index"))


@bp.post("/<int:block_id>/remove")
@role_required("admin")
def remove(block_id: int):
    """Unblock one actor or domain."""
    found = blocks.get(block_id)
    name = found.target
    blocking.unblock(found)
    flash(
        gettext(
            "Unblocked %(name)s. Follows the block ended are not made again by themselves.",
            name=name,
        ),
        "success",
    )
    return redirect(url_for("blocks.index"))


@bp.post("/import")
@role_required("admin")
def import_list():
    """Block every domain an uploaded Mastodon domain-block CSV file suspends."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page({"file": [gettext("Choose a CSV file.")]}, status=400)
    content = upload.stream.read(MAX_FILE + 1)
    if len(content) > MAX_FILE:
        return _page({"file": [f"The file is larger than {MAX_FILE // 1024} KiB."]}, status=400)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page({"file": [gettext("The file is not UTF-8 text.")]}, status=400)
    with attempt() as tried:
        report = blocking.import_csv(
            text, silence_as_block=bool(request.form.get("silence")), by=current_member()
        )
    if tried.refusal:
        return _page(tried.errors, status=tried.status)
    return _page(report=report)


@bp.get("/export.csv")
@role_required("admin")
def export_list():
    """Download the block list as a Mastodon domain-block CSV file."""
    actors = request.args.get("actors") == "1"
    name = "blocks-with-actors.csv" if actors else "domain_blocks.csv"
    return Response(
        blocking.export_csv(actors=actors),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
