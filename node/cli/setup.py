"""`branchline init` and `branchline run`: set up a node, and start it."""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from marshmallow import ValidationError
from werkzeug.serving import make_server

from schemas.group import GroupSetup

from ..keys import MissingKeys, check_at_start, node_keys
from ..services import groups
from ..services.errors import ServiceError
from ..services.role import AGGREGATOR, set_role
from ..worker import start_in_background
from .errors import fail


@click.command()
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
        fail("This node is already set up.")
    password = os.environ.get("BRANCHLINE_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            fail("Set BRANCHLINE_ADMIN_PASSWORD or run this in a terminal to be asked.")
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
        fail(exc)
    node_keys()  # the RSA and Ed25519 key pairs, made now rather than on first request
    if aggregator:
        set_role(group, AGGREGATOR)
    role = " as an aggregator" if aggregator else ""
    click.echo(
        f"Set up {group.name} (@{group.handle}) at {group.base_url}{role}; admin {admin.email}."
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Serve this node (for production use gunicorn; see deploy/)."""

    try:
        check_at_start(current_app._get_current_object())
    except MissingKeys as exc:
        fail(exc)
    address = f"http://{host}:{port}/"
    app = current_app._get_current_object()
    # Bind before saying where the node is: a port in use ends here, with werkzeug's message.
    server = make_server(host, port, app, threaded=True)
    if start_in_background(app) is not None:  # off with BRANCHLINE_WORKER_IN_PROCESS=0
        click.echo("Delivery worker: running in this process")
    if groups.is_set_up():
        lines = startup_lines(address, groups.current_group().name)
    else:
        lines = startup_lines(address, setup_link=f"{address}setup?code={groups.setup_code()}")
    click.echo("\n".join(lines))
    sys.stdout.flush()
    server.serve_forever()  # Ctrl-C stops it and closes the socket


def startup_lines(address: str, group_name: str = "", setup_link: str = "") -> list[str]:
    """Return what `branchline run` prints last: the address, then the setup link if due."""
    first = f"{group_name} is ready." if group_name else "Branchline has started."
    lines = ["", f"{first} Press Ctrl-C to stop.", f"Branchline is running at {address}"]
    if setup_link:
        lines += [
            "This node is not set up yet. Open this link to name the group and create its admin:",
            f"    {setup_link}",
        ]
    return lines


commands: list[click.Command] = [init, run]
