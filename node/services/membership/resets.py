"""Choosing a new password: by a reset link mailed to the member, or changing one's own.

Either way every session, API token and other reset link of the member ends.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import delete, select, update

from ...extensions import db
from ...models import LoginFailure, Member, PasswordReset, digest, utcnow
from .. import mail
from ..errors import Invalid, NotFound
from ..organising.records import commit
from . import members, passwords, sessions

RESET_LIFETIME = timedelta(hours=2)


def issue(member: Member) -> str:
    """Store a new reset link for ``member`` and return its secret, for the caller to mail."""
    value = secrets.token_urlsafe(32)
    db.session.add(
        PasswordReset(
            token_hash=digest(value), member_id=member.id, expires_at=utcnow() + RESET_LIFETIME
        )
    )
    return value


def request_reset(email: str, link_for: Any) -> None:
    """E-mail a reset link if the address belongs to an active member; say nothing either way."""
    member = members.by_email(email)
    if member is None or not member.is_active:
        return
    value = issue(member)
    mail.send(
        member.email,
        gettext("Reset your Branchline password"),
        gettext("Someone asked to reset the password for this address.")
        + "\n\n"
        + gettext("Choose a new password here (the link works for two hours):")
        + f"\n{link_for(value)}\n\n"
        + gettext("If it was not you, ignore this message."),
    )
    commit()  # the reset and its message together; the worker sends it


def reset_password(token: str, password: str) -> Member:
    """Set a new password from a reset link, ending every session, token and other link.

    The caller logs in the browser that used the link, with a new session.
    """
    found = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == digest(token))
    )
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise NotFound(gettext("This reset link is not valid any more. Ask for a new one."))
    member = found.member
    passwords.check_policy(password, email=member.email)
    hashed = passwords.hash_password(password)
    # Claimed with a conditional update, like invitations, so a link works once even twice
    # at once; the same statement voids the member's other outstanding links.
    now = utcnow()
    claimed = db.session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == found.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise NotFound(gettext("This reset link is not valid any more. Ask for a new one."))
    _void_resets(member)
    member.password_hash = hashed
    member.session_version += 1  # a new calendar address
    sessions.end_all(member)
    members.revoke_tokens(member)  # the account may have been someone else's until now
    db.session.execute(delete(LoginFailure).where(LoginFailure.account == member.email))
    commit()
    return member


def change_password(member: Member, current: str, new: str) -> None:
    """Change a member's own password, ending every session, reset link and API token.

    The caller starts a new session for the browser that asked, which stays logged in.
    """
    if not passwords.check_password(member.password_hash, current):
        raise Invalid.on("current_password", gettext("That is not your current password."))
    passwords.check_policy(new, email=member.email, field="new_password")
    member.password_hash = passwords.hash_password(new)
    member.session_version += 1  # a new calendar address
    sessions.end_all(member)
    _void_resets(member)
    members.revoke_tokens(member)  # a token made by whoever knew the old password dies with it
    commit()


def _void_resets(member: Member) -> None:
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.member_id == member.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )
