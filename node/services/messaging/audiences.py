"""Whom an announcement goes to: all members, the people of an event, or a ballot's non-voters.

An audience is a name and, for all but ``members``, a reference: an event's id
(``event_going``, ``event_waitlist``, ``event_guests``), a shift's id (``event_shift``) or a
ballot's id (``ballot_not_voted``). Members are only ever active members. Guests are not
members: they are sent the message as kind ``guest``, so their "stop all mail" holds.
``ballot_not_voted`` reads only *that* a member voted (``BallotVoter``), never what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import exists, select

from schemas.wording import N_

from ...extensions import db
from ...models import Ballot, BallotVoter, Event, GuestRsvp, Member, Rsvp, Shift, ShiftSignup
from ...models.types import utcnow
from ..errors import Invalid
from ..voting import ballots
from .outbox import Recipient

MEMBERS = "members"
EVENT_GOING = "event_going"
EVENT_SHIFT = "event_shift"
EVENT_WAITLIST = "event_waitlist"
EVENT_GUESTS = "event_guests"
BALLOT_NOT_VOTED = "ballot_not_voted"

LABELS = {
    MEMBERS: N_("All members"),
    EVENT_GOING: N_("Members going to an event"),
    EVENT_SHIFT: N_("Members on a shift"),
    EVENT_WAITLIST: N_("Members on an event's waitlists"),
    EVENT_GUESTS: N_("Confirmed guests of an event"),
    BALLOT_NOT_VOTED: N_("Members who have not voted in an open ballot"),
}
AUDIENCES = tuple(LABELS)
# What each audience's reference is, for messages naming the field.
REFERENCE = {
    EVENT_GOING: "event",
    EVENT_SHIFT: "shift",
    EVENT_WAITLIST: "event",
    EVENT_GUESTS: "event",
    BALLOT_NOT_VOTED: "ballot",
}


@dataclass(frozen=True)
class Audience:
    """An audience checked against the database: its name, reference and how to show it."""

    name: str
    ref: int | None
    description: str

    @property
    def guests(self) -> bool:
        """Say whether it is made of guests (not members)."""
        return self.name == EVENT_GUESTS


def resolve(name: str, ref: int | None, *, now: datetime | None = None) -> Audience:
    """Check ``name`` and ``ref``; raise Invalid naming ``audience`` or ``audience_ref``."""
    if name not in LABELS:
        raise Invalid.on("audience", gettext("Choose one of: %(join)s.", join=", ".join(AUDIENCES)))
    if name == MEMBERS:
        return Audience(name, None, gettext(LABELS[name]))
    what = REFERENCE[name]
    if ref is None:
        raise Invalid.on(
            "audience_ref", gettext("Choose the %(what)s this audience is about.", what=what)
        )
    if what == "event":
        event = db.session.get(Event, ref)
        if event is None:
            raise Invalid.on("audience_ref", gettext("There is no event %(ref)s.", ref=ref))
        return Audience(name, ref, _description(name, event.title))
    if what == "shift":
        shift = db.session.get(Shift, ref)
        if shift is None:
            raise Invalid.on("audience_ref", gettext("There is no shift %(ref)s.", ref=ref))
        event = db.session.get(Event, shift.event_id)
        what = gettext(
            "%(shift)s at %(event)s", shift=shift.label or gettext("shift"), event=event.title
        )
        return Audience(name, ref, _description(name, what))
    ballot = db.session.get(Ballot, ref)
    if ballot is None:
        raise Invalid.on("audience_ref", gettext("There is no ballot %(ref)s.", ref=ref))
    if ballots.state(ballot, now or utcnow()) != "open":
        raise Invalid.on("audience_ref", gettext("That ballot is not open for votes."))
    return Audience(name, ref, _description(name, ballot.question))


def _description(name: str, what: str) -> str:
    return gettext("%(audience)s: %(what)s", audience=gettext(LABELS[name]), what=what)


def recipients(name: str, ref: int | None, *, now: datetime | None = None) -> list[Recipient]:
    """List everyone in the audience now, before their choices are asked."""
    if name == EVENT_GUESTS:
        rows = db.session.execute(
            select(GuestRsvp.email, GuestRsvp.name)
            .where(
                GuestRsvp.event_id == ref,
                GuestRsvp.state == "going",
                GuestRsvp.email.is_not(None),
                GuestRsvp.email != "",
            )
            .order_by(GuestRsvp.id)
        )
        return [Recipient(row.email, row.name, None) for row in rows]
    query = select(Member.id, Member.email, Member.display_name).where(Member.status == "active")
    if name == EVENT_GOING:
        query = query.where(
            exists().where(
                Rsvp.member_id == Member.id, Rsvp.event_id == ref, Rsvp.response == "going"
            )
        )
    elif name == EVENT_SHIFT:
        query = query.where(
            exists().where(
                ShiftSignup.member_id == Member.id,
                ShiftSignup.shift_id == ref,
                ShiftSignup.state == "going",
            )
        )
    elif name == EVENT_WAITLIST:
        query = query.where(
            exists().where(
                ShiftSignup.member_id == Member.id,
                ShiftSignup.state == "waitlisted",
                ShiftSignup.shift_id.in_(select(Shift.id).where(Shift.event_id == ref)),
            )
        )
    elif name == BALLOT_NOT_VOTED:
        ballot = db.session.get(Ballot, ref)
        if ballot is None or ballots.state(ballot, now or utcnow()) != "open":
            return []  # closed meanwhile: nobody is left to remind
        query = query.where(
            Member.joined_at <= ballot.freeze_at,
            ~exists().where(BallotVoter.ballot_id == ref, BallotVoter.member_id == Member.id),
        )
    elif name != MEMBERS:
        raise Invalid.on("audience", gettext("Choose one of: %(join)s.", join=", ".join(AUDIENCES)))
    rows = db.session.execute(query.order_by(Member.id))
    return [Recipient(row.email, row.display_name, row.id) for row in rows]
