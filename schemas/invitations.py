"""Invitations mailed to an address, in and out (organisers of this node only)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from . import vocab
from .common import Choice, InputSchema, Text


class InvitationIn(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    role = Choice(vocab.ROLES)
    display_name = Text(80, metadata={"description": "Offered on the joining form."})


class InvitationOut(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    display_name = fields.String(allow_none=True)
    invited_by = fields.String(
        allow_none=True, metadata={"description": "The inviter's name; null: the command line."}
    )
    sent_at = fields.DateTime()
    expires_at = fields.DateTime()
    state = fields.String(
        metadata={"description": "pending, expired, used or bounced (since it was sent)."}
    )
    mail_suppressed = fields.Boolean(
        metadata={"description": "The address kept bouncing: it gets account mail only."}
    )


class InvitationSent(InvitationOut):
    invite_url = fields.Url(
        metadata={"description": "The link mailed, shown only here: send it yourself if need be."}
    )


class InvitationList(Schema):
    items = fields.List(fields.Nested(InvitationOut))
