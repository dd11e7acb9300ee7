"""Shapes only the JSON API uses: list filters, list pages, errors, and a few composite bodies."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from . import vocab
from .common import Choice, InputSchema, PageArgs
from .content import CampaignOut, CandidateOut, EventOut, PostOut, RsvpOut
from .group import GroupOut
from .members import MemberOut

WHEN = ("upcoming", "past")


class CampaignQuery(PageArgs):
    status = Choice(vocab.CAMPAIGN_STATUSES)
    kind = Choice(vocab.CAMPAIGN_KINDS)


class EventQuery(PageArgs):
    when = Choice(WHEN)
    kind = Choice(vocab.EVENT_KINDS)
    status = Choice(vocab.EVENT_STATUSES)
    campaign_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class CandidateQuery(PageArgs):
    stage = Choice(vocab.CANDIDATE_STAGES)
    endorsement = Choice(vocab.ENDORSEMENTS)
    office = Choice(vocab.CANDIDATE_OFFICES)


class PostQuery(PageArgs):
    pass


class MemberQuery(PageArgs):
    role = Choice(vocab.ROLES)
    status = Choice(vocab.MEMBER_STATUSES)


class RsvpQuery(PageArgs):
    response = Choice(vocab.RSVP_RESPONSES)


class NoQuery(InputSchema):
    """A route that takes no query arguments at all (unknown ones are refused)."""


class Linked(Schema):
    """Items that have an HTML page carry its address."""

    url = fields.Url(metadata={"description": "The item's page on this node, for people."})


class CampaignItem(CampaignOut, Linked):
    pass


class EventItem(EventOut, Linked):
    pass


class CandidateItem(CandidateOut, Linked):
    pass


class PostItem(PostOut, Linked):
    pass


class GroupItem(GroupOut, Linked):
    pass


class MeOut(MemberOut):
    scopes = fields.List(
        fields.String(),
        metadata={"description": "What this token may do now: its scopes that the role allows."},
    )


class MemberCreated(MemberOut):
    invite_url = fields.Url(
        metadata={"description": "Send this to the new member: they choose a password there."}
    )


class RsvpMember(Schema):
    id = fields.Integer()
    display_name = fields.String()


class RsvpItem(RsvpOut):
    member = fields.Nested(RsvpMember)


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"description": "Always Bearer."})
    expires_in = fields.Integer(metadata={"description": "Seconds until the token expires."})
    scope = fields.String(metadata={"description": "The scopes granted, space-separated."})


class TokenRequest(Schema):
    """The client-credentials request (form-encoded, RFC 6749 section 4.4)."""

    grant_type = fields.String(required=True, validate=validate.OneOf(["client_credentials"]))
    scope = fields.String(metadata={"description": "Space-separated scopes; default: all."})
    client_id = fields.String(metadata={"description": "Unless sent with HTTP Basic."})
    client_secret = fields.String(metadata={"description": "Unless sent with HTTP Basic."})


class ErrorOut(Schema):
    error = fields.String(metadata={"description": "What went wrong, for people."})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Messages for each field at fault (may be empty)."},
    )


def page_of(item: type[Schema]) -> type[Schema]:
    """Return the list envelope schema for ``item``."""
    attrs: dict[str, Any] = {
        "items": fields.List(fields.Nested(item)),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
        "total": fields.Integer(),
        "next": fields.Url(
            allow_none=True, metadata={"description": "The next page, or null on the last."}
        ),
    }
    name = item.__name__.removesuffix("Item").removesuffix("Out") + "Page"
    return Schema.from_dict(attrs, name=name)
