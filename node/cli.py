"""The `branchline` command line: a Flask CLI group over the app factory."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from flask_migrate import upgrade
from marshmallow import ValidationError

from schemas import vocab
from schemas.group import GroupSetup

from . import create_app
from .config import keep_files_private
from .keys import node_keys
from .services import groups, members, tokens
from .services.errors import ServiceError


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _explain(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages.items())
    if isinstance(exc, ServiceError):
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
        return f"{exc.message} {details}".strip()
    return str(exc)


def _create_app():
    # Before the app exists: the database, keys and uploads the commands make are private.
    keep_files_private()
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Branchline: a local group's own federated campaigning node."""


main.add_command(shell_command)
main.add_command(routes_command)


def _add_federation_commands() -> None:
    from . import cli_aggregate, cli_follow, cli_sync, cli_verify

    for command in (*cli_follow.commands, *cli_sync.commands, *cli_verify.commands):
        main.add_command(command)
    for command in cli_aggregate.commands:
        main.add_command(command)


@main.command()
@click.option("--name", required=True, help="The group's name, e.g. 'Momentum Leeds North'.")
@click.option("--handle", required=True, help="Short handle, e.g. 'leedsnorth' (a-z, 0-9, _).")
@click.option("--base-url", help="The public address of this node. Default: BRANCHLINE_BASE_URL.")
@click.option("--admin-email", required=True)
@click.option("--admin-name", default="Admin", show_default=True)
@click.option("--aggregator", is_flag=True, help="Give this node the aggregator role, for good.")
@with_appcontext
def init(
    name: str,
    handle: str,
    base_url: str | None,
    admin_email: str,
    admin_name: str,
    aggregator: bool,
) -> None:
    """Create the database, the group and its first admin."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    if groups.is_set_up():
        _fail("This node is already set up.")
    password = os.environ.get("BRANCHLINE_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            _fail("Set BRANCHLINE_ADMIN_PASSWORD or run this in a terminal to be asked.")
        password = click.prompt("Admin password", hide_input=True, confirmation_prompt=True)
    try:
        data = GroupSetup().load(
            {
                "name": name,
                "handle": handle,
                "base_url": base_url or current_app.config["BASE_URL"],
                "admin_email": admin_email,
                "admin_name": admin_name,
                "password": password,
            }
        )
        group, admin = groups.set_up(data)
    except (ValidationError, ServiceError) as exc:
        _fail(_explain(exc))
    node_keys()  # the RSA and Ed25519 key pairs, made now rather than on first request
    if aggregator:
        from .services import aggregate

        aggregate.set_role(group, aggregate.AGGREGATOR)
    role = " as an aggregator" if aggregator else ""
    click.echo(
        f"Set up {group.name} (@{group.handle}) at {group.base_url}{role}; admin {admin.email}."
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Serve this node (for production use gunicorn; see deploy/)."""
    from werkzeug.serving import run_simple

    address = f"http://{host}:{port}/"
    if groups.is_set_up():
        click.echo(f"Branchline: {groups.current_group().name} is running at {address}")
    else:
        code = groups.setup_code()
        click.echo(f"Branchline is running at {address}")
        click.echo(f"This node is not set up yet. Open {address}setup?code={code}")
    from .worker import start_in_background

    app = current_app._get_current_object()
    if start_in_background(app) is not None:  # off with BRANCHLINE_WORKER_IN_PROCESS=0
        click.echo("Delivery worker: running in this process")
    sys.stdout.flush()
    run_simple(host, port, app, threaded=True)


@main.group()
def member() -> None:
    """Manage members."""


@member.command("add")
@click.argument("email")
@click.option("--name", "display_name", help="Display name (default: the part before @).")
@click.option("--role", type=click.Choice(vocab.ROLES), default="member", show_default=True)
@with_appcontext
def member_add(email: str, display_name: str | None, role: str) -> None:
    """Add a member and print the link where they choose a password."""
    from flask import url_for

    from schemas.members import MemberIn

    try:
        data = MemberIn().load(
            {"email": email, "display_name": display_name or email.split("@")[0], "role": role}
        )
        added, token = members.add_with_invite(data)
    except (ValidationError, ServiceError) as exc:
        _fail(_explain(exc))
    with current_app.test_request_context(base_url=_base_url()):
        link = url_for("auth.accept_invite", token=token, _external=True)
    click.echo(f"Added {added.email} as {role}. They choose a password here: {link}")


@member.command("list")
@click.option("--role", type=click.Choice(vocab.ROLES))
@click.option("--status", type=click.Choice(vocab.MEMBER_STATUSES))
@with_appcontext
def member_list(role: str | None, status: str | None) -> None:
    """List members: e-mail, name, role, status, joined."""
    page, shown = 1, 0
    while True:
        batch = members.listing(page, 100, role=role, status=status)
        for m in batch.items:
            joined = m.joined_at.date().isoformat()
            click.echo(f"{m.email}\t{m.display_name}\t{m.role}\t{m.status}\t{joined}")
            shown += 1
        if not batch.has_next:
            break
        page += 1
    click.echo(f"{shown} member(s)", err=True)


@member.command("set")
@click.argument("email")
@click.option("--role", type=click.Choice(vocab.ROLES))
@click.option("--status", type=click.Choice(vocab.MEMBER_STATUSES))
@with_appcontext
def member_set(email: str, role: str | None, status: str | None) -> None:
    """Change a member's role or status."""
    found = members.by_email(email)
    if found is None:
        _fail(f"No member with e-mail {email}.")
    changes = {k: v for k, v in {"role": role, "status": status}.items() if v}
    try:
        members.change(found, changes)
    except ServiceError as exc:
        _fail(_explain(exc))
    click.echo(f"{found.email}: {found.role}, {found.status}")


@main.group()
def token() -> None:
    """Issue API credentials."""


@token.command("create")
@click.argument("email")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(vocab.TOKEN_SCOPES),
    help="Repeat for several (default: all the member's role allows).",
)
@click.option("--name", default="personal token", show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), help="Expire after this many days.")
@with_appcontext
def token_create(email: str, scopes: tuple[str, ...], name: str, days: int | None) -> None:
    """Print a new bearer token for the member with EMAIL."""
    found = members.by_email(email)
    if found is None:
        _fail(f"No member with e-mail {email}.")
    if not found.is_active:
        _fail(f"{email} is {found.status}; only active members get tokens.")
    try:
        value = tokens.create_personal(found, scopes or None, name=name, days=days)
    except ServiceError as exc:
        _fail(_explain(exc))
    click.echo(value)


@main.group()
def client() -> None:
    """Register OAuth 2 clients (client-credentials grant) for apps."""


@client.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the app is, e.g. 'phonebank dialler'.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(vocab.TOKEN_SCOPES))
@with_appcontext
def client_create(email: str, name: str, scopes: tuple[str, ...]) -> None:
    """Register an app that acts as the member with EMAIL; print its id and secret."""
    found = members.by_email(email)
    if found is None:
        _fail(f"No member with e-mail {email}.")
    try:
        client_id, secret = tokens.create_client(found, name, scopes or None)
    except ServiceError as exc:
        _fail(_explain(exc))
    click.echo(f"client_id: {client_id}\nclient_secret: {secret}")


def _base_url() -> str:
    group = groups.current_group()
    return group.base_url if group else current_app.config["BASE_URL"]


_add_federation_commands()
from . import cli_ballot, cli_geo, cli_twin  # noqa: E402,F401 - add `branchline ballot`, `geo`, `twin`
