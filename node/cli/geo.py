"""Command-line places: `branchline geo load FILE` and `branchline geo lookup DISTRICT`."""

from __future__ import annotations

import os

import click
from flask.cli import with_appcontext

from ..services import geo


@click.group("geo")
def geo_group() -> None:
    """Postcode districts, so pages can search near a UK postcode district."""


@geo_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@with_appcontext
def load(file: str) -> None:
    """Load postcode districts from an ONS Postcode Directory CSV (replaces those held).

    FILE is the ONSPD's main CSV (columns pcds, lat, long and doterm are read). Each
    district (the outward code, e.g. LS6) is stored at the mean position of its live
    postcodes; terminated postcodes and those without coordinates are skipped.
    """
    size = os.path.getsize(file)
    with open(file, "rb") as handle, click.progressbar(length=size, label="Reading") as bar:
        try:
            report = geo.read_postcode_directory(geo.decoded_lines(handle, bar.update))
        except geo.DirectoryError as error:
            raise click.ClickException(f"{file}: {error.message}") from error
    if not report.districts:
        raise click.ClickException(
            f"{file}: no postcode with coordinates found; the districts held are unchanged."
        )
    geo.replace_districts(report)
    click.echo(
        f"Read {report.rows:,} postcode(s): {report.used:,} used, {report.skipped:,} skipped "
        f"({report.terminated:,} terminated, {report.no_coordinates:,} without coordinates, "
        f"{report.bad_postcode:,} without a usable postcode)."
    )
    click.echo(f"Stored {report.districts:,} postcode district(s).")


@geo_group.command("lookup")
@click.argument("district")
@with_appcontext
def lookup(district: str) -> None:
    """Print the centre of a postcode district (LS6) or of a postcode's district (LS6 1AN)."""
    if not geo.districts_loaded():
        raise click.ClickException("No postcode districts are loaded: run `branchline geo load`.")
    found = geo.find_district(district)
    if found is None:
        raise click.ClickException(f"No postcode district {district.strip().upper()} is known.")
    click.echo(
        f"{found.district}\t{found.latitude:.6f},{found.longitude:.6f}\t"
        f"(mean of {found.postcodes:,} postcode(s))"
    )


commands: list[click.Command] = [geo_group]
