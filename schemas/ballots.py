"""Ballots in and out: what an organiser sets up, what a member casts, what the count says."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import vocab
from .common import Choice, InputSchema, Moment, Text

MAX_OPTIONS = 50
MAX_TELLERS = 9
TELLER_IDS = fields.List(
    fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
    validate=validate.Length(min=1, max=MAX_TELLERS),
    metadata={"description": "member ids of the ballot's tellers (sealed ballots)"},
)
TELLERS_NEEDED = fields.Integer(
    allow_none=True,
    validate=validate.Range(min=1, max=MAX_TELLERS),
    metadata={"description": "how many tellers must give their shares to count (k of n)"},
)


class BallotIn(InputSchema):
    """A ballot; times without an offset are read in the group's time zone.

    ``options`` is required except for yes/no ballots, whose options are Yes, No and
    Abstain. ``seats`` is how many a member may choose (choose_many) or how many seats
    the count fills (ranked).
    """

    question = Text(200, min_length=1, required=True)
    description = Text(20_000)
    kind = Choice(vocab.BALLOT_KINDS, required=True)
    options = fields.List(
        Text(200, min_length=1, required=True),
        validate=validate.Length(max=MAX_OPTIONS),
        load_default=list,
    )
    seats = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_OPTIONS))
    opens_at = Moment(required=True)
    closes_at = Moment(required=True)
    freeze_at = Moment(allow_none=True)  # default, and latest: when the ballot opens
    quorum = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000_000))
    allow_change = fields.Boolean(load_default=False)
    candidate_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    visibility = Choice(vocab.VISIBILITIES, load_default="public")
    tellers = TELLER_IDS
    tellers_needed = TELLERS_NEEDED

    @validates_schema(skip_on_field_errors=False)  # every error at once, not in batches
    def _shape(self, data: dict[str, Any], **_kwargs: Any) -> None:
        problems: dict[str, list[str]] = {}

        def refuse(field: str, message: str) -> None:
            problems.setdefault(field, []).append(message)

        kind, options = data.get("kind"), data.get("options") or []
        if kind == "yes_no":
            if options:
                refuse(
                    "options", "A yes/no ballot's options are Yes, No and Abstain: leave this out."
                )
        elif kind in vocab.BALLOT_KINDS and "options" in data:
            if len(options) < 2:
                refuse("options", "Give at least two options.")
            elif len({o.casefold() for o in options}) != len(options):
                refuse("options", "Each option must differ.")
            seats = data.get("seats", 1)
            if kind == "choose_many" and len(options) >= 2 and seats > len(options):
                refuse("seats", "Can't choose more than there are options.")
            elif kind == "ranked" and len(options) >= 2 and seats >= len(options):
                refuse("seats", "Give more candidates than seats, or there is nothing to count.")
        if data.get("candidate_id") is not None and kind and kind != "yes_no":
            refuse("candidate_id", "An endorsement is decided by a yes/no ballot.")
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            refuse("closes_at", "Must be after the opening time.")
        freeze = data.get("freeze_at")
        if freeze and opens and freeze > opens:
            # The roll is fixed before voting starts (the default is the opening itself).
            refuse(
                "freeze_at",
                "Must not be after the opening time: the roll is fixed before voting starts.",
            )
        if problems:
            raise ValidationError(problems)


class BallotChange(InputSchema):
    """What an organiser may change before a ballot opens (every field optional)."""

    question = Text(200, min_length=1)
    description = Text(20_000)
    opens_at = Moment()
    closes_at = Moment()
    freeze_at = Moment()
    quorum = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=10_000_000))
    allow_change = fields.Boolean()
    visibility = Choice(vocab.VISIBILITIES)
    tellers = TELLER_IDS
    tellers_needed = TELLERS_NEEDED


class VoteIn(InputSchema):
    """A member's choice, as option positions (0 is the first option).

    One position for yes/no (0 yes, 1 no, 2 abstain) and choose_one; up to ``seats``
    for choose_many; an order of preference for ranked. An empty list abstains. To
    change a vote, send the receipt code you were given with the new choice: it works only
    for the member who was given it, logged in.
    """

    choices = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=MAX_OPTIONS - 1)),
        required=True,
        validate=validate.Length(max=MAX_OPTIONS),
    )
    receipt_code = Text(40, allow_none=True)


class TellerCodeIn(InputSchema):
    """A teller's code, typed or pasted back: to show it was kept, or to give their share."""

    code = Text(200, min_length=1, required=True)


class TellerCodeOut(Schema):
    code = fields.String(
        metadata={"description": "your teller code: shown only now; keep it to give your share"}
    )


class TellerOut(Schema):
    position = fields.Integer()
    name = fields.String()
    kept_code = fields.Boolean()
    gave_share = fields.Boolean()


class TrackerOut(Schema):
    tracker = fields.String(metadata={"description": "the hash of one sealed paper"})


class OpenedPaperOut(Schema):
    position = fields.Integer(metadata={"description": "the count's shuffled order"})
    choices = fields.List(fields.Integer())
    spoilt = fields.Boolean()


class OptionOut(Schema):
    position = fields.Integer()
    label = fields.String()


class BallotOut(Schema):
    id = fields.Integer()
    question = fields.String()
    description = fields.String()
    kind = fields.String()
    seats = fields.Integer()
    options = fields.List(fields.Nested(OptionOut))
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    freeze_at = fields.DateTime()
    quorum = fields.Integer(allow_none=True)
    allow_change = fields.Boolean()
    candidate_id = fields.Integer(allow_none=True)
    visibility = fields.String()
    state = fields.String(metadata={"enum": list(vocab.BALLOT_STATES)})
    closed_at = fields.DateTime(allow_none=True)
    sealed = fields.Boolean()
    tellers_needed = fields.Integer(allow_none=True)
    tellers = fields.List(fields.Nested(TellerOut), metadata={"description": "members only"})
    public_key_fingerprint = fields.String(allow_none=True)
    counted_at = fields.DateTime(allow_none=True)


class ResultOut(Schema):
    """The count, published at the close (never before)."""

    outcome = fields.String(metadata={"enum": list(vocab.BALLOT_OUTCOMES)})
    voters_count = fields.Integer()
    eligible_count = fields.Integer()
    turnout = fields.Float(metadata={"description": "voters / eligible, 0 to 1"})
    quorum = fields.Integer(allow_none=True)
    quorum_met = fields.Boolean()
    votes = fields.List(fields.Float(), metadata={"description": "per option position"})
    abstentions = fields.Integer()
    winners = fields.List(fields.Integer(), metadata={"description": "option positions"})
    rounds = fields.List(fields.Dict(), metadata={"description": "ranked: each STV round"})
    sealed_count = fields.Integer(allow_none=True, metadata={"description": "sealed papers"})
    spoilt_count = fields.Integer(allow_none=True)
    tracker_list_hash = fields.String(allow_none=True)
    opened_papers_hash = fields.String(allow_none=True)


class ReceiptOut(Schema):
    receipt = fields.String(
        metadata={"description": "sealed ballots: your tracker; others: published at the close"}
    )
    receipt_code = fields.String(
        allow_none=True,
        metadata={
            "description": "keep it secret: with your log-in it changes your vote; shown only "
            "now (none for sealed ballots, where your log-in alone changes it)"
        },
    )
    tracker = fields.String(
        allow_none=True,
        metadata={"description": "sealed ballots: find it in the ballot box; it never says how"},
    )
    changed = fields.Boolean()


class PaperOut(Schema):
    receipt = fields.String()
    choices = fields.List(fields.Integer())
