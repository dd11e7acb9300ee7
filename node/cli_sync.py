"""Command-line delivery and catch-up: `worker`, `backfill`, `peers` (filled in later)."""

import click

commands: list[click.Command] = []
