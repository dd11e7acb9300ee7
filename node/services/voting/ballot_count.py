"""Counting ballot papers: pure functions from choices to a result, no database.

Every paper is a list of option positions: one for yes/no and choose-one, up to N for
choose-many, an order of preference for ranked ballots; an empty list abstains (it
counts towards turnout and the quorum, and for nobody). Ranked ballots are counted by
single transferable vote with ``pyrankvote``: the Droop quota (valid votes / (seats + 1)),
surpluses transferred at their fractional value, ties between the lowest broken by most
second preferences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyrankvote

YES, NO, ABSTAIN = 0, 1, 2  # the fixed options of a yes/no ballot, by position


@dataclass
class Count:
    """What the papers added up to."""

    votes: list[float]  # per option position: papers for it (first preferences when ranked)
    abstentions: int
    winners: list[int]  # option positions: elected, chosen, or [YES] when a motion passes
    outcome: str  # schemas.vocab.BALLOT_OUTCOMES, before the quorum is considered
    rounds: list[dict[str, Any]] = field(default_factory=list)  # ranked: each STV round

    def as_json(self) -> dict[str, Any]:
        return {
            "votes": self.votes,
            "abstentions": self.abstentions,
            "winners": self.winners,
            "outcome": self.outcome,
            "rounds": self.rounds,
        }


def problem(kind: str, options: int, seats: int, choices: Sequence[int]) -> str | None:
    """Say what is wrong with a paper's choices for this ballot, or None when it is valid."""
    if any(not 0 <= c < options for c in choices):
        return f"Choose among options 0 to {options - 1}."
    if len(set(choices)) != len(choices):
        return "Choose each option at most once."
    if kind in ("yes_no", "choose_one") and len(choices) > 1:
        return "Choose one option (or none, to abstain)."
    if kind == "choose_many" and len(choices) > seats:
        return f"Choose at most {seats}."
    return None


def count(kind: str, options: int, seats: int, papers: Iterable[Sequence[int]]) -> Count:
    """Count ``papers`` for a ballot of ``kind`` with ``options`` options."""
    papers = list(papers)
    votes = [0] * options
    abstentions = 0
    for paper in papers:
        if not paper or (kind == "yes_no" and paper[0] == ABSTAIN):
            abstentions += 1
            continue
        if kind == "ranked":
            votes[paper[0]] += 1
        else:
            for position in paper:
                votes[position] += 1
    if kind == "yes_no":
        return _motion(votes, abstentions)
    if kind == "ranked":
        return _ranked(options, seats, [p for p in papers if p], votes, abstentions)
    return _plurality(votes, abstentions, 1 if kind == "choose_one" else seats)


def _motion(votes: list[int], abstentions: int) -> Count:
    votes[ABSTAIN] = abstentions  # a blank paper abstains as surely as one marked Abstain
    yes, no = votes[YES], votes[NO]
    if yes == no == 0:
        return Count(list(votes), abstentions, [], "no_votes")
    passed = yes > no  # a simple majority of those voting for or against; a tie fails
    outcome = "passed" if passed else "rejected"
    return Count(list(votes), abstentions, [YES] if passed else [], outcome)


def _plurality(votes: list[int], abstentions: int, places: int) -> Count:
    """Choose-one and choose-many: the ``places`` options with most votes, unless tied."""
    if not any(votes):
        return Count(list(votes), abstentions, [], "no_votes")
    ranked = sorted(range(len(votes)), key=lambda p: (-votes[p], p))
    winners = [p for p in ranked[:places] if votes[p] > 0]
    # A tie across the last place means the vote did not decide it.
    if len(ranked) > places and votes[ranked[places]] == votes[ranked[places - 1]] > 0:
        cut = votes[ranked[places - 1]]
        return Count(list(votes), abstentions, [p for p in winners if votes[p] > cut], "tied")
    return Count(list(votes), abstentions, sorted(winners), "decided")


def _ranked(
    options: int, seats: int, papers: list[Sequence[int]], first: list[int], abstentions: int
) -> Count:
    if not papers:
        return Count(list(first), abstentions, [], "no_votes")
    candidates = [pyrankvote.Candidate(str(position)) for position in range(options)]
    ballots = [pyrankvote.Ballot([candidates[p] for p in paper]) for paper in papers]
    election = pyrankvote.single_transferable_vote(
        candidates, ballots, number_of_seats=min(seats, options)
    )
    rounds = []
    for number, found in enumerate(election.rounds, start=1):
        rounds.append(
            {
                "round": number,
                "votes": {
                    r.candidate.name: round(r.number_of_votes, 4) for r in found.candidate_results
                },
                "elected": [
                    int(r.candidate.name) for r in found.candidate_results if r.status == "Elected"
                ],
                "excluded": [
                    int(r.candidate.name) for r in found.candidate_results if r.status == "Rejected"
                ],
                "exhausted": round(found.number_of_blank_votes, 4),
            }
        )
    # Winners in the order they were elected, round by round.
    winners: list[int] = []
    for found in rounds:
        winners.extend(p for p in found["elected"] if p not in winners)
    return Count(list(first), abstentions, winners, "elected", rounds)
