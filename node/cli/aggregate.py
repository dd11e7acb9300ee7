"""`branchline aggregate …`: an aggregator's directory of groups, from the command line."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from ..services.aggregator import combined_feed, directory, listings, sources
from ..services.errors import ServiceError
from ..services.peering import sync
from ..services.role import require_aggregator


def _fail(exc: ServiceError) -> None:
    details = [text for texts in exc.fields.values() for text in texts]
    message = exc.message if not details or details == [exc.message] else " ".join(details)
    raise click.ClickException(message) from exc


def _aggregator_only() -> None:
    try:
        require_aggregator()
    except ServiceError as exc:
        _fail(exc)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


@click.group("aggregate")
def group() -> None:
    """An aggregator's directory: the groups it follows, verifies and re-serves."""


@group.command("add")
@click.argument("target")
@click.option("--no-backfill", is_flag=True, help="Leave pulling its feed to the worker.")
@with_appcontext
def add(target: str, no_backfill: bool) -> None:
    """List a group (acct:handle@host, @handle@host or actor URL), follow it, pull its feed.

    An aggregator's actor becomes a source: its combined feed is pulled instead.
    """
    _aggregator_only()
    try:
        added = directory.add(target, backfill=False)
    except ServiceError as exc:
        _fail(exc)
    listing = added.listing
    again = "" if added.created else " again"
    if listing.kind == listings.SOURCE_KIND:
        click.echo(f"Added {added.name} ({listing.peer.actor_id}) as a source{again}.")
        if not no_backfill:
            _pull_sources([listing])
        return
    click.echo(f"Listed {added.name} ({listing.peer.actor_id}){again}; following it.")
    if not no_backfill:
        _backfill(listing)
        _admit_all()


def _backfill(listing) -> sync.SyncReport:
    peer = listing.peer
    start = peer.held_seq
    label = f"{peer.handle or peer.actor_id} from seq {start + 1}"
    with click.progressbar(length=max(1, peer.head_seq - start), label=label) as bar:
        shown = [start]

        def progress(held: int, head: int) -> None:
            bar.length = max(bar.length or 0, head - start, 1)
            bar.update(held - shown[0])
            shown[0] = held

        report = sync.catch_up(peer, progress=progress)
    line = f"Applied {report.applied} entries; holding seq {report.held_seq}/{report.head_seq}."
    problem = report.refused or report.error or report.skipped
    click.echo(f"{line} Stopped: {problem}" if problem else line)
    return report


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-backfill", is_flag=True, help="Leave pulling their feeds to the worker.")
@with_appcontext
def import_file(path: str, no_backfill: bool) -> None:
    """List every group a CSV file names: one per row, in a `group` column or the first one.

    Rows that cannot be added are reported and skipped; the rest are added.
    """
    _aggregator_only()
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not UTF-8 text.") from exc

    def report(row: directory.ImportedRow) -> None:
        if row.error:
            click.echo(f"row {row.row}: skipped {row.target or '(empty)'}: {row.error}")
            return
        added = row.added
        kind = "source" if added.listing.kind == listings.SOURCE_KIND else "listed"
        click.echo(f"row {row.row}: {kind} {added.name} ({added.listing.peer.actor_id})")

    try:
        results = directory.import_csv(text, backfill=not no_backfill, progress=report)
    except ServiceError as exc:
        _fail(exc)
    _admit_all()
    failed = sum(1 for row in results if row.error)
    click.echo(f"{len(results) - failed} added, {failed} skipped.")
    if failed:
        raise click.exceptions.Exit(1)


@group.command("list")
@click.option(
    "--state", "states", multiple=True, type=click.Choice(listings.STATES), help="Repeatable."
)
@with_appcontext
def list_directory(states: tuple[str, ...]) -> None:
    """List the directory: name, handle, listing, sync state, held and head seq, last entry."""
    _aggregator_only()
    found = directory.rows(states or None)
    if not found:
        click.echo("The directory is empty.")
        return
    rows = [("NAME", "HANDLE", "LISTING", "SYNC", "HELD", "HEAD", "LAST ACTIVITY")]
    for row in found:
        listing, peer = row.listing, row.listing.peer
        kind = " (aggregator)" if listing.kind == listings.SOURCE_KIND else ""
        group_kind = listing.kind == listings.GROUP_KIND
        rows.append(
            (
                row.name,
                row.handle,
                listing.state + kind,
                row.sync.label if listing.state == listings.LISTED else "-",
                str(peer.held_seq) if group_kind else "-",
                str(peer.head_seq) if group_kind else "-",
                _when(row.last_activity if group_kind else listing.last_pulled_at),
            )
        )
    _table(rows)


