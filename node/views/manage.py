"""Organisers' forms under /manage: content, members and the group profile."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from schemas import vocab
from schemas.group import GroupIn
from schemas.members import MemberIn, MemberUpdate

from ..auth import current_member, role_required
from ..services import checklist, groups, profile
from ..services.membership import imports, invitations, joining, members
from ..services.messaging import deliverability
from ..services.organising import campaigns, candidates, events, posts
from . import attendance_page, event_form, pictures
from . import manage_invitations as invitation_forms
from .forms import Errors
from .manage_forms import (
    GROUP_FIELDS,
    RESOURCES,
    Filter,
    FormField,
    Resource,
    member_fields,
    role_choices,
)
from .no_store import no_store
from .organiser_forms import as_form_values, read_posted, save_if_valid, try_service

bp = Blueprint("manage", __name__, url_prefix="/manage")

PER_PAGE = 20
KIND = "<any({}):kind>".format(", ".join(RESOURCES))


@bp.before_request
@role_required("organiser")
def _organisers_only() -> None:
    """Guard every route here: visitors log in first, members without the role get a 403."""


# Shared mechanics --------------------------------------------------------------------


def _page_number() -> int:
    return min(max(request.args.get("page", 1, type=int), 1), 100_000)


def _filter_values(filters: Iterable[Any]) -> dict[str, str | None]:
    """Read list filters from the query string, ignoring values outside their choices."""
    chosen = {}
    for spec in filters:
        value = request.args.get(spec.name) or None
        chosen[spec.name] = value if value in spec.choices else None
    return chosen


def _form_page(template: str, status: int = 200, **context: Any):
    return render_template(template, **context), status


# Dashboard ---------------------------------------------------------------------------


@bp.get("/")
def dashboard():
    viewer = current_member()
    counts = {
        "campaigns": campaigns.listing(viewer, per_page=1, status="active").total,
        "events": events.listing(viewer, per_page=1, when="upcoming").total,
        "candidates": candidates.listing(viewer, per_page=1).total,
        "posts": posts.listing(viewer, per_page=1).total,
        "members": members.listing(1, 1, status="active").total,
        "join_requests": joining.count_pending(),
    }
    upcoming = events.listing(viewer, per_page=5, when="upcoming")
    pending = checklist.pending(groups.current_group())
    return render_template(
        "manage/dashboard.html", counts=counts, upcoming=upcoming, checklist=pending
    )


@bp.post("/checklist/dismiss")
def dismiss_checklist():
    checklist.dismiss(groups.current_group())
    flash(
        gettext("The checklist is put away. Everything on it stays in the tabs above."), "success"
    )
    return redirect(url_for("manage.dashboard"))


# Campaigns, events, candidates and news posts: one set of views ----------------------


def _resource(kind: str) -> Resource:
    found = RESOURCES.get(kind)
    if found is None:
        abort(404)
    return found


def _item_form(resource: Resource, item: Any, values: dict, errors: Errors, status=200, plan=None):
    return _form_page(
        "manage/item_form.html",
        status,
        resource=resource,
        item=item,
        values=values,
        errors=errors,
        fields=resource.fields,
        **(event_form.context(item, plan) if resource.kind == "events" else {}),
    )


def _naive_zone(resource: Resource) -> str | None:
    # Events name their zone in the form and the service applies it; other times are
    # entered in the group's zone, which is applied here.
    return None if resource.zone_field else resource.zone_of(None)


@bp.get(f"/{KIND}/")
def items(kind: str):
    resource = _resource(kind)
    chosen = _filter_values(resource.filters)
    found = resource.service.listing(
        current_member(), page=_page_number(), per_page=PER_PAGE, **chosen
    )
    args = {"kind": kind, **{k: v for k, v in chosen.items() if v}}
    return render_template(
        "manage/items.html", resource=resource, found=found, chosen=chosen, args=args
    )


@bp.route(f"/{KIND}/new", methods=["GET", "POST"])
def new_item(kind: str):
    resource = _resource(kind)
    if request.method == "GET":
        return _item_form(resource, None, resource.defaults(), {})
    problems = event_form.problems(None) if kind == "events" else None
    data, errors = read_posted(resource.schema(), resource.fields, _naive_zone(resource), problems)
    data, errors, values = pictures.with_picture(resource, data, errors)
    if data is not None and kind == "events":
        data[events.CONFIRM_FIELD] = event_form.past_start_confirmed()
    created, refusal, status = save_if_valid(errors, lambda: resource.service.create(data))
    if created is None:
        return _item_form(resource, None, values, refusal, status)
    flash(
        gettext(
            "Created the %(singular)s “%(title_of)s”.",
            singular=resource.singular,
            title_of=resource.title_of(created),
        ),
        "success",
    )
    return redirect(url_for("manage.items", kind=kind))


@bp.route(f"/{KIND}/<int:item_id>/edit", methods=["GET", "POST"])
def edit_item(kind: str, item_id: int):
    resource = _resource(kind)
    item = resource.service.get(item_id, current_member())
    if request.method == "GET":
        values = as_form_values(item, resource.fields, resource.zone_of(item))
        if resource.pictures:
            values |= pictures.item_picture_values(item)
        return _item_form(resource, item, values, {})
    problems = event_form.problems(item) if kind == "events" else None
    data, errors = read_posted(resource.schema(), resource.fields, _naive_zone(resource), problems)
    data, errors, values = pictures.with_picture(resource, data, errors)
    # Moving an event e-mails everyone going and on shifts: the form says so first.
    asked = event_form.ask_first(item, data) if kind == "events" and not errors else None
    if asked:
        return _item_form(resource, item, values, asked[1], asked[2], plan=asked[0])
    saved, refusal, status = save_if_valid(errors, lambda: resource.service.update(item, data))
    if saved is None:
        return _item_form(resource, item, values, refusal, status)
    flash(
        gettext(
            "Saved the %(singular)s “%(title_of)s”.",
            singular=resource.singular,
            title_of=resource.title_of(saved),
        ),
        "success",
    )
    return redirect(url_for("manage.items", kind=kind))


@bp.route(f"/{KIND}/<int:item_id>/delete", methods=["GET", "POST"])
def delete_item(kind: str, item_id: int):
    resource = _resource(kind)
    item = resource.service.get(item_id, current_member())
    title = resource.title_of(item)
    if request.method == "GET":
        warning = (
            event_form.delete_warning(item)
            if kind == "events"
            else gettext("This cannot be undone.")
        )
        return render_template(
            "manage/confirm.html",
            heading=gettext(
                "Delete the %(singular)s “%(title)s”?", singular=resource.singular, title=title
            ),
            warning=warning,
            button=gettext("Delete %(singular)s", singular=resource.singular),
            back=url_for("manage.edit_item", kind=kind, item_id=item_id),
        )
    resource.service.delete(item)
    flash(
        gettext("Deleted the %(singular)s “%(title)s”.", singular=resource.singular, title=title),
        "success",
    )
    return redirect(url_for("manage.items", kind=kind))


# Events: status and attendance -------------------------------------------------------

STATUS_ACTIONS = {
    "cancelled": ("Cancel", "cancelled"),
    "postponed": ("Postpone", "postponed"),
    "scheduled": ("Reinstate", "back on"),
}


@bp.route("/events/<int:item_id>/status", methods=["GET", "POST"])
def event_status(item_id: int):
    """Cancel, postpone or reinstate an event; GET asks to confirm."""
    event = events.get(item_id, current_member())
    wanted = request.values.get("status")
    if wanted not in vocab.EVENT_STATUSES:
        abort(400, "Choose scheduled, postponed or cancelled.")
    verb, done = STATUS_ACTIONS[wanted]
    if request.method == "GET":
        return render_template(
            "manage/confirm.html",
            heading=f"{verb} “{event.title}”?",
            warning="People who answered keep their answers and are e-mailed the new status.",
            button=f"{verb} event",
            fields={"status": wanted},
            back=url_for("manage.edit_item", kind="events", item_id=item_id),
            danger=wanted == "cancelled",
        )
    if wanted == "cancelled":
        events.cancel(event)
    else:
        events.update(event, {"status": wanted})
    flash(gettext("“%(title)s” is %(done)s.", title=event.title, done=done), "success")
    return redirect(url_for("manage.edit_item", kind="events", item_id=item_id))


@bp.get("/events/<int:item_id>/attendance")
def attendance(item_id: int):
    """List who answered an event's RSVP: names are for organisers only."""
    event = events.get(item_id, current_member())
    response = request.args.get("response") or None
    if response not in vocab.RSVP_RESPONSES:
        response = None
    return attendance_page.render(event, response=response, page=_page_number())


