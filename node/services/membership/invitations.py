"""Invitations: links to join the group, for one address or open to anyone, and joining by them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from ...extensions import db
from ...models import Invite, Member, digest, utcnow
from .. import groups, mail
from ..errors import Conflict, Invalid, NotFound
from ..organising.records import commit
from . import passwords, resets
from .members import by_email, check_role_change, new_member

INVITE_LIFETIME = timedelta(days=14)
CONFIRM_LIFETIME = timedelta(days=2)  # the link an open invitation mails to the address typed


def _token() -> tuple[str, str]:
    value = secrets.token_urlsafe(32)
    return value, digest(value)


def invite(actor: Member | None, role: str = "member", email: str | None = None) -> str:
    """Create an invitation and return its secret token (shown once, stored hashed)."""
    check_role_change(actor, role, None)
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
    member = new_member(data, actor)
    value, hashed = _token()
    invitation = Invite(
        token_hash=hashed,
        email=member.email,
        role=member.role,
        created_by_id=actor.id if actor else None,
        expires_at=utcnow() + INVITE_LIFETIME,
    )
    db.session.add_all([member, invitation])
    commit()
    return member, value


def find_invite(token: str) -> Invite:
    """Return an unused, unexpired invitation or raise NotFound."""
    found = db.session.scalar(select(Invite).where(Invite.token_hash == digest(token)))
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise NotFound("This invitation link is not valid any more. Ask for a new one.")
    return found


def _claim(found: Invite) -> None:
    """Mark ``found`` used, or raise NotFound if another request used it first.

    A conditional UPDATE in the caller's transaction: on PostgreSQL the second of two
    requests waits for the first's row lock and then matches nothing; SQLite lets one
    writer at a time, so the second sees the first's mark.
    """
    now = utcnow()
    claimed = db.session.execute(
        update(Invite)
        .where(Invite.id == found.id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise NotFound("This invitation link is not valid any more. Ask for a new one.")


JOIN_MAIL_SENT = (
    "We have sent a message to {email}. Open the link in it to finish joining (it works for "
    "two days). If that address is already a member's, the message says how to log in "
    "instead: use the invitation sent to it, or choose a new password."
)


def join_by_link(
    token: str,
    email: str,
    display_name: str,
    password: str,
    *,
    confirm_link: Callable[[str], str],
    reset_link: Callable[[str], str],
) -> None:
    """Use an open invitation link: e-mail the address typed a link to confirm it.

    The link is used up whatever the address, and the answer is the same whether or not
    the address is a member's, so an open link neither reveals who is a member nor lets
    anyone take over a member's account. A new address gets a confirmation (an invitation
    for that address, holding the name and password chosen here); a member's address gets
    a message saying they are already a member, with a link to choose a new password.
    """
    found = find_invite(token)
    if found.email is not None:
        raise Invalid.on("email", "Use the address the invitation was sent to.")
    email = email.strip().lower()
    passwords.check_policy(password, email=email)
    hashed = passwords.hash_password(password)  # for every address, so timing says nothing
    group_name = _group_name()
    _claim(found)
    member = by_email(email)
    if member is None:
        value, token_hash = _token()
        db.session.add(
            Invite(
                token_hash=token_hash,
                email=email,
                role=found.role,
                created_by_id=found.created_by_id,
                expires_at=utcnow() + CONFIRM_LIFETIME,
                display_name=display_name,
                password_hash=hashed,
            )
        )
        mail.send(
            email,
            f"Confirm your address to join {group_name}",
            f"Someone (we hope you) used an invitation to join {group_name} on Branchline "
            "with this address.\n\n"
            f"To finish joining, open this link (it works for two days):\n{confirm_link(value)}"
            "\n\nIf it was not you, ignore this message: nothing happens without it.",
        )
    elif member.is_active:
        value = resets.issue(member)
        mail.send(
            member.email,
            f"You are already a member of {group_name}",
            f"Someone used an invitation link to join {group_name} with this address, which "
            "is already a member's.\n\n"
            "If it was you: log in as usual. If you have not chosen a password yet, use the "
            "invitation that was sent to you, or choose a password here (the link works for "
            f"two hours):\n{reset_link(value)}\n\n"
            "If it was not you, ignore this message: nothing has changed.",
        )
    commit()


def _group_name() -> str:
    group = groups.current_group()
    return group.name if group is not None else "the group"


def accept_invite(token: str, email: str, display_name: str, password: str) -> Member:
    """Turn an invitation for an address into a membership, or set an added member's password.

    Open links (no address) go through ``join_by_link`` instead.
    """
    found = find_invite(token)
    email = email.strip().lower()
    passwords.check_policy(password, email=email)
    if found.email is None or found.password_hash is not None or found.email != email:
        raise Invalid.on("email", "Use the address the invitation was sent to.")
    hashed = passwords.hash_password(password)
    return _join(found, display_name, hashed)


def confirm_join(token: str, password: str) -> Member:
    """Finish joining from an open link's confirmation, given the password chosen there.

    Asking for the password again means the person who confirms is the one who chose it,
    not just anyone who can read the mailbox (or a mail scanner following the link).
    """
    found = find_invite(token)
    if found.password_hash is None:
        raise NotFound("This invitation link is not valid any more. Ask for a new one.")
    if not passwords.check_password(found.password_hash, password):
        raise Invalid.on("password", "That is not the password you chose when you asked to join.")
    return _join(found, found.display_name or found.email, found.password_hash)


def _join(found: Invite, display_name: str, password_hash: str) -> Member:
    member = by_email(found.email)
    if member is not None and member.password_hash is not None:
        raise Conflict("You are already a member: log in instead.", {"email": ["Taken."]})
    _claim(found)
    if member is None:
        member = Member(
            email=found.email, display_name=display_name, role=found.role, status="active"
        )
        db.session.add(member)
    member.password_hash = password_hash
    db.session.flush()
    found.used_by_id = member.id
    commit()
    return member
