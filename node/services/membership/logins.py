"""Log-in, slowed down and refused under limits so that passwords cannot be guessed."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext
from sqlalchemy import delete, func, select

from ...extensions import db
from ...models import LoginFailure, Member, utcnow
from ..errors import Forbidden, TooManyAttempts, Unauthorised
from . import passwords
from .members import by_email


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
            gettext(("Too many failed log-ins. Wait %(wait)s seconds and try again."), wait=wait),
            retry_after=wait,
        )
    member = by_email(attempt.account)
    ok = passwords.check_password(member.password_hash if member else None, password)
    if not ok or member is None:
        db.session.execute(delete(LoginFailure).where(LoginFailure.at <= utcnow() - _window()))
        db.session.commit()
        raise Unauthorised(gettext("That e-mail address and password do not match."))
    if not member.is_active:
        _forget(attempt)
        raise Forbidden(gettext("This membership is not active. Ask an organiser."))
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