# Members -----------------------------------------------------------------------------

MEMBER_FILTERS = (
    Filter("role", "Role", vocab.ROLES),
    Filter("status", "Status", vocab.MEMBER_STATUSES),
)


@bp.get("/members/")
def member_list():
    chosen = _filter_values(MEMBER_FILTERS)
    found = members.listing(_page_number(), PER_PAGE, **chosen)
    args = {k: v for k, v in chosen.items() if v}
    troubles = {row.address: row for row in deliverability.troubled(m.email for m in found.items)}
    return render_template(
        "manage/members.html",
        found=found,
        chosen=chosen,
        args=args,
        filters=MEMBER_FILTERS,
        troubles=troubles,
        sent=invitations.sent_invitations(),
        join_requests=joining.count_pending(),
    )


@bp.route("/members/new", methods=["GET", "POST"])
@no_store  # the answer shows the invitation link
def add_member():
    viewer = current_member()
    fields = member_fields(viewer, new=True)
    page = {"heading": "Add a member", "button": "Add and mail the invitation", "fields": fields}
    if request.method == "GET":
        return _form_page("manage/member_form.html", values={"role": "member"}, errors={}, **page)
    data, errors = read_posted(MemberIn(), fields)
    added, refusal, status = save_if_valid(
        errors, lambda: invitations.add_with_invite(data, actor=viewer)
    )
    if added is None:
        return _form_page(
            "manage/member_form.html", status, values=request.form, errors=refusal, **page
        )
    member, token = added
    return invitation_forms.show_invite(token, member, member.role, mailed_to=member.email)


