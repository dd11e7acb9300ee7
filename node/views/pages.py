"""The public group page and the lists and details anyone may read; RSVPs for members."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext

from schemas import vocab
from schemas.content import RsvpIn

from .. import page_cache
from ..auth import current_member
from ..models import utcnow
from ..services import groups, profile
from ..services.errors import ServiceError
from ..services.organising import campaigns, candidates, events, posts
from ..services.role import is_aggregator
from ..services.twins import twinning
from . import event_page, national
from .forms import read_form, service_errors

bp = Blueprint("pages", __name__)

PER_PAGE = 20
HOME_EVENTS = 10
HOME_CAMPAIGNS = 6
HOME_CANDIDATES = 6
HOME_POSTS = 5


def _page_number() -> int:
    number = request.args.get("page", 1, type=int)
    return min(max(number, 1), 100_000)


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    return value if value in allowed else None


@bp.get("/")
def home():
    if is_aggregator():
        return national.home()  # an aggregator's front page is the national view
    # Members share a copy too: their answers and name are holes the copy is filled with.
    return page_cache.render(_home_page, members_too=True)


def _home_page() -> str:
    viewer = current_member()
    upcoming = events.listing(viewer, per_page=HOME_EVENTS, when="upcoming")
    active = campaigns.listing(viewer, per_page=HOME_CAMPAIGNS, status="active")
    endorsed = candidates.listing(viewer, per_page=HOME_CANDIDATES, endorsement="endorsed")
    news = posts.listing(viewer, per_page=HOME_POSTS)
    answers = {}
    if not page_cache.personal_holes():
        answers = events.rsvps_of(viewer, [event.id for event in upcoming.items])
    return render_template(
        "pages/home.html",
        upcoming=upcoming,
        active=active,
        endorsed=endorsed,
        news=news,
        answers=answers,
        twins=twinning.twinned_peers(),
        now=utcnow(),
    )


@bp.get("/logo")
def logo():
    group = groups.current_group()
    if group is None or not group.logo_filename:
        abort(404)
    # The file name changes with the content, and pages link to /logo?v=<name>.
    return send_from_directory(profile.logo_folder(), group.logo_filename, max_age=86_400)


@bp.get("/events", endpoint="events")
def events_list():
    return page_cache.render(_events_page)


def _events_page() -> str:
    viewer = current_member()
    when = "past" if request.args.get("when") == "past" else "upcoming"
    kind = _choice("kind", vocab.EVENT_KINDS)
    found = events.listing(viewer, page=_page_number(), per_page=PER_PAGE, when=when, kind=kind)
    answers = events.rsvps_of(viewer, [event.id for event in found.items])
    return render_template("pages/events.html", found=found, when=when, kind=kind, answers=answers)


@bp.get("/events/<int:item_id>")
def event(item_id: int):
    return page_cache.render(lambda: event_page.render(events.get(item_id, current_member()))[0])


@bp.post("/events/<int:item_id>/rsvp")
def rsvp(item_id: int):
    viewer = current_member()
    if viewer is None:
        # Back to the event after logging in, not to this POST-only address.
        return redirect(url_for("auth.login", next=url_for("pages.event", item_id=item_id)))
    found = events.get(item_id, viewer)
    if request.form.get("action") == "withdraw":
        events.withdraw(found, viewer)
        flash(gettext("Your answer has been withdrawn."), "success")
        return redirect(url_for("pages.event", item_id=found.id))
    data, errors = read_form(RsvpIn())
    if errors:
        return event_page.render(found, 400, errors)
    try:
        events.respond(found, viewer, data["response"])
    except ServiceError as exc:
        # The service changed nothing (the capacity check and the answer are one transaction).
        errors = {"_form": [exc.message], **service_errors(exc)}  # "This event is full."
        return event_page.render(events.get(item_id, viewer), exc.status, errors)
    flash(
        gettext("Thanks: you answered “%(label)s”.", label=vocab.label(data["response"])), "success"
    )
    return redirect(url_for("pages.event", item_id=found.id))


@bp.get("/campaigns", endpoint="campaigns")
def campaigns_list():
    return page_cache.render(_campaigns_page)


def _campaigns_page() -> str:
    found = campaigns.listing(current_member(), page=_page_number(), per_page=PER_PAGE)
    return render_template("pages/campaigns.html", found=found)


@bp.get("/campaigns/<int:item_id>")
def campaign(item_id: int):
    return page_cache.render(lambda: _campaign_page(item_id))


def _campaign_page(item_id: int) -> str:
    viewer = current_member()
    found = campaigns.get(item_id, viewer)
    upcoming = events.listing(viewer, per_page=50, when="upcoming", campaign_id=found.id)
    past = events.listing(viewer, per_page=10, when="past", campaign_id=found.id)
    answers = events.rsvps_of(viewer, [e.id for e in upcoming.items])
    return render_template(
        "pages/campaign.html", campaign=found, upcoming=upcoming, past=past, answers=answers
    )


@bp.get("/candidates", endpoint="candidates")
def candidates_list():
    return page_cache.render(_candidates_page)


def _candidates_page() -> str:
    found = candidates.listing(current_member(), page=_page_number(), per_page=PER_PAGE)
    return render_template("pages/candidates.html", found=found)


@bp.get("/candidates/<int:item_id>")
def candidate(item_id: int):
    return page_cache.render(
        lambda: render_template(
            "pages/candidate.html", candidate=candidates.get(item_id, current_member())
        )
    )


@bp.get("/news")
def news():
    return page_cache.render(_news_page)


def _news_page() -> str:
    found = posts.listing(current_member(), page=_page_number(), per_page=PER_PAGE)
    return render_template("pages/news.html", found=found, now=utcnow())


@bp.get("/news/<int:item_id>")
def post(item_id: int):
    return page_cache.render(
        lambda: render_template(
            "pages/post.html", post=posts.get(item_id, current_member()), now=utcnow()
        )
    )
