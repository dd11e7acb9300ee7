"""How each address fares: permanent failures counted, a bouncing address suppressed.

The worker reports every batch: addresses that accepted a message and addresses that
refused one for good (a 5xx from the SMTP server). A bounce reported later by the mail
system (a delivery status notification piped to ``branchline mail bounce``) is recorded
the same way. ``MAIL_BOUNCE_LIMIT`` permanent failures in a row suppress the address:
nothing but account mail is queued to it or sent to it until an organiser clears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import MailAddress
from ...models.types import utcnow
from . import preferences


def record(
    *, accepted: Iterable[str], refused: Iterable[tuple[str, str]], now: datetime | None = None
) -> None:
    """Record a batch's outcomes in the current unit of work."""
    now = now or utcnow()
    accepted = {address.strip().lower() for address in accepted}
    if accepted:
        db.session.execute(
            update(MailAddress)
            .where(MailAddress.address.in_(accepted), MailAddress.bounces > 0)
            .values(bounces=0)
        )
    for address, error in refused:
        bounced(address, error, now=now)


def bounced(address: str, error: str, *, now: datetime | None = None) -> MailAddress:
    """Count one permanent failure for ``address``; suppress it at the limit."""
    now = now or utcnow()
    row = preferences.address_row(address, create=True)
    row.bounces += 1
    row.total_bounces += 1
    row.last_bounce_at = now
    row.last_error = error[:500]
    limit = max(1, int(current_app.config.get("MAIL_BOUNCE_LIMIT", 3)))
    if row.bounces >= limit and row.suppressed_at is None:
        row.suppressed_at = now
    return row


def clear(address: str) -> bool:
    """Lift the suppression of ``address`` (an organiser fixed it); return if there was one."""
    row = preferences.address_row(address)
    if row is None or row.suppressed_at is None:
        return False
    row.suppressed_at = None
    row.bounces = 0
    return True


def troubled(addresses: Iterable[str] | None = None) -> list[MailAddress]:
    """Return the records of addresses with bounces or a suppression, worst first."""
    query = select(MailAddress).where(
        (MailAddress.total_bounces > 0) | MailAddress.suppressed_at.is_not(None)
    )
    if addresses is not None:
        query = query.where(MailAddress.address.in_({a.lower() for a in addresses}))
    return list(db.session.scalars(query.order_by(MailAddress.bounces.desc(), MailAddress.address)))