@bp.route("/members/invite", methods=["GET", "POST"])
@no_store
def invite():
    """Mail an invitation to an address, or make an open link for anyone, with a role."""
    viewer = current_member()
    fields = (
        FormField(
            "role",
            "Role",
            "select",
            required=True,
            choices=role_choices(viewer),
            hint="The role the person gets when they join through the link.",
        ),
        FormField(
            "email",
            "E-mail address",
            "email",
            hint="We mail the invitation there. Leave it empty for an open link anyone can use.",
        ),
        FormField("display_name", "Name", "text", hint="Optional: offered when they join."),
    )
    page = {"heading": "Invite", "button": "Invite", "fields": fields}
    if request.method == "GET":
        return _form_page("manage/member_form.html", values={"role": "member"}, errors={}, **page)
    role = request.form.get("role", "")
    email = request.form.get("email", "").strip().lower()
    name = request.form.get("display_name", "").strip()
    errors = {}
    if role not in vocab.ROLES:
        errors["role"] = [f"Choose one of: {', '.join(role_choices(viewer))}."]
    if email and not imports.is_email(email):
        errors["email"] = [
            gettext("Enter an e-mail address like name@example.org, or leave it empty.")
        ]
    if len(name) > 80:
        errors["display_name"] = ["80 characters at most."]
    if errors:
        return _form_page(
            "manage/member_form.html", 400, values=request.form, errors=errors, **page
        )
    token, refusal, status = try_service(
        lambda: invitations.invite(viewer, role=role, email=email or None, name=name)
    )
    if token is None:
        return _form_page(
            "manage/member_form.html", status, values=request.form, errors=refusal, **page
        )
    return invitation_forms.show_invite(token, role=role, mailed_to=email or None)


