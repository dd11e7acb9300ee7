"""`branchline recover`: reconcile a restored feed with the network before publishing again."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..services.errors import ServiceError
from ..services.recovery import guard, network
from .errors import fail


@click.command()
@click.option("--from", "source", help="A follower, twin or aggregator holding this group's feed.")
@click.option(
    "--from-followers", is_flag=True, help="Ask every follower's server in turn (Branchline ones)."
)
@click.option(
    "--force-publish",
    is_flag=True,
    help="Publish again without reconciling: followers holding newer entries will refuse them.",
)
@click.option("--status", is_flag=True, help="Only say whether publishing is held.")
@with_appcontext
def recover(source: str | None, from_followers: bool, force_publish: bool, status: bool) -> None:
    """Fetch this group's newer entries back from the network, verified, and publish again."""
    held = guard.pending()
    if status or (source is None and not from_followers and not force_publish):
        if held is None:
            click.echo("Publishing is not held: the feed is reconciled.")
        else:
            click.echo(
                f"Publishing is held since the restore at {held.get('restored_at')}: run "
                "`branchline recover --from URL`."
            )
        return
    if sum((source is not None, from_followers, force_publish)) > 1:
        fail("Give one of --from URL, --from-followers or --force-publish.")
    if force_publish:
        network.force_publish("branchline recover --force-publish")
        click.echo(
            "Publishing released without reconciling (logged). If followers hold newer "
            "entries, they will refuse the next ones as a fork."
        )
        return
    if from_followers:
        try:
            results = network.recover_from_followers()
        except ServiceError as exc:
            fail(exc)
        for found, result in results:
            if isinstance(result, network.Recovery):
                _describe(result)
            else:
                click.echo(f"{found}: did not answer ({result})")
    else:
        try:
            _describe(network.recover_from(source))
        except ServiceError as exc:
            fail(exc)
    click.echo("Publishing is released.")
    click.echo(network.PRIVATE_DATA_NOTE)


def _describe(report: network.Recovery) -> None:
    restored = ", ".join(f"{count} {table}" for table, count in sorted(report.restored.items()))
    click.echo(
        f"Recovered {report.appended} entries from {report.source} (it holds up to seq "
        f"{report.source_head}); the feed's head is now seq {report.head}, every entry "
        f"verified against this group's own key. Content brought back: {restored or 'none'}."
    )


commands: list[click.Command] = [recover]
