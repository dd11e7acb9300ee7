"""Password hashing (Argon2id, memory-hard) and the password policy."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext

from ..errors import Invalid

# BRANCHLINE_PASSWORD_HASH_PROFILE picks the Argon2id cost. The default is RFC 9106's
# second recommendation (64 MiB, 3 passes); the test suite uses "cheapest" so that
# hundreds of log-ins do not each spend a third of a second.
PROFILES = {
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    "rfc9106-high-memory": profiles.RFC_9106_HIGH_MEMORY,
    "cheapest": profiles.CHEAPEST,
}


@cache
def _hasher_for(profile: str) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher.from_parameters(PROFILES[profile])
    # Checked when the account does not exist, so a log-in for an unknown e-mail
    # costs as much time as one for a known e-mail.
    return hasher, hasher.hash("not-a-real-password")


def _hasher() -> tuple[PasswordHasher, str]:
    return _hasher_for(current_app.config["PASSWORD_HASH_PROFILE"])


def hash_password(password: str) -> str:
    """Hash ``password`` with Argon2id."""
    return _hasher()[0].hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Say whether ``password`` matches ``stored_hash`` (None never matches)."""
    hasher, dummy = _hasher()
    try:
        return hasher.verify(stored_hash or dummy, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Say whether the stored hash used other parameters than today's profile."""
    return _hasher()[0].check_needs_rehash(stored_hash)


def check_policy(password: str, *, email: str = "", field: str = "password") -> None:
    """Refuse passwords that are too short or are the e-mail address."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise Invalid.on(field, gettext("Use at least %(minimum)s characters.", minimum=minimum))
    if len(password) > 1024:
        raise Invalid.on(field, gettext("Use at most 1024 characters."))
    if email and password.strip().lower() == email.strip().lower():
        raise Invalid.on(field, gettext("Do not use your e-mail address as your password."))
