"""`branchline keys rotate`: new keys, proven by the old ones in the group's own feed."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from ..services import rotation
from ..services.errors import ServiceError


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "give a date and time such as 2026-05-01T09:30:00Z", param_hint="--compromised-since"
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            "give the timezone too (Z for UTC)", param_hint="--compromised-since"
        )
    return moment.astimezone(UTC)


@click.group("keys")
def keys() -> None:
    """Manage this node's keys."""


@keys.command("rotate")
@click.option(
    "--compromised-since",
    metavar="TIME",
    help="The old keys were compromised from TIME (ISO 8601, e.g. 2026-05-01T09:30:00Z): "
    "verifiers then refuse whatever the old key signed from TIME on.",
)
@with_appcontext
def rotate(compromised_since: str | None) -> None:
    """Make new keys and publish the rotation, signed by the old key and the new one."""
    try:
        done = rotation.rotate(compromised_since=_moment(compromised_since))
    except ServiceError as exc:
        detail = "; ".join(message for messages in exc.fields.values() for message in messages)
        raise click.ClickException(f"{exc.message} {detail}".strip()) from exc
    click.echo(f"Published the rotation as feed entry {done.seq}.")
    click.echo(f"Proof key: {done.previous_key} -> {done.new_key}")
    click.echo(f"HTTP signature key: now {done.new_http_key}")
    click.echo("The old keys are archived in the instance's keys/archive folder: keep them.")
    if done.compromised_since is not None:
        click.echo(
            "Verifiers will refuse what the old key signed from "
            f"{done.compromised_since:%Y-%m-%dT%H:%M:%SZ} on, except the rotation entry itself."
        )


commands: list[click.Command] = [keys]
