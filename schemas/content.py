"""Campaigns, events, RSVPs, candidates and news posts, in and out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import vocab
from .common import (
    AwareMoment,
    Choice,
    Day,
    InputSchema,
    Latitude,
    Longitude,
    Moment,
    Text,
    TimeZoneName,
    WebAddress,
    check_pair,
)
from .wording import N_

BODY_MAX = 50_000
ENDS_AFTER_START = N_("Must be after the start.")


class CampaignIn(InputSchema):
    title = Text(200, min_length=1, required=True)
    summary = Text(500)
    body = Text(BODY_MAX)
    kind = Choice(vocab.CAMPAIGN_KINDS, required=True)
    status = Choice(vocab.CAMPAIGN_STATUSES)
    starts_on = Day(allow_none=True)
    ends_on = Day(allow_none=True)
    visibility = Choice(vocab.VISIBILITIES)

    @validates_schema(skip_on_field_errors=False)  # every error at once, not in batches
    def _dates(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("starts_on"), data.get("ends_on")
        if start and end and end < start:
            raise ValidationError("Must not be before the start date.", field_name="ends_on")


class EventIn(InputSchema):
    """An event; a start or end without an offset is read in the event's time zone."""

    title = Text(200, min_length=1, required=True)
    description = Text(BODY_MAX)
    kind = Choice(vocab.EVENT_KINDS, required=True)
    starts_at = Moment(required=True)
    ends_at = Moment(allow_none=True)
    timezone = TimeZoneName()
    place_name = Text(200)
    address = Text(500)
    latitude = Latitude(allow_none=True)
    longitude = Longitude(allow_none=True)
    online_url = WebAddress()
    capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100_000))
    # Capped at the largest id a 32-bit INTEGER column holds, so a lookup never overflows.
    campaign_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    status = Choice(vocab.EVENT_STATUSES)
    accessibility = Text(2000)
    visibility = Choice(vocab.VISIBILITIES)
    # Creating an event that has already started is refused unless this is true.
    confirm_dates = fields.Boolean(
        load_default=False,
        metadata={"description": "Set true to create an event whose start is in the past."},
    )

    @validates_schema(skip_on_field_errors=False, pass_original=True)  # all errors at once
    def _location(self, data: dict[str, Any], original: Any, **_kwargs: Any) -> None:
        check_pair(data, "latitude", "longitude", original)

    @validates_schema(skip_on_field_errors=False)
    def _times(self, data: dict[str, Any], **_kwargs: Any) -> None:
        # Both read in the same zone, so they compare here, beside the other fields'
        # errors; the service checks again once it knows the zone (a start moved alone).
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and (starts.tzinfo is None) == (ends.tzinfo is None) and ends <= starts:
            raise ValidationError(ENDS_AFTER_START, field_name="ends_at")


class RsvpIn(InputSchema):
    response = Choice(vocab.RSVP_RESPONSES, required=True)


class CandidateIn(InputSchema):
    name = Text(120, min_length=1, required=True)
    office = Choice(vocab.CANDIDATE_OFFICES, required=True)
    area = Text(120)
    stage = Choice(vocab.CANDIDATE_STAGES)
    endorsement = Choice(vocab.ENDORSEMENTS)
    statement = Text(BODY_MAX)
    contest_date = Day(allow_none=True)
    result = Text(500)
    visibility = Choice(vocab.VISIBILITIES)


class PostIn(InputSchema):
    title = Text(200, min_length=1, required=True)
    body = Text(BODY_MAX)
    published_at = AwareMoment(allow_none=True, default_timezone=None)
    visibility = Choice(vocab.VISIBILITIES)


class Timestamped(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CampaignOut(Timestamped):
    title = fields.String()
    summary = fields.String()
    body = fields.String()
    kind = fields.String()
    status = fields.String()
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    visibility = fields.String()


class EventOut(Timestamped):
    title = fields.String()
    description = fields.String()
    kind = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime(allow_none=True)
    timezone = fields.String()
    place_name = fields.String()
    address = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    online_url = fields.String()
    capacity = fields.Integer(allow_none=True)
    going_count = fields.Integer()
    campaign_id = fields.Integer(allow_none=True)
    series_id = fields.Integer(allow_none=True)  # the dates of one recurring event share it
    status = fields.String()
    accessibility = fields.String()
    visibility = fields.String()


class RsvpOut(Schema):
    event_id = fields.Integer()
    member_id = fields.Integer()
    response = fields.String()
    updated_at = fields.DateTime()


class WaitlistOut(Schema):
    event_id = fields.Integer()
    full = fields.Boolean(metadata={"description": "The event has a capacity and no place left."})
    waiting = fields.Integer(metadata={"description": "How many wait for a place."})
    position = fields.Integer(
        allow_none=True,
        metadata={"description": "Your place in the queue (1 is next), or null if not in it."},
    )


class CandidateOut(Timestamped):
    name = fields.String()
    office = fields.String()
    area = fields.String()
    stage = fields.String()
    endorsement = fields.String()
    statement = fields.String()
    contest_date = fields.Date(allow_none=True)
    result = fields.String()
    visibility = fields.String()


class PostOut(Timestamped):
    title = fields.String()
    body = fields.String()
    published_at = fields.DateTime()
    visibility = fields.String()
