"""Command-line follows: `branchline follow`, `unfollow` and `following`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..services.errors import ServiceError
from ..services.peering import follows

commands: list[click.Command] = []


def _command(fn: click.Command) -> click.Command:
    commands.append(fn)
    return fn


@_command
@click.command("follow")
@click.argument("target")
@with_appcontext
def follow(target: str) -> None:
    """Follow another group: TARGET is acct:handle@host, @handle@host or an actor URL."""
    try:
        following = follows.follow(target)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    peer = following.peer
    click.echo(f"Asked to follow {peer.name} ({peer.actor_id}); waiting for it to accept.")


@_command
@click.command("unfollow")
@click.argument("target")
@with_appcontext
def unfollow(target: str) -> None:
    """Stop following a group named by handle or actor URL."""
    try:
        following = follows.find_following(target)
        name = following.peer.name or following.peer.actor_id
        follows.unfollow(following)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"No longer following {name}.")


@_command
@click.command("following")
@with_appcontext
def following_list() -> None:
    """List the groups this group follows, with the follow's and the feed's state."""
    found = follows.following_list()
    if not found:
        click.echo("This group follows nobody yet.")
        return
    for following in found:
        peer = following.peer
        handle = peer.handle or peer.actor_id
        feed = f"{peer.state}, holding {peer.held_seq}"
        if peer.state_reason:
            feed += f" ({peer.state_reason})"
        click.echo(f"{handle}\t{following.state}\t{feed}")
