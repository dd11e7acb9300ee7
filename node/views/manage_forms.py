"""What the organiser forms hold: one small description per kind of content, and the fields
of the member and group-profile forms.

The generic views in ``manage.py`` read these descriptions to list, create, edit and delete
campaigns, events, candidates and news posts, so the four share one set of views and
templates and differ only here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from marshmallow import Schema

from schemas import vocab
from schemas.content import CampaignIn, CandidateIn, EventIn, PostIn

from ..auth import current_member
from ..models import utcnow
from ..services import geo
from ..services.groups import current_group
from ..services.organising import campaigns, candidates, events, posts
from ..templating import local_time

Choices = Sequence[str] | Sequence[tuple[Any, str]]


@dataclass(frozen=True)
class FormField:
    """One labelled control; ``type`` is an <input> type, or textarea, select or checkbox."""

    name: str
    label: str
    type: str = "text"
    required: bool = False
    hint: str = ""
    choices: Choices | Callable[[], Choices] | None = None
    attrs: dict[str, Any] | None = None

    def options(self) -> Choices | None:
        """Return the choices, working them out now when they come from the database."""
        return self.choices() if callable(self.choices) else self.choices


@dataclass(frozen=True)
class Column:
    """One column of the organiser's list: a heading and how to show an item in it."""

    heading: str
    show: Callable[[Any], str]


@dataclass(frozen=True)
class Filter:
    """A query-string filter on a list, passed to the service's ``listing`` as a keyword."""

    name: str
    label: str
    choices: Sequence[str]


@dataclass(frozen=True)
class Resource:
    """How organisers manage one kind of content through forms."""

    kind: str  # the URL segment, e.g. "events"
    singular: str  # for headings and messages, e.g. "event"
    schema: type[Schema]
    service: ModuleType  # listing/get/create/update/delete
    fields: tuple[FormField, ...]
    columns: tuple[Column, ...]
    public_endpoint: str  # the public page of one item, e.g. "pages.event"
    title_attr: str = "title"
    filters: tuple[Filter, ...] = ()
    defaults: Callable[[], dict[str, Any]] = dict
    # Where datetime-local values are read: the named form field holds the zone (the
    # service applies it), or None for the group's zone (the view applies it).
    zone_field: str | None = None
    row_actions: tuple[tuple[str, str], ...] = ()  # (label, endpoint taking item_id)
    pictures: tuple[FormField, ...] = ()  # the picture's fields, read by views/pictures.py

    def title_of(self, item: Any) -> str:
        return getattr(item, self.title_attr)

    def zone_of(self, item: Any | None) -> str:
        """Return the zone an item's times are shown and entered in."""
        if self.zone_field and item is not None and getattr(item, self.zone_field, None):
            return getattr(item, self.zone_field)
        group = current_group()
        return group.timezone if group else "Europe/London"


# The event form's box for a postcode or town; it is not stored, it sets the coordinates.
PLACE_BOX = "locate"


def place_box(form: Mapping[str, str], fields: Sequence[FormField]) -> tuple[dict, dict]:
    """Turn a typed postcode or town into coordinates: ({latitude, longitude}, {}) or errors."""
    typed = (form.get(PLACE_BOX) or "").strip()
    if not typed or not any(field.name == PLACE_BOX for field in fields):
        return {}, {}
    found = geo.find_place(typed)
    if found is None:
        return {}, {
            PLACE_BOX: [
                f"We cannot find “{typed}”: type a town (Hebden Bridge), a postcode "
                "(HX7 8AD) or a postcode district (HX7), or give the latitude and longitude."
            ]
        }
    return {"latitude": found.latitude, "longitude": found.longitude}, {}


# A picture for a campaign, an event or a news post, and the text read out in its place.
PICTURE_FIELDS = (
    FormField(
        "image",
        "Picture",
        "file",
        hint="JPEG, PNG, WebP or GIF. Location data in the file is removed.",
        attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"},
    ),
    FormField(
        "image_alt",
        "Describe the picture",
        hint="Required with a picture: what someone who cannot see it should know.",
        attrs={"maxlength": 300},
    ),
)

VISIBILITY = FormField(
    "visibility",
    "Who can see it",
    "select",
    required=True,
    choices=(("public", "Everyone (public)"), ("members", "Members only")),
    hint="Members-only items are never sent to other groups.",
)


def _campaign_choices() -> list[tuple[int, str]]:
    found = campaigns.listing(current_member(), page=1, per_page=1000)
    return [(c.id, c.title) for c in found.items]


def _going(event) -> str:
    if event.capacity is None:
        return f"{event.going_count} going"
    return f"{event.going_count} / {event.capacity} going"


def _when(event) -> str:
    return local_time(event.starts_at, event.timezone)


