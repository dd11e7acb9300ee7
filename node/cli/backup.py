"""`branchline backup` and `branchline restore`: the node in one owner-only folder, and back."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from ..services.errors import ServiceError
from ..services.recovery import backup as backups
from .errors import fail


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup(dest: Path) -> None:
    """Write a consistent backup (database, keys, secrets, uploads) into the new folder DEST."""
    try:
        manifest = backups.make(current_app._get_current_object(), dest)
    except ServiceError as exc:
        fail(exc)
    head = manifest["feed_head"]
    at = f"feed head seq {head['seq']}" if head else "an empty feed"
    click.echo(
        f"Backed up the {manifest['database']} database ({at}, migration "
        f"{manifest['migration_head']}), keys, secrets and uploads: {len(manifest['files'])} "
        f"files in {dest} (owner-only). Keep it somewhere else than this server."
    )


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a node that already holds a group or feed.")
@click.option("--keys-only", is_flag=True, help="Put back only the keys (a lost keys/ folder).")
@with_appcontext
def restore(src: Path, force: bool, keys_only: bool) -> None:
    """Restore the backup in SRC into this node (stop the node and its workers first)."""
    app = current_app._get_current_object()
    try:
        if keys_only:
            count = backups.restore_keys(app, src, force=force)
            click.echo(f"Restored {count} key file(s) from {src}.")
            return
        restored = backups.restore(app, src, force=force)
    except ServiceError as exc:
        fail(exc)
    upgrade(directory=app.extensions["migrate"].directory)  # a backup from an older version
    head = restored.manifest.get("feed_head")
    at = f"seq {head['seq']}" if head else "an empty feed"
    click.echo(
        f"Restored {restored.files} files from {src} (made {restored.manifest.get('created_at')}, "
        f"feed head {at})."
    )
    click.echo(
        "Publishing is held: followers may hold newer entries than this backup. Run "
        "`branchline recover --from URL` with a follower, twin or aggregator to bring them "
        "back, or `branchline recover --force-publish` if you know none exist."
    )
    click.echo(
        "Members, RSVPs, ballots and other private data are as of the backup: "
        "they are never on the feed, so the network cannot give them back."
    )


commands: list[click.Command] = [backup, restore]
