"""Shifts inside an event and members' sign-ups to them, in and out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .common import InputSchema, Moment, Text

CAPACITY_MAX = 100_000


class ShiftIn(InputSchema):
    """A shift; a start or end without an offset is read in the event's time zone."""

    label = Text(120)
    starts_at = Moment(required=True)
    ends_at = Moment(required=True)
    capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=CAPACITY_MAX))

    @validates_schema
    def _order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        starts, ends = data.get("starts_at"), data.get("ends_at")
        # Both naive or both aware compare; a mix is left to the service, which zones them.
        if starts and ends and (starts.tzinfo is None) == (ends.tzinfo is None) and ends <= starts:
            raise ValidationError("Must be after the start.", field_name="ends_at")


class ShiftOut(Schema):
    id = fields.Integer()
    event_id = fields.Integer()
    label = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    capacity = fields.Integer(allow_none=True)
    going_count = fields.Integer()
    places_left = fields.Integer(
        allow_none=True, metadata={"description": "null when the shift has no capacity"}
    )


class SignupOut(Schema):
    shift_id = fields.Integer()
    member_id = fields.Integer()
    state = fields.String(metadata={"description": "going or waitlisted"})
    position = fields.Integer(
        allow_none=True,
        metadata={"description": "place on the waitlist, 1 being next; null when going"},
    )
    created_at = fields.DateTime()
