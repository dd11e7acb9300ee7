"""Password hashing (Argon2id, memory-hard) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

from .errors import Invalid

_hasher = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second recommendation

# Checked against a throwaway hash when the account does not exist, so a login
# for an unknown e-mail costs as much time as one for a known e-mail.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """Hash ``password`` with Argon2id."""
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Say whether ``password`` matches ``stored_hash`` (None never matches)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Say whether the stored hash used weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)


def check_policy(password: str, *, email: str = "", field: str = "password") -> None:
    """Refuse passwords that are too short or are the e-mail address."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        raise Invalid.on(field, f"Use at least {minimum} characters.")
    if len(password) > 1024:
        raise Invalid.on(field, "Use at most 1024 characters.")
    if email and password.strip().lower() == email.strip().lower():
        raise Invalid.on(field, "Do not use your e-mail address as your password.")
