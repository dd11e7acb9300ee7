"""Members and API tokens, in and out. Member data is for organisers of this node only."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from . import vocab
from .common import Choice, InputSchema, Text


class MemberIn(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    display_name = Text(80, min_length=1, required=True)
    role = Choice(vocab.ROLES)


class MemberUpdate(InputSchema):
    display_name = Text(80, min_length=1, allow_none=False)
    role = Choice(vocab.ROLES)
    status = Choice(vocab.MEMBER_STATUSES)


class MemberOut(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    role = fields.String()
    status = fields.String()
    joined_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)


class ProfileIn(InputSchema):
    """What a member may change about themselves."""

    display_name = Text(80, min_length=1, allow_none=False)


class PasswordChange(InputSchema):
    current_password = fields.String(required=True, validate=validate.Length(max=1024))
    new_password = fields.String(required=True, validate=validate.Length(max=1024))
