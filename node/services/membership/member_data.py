"""A member's own data: everything the node holds about them, and leaving the group.

Leaving deletes the member's row rather than scrubbing it. Every table that points at
``member.id`` either holds the member's personal data (RSVPs, tokens, OAuth clients,
password resets, answers to twins' events, carpools: deleted here) or only records who did
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
  (``ballots.forget_voter``), so joining again with that address gives no second vote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from ...extensions import db
from ...models import (
    ApiClient,
    ApiToken,
    Ballot,
    BallotVoter,
    Event,
    Invite,
    LoginFailure,
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
from ..organising import carpools, events, shifts
from ..organising.records import commit
from ..twins import remote_rsvp
from ..voting import ballots
from . import members, passwords

SCHEMA_VERSION = 1


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export(member: Member) -> dict[str, Any]:
    """Return everything the node holds about ``member`` as JSON-able data."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": utcnow().isoformat(),
        "profile": {
            "id": member.id,
            "email": member.email,
            "display_name": member.display_name,
            "role": member.role,
            "status": member.status,
            "joined_at": _when(member.joined_at),
            "last_login_at": _when(member.last_login_at),
            "has_password": member.password_hash is not None,
        },
        "rsvps": _rsvps(member),
        "shift_signups": _shift_signups(member),
        "carpools": _carpools(member),
        "ballots_voted_in": _ballots_voted_in(member),
        "ballots_created": _ballots_created(member),
        "api_tokens": _api_tokens(member),
        "oauth_clients": _oauth_clients(member),
        "invitations_created": _invitations_created(member),
        "invitations_for_you": _invitations_for_you(member),
        "password_resets": _password_resets(member),
        "twin_event_rsvps": _twin_event_rsvps(member),
        "twinnings": _twinnings(member),
        "mail": _mail(member),
        "login_failures": _login_failures(member),
    }


def _rsvps(member: Member) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Rsvp, Event.title)
        .join(Event, Event.id == Rsvp.event_id)
        .where(Rsvp.member_id == member.id)
        .order_by(Event.starts_at, Event.id)
    )
    return [
        {
            "event_id": rsvp.event_id,
            "event_title": title,
            "response": rsvp.response,
            "answered_at": _when(rsvp.created_at),
            "changed_at": _when(rsvp.updated_at),
        }
        for rsvp, title in rows
    ]


def _shift_signups(member: Member) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(ShiftSignup, Shift, Event.title)
        .join(Shift, Shift.id == ShiftSignup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(ShiftSignup.member_id == member.id)
        .order_by(Shift.starts_at, Shift.id)
    )
    return [
        {
            "event_id": shift.event_id,
            "event_title": title,
            "shift": shift.label,
            "starts_at": _when(shift.starts_at),
            "ends_at": _when(shift.ends_at),
            "state": signup.state,
            "signed_up_at": _when(signup.created_at),
        }
        for signup, shift, title in rows
    ]


def _carpools(member: Member) -> list[dict[str, Any]]:
    # Their own offers and requests; whom they were matched with is the others' data.
    rows = []
    for kind, event, row in carpools.of_member(member):
        offered = kind == "offer"
        rows.append(
            {
                "event_id": event.id,
                "event_title": event.title,
                "kind": kind,
                "from_place": row.from_place,
                "seats": row.seats if offered else None,
                "note": row.note,
                "riders_matched": carpools.riders_count(row) if offered else None,
                "driver_matched": None if offered else row.offer_id is not None,
                "created_at": _when(row.created_at),
                "matched_at": None if offered else _when(row.matched_at),
            }
        )
    return rows


def _ballots_voted_in(member: Member) -> list[dict[str, Any]]:
    # Only that they voted: papers are anonymous, so the node cannot say what they chose.
    rows = db.session.execute(
        select(Ballot.id, Ballot.question)
        .join(BallotVoter, BallotVoter.ballot_id == Ballot.id)
        .where(BallotVoter.member_id == member.id)
        .order_by(Ballot.id)
    )
    return [{"ballot_id": id_, "question": question, "voted": True} for id_, question in rows]


def _ballots_created(member: Member) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Ballot.id, Ballot.question, Ballot.created_at)
        .where(Ballot.created_by_id == member.id)
        .order_by(Ballot.id)
    )
    return [
        {"ballot_id": id_, "question": question, "created_at": _when(created)}
        for id_, question, created in rows
    ]


def _api_tokens(member: Member) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.member_id == member.id).order_by(ApiToken.id)
    )
    return [
        {
            "name": row.name,
            "scopes": row.scope.split(),
            "issued_to_client": row.client_id is not None,
            "created_at": _when(row.created_at),
            "expires_at": _when(row.expires_at),
            "revoked_at": _when(row.revoked_at),
            "last_used_at": _when(row.last_used_at),
        }
        for row in rows
    ]


