"""Invitations: links to join the group, for one address or open to anyone, and joining by them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import select, update

from schemas.wording import N_

from ...extensions import db
from ...models import Invite, MailAddress, Member, digest, utcnow
from .. import groups, mail
from ..errors import Conflict, Invalid, NotFound
from ..messaging import outbox
from ..messaging.links import external_url
from ..organising.records import commit
from . import passwords, resets
from .members import by_email, check_role_change, new_member

INVITE_LIFETIME = timedelta(days=14)
CONFIRM_LIFETIME = timedelta(days=2)  # the link an open invitation mails to the address typed
# "... invited you to join <group> on Branchline as <role>."
ROLE_PHRASES = {"member": N_("a member"), "organiser": N_("an organiser"), "admin": N_("an admin")}


def _token() -> tuple[str, str]:
    value = secrets.token_urlsafe(32)
    return value, digest(value)


def invite(
    actor: Member | None, role: str = "member", email: str | None = None, name: str = ""
) -> str:
    """Create an invitation (mailed when it is for an address) and return its secret token.

    The token is shown once and stored hashed.
    """
    check_role_change(actor, role, None)
    email = email.strip().lower() if email else None
    if email:
        refuse_taken(email)
    value = add_invite(actor, role, email, name)
    commit()
    return value


ALREADY_INVITED = N_(
    "That address already has a pending invitation: resend it from the members page."
)


def refuse_taken(email: str) -> None:
    """Refuse (Conflict) an address that is a member's or has a pending invitation."""
    existing = by_email(email)
    if existing is not None and existing.password_hash is not None:
        raise Conflict(
            gettext("A member with that e-mail address already exists."),
            {"email": [gettext("Taken.")]},
        )
    if pending_for(email) is not None:
        raise Conflict(gettext(ALREADY_INVITED), {"email": [gettext("Already invited.")]})


def pending_for(email: str) -> Invite | None:
    """Return the unused, unexpired invitation for ``email``, if one."""
    return db.session.scalar(
        select(Invite)
        .where(
            Invite.email == email.strip().lower(),
            Invite.used_at.is_(None),
            Invite.password_hash.is_(None),
            Invite.expires_at > utcnow(),
        )
        .limit(1)
    )


def add_invite(
    actor: Member | None,
    role: str,
    email: str | None,
    name: str = "",
    member: Member | None = None,
) -> str:
    """Add an invitation to the unit of work, queue its mail if it has an address; no commit."""
    value, hashed = _token()
    now = utcnow()
    found = Invite(
        token_hash=hashed,
        email=email,
        role=role,
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
        # The name an organiser gave, offered on the joining form; never a password here.
        display_name=name[:80] if name else None,
    )
    db.session.add(found)
    if email:
        db.session.flush()  # the id names the mail's source
        _mail_invitation(found, value, actor, member)
    return value


def _mail_invitation(
    found: Invite, value: str, actor: Member | None, member: Member | None = None
) -> None:
    group_name = _group_name()
    who = actor.display_name if actor is not None else gettext("The organisers")
    link = external_url("auth.accept_invite", token=value)
    until = gettext("%(date)s UTC", date=found.expires_at.strftime("%d %B %Y, %H:%M"))
    role = gettext(ROLE_PHRASES.get(found.role, found.role))
    body = (
        gettext(
            "%(who)s invited you to join %(group)s on Branchline as %(role)s.",
            who=who,
            group=group_name,
            role=role,
        )
        + "\n\n"
        + gettext(
            "To join, open this link and choose a password (it works once, until %(until)s):",
            until=until,
        )
        + f"\n\n{link}\n\n"
        + gettext("If you did not expect this, ignore this message: nothing happens without it.")
    )
    outbox.queue(
        outbox.Recipient(found.email, found.display_name or "", member.id if member else None),
        "account",
        gettext("Your invitation to join %(group)s", group=group_name),
        body,
        source=f"invitation:{found.id}",
    )


def add_with_invite(data: dict[str, Any], actor: Member | None = None) -> tuple[Member, str]:
    """Add a member and mail the invitation where they choose a password, in one transaction."""
    member = new_member(data, actor)
    if pending_for(member.email) is not None:
        raise Conflict(gettext(ALREADY_INVITED), {"email": [gettext("Already invited.")]})
    db.session.add(member)
    db.session.flush()
    value = add_invite(actor, member.role, member.email, member.display_name, member)
    commit()
    return member, value


# Invitations mailed to an address, for organisers -----------------------------------------

PENDING, EXPIRED, USED, BOUNCED = "pending", "expired", "used", "bounced"


@dataclass(frozen=True)
class Sent:
    """An invitation mailed to an address, how it stands, and how its address fares."""

    invite: Invite
    state: str
    trouble: MailAddress | None

    @property
    def suppressed(self) -> bool:
        """Say whether the address is suppressed (it kept bouncing)."""
        return self.trouble is not None and self.trouble.suppressed_at is not None


def state_of(found: Invite, trouble: MailAddress | None, now: datetime | None = None) -> str:
    """Return how ``found`` stands: used, bounced (since it was sent), expired or pending."""
    now = now or utcnow()
    if found.used_at is not None:
        return USED
    if trouble is not None and (
        trouble.suppressed_at is not None
        or (trouble.last_bounce_at is not None and trouble.last_bounce_at >= found.created_at)
    ):
        return BOUNCED
    if found.expires_at <= now:
        return EXPIRED
    return PENDING


