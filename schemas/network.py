"""The national pages and ``/api/v1/network/...``: their filters and what they answer.

The same query schemas read the pages' GET forms and the API's query strings, so a filter
means the same in both. A blank form field counts as not given.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from . import vocab
from .api import page_of
from .common import Choice, Day, PageArgs, Text

# A followed group's sync state, as Peer.state records it.
SYNC_STATES = ("in_step", "behind", "unreachable", "chain_broken", "key_changed", "new")
DIRECTIONS = ("asc", "desc")
GROUP_SORTS = ("name", "area", "marginality", "activity")
EVENT_SORTS = ("when", "title", "group", "distance")
CAMPAIGN_SORTS = ("newest", "title", "group", "kind", "status")
CANDIDATE_SORTS = ("name", "group", "office", "stage")
NEEDED_SORTS = ("score", "marginality", "distance", "name")
OUTCOMES = ("won", "defeated", "decided", "undecided")
MAX_RADIUS_KM = 1000.0


class NetworkQuery(PageArgs):
    """Paging plus the filters of one national list; blank values are left out."""

    @pre_load
    def _drop_blanks(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}


def _direction() -> fields.String:
    return Choice(DIRECTIONS, metadata={"description": "asc or desc (each sort has a default)."})


def _near() -> Text:
    return Text(
        300,
        metadata={
            "description": "A place: `latitude,longitude` (53.80,-1.55), a followed group "
            "(acct:group@host or its actor URL), or a UK postcode district (LS6) when this "
            "node has loaded the postcode table."
        },
    )


class NetworkGroupQuery(NetworkQuery):
    q = Text(200, metadata={"description": "Words in the name, handle, area or seat."})
    state = Choice(SYNC_STATES, metadata={"description": "Only groups in this sync state."})
    sort = Choice(GROUP_SORTS)
    dir = _direction()


class NetworkEventQuery(NetworkQuery):
    kind = Choice(vocab.EVENT_KINDS)
    status = Choice(vocab.EVENT_STATUSES)
    from_ = Day(
        data_key="from",
        metadata={"description": "First day (YYYY-MM-DD); default: from now on."},
    )
    to = Day(metadata={"description": "Last day (YYYY-MM-DD), included."})
    near = _near()
    within = fields.Float(
        allow_nan=False,
        validate=validate.Range(min=0, max=MAX_RADIUS_KM, min_inclusive=False),
        metadata={"description": "Radius around `near` in km (default 25)."},
    )
    sort = Choice(EVENT_SORTS)
    dir = _direction()

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is not None and end is not None and end < start:
            raise ValidationError("The last day comes before the first.", field_name="to")
        if "within" in data and "near" not in data:
            raise ValidationError("Give a place (near) to search around.", field_name="within")
        if data.get("sort") == "distance" and "near" not in data:
            raise ValidationError("Sorting by distance needs a place (near).", field_name="sort")


class NeededQuery(NetworkQuery):
    near = _near()
    sort = Choice(NEEDED_SORTS)
    dir = _direction()

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("sort") == "distance" and "near" not in data:
            raise ValidationError("Sorting by distance needs a place (near).", field_name="sort")


class NetworkCampaignQuery(NetworkQuery):
    kind = Choice(vocab.CAMPAIGN_KINDS)
    status = Choice(vocab.CAMPAIGN_STATUSES)
    sort = Choice(CAMPAIGN_SORTS)
    dir = _direction()


class NetworkCandidateQuery(NetworkQuery):
    office = Choice(vocab.CANDIDATE_OFFICES)
    stage = Choice(vocab.CANDIDATE_STAGES)
    outcome = Choice(
        OUTCOMES,
        metadata={
            "description": "won (elected), defeated, decided (either) or undecided; the "
            "result is read from electionResult, else from the stage."
        },
    )
    sort = Choice(CANDIDATE_SORTS)
    dir = _direction()


class NetworkEvidenceQuery(NetworkQuery):
    office = Choice(vocab.CANDIDATE_OFFICES)
    outcome = Choice(OUTCOMES)


# What the API answers ----------------------------------------------------------------------


class NetworkPlaceOut(Schema):
    label = fields.String(metadata={"description": "The place as understood."})
    source = fields.String(metadata={"description": "coordinates, group or postcode_district."})
    latitude = fields.Float()
    longitude = fields.Float()


class NetworkEntryOut(Schema):
    """The signed feed entry an item's current state comes from."""

    activity_id = fields.String(metadata={"description": "The entry's id on its group's server."})
    seq = fields.Integer(allow_none=True, metadata={"description": "Its place in that feed."})
    hash = fields.String(metadata={"description": "sha256 of the entry's canonical JSON."})
    group = fields.String(metadata={"description": "The actor whose feed holds the entry."})
    verification = fields.String()


