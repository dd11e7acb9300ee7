"""A member's own data: everything the node holds about them, and leaving the group.

Leaving deletes the member's row rather than scrubbing it. Every table that points at
``member.id`` either holds the member's personal data (RSVPs, tokens, OAuth clients,
password resets, answers to twins' events, carpools, choices of mail and the record of
their address's bounces: deleted here) or only records who did
something (ballots and invitations created, the invitation used, twinning proposed or
answered, that they voted: set to NULL here, as the foreign keys' ``ON DELETE SET NULL``
would). Scrubbing would keep a row with the join date and last log-in of someone who
asked to go, and the placeholder would still single them out; deleting keeps nothing,
and the foreign keys stay consistent either way.

What stays, as numbers only:

- a past event's ``going_count`` keeps their place (it records how many said they would
  come); an event still to come gets the place back, since they will not come;
- their ballot papers, which never named them, so a ballot counts their vote at the close
  (the count reads the papers, not who voted);
- that they voted in each ballot, as a keyed hash of their address with nothing else
  (``votes.forget_voter``), so joining again with that address gives no second vote.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_babel import gettext
from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import contains_eager

from ...extensions import db
from ...models import (
    ApiClient,
    ApiToken,
    Ballot,
    BallotVoter,
    CarpoolOffer,
    CarpoolRequest,
    Event,
    Invite,
    LoginFailure,
    MailAddress,
    MailPreference,
    Member,
    MemberSession,
    OutboundMail,
    OutgoingRsvp,
    PasswordReset,
    RemoteObject,
    Rsvp,
    Shift,
    ShiftSignup,
    Twinning,
    utcnow,
)
from ..errors import Conflict, Invalid
from ..messaging import history, preferences
from ..organising import carpools, events, shifts
from ..organising.records import commit
from ..twins import outgoing_rsvps
from ..voting import votes
from . import members, passwords


class CarpoolHeld(NamedTuple):
    """A member's carpool offer or request, its event, and (offers) how many riders it has."""

    kind: str  # offer or request
    event: Event
    row: CarpoolOffer | CarpoolRequest
    riders: int | None


class TwinEventAnswer(NamedTuple):
    """A member's answer to a twinned group's event, and the event's title if it is held."""

    answer: OutgoingRsvp
    event_title: str | None


class TwinningHeld(NamedTuple):
    """A twinning the member proposed or answered, and which of the two they did."""

    twinning: Twinning
    proposed_by_you: bool
    answered_by_you: bool


def export(member: Member) -> dict[str, Any]:
    """Load everything the node holds about ``member``, as rows MemberDataOut dumps."""
    mine = member.id
    return {
        "generated_at": utcnow(),
        "profile": member,
        "rsvps": _objects(
            select(Rsvp)
            .join(Rsvp.event)
            .options(contains_eager(Rsvp.event))
            .where(Rsvp.member_id == mine)
            .order_by(Event.starts_at, Event.id)
        ),
        "shift_signups": _objects(
            select(ShiftSignup)
            .join(ShiftSignup.shift)
            .join(Shift.event)
            .options(contains_eager(ShiftSignup.shift).contains_eager(Shift.event))
            .where(ShiftSignup.member_id == mine)
            .order_by(Shift.starts_at, Shift.id)
        ),
        "carpools": _carpools(member),
        # Only that they voted: papers are anonymous, so the node cannot say what they chose.
        "ballots_voted_in": _rows(
            select(Ballot.id, Ballot.question)
            .join(BallotVoter, BallotVoter.ballot_id == Ballot.id)
            .where(BallotVoter.member_id == mine)
            .order_by(Ballot.id)
        ),
        "ballots_created": _rows(
            select(Ballot.id, Ballot.question, Ballot.created_at)
            .where(Ballot.created_by_id == mine)
            .order_by(Ballot.id)
        ),
        "api_tokens": _objects(
            select(ApiToken).where(ApiToken.member_id == mine).order_by(ApiToken.id)
        ),
        "oauth_clients": _objects(
            select(ApiClient).where(ApiClient.member_id == mine).order_by(ApiClient.id)
        ),
        "invitations_created": _objects(
            select(Invite).where(Invite.created_by_id == mine).order_by(Invite.id)
        ),
        "invitations_for_you": _objects(
            select(Invite)
            .where(or_(Invite.used_by_id == mine, Invite.email == member.email))
            .order_by(Invite.id)
        ),
        "password_resets": _objects(
            select(PasswordReset).where(PasswordReset.member_id == mine).order_by(PasswordReset.id)
        ),
        "twin_event_rsvps": [
            TwinEventAnswer(answer, title)
            for answer, title in db.session.execute(
                select(OutgoingRsvp, RemoteObject.title)
                .outerjoin(RemoteObject, RemoteObject.object_id == OutgoingRsvp.event_object_id)
                .where(OutgoingRsvp.member_id == mine)
                .order_by(OutgoingRsvp.id)
            )
        ],
        "twinnings": [
            TwinningHeld(row, row.proposed_by_id == mine, row.answered_by_id == mine)
            for row in _objects(
                select(Twinning)
                .where(or_(Twinning.proposed_by_id == mine, Twinning.answered_by_id == mine))
                .order_by(Twinning.id)
            )
        ],
        "mail_choices": history.choices(member),
        # Queued for them as a member, or to their address before (an invitation).
        "mail": history.all_sent_to(member),
        "mail_address": preferences.address_row(member.email),
        # Times only: the addresses they came from may be anyone's.
        "login_failures": _objects(
            select(LoginFailure.at)
            .where(LoginFailure.account == member.email)
            .order_by(LoginFailure.at)
        ),
    }


