"""`branchline mail`: bounces the mail system reports, and addresses with mail problems."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..services.messaging import bounces, deliverability
from .errors import fail


@click.group()
def mail() -> None:
    """Deliverability: record bounces, list troubled addresses."""


@mail.command("bounce")
@with_appcontext
def mail_bounce() -> None:
    """Record the permanent failures in a delivery status notification read on stdin.

    Point the MTA's bounces for the node's sender address here (a pipe). Delays (4.x.x)
    are ignored; only recipients that failed for good (5.x.x) count.
    """
    raw = sys.stdin.buffer.read(bounces.MAX_BYTES + 1)
    try:
        failures = bounces.record(raw)
    except bounces.NotAReport as exc:
        fail(str(exc))
    db.session.commit()
    for failure in failures:
        click.echo(f"bounced\t{failure.address}\t{failure.error}")
    click.echo(f"{len(failures)} permanent failure(s) recorded", err=True)


@mail.command("problems")
@with_appcontext
def mail_problems() -> None:
    """List addresses that bounced or are suppressed: address, state, counts, last error."""
    rows = deliverability.troubled()
    for row in rows:
        state = "suppressed" if row.suppressed_at else "bounced"
        last = row.last_bounce_at.isoformat(timespec="seconds") if row.last_bounce_at else "-"
        click.echo(
            f"{row.address}\t{state}\t{row.bounces} in a row\t{row.total_bounces} in all\t"
            f"{last}\t{row.last_error}"
        )
    click.echo(f"{len(rows)} address(es) with mail problems", err=True)


commands: list[click.Command] = [mail]
