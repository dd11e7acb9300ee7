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


class FetchError(FederationError):
    """A remote fetch or delivery failed; ``retryable`` says whether trying later may help.

    ``status`` is the HTTP status when the peer answered, else None; ``retry_after`` is the
    delay in seconds the peer asked for (``Retry-After``), when it gave one.
    """

    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.retry_after = retry_after


class BlockedAddress(FetchError):
    """The host resolves to an address the address policy does not let requests reach."""

    def __init__(self, message: str, *, url: str | None, host: str, address: str, reason: str):
        super().__init__(message, url=url)
        self.host = host
        self.address = address
        self.reason = reason


class ResponseTooLarge(FetchError):
    """The response body is larger than the client's size cap."""


class UnacceptableContentType(FetchError):
    """The response is not one of the media types the caller accepts."""

    def __init__(self, message: str, *, url: str | None, status: int, content_type: str):
        super().__init__(message, url=url, status=status)
        self.content_type = content_type


class CrossOriginRedirect(FetchError):
    """A redirect points to another origin (scheme, host or port)."""

    def __init__(self, message: str, *, url: str | None, status: int, location: str):
        super().__init__(message, url=url, status=status)
        self.location = location


class TooManyRedirects(FetchError):
    """More redirects than the client follows."""


class FetchTimeout(FetchError):
    """The peer did not connect, answer or finish answering in time."""

    retryable_by_default = True
