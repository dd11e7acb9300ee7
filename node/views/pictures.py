"""Uploaded pictures: served at /uploads/<name>, uploaded from Manage and from the item forms."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import FileStorage

from schemas.wording import N_

from ..auth import current_member, role_required
from ..models import Picture
from ..services import pictures
from ..services.errors import Invalid
from .forms import Errors, service_errors
from .manage_forms import PICTURE_FIELDS, Resource

bp = Blueprint("pictures", __name__)

ALT_MISSING = N_("Describe the picture for people who cannot see it.")
ALT_LONGEST = 300
A_YEAR = 365 * 24 * 3600
# Forms that carry a picture: they take PICTURE_MAX_BYTES more than other requests.
PICTURE_FORMS = frozenset({"manage.new_item", "manage.edit_item", "pictures.manage"})


@bp.record_once
def _larger_bodies_for_pictures(state) -> None:
    # A URL value preprocessor runs before every before_request hook, so before CSRF
    # protection reads the form: the larger limit is in place when the body is parsed.
    state.app.url_value_preprocessor(_allow_picture_body)


def _allow_picture_body(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if endpoint in PICTURE_FORMS and request.method == "POST":
        config = current_app.config
        request.max_content_length = config["MAX_CONTENT_LENGTH"] + config["PICTURE_MAX_BYTES"]


@bp.get("/uploads/<name>")
def picture(name: str):
    """Serve an uploaded picture or its thumbnail: never anything else, never as a page."""
    if not pictures.NAME.match(name):
        abort(404)
    path = pictures.folder() / name
    if not path.is_file():
        abort(404)
    response = current_app.response_class(path.read_bytes(), mimetype=pictures.media_type_of(name))
    # The name is the hash of the content: it never changes, so caches may keep it for ever.
    response.headers["Cache-Control"] = f"public, max-age={A_YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(name.split(".", 1)[0])
    return response.make_conditional(request)


def _read_upload(upload: FileStorage | None) -> Picture | None:
    """Store the file chosen in the form's ``image`` control, if one was chosen."""
    if upload is None or not upload.filename:
        return None
    content = upload.stream.read(current_app.config["PICTURE_MAX_BYTES"] + 1)
    return pictures.store(content, current_member())


def _alt_errors(alt: str) -> list[str]:
    if not alt:
        return [ALT_MISSING]
    if len(alt) > ALT_LONGEST:
        return [f"{ALT_LONGEST} characters at most."]
    return []


def _read_item_picture() -> tuple[dict[str, Any], Errors, dict[str, Any]]:
    """Read an item form's picture: (columns to store, errors, values to show the form again)."""
    errors: Errors = {}
    alt = request.form.get("image_alt", "").strip()
    kept = pictures.find(request.form.get("image_name"))
    name = kept.name if kept is not None and not request.form.get("image_remove") else None
    try:
        uploaded = _read_upload(request.files.get("image"))
    except Invalid as refusal:
        errors |= service_errors(refusal)
    else:
        name = uploaded.name if uploaded is not None else name
    if name and _alt_errors(alt):
        errors["image_alt"] = _alt_errors(alt)
    values = {**request.form.to_dict(), "image_name": name or ""}
    values.pop("image_remove", None)
    return {"image": name, "image_alt": alt if name else None}, errors, values


def with_picture(resource: Resource, data: Any, errors: Errors) -> tuple[Any, Errors, Any]:
    """Add an item form's picture to what its schema read: (data or None, errors, values)."""
    if not resource.pictures:
        return data, errors, request.form
    picture, picture_errors, values = _read_item_picture()
    errors = {**errors, **picture_errors}
    return (None if errors else {**data, **picture}), errors, values


def item_picture_values(item: Any) -> dict[str, Any]:
    """Return an item's picture as the item form shows it."""
    return {"image_name": item.image or "", "image_alt": item.image_alt or ""}


@bp.route("/manage/pictures/", methods=["GET", "POST"], endpoint="manage")
@role_required("organiser")
def manage_pictures():
    """Upload a picture for Markdown and list the latest with the text to paste."""
    errors: Errors = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        alt = request.form.get("image_alt", "").strip()
        values = {"image_alt": alt}
        if _alt_errors(alt):
            errors["image_alt"] = _alt_errors(alt)
        try:
            stored = None if errors else _read_upload(request.files.get("image"))
        except Invalid as refusal:
            errors |= service_errors(refusal)
        else:
            if stored is None and not errors:
                errors["image"] = [gettext("Choose a picture to upload.")]
        if not errors:
            flash(gettext("Uploaded. Paste the Markdown below into a description."), "success")
            return redirect(url_for("pictures.manage", shown=stored.name, alt=alt))
        status = 400
    shown = pictures.find(request.args.get("shown"))
    return render_template(
        "manage/pictures.html",
        found=pictures.recent(),
        shown=shown,
        shown_alt=request.args.get("alt", "")[:ALT_LONGEST],
        fields=PICTURE_FIELDS,
        values=values,
        errors=errors,
    ), status
