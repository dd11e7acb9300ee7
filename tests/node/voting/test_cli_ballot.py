"""`branchline ballot count`: a sealed ballot counted in a room, from tellers' codes on stdin."""

from __future__ import annotations

from sqlalchemy import select

from node.cli import main
from node.extensions import db
from node.models import Ballot, BallotTeller
from node.services.voting import ballots, votes
from tests import factories


def _closed(chosen=((1,), (1,), (0,))) -> Ballot:
    tellers = [factories.member(display_name=n) for n in ("Ann", "Bob", "Cai")]
    ballot = factories.ballot(
        sealed=True,
        tellers=tellers,
        kind="choose_one",
        options=["Park", "Library"],
        freeze_at=factories.soon(1),
    )
    for choices in chosen:
        votes.cast(ballot, factories.member(), list(choices))
    ballots.close(ballot, early=True)
    return ballot


def _count(app, ballot_id, codes: str):
    return app.test_cli_runner().invoke(main, ["ballot", "count", str(ballot_id)], input=codes)


def _counted(ballot_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(Ballot, ballot_id).counted_at is not None


def test_two_tellers_codes_count_the_ballot_and_print_the_result(app, group):
    ballot = _closed()
    codes = list(ballot.teller_codes.values())
    done = _count(app, ballot.id, f"{codes[2]}\n\n{codes[0]}\n")
    assert done.exit_code == 0, done.output
    assert "The count needs 2 codes" in done.output
    assert "Decided" in done.output or "decided" in done.output
    assert "Library: 2  (chosen)" in done.output and "Park: 1" in done.output
    assert "3 sealed papers opened, 0 spoilt" in done.output
    assert not any(code in done.output for code in codes)
    assert _counted(ballot.id)
    # Nothing of the shares is kept: the count in a room stores none.
    kept = db.session.scalars(select(BallotTeller.submitted_share)).all()
    assert kept == [None, None, None]
    again = _count(app, ballot.id, f"{codes[1]}\n{codes[0]}\n")
    assert again.exit_code == 1 and "counted already" in again.output


def test_fewer_codes_than_needed_count_nothing(app, group):
    ballot = _closed()
    code = next(iter(ballot.teller_codes.values()))
    done = _count(app, ballot.id, f"{code}\n")
    assert done.exit_code == 1 and "needs 2 tellers' codes; 1 given" in done.output
    assert not _counted(ballot.id)


def test_a_repeated_or_wrong_code_counts_nothing(app, group):
    ballot = _closed()
    code = next(iter(ballot.teller_codes.values()))
    twice = _count(app, ballot.id, f"{code}\n{code}\n")
    assert twice.exit_code == 1 and "given twice" in twice.output
    stranger = factories.ballot(sealed=True).teller_codes
    wrong = _count(app, ballot.id, f"{code}\n{next(iter(stranger.values()))}\n")
    assert wrong.exit_code == 1 and "not one of this ballot's tellers" in wrong.output
    typo = _count(app, ballot.id, f"{code}\nBLT1-AAAA\n")
    assert typo.exit_code == 1 and "mistyped" in typo.output
    assert not _counted(ballot.id)


def test_an_open_legacy_or_missing_ballot_is_refused(app, group):
    open_ballot = factories.ballot(sealed=True, freeze_at=factories.soon(1))
    codes = "\n".join(open_ballot.teller_codes.values())
    still_open = _count(app, open_ballot.id, codes)
    assert still_open.exit_code == 1 and "still open" in still_open.output
    assert not _counted(open_ballot.id)
    legacy = factories.ballot()
    assert "before papers were sealed" in _count(app, legacy.id, codes).output
    assert "No ballot has the number 99999" in _count(app, 99999, codes).output


def test_at_a_terminal_the_codes_are_asked_for_without_echo(app, group, monkeypatch):
    from node.cli import ballot as cli_ballot

    ballot = _closed()
    codes = list(ballot.teller_codes.values())
    asked = []

    def hidden_prompt(prompt: str) -> str:
        asked.append(prompt)
        return codes[len(asked)]

    monkeypatch.setattr(cli_ballot, "_at_a_terminal", lambda: True)
    monkeypatch.setattr(cli_ballot.getpass, "getpass", hidden_prompt)
    done = _count(app, ballot.id, "")
    assert done.exit_code == 0, done.output
    assert asked == ["Teller code 1 of 2: ", "Teller code 2 of 2: "]
    assert _counted(ballot.id)