@group.command("requests")
@with_appcontext
def requests() -> None:
    """List the groups asking to be listed (they followed this aggregator)."""
    _aggregator_only()
    waiting = directory.requests()
    if not waiting:
        click.echo("No group is asking to be listed.")
        return
    rows = [("NAME", "HANDLE", "ASKED")]
    for listing in waiting:
        peer = listing.peer
        rows.append(
            (peer.name or peer.actor_id, peer.handle or peer.actor_id, _when(listing.requested_at))
        )
    _table(rows)


def _decide(name: str, action, done: str, *args: str) -> None:
    _aggregator_only()
    try:
        listing = directory.find(name)
        action(listing, *args)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{listing.peer.name or listing.peer.actor_id} {done}.")


@group.command("approve")
@click.argument("name", metavar="GROUP")
@with_appcontext
def approve(name: str) -> None:
    """List a group that asked to be (or list it again; trust a group's changed key)."""
    _decide(name, directory.approve, "is listed")


@group.command("refuse")
@click.argument("name", metavar="GROUP")
@click.option("--reason", default="", help="Why (kept in the directory).")
@with_appcontext
def refuse(name: str, reason: str) -> None:
    """Turn down a group's request to be listed."""
    _decide(name, directory.refuse, "was refused", reason)


@group.command("remove")
@click.argument("name", metavar="GROUP")
@click.option("--reason", default="", help="Why (kept in the directory).")
@with_appcontext
def remove(name: str, reason: str) -> None:
    """Take a group (or a source aggregator) out of the directory and unfollow it."""
    _decide(name, directory.remove, "was removed from the directory", reason)


@group.command("sync")
@click.argument("name", metavar="[SOURCE]", required=False)
@click.option("--groups", "groups_too", is_flag=True, help="Also catch up every listed group.")
@with_appcontext
def sync_sources(name: str | None, groups_too: bool) -> None:
    """Pull the combined feeds of source aggregators from where we stopped, and serve what
    came in. With --groups, also catch up each listed group from its own outbox."""
    _aggregator_only()
    rows = directory.rows((listings.LISTED,))
    if name:
        try:
            chosen = directory.find(name)
        except ServiceError as exc:
            _fail(exc)
        rows = [row for row in rows if row.listing.id == chosen.id]
    pulled = [row.listing for row in rows if row.listing.kind == listings.SOURCE_KIND]
    failed = _pull_sources(pulled)
    if groups_too:
        for row in rows:
            if row.listing.kind == listings.GROUP_KIND and row.listing.source != "aggregator":
                failed += bool(not _backfill(row.listing).ok)
    _admit_all()
    click.echo(f"The combined feed serves {combined_feed.total()} entries.")
    if failed:
        raise click.exceptions.Exit(1)


def _pull_sources(pulled) -> int:
    failed = 0
    for listing in pulled:
        label = listing.peer.handle or listing.peer.actor_id
        click.echo(f"{label}: pulling its combined feed from cursor {listing.cursor or 0}")

        def progress(report: sources.SourceReport) -> None:
            click.echo(f"  page {report.pages}: {report.applied} entries applied so far")

        report = sources.pull(listing, progress=progress)
        click.echo(
            f"{label}: {report.pages} page(s), {report.applied} entries applied "
            f"from {len(report.groups)} group(s), {report.quarantined} quarantined, "
            f"{report.waiting} waiting, {report.skipped} of groups not listed here."
        )
        for problem in [report.error, *report.problems]:
            if problem:
                click.echo(f"  {problem}")
        failed += bool(report.error)
    _admit_all()
    return failed


def _admit_all() -> int:
    """Serve everything held: admit in batches until a batch comes back short."""
    admitted = 0
    while True:
        batch = combined_feed.admit()
        admitted += batch
        if batch < combined_feed.ADMIT_BATCH:
            return admitted


commands: list[click.Command] = [group]
