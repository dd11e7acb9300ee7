"""Asks across the network: what an organiser writes, and what the API returns."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .common import AwareMoment, Choice, InputSchema, Latitude, Longitude, Text, check_pair

SUBJECT_MAX = 200
BODY_MAX = 20_000
PLACE_MAX = 200
RADIUS_MAX_KM = 1000
REACHES = ("area", "followers")
INBOUND_STATES = ("new", "seen", "passed_on", "declined")


class AskIn(InputSchema):
    """An ask to publish: to groups within ``radius_km`` of a place, or to every follower."""

    subject = Text(SUBJECT_MAX, min_length=1, required=True)
    body = Text(BODY_MAX, load_default="")
    when = Text(PLACE_MAX, load_default="")
    where = Text(PLACE_MAX, load_default="")
    reach = Choice(REACHES, load_default="area")
    postcode = Text(8, load_default="")  # a postcode or district, resolved to its centre
    latitude = Latitude(allow_none=True, load_default=None)
    longitude = Longitude(allow_none=True, load_default=None)
    radius_km = fields.Float(
        allow_none=True,
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=1, max=RADIUS_MAX_KM),
    )
    area_name = Text(PLACE_MAX, load_default="")
    respond_by = AwareMoment(allow_none=True, load_default=None)

    @validates_schema
    def _area(self, data: dict[str, Any], **_kwargs: Any) -> None:
        check_pair(data, "latitude", "longitude")
        if data.get("reach") != "area":
            return
        if data.get("radius_km") is None:
            raise ValidationError("Say how far around the place the ask goes.", "radius_km")
        if not data.get("postcode") and data.get("latitude") is None:
            raise ValidationError(
                "Give a postcode district or a latitude and longitude.", "postcode"
            )


class ReplyOut(Schema):
    group = fields.String()
    outcome = fields.String()
    members = fields.Integer()
    received_at = fields.DateTime()


class _AskOut(Schema):
    """What an ask says, sent or received."""

    id = fields.Integer()
    subject = fields.String()
    body = fields.String()
    when = fields.String(attribute="when_text")
    where = fields.String(attribute="where_text")
    reach = fields.Method("_reach")
    area_name = fields.String()
    radius_km = fields.Float(allow_none=True)
    respond_by = fields.DateTime(allow_none=True)

    def _reach(self, ask: Any) -> str:
        return "followers" if ask.all_followers else "area"


class OutboundAskOut(_AskOut):
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    created_at = fields.DateTime()
    object_id = fields.String()
    groups_passed_on = fields.Integer()
    members_reached = fields.Integer()
    groups_declined = fields.Integer()
    replies = fields.List(fields.Nested(ReplyOut))


class InboundAskOut(_AskOut):
    asked_by = fields.String()
    asker = fields.String()
    distance_km = fields.Float(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime()
    state = fields.String()
    announcement_id = fields.Integer(allow_none=True)
    reply_members = fields.Integer(allow_none=True)
    replied_at = fields.DateTime(allow_none=True)
