"""Members: finding them, adding them, their roles and status, and removing them.

Log-in and its limits are in ``logins``, invitations and joining in ``invitations``, and
choosing a new password in ``resets``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from sqlalchemy import delete, func, select, update

from ...extensions import db
from ...models import ApiToken, Event, Member, Rsvp, utcnow
from ..errors import Conflict, Forbidden, NotFound
from ..organising import carpools, shifts, waitlist
from ..organising.records import Page, assign, commit, paginate
from ..voting import votes
from . import passwords, sessions


def by_email(email: str) -> Member | None:
    """Find a member by e-mail address, ignoring case."""
    return db.session.scalar(select(Member).where(Member.email == email.strip().lower()))


def get(member_id: int) -> Member:
    """Fetch a member or raise NotFound."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound(gettext("No such member."))
    return member


def listing(page: int, per_page: int, role: str | None = None, status: str | None = None) -> Page:
    """List members for organisers, newest first."""
    query = select(Member).order_by(Member.display_name, Member.id)
    if role:
        query = query.where(Member.role == role)
    if status:
        query = query.where(Member.status == status)
    return paginate(query, page, per_page)


def check_role_change(actor: Member | None, new_role: str | None, target: Member | None) -> None:
    """Refuse (Forbidden) a change touching the admin role unless an admin makes it."""
    # actor None means the command line, which the server's operator runs.
    if actor is None:
        return
    touches_admin = new_role == "admin" or (target is not None and target.role == "admin")
    if touches_admin and not actor.has_role("admin"):
        raise Forbidden(gettext("Only an admin can grant or change the admin role."))


def admins_left(excluding: Member) -> int:
    """Count the active admins other than ``excluding``."""
    return db.session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.role == "admin", Member.status == "active", Member.id != excluding.id)
    )


def new_member(data: dict[str, Any], actor: Member | None) -> Member:
    """Make an active member from validated input (not yet saved), if ``actor`` may."""
    role = data.get("role") or "member"
    check_role_change(actor, role, None)
    email = data["email"].lower()
    if by_email(email) is not None:
        raise Conflict(
            gettext("A member with that e-mail address already exists."),
            {"email": [gettext("Taken.")]},
        )
    return Member(email=email, display_name=data["display_name"], role=role, status="active")


def add(data: dict[str, Any], actor: Member | None = None, password: str | None = None) -> Member:
    """Add a member (active); without a password they set one through an invite link."""
    member = new_member(data, actor)
    if password is not None:
        passwords.check_policy(password, email=member.email)
        member.password_hash = passwords.hash_password(password)
    db.session.add(member)
    commit()
    return member


def change(member: Member, data: dict[str, Any], actor: Member | None = None) -> Member:
    """Change a member's name, role or status, keeping at least one active admin."""
    new_role = data.get("role")
    if new_role is not None and new_role != member.role:
        check_role_change(actor, new_role, member)
    elif data.get("status") not in (None, member.status):
        check_role_change(actor, None, member)
    demoted = new_role not in (None, "admin") and member.role == "admin"
    deactivated = data.get("status") not in (None, "active") and member.role == "admin"
    if (demoted or deactivated) and admins_left(member) == 0:
        raise Conflict(gettext("The group must keep at least one active admin."))
    if data.get("status") not in (None, "active", member.status):
        member.session_version += 1  # a new calendar address
        sessions.end_all(member)  # logged out everywhere
        revoke_tokens(member)
    assign(member, data)
    commit()
    return member


def remove(member: Member, actor: Member | None = None) -> None:
    """Erase a member and everything tied to them, freeing their event places."""
    check_role_change(actor, None, member)
    if member.role == "admin" and admins_left(member) == 0:
        raise Conflict(gettext("The group must keep at least one active admin."))
    going = select(Rsvp.event_id).where(Rsvp.member_id == member.id, Rsvp.response == "going")
    freed = list(db.session.scalars(going))
    db.session.execute(
        update(Event).where(Event.id.in_(going)).values(going_count=Event.going_count - 1)
    )
    db.session.execute(delete(Rsvp).where(Rsvp.member_id == member.id))
    waitlist.leave_everywhere(member)
    for event_id in freed:
        waitlist.promote(event_id)  # their places go to whoever is waiting
    shifts.release_all(member)  # their shift places go to whoever is waiting
    carpools.release_all(member)  # riders and drivers matched with them are told
    votes.forget_voter(member)  # that they voted stays, as a hash of their address only
    db.session.delete(member)
    commit()


def revoke_tokens(member: Member) -> None:
    """Revoke every API token of ``member`` still in force (the caller commits)."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
