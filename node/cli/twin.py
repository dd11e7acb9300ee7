"""Command-line twinning: `branchline twin propose|list|accept|decline|end`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..services.errors import ServiceError
from ..services.twins import twinning
from .errors import explain


@click.group("twin")
def twin_group() -> None:
    """Twin this group with another: propose, answer, list and end twinnings."""


@twin_group.command("propose")
@click.argument("target")
@click.option("--note", default="", help="A short note published with the proposal.")
@with_appcontext
def propose(target: str, note: str) -> None:
    """Propose twinning to TARGET: acct:handle@host, @handle@host or an actor URL."""
    try:
        twin = twinning.propose(target, note)
    except ServiceError as exc:
        raise click.ClickException(explain(exc)) from exc
    peer = twin.peer
    click.echo(f"Proposed twinning to {peer.name} ({peer.actor_id}); waiting for its answer.")


@twin_group.command("list")
@with_appcontext
def twin_list() -> None:
    """List twinnings: id, state, who proposed, group."""
    found = twinning.listing()
    if not found:
        click.echo("This group has no twinnings.")
        return
    for twin in found:
        peer = twin.peer
        who = "we proposed" if twin.direction == "outgoing" else "they proposed"
        click.echo(f"{twin.id}\t{twin.state}\t{who}\t{peer.handle or peer.actor_id}\t{peer.name}")


def _decide(reference: str, action, done: str) -> None:
    try:
        twin = twinning.find(reference)
        action(twin)
    except ServiceError as exc:
        raise click.ClickException(explain(exc)) from exc
    click.echo(done.format(name=twin.peer.name or twin.peer.actor_id))


@twin_group.command("accept")
@click.argument("reference")
@with_appcontext
def accept(reference: str) -> None:
    """Accept the proposal from REFERENCE (an id from `twin list`, a handle or actor URL)."""
    _decide(reference, twinning.accept, "Twinned with {name}.")


@twin_group.command("decline")
@click.argument("reference")
@with_appcontext
def decline(reference: str) -> None:
    """Decline the proposal from REFERENCE (an id from `twin list`, a handle or actor URL)."""
    _decide(reference, twinning.decline, "Declined the proposal from {name}.")


@twin_group.command("end")
@click.argument("reference")
@with_appcontext
def end(reference: str) -> None:
    """End the twinning with REFERENCE, or withdraw this group's proposal to it."""
    _decide(reference, twinning.end, "Ended the twinning with {name}.")


commands: list[click.Command] = [twin_group]
