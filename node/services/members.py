"""Members: adding, roles and status, invitations, log-in with rate limiting, password resets."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..models import (
    ApiToken,
    Event,
    Invite,
    LoginFailure,
    Member,
    PasswordReset,
    Rsvp,
    utcnow,
)
from . import ballots, carpools, mail, passwords, shifts
from .errors import Conflict, Forbidden, Invalid, NotFound, TooManyAttempts, Unauthorised
from .records import Page, assign, commit, paginate

INVITE_LIFETIME = timedelta(days=14)
RESET_LIFETIME = timedelta(hours=2)


def _token() -> tuple[str, str]:
    value = secrets.token_urlsafe(32)
    return value, hashlib.sha256(value.encode()).hexdigest()


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def by_email(email: str) -> Member | None:
    """Find a member by e-mail address, ignoring case."""
    return db.session.scalar(select(Member).where(Member.email == email.strip().lower()))


def get(member_id: int) -> Member:
    """Fetch a member or raise NotFound."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("No such member.")
    return member


def listing(page: int, per_page: int, role: str | None = None, status: str | None = None) -> Page:
    """List members for organisers, newest first."""
    query = select(Member).order_by(Member.display_name, Member.id)
    if role:
        query = query.where(Member.role == role)
    if status:
        query = query.where(Member.status == status)
    return paginate(query, page, per_page)


def _check_role_change(actor: Member | None, new_role: str | None, target: Member | None) -> None:
    # actor None means the command line, which the server's operator runs.
    if actor is None:
        return
    touches_admin = new_role == "admin" or (target is not None and target.role == "admin")
    if touches_admin and not actor.has_role("admin"):
        raise Forbidden("Only an admin can grant or change the admin role.")


def admins_left(excluding: Member) -> int:
    """Count the active admins other than ``excluding``."""
    return db.session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.role == "admin", Member.status == "active", Member.id != excluding.id)
    )


def add(data: dict[str, Any], actor: Member | None = None, password: str | None = None) -> Member:
    """Add a member (active); without a password they set one through an invite link."""
    role = data.get("role") or "member"
    _check_role_change(actor, role, None)
    email = data["email"].lower()
    if by_email(email) is not None:
        raise Conflict("A member with that e-mail address already exists.", {"email": ["Taken."]})
    member = Member(email=email, display_name=data["display_name"], role=role, status="active")
    if password is not None:
        passwords.check_policy(password, email=email)
        member.password_hash = passwords.hash_password(password)
    db.session.add(member)
    commit()
    return member


def change(member: Member, data: dict[str, Any], actor: Member | None = None) -> Member:
    """Change a member's name, role or status, keeping at least one active admin."""
    new_role = data.get("role")
    if new_role is not None and new_role != member.role:
        _check_role_change(actor, new_role, member)
    elif data.get("status") not in (None, member.status):
        _check_role_change(actor, None, member)
    demoted = new_role not in (None, "admin") and member.role == "admin"
    deactivated = data.get("status") not in (None, "active") and member.role == "admin"
    if (demoted or deactivated) and admins_left(member) == 0:
        raise Conflict("The group must keep at least one active admin.")
    if data.get("status") not in (None, "active", member.status):
        member.session_version += 1  # log them out everywhere
        _revoke_tokens(member)
    assign(member, data)
    commit()
    return member


def remove(member: Member, actor: Member | None = None) -> None:
    """Erase a member and everything tied to them, freeing their event places."""
    _check_role_change(actor, None, member)
    if member.role == "admin" and admins_left(member) == 0:
        raise Conflict("The group must keep at least one active admin.")
    going = select(Rsvp.event_id).where(Rsvp.member_id == member.id, Rsvp.response == "going")
    db.session.execute(
        update(Event).where(Event.id.in_(going)).values(going_count=Event.going_count - 1)
    )
    db.session.execute(delete(Rsvp).where(Rsvp.member_id == member.id))
    shifts.release_all(member)  # their shift places go to whoever is waiting
    carpools.release_all(member)  # riders and drivers matched with them are told
    ballots.forget_voter(member)  # that they voted stays, as a hash of their address only
    db.session.delete(member)
    commit()


def _revoke_tokens(member: Member) -> None:
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.member_id == member.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# Log-in --------------------------------------------------------------------------


def _recent_failures(key: str) -> int:
    window = timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    return db.session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.key == key, LoginFailure.at > utcnow() - window)
    )


