"""Counting papers, against worked examples others published."""

from __future__ import annotations

from node.services.voting.ballot_count import count

# Wikipedia, "Single transferable vote", the worked example: 20 voters choose 3 of
# Oranges, Pears, Chocolate, Strawberries and Sweets; Chocolate, Oranges and
# Strawberries are elected.
ORANGES, PEARS, CHOCOLATE, STRAWBERRIES, SWEETS = range(5)
FOOD = (
    [[ORANGES]] * 4
    + [[PEARS, ORANGES]] * 2
    + [[CHOCOLATE, STRAWBERRIES]] * 8
    + [[CHOCOLATE, SWEETS]] * 4
    + [[STRAWBERRIES]]
    + [[SWEETS]]
)

# Wikipedia, "Instant-runoff voting": Tennessee's capital. Memphis leads on first
# preferences but Knoxville wins once Chattanooga and then Nashville are excluded.
MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE = range(4)
TENNESSEE = (
    [[MEMPHIS, NASHVILLE, CHATTANOOGA, KNOXVILLE]] * 42
    + [[NASHVILLE, CHATTANOOGA, KNOXVILLE, MEMPHIS]] * 26
    + [[CHATTANOOGA, KNOXVILLE, NASHVILLE, MEMPHIS]] * 15
    + [[KNOXVILLE, CHATTANOOGA, NASHVILLE, MEMPHIS]] * 17
)


def test_stv_elects_the_worked_examples_winners_in_order():
    found = count("ranked", 5, 3, FOOD)
    assert found.outcome == "elected"
    assert found.winners == [CHOCOLATE, STRAWBERRIES, ORANGES]
    assert found.votes == [4, 2, 12, 1, 1]  # first preferences
    first = found.rounds[0]
    assert first["elected"] == [CHOCOLATE]  # 12 is over the quota of 20 / 4 = 5
    # Chocolate's surplus of 7 goes on in proportion: 8/12 of it to Strawberries.
    second = found.rounds[1]["votes"]
    assert abs(second[str(STRAWBERRIES)] - (1 + 7 * 8 / 12)) < 1e-3
    assert abs(second[str(SWEETS)] - (1 + 7 * 4 / 12)) < 1e-3


def test_one_seat_is_instant_runoff_and_later_preferences_decide():
    found = count("ranked", 4, 1, TENNESSEE)
    assert found.votes[MEMPHIS] == 42 and max(found.votes) == 42
    assert found.winners == [KNOXVILLE]
    excluded = [p for r in found.rounds for p in r["excluded"]]
    assert excluded[:2] == [CHATTANOOGA, NASHVILLE]


def test_blank_ranked_papers_abstain_and_are_not_counted_for_anyone():
    found = count("ranked", 5, 3, [*FOOD, [], []])
    assert found.abstentions == 2
    assert found.winners == [CHOCOLATE, STRAWBERRIES, ORANGES]


def test_a_motion_passes_on_more_yes_than_no_and_abstentions_count_apart():
    found = count("yes_no", 3, 1, [[0], [0], [1], [2], []])
    assert found.outcome == "passed" and found.winners == [0]
    assert found.votes == [2, 1, 2] and found.abstentions == 2


def test_a_tied_motion_falls():
    assert count("yes_no", 3, 1, [[0], [1]]).outcome == "rejected"
    assert count("yes_no", 3, 1, [[2]]).outcome == "no_votes"


def test_choose_one_and_choose_many_pick_the_most_votes_and_say_so_when_tied():
    assert count("choose_one", 3, 1, [[0], [1], [1]]).winners == [1]
    tied = count("choose_one", 3, 1, [[0], [1]])
    assert tied.outcome == "tied" and tied.winners == []
    many = count("choose_many", 4, 2, [[0, 1], [1], [2, 1], [0]])
    assert many.outcome == "decided" and many.winners == [0, 1] and many.votes == [2, 3, 1, 0]
    # A tie for the second place: only the clear winner is chosen.
    cut = count("choose_many", 3, 2, [[0, 1], [0, 2]])
    assert cut.outcome == "tied" and cut.winners == [0]
