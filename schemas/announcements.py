"""Announcements in and out of the JSON API: an organiser's message to an audience."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import AwareMoment, Choice, InputSchema, Text

# As node/services/messaging/audiences.py and announcements.py name them.
AUDIENCES = (
    "members",
    "event_going",
    "event_shift",
    "event_waitlist",
    "event_guests",
    "ballot_not_voted",
)
KINDS = ("announcement", "required")
STATUSES = ("draft", "scheduled", "sent", "cancelled")


class AnnouncementIn(InputSchema):
    """A draft: subject and Markdown body, its kind, and whom it goes to."""

    subject = Text(200, required=True, min_length=1)
    body = Text(50_000, required=True, min_length=1, metadata={"description": "Markdown"})
    kind = Choice(
        KINDS,
        metadata={
            "description": "required: the group's rules require it, members' choices do not "
            "apply (sending it then needs rules_require)"
        },
    )
    audience = Choice(AUDIENCES)
    audience_ref = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the event's, shift's or ballot's id; null for members"},
    )


class SendIn(InputSchema):
    """When to send a draft: now (no send_at) or at send_at."""

    send_at = AwareMoment(
        allow_none=True, metadata={"description": "with a UTC offset; omitted or null: now"}
    )
    rules_require = fields.Boolean(
        load_default=False,
        metadata={"description": "confirm the group's rules require a 'required' message"},
    )


class CountsOut(Schema):
    queued = fields.Integer()
    sending = fields.Integer()
    sent = fields.Integer()
    logged = fields.Integer()
    failed = fields.Integer()
    skipped = fields.Integer()


class AnnouncementOut(Schema):
    id = fields.Integer()
    subject = fields.String()
    body = fields.String()
    kind = fields.String()
    audience = fields.String()
    audience_ref = fields.Integer(allow_none=True)
    audience_description = fields.String()
    status = fields.String(metadata={"description": "draft, scheduled, sent or cancelled"})
    origin = fields.String()
    send_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    recipients = fields.Integer(
        allow_none=True, metadata={"description": "messages queued when it was sent"}
    )
    counts = fields.Nested(CountsOut, metadata={"description": "its messages by status (get only)"})
    reach = fields.Integer(
        allow_none=True,
        metadata={"description": "a draft: how many it would reach now (get only)"},
    )


class ReachOut(Schema):
    reach = fields.Integer(metadata={"description": "people it would reach now"})