def authenticate(email: str, password: str, address: str) -> Member:
    """Check a log-in, refusing after too many recent failures for the account or address."""
    config = current_app.config
    account_key, address_key = f"account:{email.strip().lower()}", f"address:{address}"
    if (
        _recent_failures(account_key) >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or _recent_failures(address_key) >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    ):
        raise TooManyAttempts("Too many failed log-ins. Wait 15 minutes and try again.")
    member = by_email(email)
    ok = passwords.check_password(member.password_hash if member else None, password)
    if not ok or member is None:
        db.session.add_all([LoginFailure(key=account_key), LoginFailure(key=address_key)])
        _forget_old_failures()
        db.session.commit()
        raise Unauthorised("That e-mail address and password do not match.")
    if not member.is_active:
        raise Forbidden("This membership is not active. Ask an organiser.")
    if passwords.needs_rehash(member.password_hash):
        member.password_hash = passwords.hash_password(password)
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
    member.last_login_at = utcnow()
    db.session.commit()
    return member


def _forget_old_failures() -> None:
    window = timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])
    db.session.execute(delete(LoginFailure).where(LoginFailure.at <= utcnow() - window))


def change_password(member: Member, current: str, new: str) -> None:
    """Change a member's own password after checking the current one."""
    if not passwords.check_password(member.password_hash, current):
        raise Invalid.on("current_password", "That is not your current password.")
    passwords.check_policy(new, email=member.email, field="new_password")
    member.password_hash = passwords.hash_password(new)
    member.session_version += 1
    commit()


# Invitations ---------------------------------------------------------------------


def invite(actor: Member | None, role: str = "member", email: str | None = None) -> str:
    """Create an invitation and return its secret token (shown once, stored hashed)."""
    _check_role_change(actor, role, None)
    existing = by_email(email) if email else None
    if existing is not None and existing.password_hash is not None:
        raise Conflict("A member with that e-mail address already exists.", {"email": ["Taken."]})
    value, hashed = _token()
    db.session.add(
        Invite(
            token_hash=hashed,
            email=email.lower() if email else None,
            role=role,
            created_by_id=actor.id if actor else None,
            expires_at=utcnow() + INVITE_LIFETIME,
        )
    )
    commit()
    return value


def add_with_invite(data: dict[str, Any], actor: Member | None = None) -> tuple[Member, str]:
    """Add a member and the invitation where they choose a password, in one transaction."""
    role = data.get("role") or "member"
    _check_role_change(actor, role, None)
    email = data["email"].lower()
    if by_email(email) is not None:
        raise Conflict("A member with that e-mail address already exists.", {"email": ["Taken."]})
    member = Member(email=email, display_name=data["display_name"], role=role, status="active")
    value, hashed = _token()
    invitation = Invite(
        token_hash=hashed,
        email=email,
        role=role,
        created_by_id=actor.id if actor else None,
        expires_at=utcnow() + INVITE_LIFETIME,
    )
    db.session.add_all([member, invitation])
    commit()
    return member, value


def find_invite(token: str) -> Invite:
    """Return an unused, unexpired invitation or raise NotFound."""
    found = db.session.scalar(select(Invite).where(Invite.token_hash == _hash(token)))
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise NotFound("This invitation link is not valid any more. Ask for a new one.")
    return found


def accept_invite(token: str, email: str, display_name: str, password: str) -> Member:
    """Turn an invitation into a membership, or set the password of an added member."""
    found = find_invite(token)
    email = email.strip().lower()
    if found.email and found.email != email:
        raise Invalid.on("email", "Use the address the invitation was sent to.")
    passwords.check_policy(password, email=email)
    member = by_email(email)
    if member is not None and member.password_hash is not None:
        raise Conflict("You are already a member: log in instead.", {"email": ["Taken."]})
    if member is None:
        member = Member(email=email, display_name=display_name, role=found.role, status="active")
        db.session.add(member)
    member.password_hash = passwords.hash_password(password)
    found.used_at = utcnow()
    db.session.flush()
    found.used_by_id = member.id
    commit()
    return member


# Password resets -----------------------------------------------------------------


def request_reset(email: str, link_for: Any) -> None:
    """E-mail a reset link if the address belongs to an active member; say nothing either way."""
    member = by_email(email)
    if member is None or not member.is_active:
        return
    value, hashed = _token()
    db.session.add(
        PasswordReset(token_hash=hashed, member_id=member.id, expires_at=utcnow() + RESET_LIFETIME)
    )
    mail.send(
        member.email,
        "Reset your Branchline password",
        "Someone asked to reset the password for this address.\n\n"
        f"Choose a new password here (the link works for two hours):\n{link_for(value)}\n\n"
        "If it was not you, ignore this message.",
    )
    commit()  # the reset and its message together; the worker sends it


def reset_password(token: str, password: str) -> Member:
    """Set a new password from a reset link, which then stops working."""
    found = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise NotFound("This reset link is not valid any more. Ask for a new one.")
    member = found.member
    passwords.check_policy(password, email=member.email)
    member.password_hash = passwords.hash_password(password)
    member.session_version += 1
    found.used_at = utcnow()
    db.session.execute(delete(LoginFailure).where(LoginFailure.key == f"account:{member.email}"))
    commit()
    return member
