"""A member's own data, as ``GET /api/v1/me/data`` and ``/account/data.json`` give it.

This is the one description of the export. ``node.services.membership.member_data`` loads
the rows (model objects, and a few tuples where a value comes from more than one row); each
field here names what it is called in the export and where in the row it is read from.
Fields are dumped in the order they are declared, which is the order of the download.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, pre_dump

SCHEMA_VERSION = 1  # raise it when a field changes meaning or goes

When = fields.DateTime  # an ISO 8601 time, or null


class DataProfile(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    role = fields.String()
    status = fields.String()
    joined_at = When()
    last_login_at = When(allow_none=True)
    has_password = fields.Function(
        lambda member: member.password_hash is not None, metadata={"type": "boolean"}
    )


class DataRsvp(Schema):
    event_id = fields.Integer()
    event_title = fields.String(attribute="event.title")
    response = fields.String()
    answered_at = When(attribute="created_at")
    changed_at = When(attribute="updated_at")


class DataShiftSignup(Schema):
    event_id = fields.Integer(attribute="shift.event_id")
    event_title = fields.String(attribute="shift.event.title")
    shift = fields.String(attribute="shift.label")
    starts_at = When(attribute="shift.starts_at")
    ends_at = When(attribute="shift.ends_at")
    state = fields.String(metadata={"description": "going or waitlisted"})
    signed_up_at = When(attribute="created_at")


class DataCarpool(Schema):
    """Dumped from a (kind, event, offer or request, riders) tuple."""

    event_id = fields.Integer(attribute="event.id")
    event_title = fields.String(attribute="event.title")
    kind = fields.String(metadata={"description": "offer (seats in your car) or request"})
    from_place = fields.String(attribute="row.from_place")
    # A request has no seats, and an offer no match time: those dump as null.
    seats = fields.Integer(
        attribute="row.seats",
        dump_default=None,
        allow_none=True,
        metadata={"description": "Offers only."},
    )
    note = fields.String(attribute="row.note")
    riders_matched = fields.Integer(
        attribute="riders", allow_none=True, metadata={"description": "Offers only."}
    )
    driver_matched = fields.Function(
        lambda held: None if held.kind == "offer" else held.row.offer_id is not None,
        allow_none=True,
        metadata={"type": "boolean", "description": "Requests only."},
    )
    created_at = When(attribute="row.created_at")
    matched_at = When(attribute="row.matched_at", dump_default=None, allow_none=True)


class DataBallotVotedIn(Schema):
    ballot_id = fields.Integer(attribute="id")
    question = fields.String()
    voted = fields.Constant(
        True,
        metadata={"type": "boolean", "description": "Always true: papers never name a voter."},
    )


class DataBallotCreated(Schema):
    ballot_id = fields.Integer(attribute="id")
    question = fields.String()
    created_at = When()


class DataApiToken(Schema):
    name = fields.String()
    scopes = fields.Function(
        lambda token: token.scope.split(), metadata={"type": "array", "items": {"type": "string"}}
    )
    issued_to_client = fields.Function(
        lambda token: token.client_id is not None, metadata={"type": "boolean"}
    )
    created_at = When()
    expires_at = When(allow_none=True)
    revoked_at = When(allow_none=True)
    last_used_at = When(allow_none=True)


class DataOAuthClient(Schema):
    name = fields.String()
    client_id = fields.String()
    scopes = fields.Function(
        lambda client: client.scope.split(), metadata={"type": "array", "items": {"type": "string"}}
    )
    created_at = When()
    revoked_at = When(allow_none=True)


class DataInvitation(Schema):
    email = fields.String(allow_none=True)
    role = fields.String()
    created_at = When()
    expires_at = When()
    used_at = When(allow_none=True)


class DataPasswordReset(Schema):
    requested_at = When(attribute="created_at")
    expires_at = When()
    used_at = When(allow_none=True)


class DataTwinEventRsvp(Schema):
    """Dumped from an (answer, event title) tuple: the title is known if the event is held."""

    event = fields.String(
        attribute="answer.event_object_id",
        metadata={"description": "The twinned group's event, as published."},
    )
    event_title = fields.String(allow_none=True)
    group = fields.String(
        attribute="answer.peer.actor_id",
        metadata={"description": "The twinned group's actor id."},
    )
    response = fields.String(attribute="answer.response")
    party_size = fields.Integer(attribute="answer.party_size")
    name_shared = fields.Boolean(attribute="answer.share_name")
    state = fields.String(attribute="answer.state")
    answered_at = When(attribute="answer.created_at")
    changed_at = When(attribute="answer.updated_at")


class DataTwinning(Schema):
    """Dumped from a (twinning, proposed by you, answered by you) tuple."""

    group = fields.String(attribute="twinning.peer.actor_id")
    state = fields.String(attribute="twinning.state")
    proposed_by_you = fields.Boolean()
    answered_by_you = fields.Boolean()
    proposed_at = When(attribute="twinning.proposed_at")
    answered_at = When(attribute="twinning.answered_at", allow_none=True)


class DataMailChoice(Schema):
    kind = fields.String()
    label = fields.String()
    choice = fields.String()


class DataMailAddress(Schema):
    """What the node records of the member's address: bounces, and mail stopped."""

    bounces = fields.Integer()
    total_bounces = fields.Integer()
    last_bounce_at = When(allow_none=True)
    last_error = fields.String()
    suppressed_at = When(allow_none=True)
    stopped_at = When(allow_none=True)


class DataMail(Schema):
    """Subjects and outcomes only: a body may hold a reset link, and is emptied once sent."""

    subject = fields.String()
    kind = fields.String()
    status = fields.String()
    queued_at = When(attribute="created_at")
    sent_at = When(allow_none=True)


class DataLoginFailures(Schema):
    """Dumped from the times of the failed log-ins, oldest first."""

    count = fields.Integer()
    at = fields.List(When())

    @pre_dump
    def _counted(self, times: Sequence[datetime], **_kwargs: Any) -> dict[str, Any]:
        return {"count": len(times), "at": times}


def _rows(schema: type[Schema], description: str = "") -> fields.List:
    metadata = {"description": description} if description else {}
    return fields.List(fields.Nested(schema), metadata=metadata)


class MemberDataOut(Schema):
    schema_version = fields.Constant(SCHEMA_VERSION, metadata={"type": "integer"})
    generated_at = When()
    profile = fields.Nested(DataProfile)
    rsvps = _rows(DataRsvp)
    shift_signups = _rows(DataShiftSignup)
    carpools = _rows(
        DataCarpool, "Your own offers and requests; whom you were matched with is theirs."
    )
    ballots_voted_in = _rows(DataBallotVotedIn, "That you voted in each, never how.")
    ballots_created = _rows(DataBallotCreated)
    api_tokens = _rows(DataApiToken, "Tokens are listed, never their secrets.")
    oauth_clients = _rows(DataOAuthClient)
    invitations_created = _rows(DataInvitation)
    invitations_for_you = _rows(DataInvitation, "Sent to your address, or used by you.")
    password_resets = _rows(DataPasswordReset)
    twin_event_rsvps = _rows(DataTwinEventRsvp, "Your answers to twinned groups' events.")
    twinnings = _rows(DataTwinning, "Twinnings you proposed or answered.")
    mail_choices = _rows(DataMailChoice, "Your choice for each kind of message.")
    mail = _rows(DataMail, "Messages sent to you: subjects, kinds and outcomes.")
    mail_address = fields.Nested(
        DataMailAddress,
        allow_none=True,
        metadata={"description": "Bounces and stopped mail recorded for your address, if any."},
    )
    login_failures = fields.Nested(DataLoginFailures)
