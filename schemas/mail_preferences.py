"""A member's choices of mail and the messages they were sent, as the JSON API gives them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import InputSchema, PageArgs


class MailChoiceOut(Schema):
    kind = fields.String(metadata={"description": "The kind of message, e.g. `news`."})
    label = fields.String(metadata={"description": "What the kind covers, in words."})
    choices = fields.List(
        fields.String(),
        metadata={"description": "What may be chosen: `single`, `digest` (some kinds), `off`."},
    )
    choice = fields.String(metadata={"description": "The member's choice now."})
    can_turn_off = fields.Function(
        lambda row: not row.required,
        metadata={
            "type": "boolean",
            "description": "False for account mail and notices the group's rules require.",
        },
    )


class MailPreferencesOut(Schema):
    kinds = fields.List(fields.Nested(MailChoiceOut))


class MailPreferencesIn(InputSchema):
    choices = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=32)),
        values=fields.String(validate=validate.Length(min=1, max=16)),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={
            "description": 'Kind to choice, e.g. `{"news": "digest"}`; kinds not named '
            "keep their choice. All are saved or none."
        },
    )


class MessageQuery(PageArgs):
    pass


class MessageOut(Schema):
    id = fields.Integer()
    subject = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    state = fields.String(
        metadata={"description": "`waiting`, `sent`, `failed`, or `skipped` (turned off)."}
    )
    queued_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    announcement_text = fields.Function(
        lambda message: message.announcement.body if message.announcement else None,
        metadata={
            "type": "string",
            "nullable": True,
            "description": "An announcement's Markdown text (a sent message's own body is not "
            "kept).",
        },
    )
