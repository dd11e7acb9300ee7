"""Command-line follows: `branchline follow`, `unfollow` (filled in by its own change)."""

import click

commands: list[click.Command] = []
