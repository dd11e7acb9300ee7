"""The `branchline` command line: a Flask CLI group over the app factory.

Every command group lives in its own module here and lists what it adds in ``commands``;
``COMMAND_MODULES`` below is the one place they are added to ``main``.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup, routes_command, shell_command

from .. import create_app
from ..config import keep_files_private
from . import (
    aggregate,
    backup,
    ballot,
    block,
    follow,
    geo,
    keys,
    mail,
    members,
    recover,
    setup,
    sync,
    twin,
    verify,
)

COMMAND_MODULES = (
    setup,
    members,
    follow,
    sync,
    verify,
    aggregate,
    twin,
    ballot,
    geo,
    backup,
    recover,
    keys,
    block,
    mail,
)


def _create_app():
    # Before the app exists: the database, keys and uploads the commands make are private.
    keep_files_private()
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Branchline: a local group's own federated campaigning node."""


main.add_command(shell_command)
main.add_command(routes_command)
for module in COMMAND_MODULES:
    for command in module.commands:
        main.add_command(command)