def sent_invitations(limit: int = 200, *, include_used: bool = False) -> list[Sent]:
    """List invitations mailed to an address, newest first, with their state."""
    query = select(Invite).where(Invite.email.is_not(None), Invite.password_hash.is_(None))
    if not include_used:
        query = query.where(Invite.used_at.is_(None))
    found = list(
        db.session.scalars(query.order_by(Invite.created_at.desc(), Invite.id.desc()).limit(limit))
    )
    troubles = {}
    if found:
        rows = db.session.scalars(
            select(MailAddress).where(MailAddress.address.in_({row.email for row in found}))
        )
        troubles = {row.address: row for row in rows}
    now = utcnow()
    return [
        Sent(row, state_of(row, troubles.get(row.email), now), troubles.get(row.email))
        for row in found
    ]


def describe(found: Invite) -> Sent:
    """Return ``found`` with its state and its address's record."""
    trouble = db.session.scalar(select(MailAddress).where(MailAddress.address == found.email))
    return Sent(found, state_of(found, trouble), trouble)


def get_sent(invite_id: int) -> Invite:
    """Fetch an invitation mailed to an address, or raise NotFound."""
    found = db.session.get(Invite, invite_id)
    if found is None or found.email is None or found.password_hash is not None:
        raise NotFound(gettext("No such invitation."))
    return found


def resend(found: Invite, actor: Member | None) -> str:
    """Mail ``found`` again with a new link and expiry; the old link stops working."""
    check_role_change(actor, found.role, None)
    if found.used_at is not None:
        raise Conflict(gettext("That invitation has been used: the person is a member now."))
    value, hashed = _token()
    found.token_hash = hashed  # the old link's hash is gone, so the old link finds nothing
    found.created_at = utcnow()
    found.expires_at = found.created_at + INVITE_LIFETIME
    if actor is not None:
        found.created_by_id = actor.id
    _mail_invitation(found, value, actor, by_email(found.email))
    commit()
    return value


def revoke(found: Invite, actor: Member | None) -> None:
    """Delete ``found`` so its link stops working (a member added with it stays, unjoined)."""
    check_role_change(actor, found.role, None)
    if found.used_at is not None:
        raise Conflict(gettext("That invitation has been used: the person is a member now."))
    db.session.delete(found)
    commit()


def find_invite(token: str) -> Invite:
    """Return an unused, unexpired invitation or raise NotFound."""
    found = db.session.scalar(select(Invite).where(Invite.token_hash == digest(token)))
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise NotFound(gettext("This invitation link is not valid any more. Ask for a new one."))
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
        raise NotFound(gettext("This invitation link is not valid any more. Ask for a new one."))


JOIN_MAIL_SENT = N_(
    "We have sent a message to %(email)s. Open the link in it to finish joining (it works for "
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
        raise Invalid.on("email", gettext("Use the address the invitation was sent to."))
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
            gettext("Confirm your address to join %(group)s", group=group_name),
            gettext(
                "Someone (we hope you) used an invitation to join %(group)s on Branchline with "
                "this address.",
                group=group_name,
            )
            + "\n\n"
            + gettext("To finish joining, open this link (it works for two days):")
            + f"\n{confirm_link(value)}\n\n"
            + gettext("If it was not you, ignore this message: nothing happens without it."),
        )
    elif member.is_active:
        value = resets.issue(member)
        mail.send(
            member.email,
            gettext("You are already a member of %(group)s", group=group_name),
            gettext(
                "Someone used an invitation link to join %(group)s with this address, which is "
                "already a member's.",
                group=group_name,
            )
            + "\n\n"
            + gettext(
                "If it was you: log in as usual. If you have not chosen a password yet, use the "
                "invitation that was sent to you, or choose a password here (the link works for "
                "two hours):"
            )
            + f"\n{reset_link(value)}\n\n"
            + gettext("If it was not you, ignore this message: nothing has changed."),
        )
    commit()


def _group_name() -> str:
    group = groups.current_group()
    return group.name if group is not None else gettext("the group")


def accept_invite(token: str, email: str, display_name: str, password: str) -> Member:
    """Turn an invitation for an address into a membership, or set an added member's password.

    Open links (no address) go through ``join_by_link`` instead.
    """
    found = find_invite(token)
    email = email.strip().lower()
    passwords.check_policy(password, email=email)
    if found.email is None or found.password_hash is not None or found.email != email:
        raise Invalid.on("email", gettext("Use the address the invitation was sent to."))
    hashed = passwords.hash_password(password)
    return _join(found, display_name, hashed)


def confirm_join(token: str, password: str) -> Member:
    """Finish joining from an open link's confirmation, given the password chosen there.

    Asking for the password again means the person who confirms is the one who chose it,
    not just anyone who can read the mailbox (or a mail scanner following the link).
    """
    found = find_invite(token)
    if found.password_hash is None:
        raise NotFound(gettext("This invitation link is not valid any more. Ask for a new one."))
    if not passwords.check_password(found.password_hash, password):
        raise Invalid.on(
            "password", gettext("That is not the password you chose when you asked to join.")
        )
    return _join(found, found.display_name or found.email, found.password_hash)


def _join(found: Invite, display_name: str, password_hash: str) -> Member:
    member = by_email(found.email)
    if member is not None and member.password_hash is not None:
        raise Conflict(
            gettext("You are already a member: log in instead."), {"email": [gettext("Taken.")]}
        )
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
