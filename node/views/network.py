"""The Network: what followed groups publish (members), and follows (organisers)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from ..auth import current_member, role_required
from ..services.groups import current_group
from ..services.peering import follows, network
from ..services.twins import outgoing_rsvps
from .attempt import attempt

bp = Blueprint("network", __name__, url_prefix="/network")

PER_PAGE = 20


@bp.get("/")
@role_required("member")
def index():
    """Show followed groups' campaigns, events, candidates and posts, marked as verified."""
    kind = request.args.get("kind", "events")
    if kind not in network.KINDS:
        abort(404)
    page = min(max(request.args.get("page", 1, type=int), 1), 100_000)
    found = network.listing(kind, page=page, per_page=PER_PAGE)
    # A twinned group's events open on this node's own page, where a member can answer.
    twin_events = (
        {event.id: event for event in outgoing_rsvps.twin_events(current_member(), limit=500)}
        if kind == "events"
        else {}
    )
    return render_template(
        "network/index.html",
        kinds=network.KINDS,
        kind=kind,
        found=found,
        following=follows.following_list(),
        twin_events=twin_events,
    )


@bp.route("/following", methods=["GET", "POST"])
@role_required("organiser")
def following():
    """List the groups this group follows, and follow another by handle or URL."""
    errors: dict[str, list[str]] = {}
    status = 200
    target = ""
    if request.method == "POST":
        target = request.form.get("target", "").strip()
        if not target:
            errors, status = {"target": [gettext("Give a handle or an actor URL.")]}, 400
        elif len(target) > 2000:
            errors, status = {"target": [gettext("That is too long for a handle or URL.")]}, 400
        else:
            with attempt() as tried:
                followed = follows.follow(target)
            if tried.refusal:
                errors, status = {"target": [tried.refusal.message]}, tried.status
            else:
                name = followed.peer.name or followed.peer.actor_id
                flash(
                    gettext(
                        "Asked to follow %(name)s. It appears here once it accepts.", name=name
                    ),
                    "success",
                )
                return redirect(url_for("network.following"))
    return render_template(
        "network/following.html",
        found=follows.following_list(),
        errors=errors,
        target=target,
    ), status


@bp.post("/following/<int:following_id>/unfollow")
@role_required("organiser")
def unfollow(following_id: int):
    following = follows.get_following(following_id)
    name = following.peer.name or following.peer.actor_id
    follows.unfollow(following)
    flash(gettext("No longer following %(name)s.", name=name), "success")
    return redirect(url_for("network.following"))


@bp.get("/followers")
@role_required("organiser")
def followers():
    """List the peers that follow this group, with approve and reject for waiting ones."""
    return render_template(
        "network/followers.html",
        found=follows.followers_list(),
        approval=bool(current_group().follow_approval),
    )


@bp.post("/followers/<int:follower_id>/approve")
@role_required("organiser")
def approve_follower(follower_id: int):
    follower = follows.get_follower(follower_id)
    if follower.state != follows.ACCEPTED:
        follows.approve(follower)
    flash(
        gettext(
            "%(value)s now follows this group.", value=follower.peer.name or follower.peer.actor_id
        ),
        "success",
    )
    return redirect(url_for("network.followers"))


@bp.post("/followers/<int:follower_id>/reject")
@role_required("organiser")
def reject_follower(follower_id: int):
    follower = follows.get_follower(follower_id)
    name = follower.peer.name or follower.peer.actor_id
    follows.reject(follower)
    flash(gettext("%(name)s no longer follows this group.", name=name), "success")
    return redirect(url_for("network.followers"))
