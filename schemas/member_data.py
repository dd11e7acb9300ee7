"""A member's own data, as ``GET /api/v1/me/data`` and ``/account/data.json`` give it.

Times are ISO 8601 strings already (``node.services.membership.member_data`` writes them), so every
field here dumps its value unchanged; the schema is the documented shape of the export.
"""

from __future__ import annotations

from marshmallow import Schema, fields

When = fields.String  # an ISO 8601 time, or null


class DataProfile(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    role = fields.String()
    status = fields.String()
    joined_at = When()
    last_login_at = When(allow_none=True)
    has_password = fields.Boolean()


class DataRsvp(Schema):
    event_id = fields.Integer()
    event_title = fields.String()
    response = fields.String()
    answered_at = When()
    changed_at = When()


class DataShiftSignup(Schema):
    event_id = fields.Integer()
    event_title = fields.String()
    shift = fields.String()
    starts_at = When()
    ends_at = When()
    state = fields.String(metadata={"description": "going or waitlisted"})
    signed_up_at = When()


class DataCarpool(Schema):
    event_id = fields.Integer()
    event_title = fields.String()
    kind = fields.String(metadata={"description": "offer (seats in your car) or request"})
    from_place = fields.String()
    seats = fields.Integer(allow_none=True, metadata={"description": "Offers only."})
    note = fields.String()
    riders_matched = fields.Integer(allow_none=True, metadata={"description": "Offers only."})
    driver_matched = fields.Boolean(allow_none=True, metadata={"description": "Requests only."})
    created_at = When()
    matched_at = When(allow_none=True)


class DataBallotVotedIn(Schema):
    ballot_id = fields.Integer()
    question = fields.String()
    voted = fields.Boolean(metadata={"description": "Always true: papers never name a voter."})


class DataBallotCreated(Schema):
    ballot_id = fields.Integer()
    question = fields.String()
    created_at = When()


class DataApiToken(Schema):
    name = fields.String()
    scopes = fields.List(fields.String())
    issued_to_client = fields.Boolean()
    created_at = When()
    expires_at = When(allow_none=True)
    revoked_at = When(allow_none=True)
    last_used_at = When(allow_none=True)


class DataOAuthClient(Schema):
    name = fields.String()
    client_id = fields.String()
    scopes = fields.List(fields.String())
    created_at = When()
    revoked_at = When(allow_none=True)


class DataInvitation(Schema):
    email = fields.String(allow_none=True)
    role = fields.String()
    created_at = When()
    expires_at = When()
    used_at = When(allow_none=True)


class DataPasswordReset(Schema):
    requested_at = When()
    expires_at = When()
    used_at = When(allow_none=True)


class DataTwinEventRsvp(Schema):
    event = fields.String(metadata={"description": "The twinned group's event, as published."})
    event_title = fields.String(allow_none=True)
    group = fields.String(metadata={"description": "The twinned group's actor id."})
    response = fields.String()
    party_size = fields.Integer()
    name_shared = fields.Boolean()
    state = fields.String()
    answered_at = When()
    changed_at = When()


class DataTwinning(Schema):
    group = fields.String()
    state = fields.String()
    proposed_by_you = fields.Boolean()
    answered_by_you = fields.Boolean()
    proposed_at = When()
    answered_at = When(allow_none=True)


class DataMail(Schema):
    subject = fields.String()
    status = fields.String()
    queued_at = When()
    sent_at = When(allow_none=True)


class DataLoginFailures(Schema):
    count = fields.Integer()
    at = fields.List(When())


class MemberDataOut(Schema):
    schema_version = fields.Integer()
    generated_at = When()
    profile = fields.Nested(DataProfile)
    rsvps = fields.List(fields.Nested(DataRsvp))
    shift_signups = fields.List(fields.Nested(DataShiftSignup))
    carpools = fields.List(fields.Nested(DataCarpool))
    ballots_voted_in = fields.List(fields.Nested(DataBallotVotedIn))
    ballots_created = fields.List(fields.Nested(DataBallotCreated))
    api_tokens = fields.List(fields.Nested(DataApiToken))
    oauth_clients = fields.List(fields.Nested(DataOAuthClient))
    invitations_created = fields.List(fields.Nested(DataInvitation))
    invitations_for_you = fields.List(fields.Nested(DataInvitation))
    password_resets = fields.List(fields.Nested(DataPasswordReset))
    twin_event_rsvps = fields.List(fields.Nested(DataTwinEventRsvp))
    twinnings = fields.List(fields.Nested(DataTwinning))
    mail = fields.List(fields.Nested(DataMail))
    login_failures = fields.Nested(DataLoginFailures)