def _published(post) -> str:
    shown = local_time(post.published_at)
    return f"{shown} (scheduled)" if post.published_at > utcnow() else shown


def _event_defaults() -> dict[str, Any]:
    group = current_group()
    return {
        "visibility": "public",
        "kind": "canvass",
        "timezone": group.timezone if group else "Europe/London",
    }


CAMPAIGNS = Resource(
    kind="campaigns",
    singular="campaign",
    schema=CampaignIn,
    service=campaigns,
    public_endpoint="pages.campaign",
    fields=(
        FormField("title", "Title", required=True, attrs={"maxlength": 200}),
        FormField("kind", "Kind", "select", required=True, choices=vocab.CAMPAIGN_KINDS),
        FormField("status", "Status", "select", required=True, choices=vocab.CAMPAIGN_STATUSES),
        FormField("summary", "Summary", hint="One or two sentences.", attrs={"maxlength": 500}),
        FormField("body", "Full description", "textarea", hint="Markdown is allowed."),
        FormField("starts_on", "Starts on", "date"),
        FormField("ends_on", "Ends on", "date"),
        VISIBILITY,
    ),
    columns=(
        Column("Kind", lambda c: vocab.label(c.kind)),
        Column("Status", lambda c: vocab.label(c.status)),
        Column("Visibility", lambda c: vocab.label(c.visibility)),
    ),
    filters=(
        Filter("status", "Status", vocab.CAMPAIGN_STATUSES),
        Filter("kind", "Kind", vocab.CAMPAIGN_KINDS),
    ),
    defaults=lambda: {"visibility": "public", "status": "planned", "kind": "community"},
    pictures=PICTURE_FIELDS,
)

EVENTS = Resource(
    kind="events",
    singular="event",
    schema=EventIn,
    service=events,
    public_endpoint="pages.event",
    zone_field="timezone",
    fields=(
        FormField("title", "Title", required=True, attrs={"maxlength": 200}),
        FormField("kind", "Kind", "select", required=True, choices=vocab.EVENT_KINDS),
        FormField(
            "starts_at",
            "Starts",
            "datetime-local",
            required=True,
            hint="Local time in the event's time zone.",
        ),
        FormField("ends_at", "Ends", "datetime-local", hint="Optional."),
        FormField(
            "timezone",
            "Time zone",
            hint="Start and end are read in this zone, for example Europe/London. "
            "Blank means the group's.",
            attrs={"maxlength": 64},
        ),
        FormField("description", "Description", "textarea", hint="Markdown is allowed."),
        FormField("campaign_id", "Part of campaign", "select", choices=_campaign_choices),
        FormField("place_name", "Place", hint="For example: Chapel Allerton Library."),
        FormField("address", "Address"),
        FormField(
            PLACE_BOX,
            "Postcode or town",
            hint="Puts the event on the map, for example HX7 8AD or Hebden Bridge. "
            "It sets the latitude and longitude below, which you may give instead.",
            attrs={"maxlength": 120, "autocomplete": "off"},
        ),
        FormField(
            "latitude", "Latitude", "number", attrs={"step": "any"}, hint="Optional; advanced."
        ),
        FormField("longitude", "Longitude", "number", attrs={"step": "any"}),
        FormField("online_url", "Online link", "url", hint="For online events."),
        FormField(
            "capacity", "Places", "number", attrs={"min": 1}, hint="Leave blank for no limit."
        ),
        FormField(
            "accessibility",
            "Access information",
            "textarea",
            attrs={"rows": 3},
            hint="Step-free access, toilets, quiet room, travel.",
        ),
        VISIBILITY,
    ),
    columns=(
        Column("When", _when),
        Column("Status", lambda e: vocab.label(e.status)),
        Column("Visibility", lambda e: vocab.label(e.visibility)),
        Column("RSVPs", _going),
    ),
    filters=(
        Filter("when", "When", ("upcoming", "past")),
        Filter("status", "Status", vocab.EVENT_STATUSES),
        Filter("kind", "Kind", vocab.EVENT_KINDS),
    ),
    defaults=_event_defaults,
    pictures=PICTURE_FIELDS,
    row_actions=(
        ("Attendance", "manage.attendance"),
        ("Check-in", "checkin.door"),
        ("Repeat", "series.repeat"),
        ("Shifts", "shifts.manage"),
        ("Carpools", "carpools.manage"),
    ),
)