def _objects(query: Select) -> list[Any]:
    return list(db.session.scalars(query))


def _rows(query: Select) -> list[Any]:
    return list(db.session.execute(query))


def _carpools(member: Member) -> list[CarpoolHeld]:
    # Their own offers and requests; whom they were matched with is the others' data.
    return [
        CarpoolHeld(kind, event, row, carpools.riders_count(row) if kind == "offer" else None)
        for kind, event, row in carpools.of_member(member)
    ]


# Leaving ------------------------------------------------------------------------------


def check_can_leave(member: Member) -> None:
    """Refuse when the member is the group's last active admin."""
    if member.role == "admin" and members.admins_left(member) == 0:
        raise Conflict(
            gettext(
                "You are the group's only admin. Make another member an admin before you leave."
            )
        )


def leave(member: Member, password: str) -> None:
    """Remove the member and their personal data in one transaction, after their password."""
    if not passwords.check_password(member.password_hash, password):
        raise Invalid.on("password", gettext("That is not your password."))
    check_can_leave(member)
    _free_places_still_to_come(member)
    # Tell twins the member will not come, before their answers go (see remote_rsvp).
    outgoing_rsvps.withdraw_all(member)
    shifts.release_all(member)  # their shift places go to whoever is waiting
    carpools.release_all(member)  # riders and drivers matched with them are told
    votes.forget_voter(member)  # that they voted stays, as a hash of their address only
    mine = member.id
    for table, column in (
        (Rsvp, Rsvp.member_id),
        (ApiToken, ApiToken.member_id),
        (ApiClient, ApiClient.member_id),
        (PasswordReset, PasswordReset.member_id),
        (MemberSession, MemberSession.member_id),
        (OutgoingRsvp, OutgoingRsvp.member_id),
    ):
        db.session.execute(delete(table).where(column == mine))
    db.session.execute(delete(Invite).where(Invite.email == member.email))
    db.session.execute(
        delete(OutboundMail).where(
            or_(func.lower(OutboundMail.to_address) == member.email, OutboundMail.member_id == mine)
        )
    )
    # Their choices go with them (the foreign key cascades too, where the database enforces
    # it), and so does their address's record of bounces and stopped mail: it is theirs.
    db.session.execute(delete(MailPreference).where(MailPreference.member_id == mine))
    db.session.execute(delete(MailAddress).where(MailAddress.address == member.email.lower()))
    db.session.execute(delete(LoginFailure).where(LoginFailure.account == member.email))
    for column in (
        Ballot.created_by_id,
        Invite.created_by_id,
        Invite.used_by_id,
        Twinning.proposed_by_id,
        Twinning.answered_by_id,
    ):
        db.session.execute(update(column.class_).where(column == mine).values({column.key: None}))
    db.session.execute(delete(Member).where(Member.id == mine))
    commit()
    db.session.expire_all()  # nothing loaded before may stand in for rows now gone


def _free_places_still_to_come(member: Member) -> None:
    now = utcnow()
    still_on = or_(
        and_(Event.ends_at.is_not(None), Event.ends_at >= now),
        and_(Event.ends_at.is_(None), Event.starts_at >= now),
    )
    coming = db.session.scalars(
        select(Rsvp.event_id)
        .join(Event, Event.id == Rsvp.event_id)
        .where(Rsvp.member_id == member.id, Rsvp.response == "going", still_on)
    )
    for event_id in list(coming):
        events.free_places(event_id, 1)