class NetworkGroupOut(Schema):
    actor_id = fields.String()
    name = fields.String()
    handle = fields.String()
    url = fields.String()
    area = fields.String()
    seat_name = fields.String()
    seat_majority = fields.Integer(allow_none=True)
    seat_marginality = fields.Float(
        allow_none=True, metadata={"description": "Majority as % of votes cast."}
    )
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    state = fields.String(metadata={"description": ", ".join(SYNC_STATES)})
    state_label = fields.String()
    state_reason = fields.String()
    behind_by = fields.Integer(metadata={"description": "Entries announced but not yet held."})
    last_activity_at = fields.DateTime(allow_none=True)


class NetworkItemOut(Schema):
    object_id = fields.String()
    url = fields.String(metadata={"description": "The item's page on its group's site."})
    title = fields.String()
    group = fields.String(metadata={"description": "The publishing group's actor id."})
    group_name = fields.String()
    verification = fields.String(
        metadata={"description": "verified, signature-only, announced or chain_broken."}
    )


class NetworkEventOut(NetworkItemOut):
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    kind = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    place_name = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    distance_km = fields.Float(allow_none=True, metadata={"description": "From `near`."})


class NeededNextEventOut(Schema):
    title = fields.String()
    url = fields.String()
    starts_at = fields.DateTime()


class NeededOut(Schema):
    group = fields.Nested(NetworkGroupOut)
    seat = fields.String()
    marginality = fields.Float(allow_none=True)
    need = fields.Float()
    need_known = fields.Boolean(metadata={"description": "False: marginality unknown."})
    distance_km = fields.Float(allow_none=True)
    proximity = fields.Float()
    score = fields.Float(metadata={"description": "need × proximity."})
    upcoming_events = fields.Integer()
    next_event = fields.Nested(NeededNextEventOut, allow_none=True)


class NetworkCampaignOut(NetworkItemOut):
    kind = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    start_date = fields.String(allow_none=True)
    end_date = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)


class NetworkCandidateOut(NetworkItemOut):
    office = fields.String(allow_none=True)
    area = fields.String()
    stage = fields.String(allow_none=True)
    endorsement = fields.String(allow_none=True)
    election_result = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={"description": "won, defeated or null."})
    entry = fields.Nested(NetworkEntryOut, allow_none=True)


class WinRateOut(Schema):
    office = fields.String(allow_none=True, metadata={"description": "null: every office."})
    won = fields.Integer()
    decided = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "won / decided."})
    evidence = fields.Url(
        metadata={
            "description": "This list filtered to the decided candidates counted: each "
            "item names the signed entry (activity id, seq, hash) it was read from."
        }
    )
    evidence_page = fields.Url(metadata={"description": "The same evidence as a web page."})


class WinRatesOut(Schema):
    overall = fields.Nested(WinRateOut)
    by_office = fields.List(fields.Nested(WinRateOut))


class NetworkCampaignCountOut(Schema):
    kind = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    count = fields.Integer()


class NeededFormulaOut(Schema):
    text = fields.String()
    need_full_margin = fields.Float(metadata={"description": "Marginality (points) at need 0."})
    unknown_need = fields.Float()
    proximity_scale_km = fields.Float()
    unknown_proximity = fields.Float()


# List envelopes: {items, page, per_page, total, next} and what else each list tells.

NetworkGroupPage = page_of(NetworkGroupOut)
NetworkEventPage = page_of(NetworkEventOut).from_dict(
    {
        "place": fields.Nested(NetworkPlaceOut, allow_none=True),
        "within_km": fields.Float(allow_none=True),
        "postcode_districts_loaded": fields.Boolean(
            metadata={"description": "Whether `near` may be a postcode district here."}
        ),
    },
    name="NetworkEventPage",
)
NeededPage = page_of(NeededOut).from_dict(
    {
        "place": fields.Nested(NetworkPlaceOut, allow_none=True),
        "formula": fields.Nested(NeededFormulaOut),
    },
    name="NeededPage",
)
NetworkCampaignPage = page_of(NetworkCampaignOut).from_dict(
    {"counts": fields.List(fields.Nested(NetworkCampaignCountOut))},
    name="NetworkCampaignPage",
)
NetworkCandidatePage = page_of(NetworkCandidateOut).from_dict(
    {"win_rates": fields.Nested(WinRatesOut)}, name="NetworkCandidatePage"
)