CANDIDATES = Resource(
    kind="candidates",
    singular="candidate",
    schema=CandidateIn,
    service=candidates,
    public_endpoint="pages.candidate",
    title_attr="name",
    fields=(
        FormField("name", "Name", required=True, attrs={"maxlength": 120}),
        FormField(
            "office", "Standing for", "select", required=True, choices=vocab.CANDIDATE_OFFICES
        ),
        FormField("area", "Ward, seat or area", attrs={"maxlength": 120}),
        FormField("stage", "Stage", "select", required=True, choices=vocab.CANDIDATE_STAGES),
        FormField(
            "endorsement", "Endorsement", "select", required=True, choices=vocab.ENDORSEMENTS
        ),
        FormField("statement", "Statement", "textarea", hint="Markdown is allowed."),
        FormField("contest_date", "Election or selection date", "date"),
        FormField("result", "Result", hint="For example: Elected with 1,204 votes."),
        VISIBILITY,
    ),
    columns=(
        Column("Standing for", lambda c: vocab.label(c.office)),
        Column("Stage", lambda c: vocab.label(c.stage)),
        Column("Endorsement", lambda c: vocab.label(c.endorsement)),
        Column("Visibility", lambda c: vocab.label(c.visibility)),
    ),
    filters=(
        Filter("stage", "Stage", vocab.CANDIDATE_STAGES),
        Filter("endorsement", "Endorsement", vocab.ENDORSEMENTS),
    ),
    defaults=lambda: {
        "visibility": "public",
        "stage": "interested",
        "endorsement": "none",
        "office": "council_ward",
    },
)

POSTS = Resource(
    kind="posts",
    singular="news post",
    schema=PostIn,
    service=posts,
    public_endpoint="pages.post",
    fields=(
        FormField("title", "Title", required=True, attrs={"maxlength": 200}),
        FormField("body", "Text", "textarea", hint="Markdown is allowed.", attrs={"rows": 12}),
        FormField(
            "published_at",
            "Publish at",
            "datetime-local",
            hint="Leave blank to publish now; a time ahead schedules the post "
            "(only organisers see it until then).",
        ),
        VISIBILITY,
    ),
    columns=(
        Column("Published", _published),
        Column("Visibility", lambda p: vocab.label(p.visibility)),
    ),
    defaults=lambda: {"visibility": "public"},
    pictures=PICTURE_FIELDS,
)

RESOURCES: dict[str, Resource] = {r.kind: r for r in (CAMPAIGNS, EVENTS, CANDIDATES, POSTS)}


# Members and the group profile: not content, so they have their own views, but their
# forms are described the same way and drawn by the same template.


def role_choices(actor) -> tuple[str, ...]:
    """Return the roles ``actor`` may hand out (only admins grant admin)."""
    return vocab.ROLES if actor.has_role("admin") else ("member", "organiser")


def member_fields(actor, *, new: bool) -> tuple[FormField, ...]:
    """Return the fields of the add-member (``new``) or change-member form for ``actor``."""
    role = FormField(
        "role",
        "Role",
        "select",
        required=True,
        choices=role_choices(actor),
        hint="Organisers manage content and members; admins can also appoint admins.",
    )
    if new:
        return (
            FormField("display_name", "Name", required=True, attrs={"maxlength": 80}),
            FormField("email", "E-mail address", "email", required=True, attrs={"maxlength": 254}),
            role,
        )
    return (
        FormField("display_name", "Name", required=True, attrs={"maxlength": 80}),
        role,
        FormField(
            "status",
            "Status",
            "select",
            required=True,
            choices=vocab.MEMBER_STATUSES,
            hint="Suspended and departed members cannot log in.",
        ),
    )


GROUP_FIELDS = (
    FormField("name", "Group name", required=True, attrs={"maxlength": 120}),
    FormField("summary", "About the group", "textarea", hint="Markdown is allowed."),
    FormField("area", "Area", hint="For example: Leeds North East.", attrs={"maxlength": 120}),
    FormField("seat_name", "Seat", hint="The constituency or ward you organise in."),
    FormField(
        "seat_majority",
        "Majority (votes)",
        "number",
        attrs={"min": 0},
        hint="At the last election.",
    ),
    FormField(
        "seat_marginality",
        "Marginality (%)",
        "number",
        attrs={"min": 0, "max": 100, "step": "any"},
        hint="The majority as a percentage of votes cast.",
    ),
    FormField(
        "latitude",
        "Latitude",
        "number",
        attrs={"min": -90, "max": 90, "step": "any"},
        hint="Where the group meets, so people nearby can find it. Give both or neither.",
    ),
    FormField("longitude", "Longitude", "number", attrs={"min": -180, "max": 180, "step": "any"}),
    FormField("contact_email", "Contact e-mail", "email", attrs={"maxlength": 254}),
    FormField("website", "Website", "url", attrs={"maxlength": 500}),
    FormField(
        "timezone",
        "Time zone",
        required=True,
        hint="For example Europe/London. New events use it.",
        attrs={"maxlength": 64},
    ),
    FormField(
        "follow_approval",
        "Approve follow requests",
        "checkbox",
        hint="When ticked, other groups and fediverse accounts wait for an organiser to accept "
        "them.",
    ),
)
