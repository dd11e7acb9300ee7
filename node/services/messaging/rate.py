"""The admin's limit on mail sent a minute (MAIL_RATE_PER_MINUTE), across worker processes.

Every worker reads the same table: the messages sent (or logged) in the last 60 seconds and
those other workers hold claimed right now count against the minute, so two workers
together keep to the limit, give or take one batch claimed at the same instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from ...extensions import db
from ...models import OutboundMail
from ...models.types import utcnow

WINDOW = timedelta(seconds=60)


def allowance(per_minute: int, *, now: datetime | None = None) -> int | None:
    """Return how many more messages may be claimed now; None when there is no limit."""
    if per_minute <= 0:
        return None
    now = now or utcnow()
    # Two counts, each on its own index (sent_at; status), rather than one OR of both.
    sent = db.session.scalar(
        select(func.count()).select_from(OutboundMail).where(OutboundMail.sent_at > now - WINDOW)
    )
    held = db.session.scalar(
        select(func.count()).select_from(OutboundMail).where(OutboundMail.status == "sending")
    )
    return max(0, per_minute - (sent or 0) - (held or 0))
