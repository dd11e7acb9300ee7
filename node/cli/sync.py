"""Command-line delivery and catch-up: `worker`, `backfill`, `peers`."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import or_, select

from ..extensions import db
from ..keys import MissingKeys, check_at_start
from ..models.federation import Following, Peer
from ..models.types import utcnow
from ..services.peering import deliveries, sync
from ..worker import Worker
from .errors import fail


@click.command()
@click.option("--once", is_flag=True, help="Make one pass over the queue and the polls, then exit.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Deliveries sent at once. Default: BRANCHLINE_WORKER_CONCURRENCY.",
)
@with_appcontext
def worker(once: bool, concurrency: int | None) -> None:
    """Send queued deliveries and catch up with followed peers (several may run)."""

    try:
        check_at_start(current_app._get_current_object())
    except MissingKeys as exc:
        fail(exc)
    runner = Worker(current_app._get_current_object(), concurrency=concurrency)
    if once:
        report = runner.run_once()
        sent = report.deliveries
        click.echo(
            f"sent {sent.sent}: {sent.done} delivered, {sent.retrying} to retry, "
            f"{sent.failed} failed, {sent.given_up} given up; "
            f"polled {report.polled} peer(s), {report.applied} entries applied"
        )
        return

    def stop(signum: int, _frame: object) -> None:
        click.echo(f"Stopping after the batch in hand ({signal.Signals(signum).name}).", err=True)
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"Branchline worker: {runner.concurrency} sender(s); stop with Ctrl-C or SIGTERM")
    runner.run()
    click.echo("Worker stopped.")


def find_peer(name: str) -> Peer | None:
    """Find a known peer by actor URL or handle (acct:handle@host, @handle@host)."""
    handle = name.removeprefix("acct:").lstrip("@")
    return db.session.scalars(
        select(Peer).where(
            or_(
                Peer.actor_id == name,
                Peer.handle.in_((handle, f"acct:{handle}", f"@{handle}")),
            )
        )
    ).first()


@click.command()
@click.argument("peer")
@with_appcontext
def backfill(peer: str) -> None:
    """Fetch every entry of PEER's feed we do not hold yet (acct:handle@host or actor URL)."""
    found = find_peer(peer)
    if found is None:
        raise click.ClickException(f"No known peer {peer}; follow it first.")
    if db.session.scalar(select(Following.id).where(Following.peer_id == found.id)) is None:
        raise click.ClickException(f"This group does not follow {peer}; follow it first.")
    start = found.held_seq
    label = f"{found.handle or found.actor_id} from seq {start + 1}"
    with click.progressbar(length=max(1, found.head_seq - start), label=label) as bar:
        shown = [start]

        def progress(held: int, head: int) -> None:
            bar.length = max(bar.length or 0, head - start, 1)
            bar.update(held - shown[0])
            shown[0] = held

        report = sync.catch_up(found, progress=progress)
    if report.skipped:
        raise click.ClickException(report.skipped)
    click.echo(
        f"Applied {report.applied} entries; holding seq {report.held_seq}/{report.head_seq}."
    )
    if report.refused:
        raise click.ClickException(f"Stopped: the chain does not verify: {report.refused}")
    if report.error:
        raise click.ClickException(f"Stopped: {report.error}")


def describe_state(peer: Peer) -> str:
    """Say where a peer stands, as an organiser reads it."""
    if peer.state == "chain_broken":
        return f"chain broken: {peer.state_reason}" if peer.state_reason else "chain broken"
    if peer.state == "key_changed":
        return f"key changed: {peer.state_reason}" if peer.state_reason else "key changed"
    if peer.state == "unreachable" or peer.unreachable_since is not None:
        since = peer.unreachable_since
        return f"unreachable since {since:%Y-%m-%d %H:%M}" if since else "unreachable"
    if peer.head_seq > peer.held_seq:
        return f"behind {peer.head_seq - peer.held_seq}"
    if not peer.is_branchline:
        return "no feed"
    return "in step" if peer.held_seq or peer.state == "in_step" else "new"


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment) / timedelta(seconds=1)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command()
@with_appcontext
def peers() -> None:
    """List peers: state, seq held, head seq, and the age of the oldest undelivered delivery."""
    now = utcnow()
    oldest = deliveries.oldest_undelivered()
    rows = [("PEER", "STATE", "HELD", "HEAD", "UNDELIVERED")]
    for peer in db.session.scalars(select(Peer).order_by(Peer.handle, Peer.actor_id)):
        rows.append(
            (
                peer.handle or peer.actor_id,
                describe_state(peer),
                str(peer.held_seq) if peer.is_branchline else "-",
                str(peer.head_seq) if peer.is_branchline else "-",
                _age(oldest.get(peer.id), now),
            )
        )
    if len(rows) == 1:
        click.echo("No peers yet.")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


commands: list[click.Command] = [worker, backfill, peers]
