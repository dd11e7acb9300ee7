"""`branchline block …`: the block list from the command line (add, remove, list, CSV)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..services.errors import ServiceError
from ..services.peering import blocking, blocks
from .errors import fail

commands: list[click.Command] = []
CLI_USER = "command line"


@click.group("block")
def group() -> None:
    """Block actors and whole domains: nothing is received from them or sent to them."""


commands.append(group)


@group.command("add")
@click.argument("target")
@click.option("--public-comment", default="", help="Why, as the exported list says it.")
@click.option("--private-comment", default="", help="A note for this node's admins only.")
@click.option("--quiet", is_flag=True, help="Send it nothing, not even the Undo and Reject.")
@with_appcontext
def add(target: str, public_comment: str, private_comment: str, quiet: bool) -> None:
    """Block TARGET: an actor URL, or a domain (its subdomains too), e.g. spam.example."""
    try:
        severed = blocking.block(
            target,
            public_comment=public_comment,
            private_comment=private_comment,
            by_name=CLI_USER,
            notify=not quiet,
        )
    except ServiceError as exc:
        db.session.rollback()
        fail(exc)
    click.echo(f"Blocked {severed.block.target}: {severed.summary()}.")


@group.command("remove")
@click.argument("target")
@with_appcontext
def remove(target: str) -> None:
    """Unblock TARGET (as it was blocked, or its number in `block list`)."""
    try:
        found = blocks.find(target)
    except ServiceError as exc:
        fail(exc)
    name = found.target
    blocking.unblock(found)
    click.echo(f"Unblocked {name}. Follows it ended are not made again by themselves.")


@group.command("list")
@with_appcontext
def list_blocks() -> None:
    """List every block: number, kind, target, when, who, and the comments."""
    found = blocks.listing()
    if not found:
        click.echo("Nothing is blocked.")
        return
    for row in found:
        comments = " | ".join(c for c in (row.public_comment, row.private_comment) if c)
        click.echo(
            f"{row.id}\t{row.kind}\t{row.target}\t{row.created_at:%Y-%m-%d %H:%M}\t"
            f"{row.created_by or '-'}\t{comments}".rstrip()
        )


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--silence-as-block",
    is_flag=True,
    help="Block the domains marked 'silence' too (by default they are skipped).",
)
@with_appcontext
def import_file(path: str, silence_as_block: bool) -> None:
    """Block every domain a Mastodon domain-block CSV file suspends."""
    try:
        with open(path, encoding="utf-8-sig") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"Could not read {path}: {exc}")
    try:
        report = blocking.import_csv(text, silence_as_block=silence_as_block, by_name=CLI_USER)
    except ServiceError as exc:
        db.session.rollback()
        fail(exc)
    for row in report.added:
        click.echo(f"blocked  {row.target}")
    for number, domain, why in report.skipped:
        click.echo(f"skipped  row {number} {domain or '(empty)'}: {why}")
    click.echo(report.summary() + ".")
    if report.severed is not None:
        click.echo(f"Cut: {report.severed.summary()}.")


@group.command("export")
@click.argument("path", required=False, type=click.Path(dir_okay=False, writable=True))
@click.option("--actors", is_flag=True, help="Include actor blocks (Mastodon takes domains only).")
@with_appcontext
def export_file(path: str | None, actors: bool) -> None:
    """Write the block list as a Mastodon domain-block CSV to PATH (or standard output)."""
    text = blocking.export_csv(actors=actors)
    if path is None:
        click.echo(text, nl=False)
        return
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(text)
    click.echo(f"Wrote {text.count(chr(10)) - 1} block(s) to {path}.")