def _oauth_clients(member: Member) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(ApiClient).where(ApiClient.member_id == member.id).order_by(ApiClient.id)
    )
    return [
        {
            "name": row.name,
            "client_id": row.client_id,
            "scopes": row.scope.split(),
            "created_at": _when(row.created_at),
            "revoked_at": _when(row.revoked_at),
        }
        for row in rows
    ]


def _invitations_created(member: Member) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Invite).where(Invite.created_by_id == member.id).order_by(Invite.id)
    )
    return [
        {
            "email": row.email,
            "role": row.role,
            "created_at": _when(row.created_at),
            "expires_at": _when(row.expires_at),
            "used_at": _when(row.used_at),
        }
        for row in rows
    ]


def _invitations_for_you(member: Member) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Invite)
        .where(or_(Invite.used_by_id == member.id, Invite.email == member.email))
        .order_by(Invite.id)
    )
    return [
        {
            "email": row.email,
            "role": row.role,
            "created_at": _when(row.created_at),
            "expires_at": _when(row.expires_at),
            "used_at": _when(row.used_at),
        }
        for row in rows
    ]


def _password_resets(member: Member) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(PasswordReset).where(PasswordReset.member_id == member.id).order_by(PasswordReset.id)
    )
    return [
        {
            "requested_at": _when(row.created_at),
            "expires_at": _when(row.expires_at),
            "used_at": _when(row.used_at),
        }
        for row in rows
    ]


def _twin_event_rsvps(member: Member) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(OutgoingRsvp, RemoteObject.title)
        .outerjoin(RemoteObject, RemoteObject.object_id == OutgoingRsvp.event_object_id)
        .where(OutgoingRsvp.member_id == member.id)
        .order_by(OutgoingRsvp.id)
    )
    return [
        {
            "event": rsvp.event_object_id,
            "event_title": title,
            "group": rsvp.peer.actor_id,
            "response": rsvp.response,
            "party_size": rsvp.party_size,
            "name_shared": rsvp.share_name,
            "state": rsvp.state,
            "answered_at": _when(rsvp.created_at),
            "changed_at": _when(rsvp.updated_at),
        }
        for rsvp, title in rows
    ]


def _twinnings(member: Member) -> list[dict[str, Any]]:
    rows = db.session.scalars(
        select(Twinning)
        .where(or_(Twinning.proposed_by_id == member.id, Twinning.answered_by_id == member.id))
        .order_by(Twinning.id)
    )
    return [
        {
            "group": row.peer.actor_id,
            "state": row.state,
            "proposed_by_you": row.proposed_by_id == member.id,
            "answered_by_you": row.answered_by_id == member.id,
            "proposed_at": _when(row.proposed_at),
            "answered_at": _when(row.answered_at),
        }
        for row in rows
    ]


def _mail(member: Member) -> list[dict[str, Any]]:
    # Subjects and outcomes only: a body may hold a reset link, and is emptied once sent.
    rows = db.session.scalars(
        select(OutboundMail)
        .where(func.lower(OutboundMail.to_address) == member.email)
        .order_by(OutboundMail.id)
    )
    return [
        {
            "subject": row.subject,
            "status": row.status,
            "queued_at": _when(row.created_at),
            "sent_at": _when(row.sent_at),
        }
        for row in rows
    ]


def _login_failures(member: Member) -> dict[str, Any]:
    times = list(
        db.session.scalars(
            select(LoginFailure.at)
            # Times only: the addresses they came from may be anyone's.
            .where(LoginFailure.account == member.email)
            .order_by(LoginFailure.at)
        )
    )
    return {"count": len(times), "at": [_when(at) for at in times]}


# Leaving ------------------------------------------------------------------------------


def check_can_leave(member: Member) -> None:
    """Refuse when the member is the group's last active admin."""
    if member.role == "admin" and members.admins_left(member) == 0:
        raise Conflict(
            "You are the group's only admin. Make another member an admin before you leave."
        )


def leave(member: Member, password: str) -> None:
    """Remove the member and their personal data in one transaction, after their password."""
    if not passwords.check_password(member.password_hash, password):
        raise Invalid.on("password", "That is not your password.")
    check_can_leave(member)
    _free_places_still_to_come(member)
    # Tell twins the member will not come, before their answers go (see remote_rsvp).
    remote_rsvp.withdraw_all(member)
    shifts.release_all(member)  # their shift places go to whoever is waiting
    carpools.release_all(member)  # riders and drivers matched with them are told
    ballots.forget_voter(member)  # that they voted stays, as a hash of their address only
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
        delete(OutboundMail).where(func.lower(OutboundMail.to_address) == member.email)
    )
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
