"""Command-line count of a sealed ballot held in a room: `branchline ballot count BALLOT_ID`.

The tellers sit at the node's terminal and type or paste their codes one after another
(not echoed, through getpass); the codes are read into memory, the papers opened and
counted, and nothing of the codes or shares is written anywhere. Codes may also come
one a line on standard input, for a count run from a script.
"""

from __future__ import annotations

import getpass
import json
import sys

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..models import Ballot
from ..services.errors import ServiceError
from ..services.voting import ballot_tellers, ballots
from .errors import explain


@click.group("ballot")
def ballot_group() -> None:
    """Sealed ballots: count one with the tellers in the room."""


def _at_a_terminal() -> bool:
    return sys.stdin.isatty()


def _read_codes(needed: int) -> list[str]:
    if _at_a_terminal():
        # Typed in a room: nothing echoed, so nobody reads a code over a shoulder.
        return [getpass.getpass(f"Teller code {n} of {needed}: ") for n in range(1, needed + 1)]
    codes: list[str] = []
    for line in sys.stdin:
        if line.strip():
            codes.append(line.strip())
        if len(codes) == needed:
            break
    return codes


def _show_result(ballot: Ballot) -> None:
    found = ballots.result(ballot)
    click.echo(f"{ballot.question}: {ballot.outcome.replace('_', ' ')}")
    click.echo(
        f"{found['voters_count']} of {found['eligible_count']} eligible members voted; "
        f"{ballot.sealed_count or 0} sealed papers opened, {ballot.spoilt_count or 0} spoilt."
    )
    votes = found.get("votes", [])
    winners = set(found.get("winners", []))
    heading = "First preferences" if ballot.kind == "ranked" else "Votes"
    click.echo(f"{heading}:")
    for option in ballot.options:
        count = votes[option.position] if option.position < len(votes) else 0
        won = found.get("quorum_met") and option.position in winners and ballot.kind != "yes_no"
        mark = f"  ({'elected' if ballot.kind == 'ranked' else 'chosen'})" if won else ""
        click.echo(f"  {option.label}: {float(count):g}{mark}")
    click.echo(f"Opened papers' hash: {ballot.opened_list_hash}")
    click.echo(f"Ballot box's hash:   {ballot.tracker_list_hash}")


@ballot_group.command("count")
@click.argument("ballot_id", type=click.IntRange(1, 2**63 - 1))
@with_appcontext
def count(ballot_id: int) -> None:
    """Count closed sealed ballot BALLOT_ID from k tellers' codes read from standard input."""
    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None:
        raise click.ClickException(f"No ballot has the number {ballot_id}.")
    if not ballot.sealed:
        raise click.ClickException("That ballot was set up before papers were sealed.")
    if ballot.counted_at is not None:
        raise click.ClickException("That ballot has been counted already.")
    if ballot.closed_at is None:
        raise click.ClickException("That ballot is still open: count it after the close.")
    needed = ballot.tellers_needed or 1
    names = ", ".join(t.display_name for t in ballot.tellers)
    click.echo(f"{ballot.question}\nTellers: {names}. The count needs {needed} codes.", err=True)
    codes = _read_codes(needed)
    try:
        ballot_tellers.count_with_codes(ballot, codes)
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(explain(exc)) from None
    finally:
        del codes
    _show_result(ballot)
    if ballot.result and json.loads(ballot.result).get("rounds"):
        click.echo("The round-by-round count is on the ballot's page.")


commands: list[click.Command] = [ballot_group]
