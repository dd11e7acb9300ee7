"""A member's own forms: first-run setup, log-in, invitations, password resets, personal tokens."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from . import vocab
from .common import Choice, InputSchema, Text
from .group import GroupSetup
from .members import PasswordChange

PASSWORD = validate.Length(max=1024)


def _check_repeated(data: dict[str, Any], first: str, second: str) -> None:
    if data.get(first) is not None and data.get(second) != data.get(first):
        raise ValidationError("The two passwords do not match.", field_name=second)


class SetupForm(GroupSetup):
    """The first-run form, with the password typed twice."""

    password_confirm = fields.String(required=True, load_only=True, validate=PASSWORD)

    @validates_schema(skip_on_field_errors=False)
    def _passwords_match(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _check_repeated(data, "password", "password_confirm")


class LoginIn(InputSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, load_only=True, validate=PASSWORD)


class ResetRequestIn(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class NewPasswordIn(InputSchema):
    """A new password, typed twice (password reset links)."""

    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    password_confirm = fields.String(required=True, load_only=True, validate=PASSWORD)

    @validates_schema(skip_on_field_errors=False)
    def _passwords_match(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _check_repeated(data, "password", "password_confirm")


class InviteAcceptIn(NewPasswordIn):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    display_name = Text(80, min_length=1, required=True)


class JoinConfirmIn(InputSchema):
    """Confirming an address typed into an open invitation: the password chosen there."""

    password = fields.String(required=True, load_only=True, validate=PASSWORD)


class ProfileForm(InputSchema):
    """The profile form always sends the name, so a blank one is an error, not a change."""

    display_name = Text(80, min_length=1, required=True)


class PasswordChangeForm(PasswordChange):
    new_password_confirm = fields.String(required=True, load_only=True, validate=PASSWORD)

    @validates_schema(skip_on_field_errors=False)
    def _passwords_match(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _check_repeated(data, "new_password", "new_password_confirm")


class PersonalTokenIn(InputSchema):
    name = Text(120)
    scopes = fields.List(Choice(vocab.TOKEN_SCOPES), required=True, validate=validate.Length(min=1))
    days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=3650))


class LeaveForm(InputSchema):
    """Leaving the group: the member types their password again."""

    password = fields.String(required=True, load_only=True, validate=PASSWORD)
