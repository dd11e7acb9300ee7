"""Ballot charts: the result and each STV round as SVG bars drawn on the server, turnout while
a ballot is open, and ballots in Manage."""

from __future__ import annotations

import re

from node.services.voting import ballots, charts, votes
from tests import factories
from tests.conftest import log_in


def test_bars_are_scaled_to_the_largest_and_the_winner_is_marked():
    chart = charts.bar_chart("Votes per option", [("Yes", 3), ("No", 1), ("Abstain", 0)], [0])
    assert [bar.length for bar in chart.bars] == [charts.PLOT, round(charts.PLOT / 3, 2), 0]
    assert [bar.winner for bar in chart.bars] == [True, False, False]
    assert chart.summary == "Yes: 3; No: 1; Abstain: 0"
    assert chart.height == 3 * charts.ROW


def test_a_chart_of_nothing_draws_no_bar_and_divides_by_nothing():
    chart = charts.bar_chart("Votes per option", [("Yes", 0), ("No", 0)])
    assert [bar.length for bar in chart.bars] == [0, 0]


def test_every_round_is_drawn_on_one_scale_with_fractions_kept():
    rounds = [
        {"round": 1, "votes": {"0": 4.0, "1": 2.0, "2": 1.0}, "elected": [0], "excluded": []},
        {"round": 2, "votes": {"0": 3.0, "1": 2.5, "2": 1.5}, "elected": [], "excluded": [2]},
    ]
    drawn = charts.round_charts(["Ann", "Bob", "Cai"], rounds)
    assert [c.title for c in drawn] == ["Round 1", "Round 2"]
    assert drawn[1].bars[0].length == round(charts.PLOT * 3 / 4, 2)  # the scale of round 1
    assert drawn[1].bars[1].shown == "2.50" and drawn[0].bars[0].winner


def test_the_closed_ballot_page_draws_its_result_as_an_svg_with_a_title(client, group):
    voters = [factories.member() for _ in range(3)]
    ballot = factories.ballot(freeze_at=factories.soon(1))
    for voter, choice in zip(voters, (0, 0, 1), strict=True):
        votes.cast(ballot, voter, [choice])
    ballots.close(ballot, early=True)
    html = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    svg = re.search(r"<svg role=\"img\".*?</svg>", html, re.S).group(0)
    assert '<title id="result-chart-title">Votes per option</title>' in svg
    assert "Yes: 2; No: 1; Abstain: 0" in svg
    assert "<script" not in html.split("<main", 1)[-1].split("</main>")[0]
    assert "<table>" in html  # the same figures as text


def test_a_ranked_ballot_draws_each_round(client, group):
    voters = [factories.member() for _ in range(5)]
    ballot = factories.ballot(
        kind="ranked", seats=1, options=["Ann", "Bob", "Cai"], freeze_at=factories.soon(1)
    )
    for voter, paper in zip(voters, ([0, 1], [0], [1, 0], [2, 1], [2, 1]), strict=True):
        votes.cast(ballot, voter, paper)
    ballots.close(ballot, early=True)
    html = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert '<title id="result-chart-title">First preferences per candidate</title>' in html
    assert '<title id="round-1-title">Round 1</title>' in html
    assert html.count('<svg role="img"') == 1 + html.count("<strong>Round ")


def test_turnout_is_shown_while_the_ballot_is_open(client, member):
    others = [factories.member() for _ in range(3)]
    ballot = factories.ballot(freeze_at=factories.soon(1), quorum=3)
    votes.cast(ballot, others[0], [0])
    log_in(client, member)
    html = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "1 of 4 eligible members has voted (25%); 2 more needed for the quorum" in html
    votes.cast(ballot, others[1], [1])
    html = client.get(f"/ballots/{ballot.id}").get_data(as_text=True)
    assert "2 of 4 eligible members have voted (50%)" in html
    assert "Result" not in html  # turnout, never the count, before the close


def test_ballots_have_a_tab_and_quick_links_in_manage(client, organiser):
    ballot = factories.ballot(freeze_at=factories.soon(1))
    votes.cast(ballot, organiser, [0])
    log_in(client, organiser)
    dashboard = client.get("/manage/").get_data(as_text=True)
    assert 'href="/manage/ballots">Ballots</a>' in dashboard
    assert 'href="/manage/ballots/new">New ballot</a>' in dashboard
    listed = client.get("/manage/ballots").get_data(as_text=True)
    assert 'href="/manage/ballots" aria-current="page">Ballots</a>' in listed
    assert ballot.question in listed and "1 of 1 eligible members has voted" in listed
    assert f'href="/manage/ballots/{ballot.id}/close">Close…</a>' in listed


def test_members_cannot_list_ballots_in_manage(client, member):
    log_in(client, member)
    assert client.get("/manage/ballots").status_code == 403
