"""The group profile, in and out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate, validates_schema

from .common import InputSchema, Latitude, Longitude, Text, TimeZoneName, WebAddress, check_pair

HANDLE = validate.Regexp(r"^[a-z0-9_]{1,30}$", error="Use 1-30 lowercase letters, digits or _.")


class GroupIn(InputSchema):
    name = Text(120, min_length=1, required=True)
    summary = Text(2000)
    area = Text(120)
    seat_name = Text(120)
    seat_majority = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10_000_000))
    seat_marginality = fields.Float(
        allow_none=True, allow_nan=False, validate=validate.Range(min=0, max=100)
    )
    latitude = Latitude(allow_none=True)
    longitude = Longitude(allow_none=True)
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    website = WebAddress()
    timezone = TimeZoneName()
    follow_approval = fields.Boolean()

    @validates_schema(skip_on_field_errors=False, pass_original=True)  # all errors at once
    def _location(self, data: dict[str, Any], original: Any, **_kwargs: Any) -> None:
        check_pair(data, "latitude", "longitude", original)


class GroupSetup(InputSchema):
    """The first-run form: the group and its first admin."""

    name = Text(120, min_length=1, required=True)
    handle = fields.String(required=True, validate=HANDLE)
    base_url = WebAddress(required=True)
    admin_email = fields.Email(required=True, validate=validate.Length(max=254))
    admin_name = Text(80, min_length=1, load_default="Admin")
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class GroupOut(Schema):
    name = fields.String()
    handle = fields.String()
    summary = fields.String()
    area = fields.String()
    seat_name = fields.String()
    seat_majority = fields.Integer(allow_none=True)
    seat_marginality = fields.Float(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    contact_email = fields.String()
    website = fields.String()
    timezone = fields.String()
    base_url = fields.String()
    updated_at = fields.DateTime()
