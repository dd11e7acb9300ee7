"""The errors the protocol library raises, and what an HTTP view should answer for each."""

from __future__ import annotations


class FederationError(Exception):
    """Base class for everything this library rejects."""


class MalformedSignature(FederationError):
    """The signature headers cannot be parsed or miss a required parameter (answer 400)."""


class SignatureError(FederationError):
    """The signature is well formed but does not authenticate the request (answer 401)."""


class ProofError(SignatureError):
    """An object's integrity proof is missing, unsupported or does not verify.

    ``reason`` is a short stable code (``missing-proof``, ``bad-signature``, …) that feed
    verification and audit reports can show without parsing the message.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KeyFormatError(ValueError):
    """A key in PEM or Multikey form could not be decoded into the expected key type."""
