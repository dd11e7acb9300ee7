"""Errors services raise; views turn them into a 400/403/404/409 page or JSON body."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class Invalid(ServiceError):
    """Input that passed the schema but breaks a rule (end before start, unknown campaign)."""

    status = 400

    @classmethod
    def on(cls, field: str, message: str) -> Invalid:
        return cls("Some fields are not valid.", {field: [message]})


class Unauthorised(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class TooManyAttempts(ServiceError):
    """Refused for now; ``retry_after`` (seconds) is when to try again, for Retry-After."""

    status = 429

    def __init__(
        self,
        message: str,
        fields: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, fields)
        self.retry_after = retry_after