def _change_fields(viewer, target) -> tuple[FormField, ...]:
    fields = member_fields(viewer, new=False)
    if target.role == "admin" and not viewer.has_role("admin"):
        # Only admins touch an admin's role or status: show them, fixed.
        fields = tuple(
            FormField(
                f.name,
                f.label,
                f.type,
                choices=vocab.ROLES if f.name == "role" else f.choices,
                hint="Only an admin can change this.",
                attrs={"disabled": True},
            )
            if f.name in ("role", "status")
            else f
            for f in fields
        )
    return fields


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
def edit_member(member_id: int):
    viewer = current_member()
    target = members.get(member_id)
    fields = _change_fields(viewer, target)
    page = {
        "heading": f"Member: {target.display_name}",
        "button": "Save",
        "fields": fields,
        "target": target,
    }
    if request.method == "GET":
        values = {"display_name": target.display_name, "role": target.role, "status": target.status}
        return _form_page("manage/member_form.html", values=values, errors={}, **page)
    data, errors = read_posted(MemberUpdate(), fields)
    saved, refusal, status = save_if_valid(
        errors, lambda: members.change(target, data, actor=viewer)
    )
    if saved is None:
        return _form_page(
            "manage/member_form.html", status, values=request.form, errors=refusal, **page
        )
    flash(
        gettext(
            "Saved %(display_name)s: %(role)s, %(status)s.",
            display_name=saved.display_name,
            role=saved.role,
            status=saved.status,
        ),
        "success",
    )
    if saved.id == viewer.id and not (saved.is_active and saved.has_role("organiser")):
        return redirect(url_for("pages.home"))  # they stepped down: /manage is closed to them now
    return redirect(url_for("manage.member_list"))


@bp.route("/members/<int:member_id>/remove", methods=["GET", "POST"])
def remove_member(member_id: int):
    viewer = current_member()
    target = members.get(member_id)
    name = target.display_name
    confirm = {
        "heading": f"Remove {name} ({target.email})?",
        "warning": "Their account, RSVPs and tokens are erased. This cannot be undone.",
        "button": "Remove member",
        "back": url_for("manage.edit_member", member_id=member_id),
    }
    if request.method == "GET":
        return render_template("manage/confirm.html", **confirm)
    _, refusal, status = try_service(lambda: members.remove(target, actor=viewer))
    if refusal:
        return render_template("manage/confirm.html", errors=refusal, **confirm), status
    flash(gettext("Removed %(name)s.", name=name), "success")
    return redirect(url_for("manage.member_list"))


# Group profile -----------------------------------------------------------------------


def _group_page(values: dict, errors: Errors, status: int = 200):
    return _form_page(
        "manage/group.html", status, values=values, errors=errors, fields=GROUP_FIELDS
    )


@bp.route("/group", methods=["GET", "POST"])
def group_profile():
    group = groups.current_group()
    if request.method == "GET":
        return _group_page(as_form_values(group, GROUP_FIELDS, group.timezone), {})
    data, errors = read_posted(GroupIn(), GROUP_FIELDS)
    saved, refusal, status = save_if_valid(errors, lambda: profile.update(group, data))
    if saved is None:
        return _group_page(request.form, refusal, status)
    flash(gettext("Saved the group profile."), "success")
    return redirect(url_for("manage.group_profile"))


@bp.post("/group/logo")
def group_logo():
    group = groups.current_group()
    upload = request.files.get("logo")
    if upload is None or not upload.filename:
        refusal, status = {"logo": [gettext("Choose an image file.")]}, 400
    else:
        content = upload.stream.read(profile.LOGO_MAX_BYTES + 1)
        _, refusal, status = try_service(lambda: profile.store_logo(group, content))
    if refusal:
        values = as_form_values(group, GROUP_FIELDS, group.timezone)
        return _form_page(
            "manage/group.html",
            status,
            values=values,
            errors={},
            logo_errors=refusal,
            fields=GROUP_FIELDS,
        )
    flash(gettext("Uploaded the new logo."), "success")
    return redirect(url_for("manage.group_profile"))
