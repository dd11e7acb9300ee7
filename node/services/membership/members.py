"""Members: adding, roles and status, invitations, log-in with rate limiting, password resets."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update

from ...extensions import db
from ...models import ApiToken, Event, Invite, LoginFailure, Member, PasswordReset, Rsvp, utcnow
from .. import groups, mail
from ..errors import Conflict, Forbidden, Invalid, NotFound, TooManyAttempts, Unauthorised
from ..organising import carpools, shifts
from ..organising.records import Page, assign, commit, paginate
from ..voting import ballots
from . import passwords, sessions

INVITE_LIFETIME = timedelta(days=14)
CONFIRM_LIFETIME = timedelta(days=2)  # the link an open invitation mails to the address typed
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
        member.session_version += 1  # a new calendar address
        sessions.end_all(member)  # logged out everywhere
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


def _window() -> timedelta:
    return timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _failures(attempt: LoginFailure, *where) -> tuple[int, datetime | None, datetime | None]:
    """Count the other failures in the window matching ``where``, with the oldest and latest."""
    return db.session.execute(
        select(func.count(), func.min(LoginFailure.at), func.max(LoginFailure.at)).where(
            LoginFailure.id != attempt.id, LoginFailure.at > attempt.at - _window(), *where
        )
    ).one()


def account_delay(failures: int) -> int:
    """Return the seconds an account waits after its latest failure, given its failures."""
    config = current_app.config
    free = config["LOGIN_ACCOUNT_FREE_FAILURES"]
    if failures < free:
        return 0
    doubled = config["LOGIN_ACCOUNT_DELAY_SECONDS"] * 2 ** min(failures - free, 16)
    return min(config["LOGIN_ACCOUNT_DELAY_CAP_SECONDS"], doubled)


def _wait_before(attempt: LoginFailure) -> int:
    """Return how many seconds ``attempt`` must wait under the limits (0: go ahead)."""
    config, now = current_app.config, attempt.at
    waits = [0]
    for limit, where in (
        (
            config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            (LoginFailure.account == attempt.account, LoginFailure.address == attempt.address),
        ),
        (config["LOGIN_MAX_FAILURES_PER_ADDRESS"], (LoginFailure.address == attempt.address,)),
    ):
        count, oldest, _latest = _failures(attempt, *where)
        if count >= limit:
            waits.append(_seconds_until(oldest + _window(), now))
    count, _oldest, latest = _failures(attempt, LoginFailure.account == attempt.account)
    delay = account_delay(count)
    if delay and latest + timedelta(seconds=delay) > now:
        waits.append(_seconds_until(latest + timedelta(seconds=delay), now))
    return max(waits)


def authenticate(email: str, password: str, address: str) -> Member:
    """Check a log-in, slowing down or refusing guesses (TooManyAttempts, with retry_after).

    Over the last LOGIN_FAILURE_WINDOW_SECONDS (15 minutes), counting failed log-ins:

    - one account from one client address: after LOGIN_MAX_FAILURES_PER_ACCOUNT (5),
      refused until the oldest of them leaves the window;
    - one client address, whatever the accounts: after LOGIN_MAX_FAILURES_PER_ADDRESS (20),
      the same;
    - one account from any address: after LOGIN_ACCOUNT_FREE_FAILURES (5), every attempt
      waits LOGIN_ACCOUNT_DELAY_SECONDS (5) after the latest failure, doubled for each
      failure beyond, at most LOGIN_ACCOUNT_DELAY_CAP_SECONDS (60). Guesses spread over
      many addresses are slowed to one a minute, yet a stranger cannot lock the owner out:
      from an address of their own the right password waits at most that minute.

    A right password clears its own address's failures for the account, and a password
    reset all of the account's. Each attempt is stored as a failure and committed before it
    is counted, and deleted again if the password was right or it was refused: of two
    attempts at once, the later one counts the earlier, so no burst gets past a limit.
    """
    attempt = LoginFailure(
        account=email.strip().lower()[:254], address=(address or "unknown")[:64], at=utcnow()
    )
    db.session.add(attempt)
    db.session.commit()
    wait = _wait_before(attempt)
    if wait:
        _forget(attempt)
        raise TooManyAttempts(
            f"Too many failed log-ins. Wait {wait} seconds and try again.", retry_after=wait
        )
    member = by_email(attempt.account)
    ok = passwords.check_password(member.password_hash if member else None, password)
    if not ok or member is None:
        db.session.execute(delete(LoginFailure).where(LoginFailure.at <= utcnow() - _window()))
        db.session.commit()
        raise Unauthorised("That e-mail address and password do not match.")
    if not member.is_active:
        _forget(attempt)
        raise Forbidden("This membership is not active. Ask an organiser.")
    if passwords.needs_rehash(member.password_hash):
        member.password_hash = passwords.hash_password(password)
    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.account == attempt.account, LoginFailure.address == attempt.address
        )
    )
    member.last_login_at = utcnow()
    db.session.commit()
    return member


def _forget(attempt: LoginFailure) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.id == attempt.id))
    db.session.commit()


def _void_resets(member: Member) -> None:
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.member_id == member.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow())
    )


def change_password(member: Member, current: str, new: str) -> None:
    """Change a member's own password, ending every session, reset link and API token.

    The caller starts a new session for the browser that asked, which stays logged in.
    """
    if not passwords.check_password(member.password_hash, current):
        raise Invalid.on("current_password", "That is not your current password.")
    passwords.check_policy(new, email=member.email, field="new_password")
    member.password_hash = passwords.hash_password(new)
    member.session_version += 1  # a new calendar address
    sessions.end_all(member)
    _void_resets(member)
    _revoke_tokens(member)  # a token made by whoever knew the old password dies with it
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
        value, token_hash = _token()
        db.session.add(
            PasswordReset(
                token_hash=token_hash, member_id=member.id, expires_at=utcnow() + RESET_LIFETIME
            )
        )
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
    """Set a new password from a reset link, ending every session, token and other link.

    The caller logs in the browser that used the link, with a new session.
    """
    found = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        raise NotFound("This reset link is not valid any more. Ask for a new one.")
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
        raise NotFound("This reset link is not valid any more. Ask for a new one.")
    _void_resets(member)
    member.password_hash = hashed
    member.session_version += 1  # a new calendar address
    sessions.end_all(member)
    _revoke_tokens(member)  # the account may have been someone else's until now
    db.session.execute(delete(LoginFailure).where(LoginFailure.account == member.email))
    commit()
    return member
