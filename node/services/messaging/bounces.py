"""Read a delivery status notification (RFC 3464) and record its permanent failures.

A mail system that accepted a message and could not deliver it later says so in a
``multipart/report; report-type=delivery-status`` message to the sender. The MTA pipes it
to ``branchline mail bounce``; each recipient whose ``Action`` is ``failed`` with a 5.x.x
``Status`` counts as a bounce (``deliverability.bounced``). A delay (``delayed``, 4.x.x)
is not a failure: the MTA is still trying.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

from . import deliverability

MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Failure:
    """One recipient a report says failed for good, and why."""

    address: str
    status: str
    diagnostic: str

    @property
    def error(self) -> str:
        """Say what failed, as the address's record keeps it."""
        return f"{self.status} {self.diagnostic}".strip()


class NotAReport(ValueError):
    """The message is not a delivery status notification."""


def permanent_failures(raw: bytes) -> list[Failure]:
    """Return the recipients ``raw`` (a whole DSN message) says failed permanently."""
    message = message_from_bytes(raw[:MAX_BYTES], policy=policy.compat32)
    status_part = next(
        (part for part in message.walk() if part.get_content_type() == "message/delivery-status"),
        None,
    )
    if status_part is None:
        raise NotAReport("Not a delivery status notification (no message/delivery-status part).")
    failures = []
    for block in _blocks(status_part):
        action = (block.get("Action") or "").strip().lower()
        status = (block.get("Status") or "").strip().split(" ")[0]
        address = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
        if action == "failed" and status.startswith("5.") and address:
            diagnostic = " ".join((block.get("Diagnostic-Code") or "").split())
            failures.append(Failure(address, status, diagnostic))
    return failures


def _blocks(part: Message) -> list[Message]:
    # The email package parses message/delivery-status into one Message per block of
    # fields: the first is about the message, the rest one per recipient.
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)][1:]
    return []


def _address(field: str | None) -> str:
    if not field:
        return ""
    kind, _, value = field.partition(";")
    address = (value if value else kind).strip().strip("<>").lower()
    return address if "@" in address else ""


def record(raw: bytes) -> list[Failure]:
    """Record each permanent failure in ``raw`` as a bounce (no commit); return them."""
    failures = permanent_failures(raw)
    for failure in failures:
        deliverability.bounced(failure.address, failure.error)
    return failures
